// The core for runtimes with the js-string builtins (`wasm:js-string`, Node 22+, Chromium 130+): keys come in
// as externref and WASM reads their code units itself, so a get is one call with no JavaScript loop over the
// key. The hash is the same keyed HalfSipHash as hash.ts (JS computes it in src/core/hash.ts where these
// builtins are missing), over the same words, so both builds and both cores agree on every hash.
export * from "./index";
import { K0, K1, INIT2, INIT3, finish } from "./hash";
import { hashMask } from "./batch";
import { lookup, set } from "./index";

@external("wasm:js-string", "length")
declare function keyLength(key: externref): i32;
@external("wasm:js-string", "charCodeAt")
declare function unitAt(key: externref, i: i32): u32;

/** The hash of the last key hashed here: JS reads it on the rare paths that need it (a miss, a collision). */
let last: u32 = 0;

export function hashKey(key: externref): u32 {
  const len = keyLength(key);
  let v0 = K0, v1 = K1, v2 = INIT2 ^ K0, v3 = INIT3 ^ K1;
  let i = 0;
  for (; i + 1 < len; i += 2) {
    const m = unitAt(key, i) | (unitAt(key, i + 1) << 16);
    v3 ^= m;
    v0 += v1; v1 = rotl<u32>(v1, 5); v1 ^= v0; v0 = rotl<u32>(v0, 16);
    v2 += v3; v3 = rotl<u32>(v3, 8); v3 ^= v2;
    v0 += v3; v3 = rotl<u32>(v3, 7); v3 ^= v0;
    v2 += v1; v1 = rotl<u32>(v1, 13); v1 ^= v2; v2 = rotl<u32>(v2, 16);
    v0 ^= m;
  }
  const b = (<u32>len << 25) | (i < len ? unitAt(key, i) : 0);
  last = finish(v0, v1, v2, v3, b) & hashMask;
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
