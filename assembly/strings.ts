// The core for runtimes with the js-string builtins (`wasm:js-string`, Node 22+, Chromium 130+): keys come in
// as externref and WASM reads their code units itself, so a get is one call with no JavaScript loop over the
// key. The hash is the same MurmurHash3 as hash.ts (JS computes it in src/core/hash.ts where these builtins are
// missing), over the same words, so both builds and both cores agree on every hash.
export * from "./index";
import { SEED, C1, C2, M5, N1, F1, F2 } from "./hash";
import { hashMask } from "./batch";
import { lookup, set } from "./index";

@external("wasm:js-string", "length")
declare function keyLength(key: externref): i32;
@external("wasm:js-string", "charCodeAt")
declare function unitAt(key: externref, i: i32): u32;

/** The hash of the last key hashed here: JS reads it on the rare paths that need it (a miss, a collision). */
let last: u32 = 0;

@inline function mix(h: u32, k: u32): u32 {
  k *= C1;
  k = rotl<u32>(k, 15);
  k *= C2;
  h ^= k;
  h = rotl<u32>(h, 13);
  return h * M5 + N1;
}

export function hashKey(key: externref): u32 {
  const len = keyLength(key);
  let h: u32 = SEED ^ <u32>len;
  let i = 0;
  for (; i + 1 < len; i += 2) h = mix(h, unitAt(key, i) | (unitAt(key, i + 1) << 16));
  if (i < len) h = mix(h, unitAt(key, i));
  h ^= <u32>len;
  h ^= h >> 16;
  h *= F1;
  h ^= h >> 13;
  h *= F2;
  h ^= h >> 16;
  last = h & hashMask;
  return last;
}

export function lastHash(): u32 {
  return last;
}

/** lookup() of index.ts for a key hashed here. */
export function lookupKey(key: externref, now: f64): i32 {
  return lookup(hashKey(key), now);
}

/** set() of index.ts for a key hashed here. */
export function setKey(key: externref, now: f64, ttl: f64, grace: f64, size: u32): i32 {
  return set(hashKey(key), now, ttl, grace, size);
}
