// The key hash: HalfSipHash-1-3 keyed with (K0, K1), over the key's UTF-16 code units read as little-endian
// bytes: two units per 32-bit word; an odd last unit goes into the final block beside the byte length. The same
// function as src/core/hash.ts (JS, single keys), strings.ts (single keys read through the js-string builtins)
// and batch.ts (four keys at a time in v128 lanes, and its scalar twin): a unit test holds all of them to a
// reference implementation checked against the published HalfSipHash vectors. The scalar copies share the end
// (finish, inlined); each writes its message rounds out on four locals, since an inlined function cannot update
// its caller's words and state in globals costs a load and a store per step. The v128 copy has its own.
//
// Keyed at random per process (JS passes the key in: setHashSeed), so that keys chosen to share a hash or a
// home bucket cannot be made without knowing it; MurmurHash3, used before, has multicollisions for every seed.

/**
 * A 32-bit finalizer of MurmurHash3's shape, with its constants as arguments: the sketch (policy.ts mixed) and
 * the minis' sample (minis.ts) take the key hash through different ones, so their bits are independent.
 */
@inline export function mix32(h: u32, salt: u32, m1: u32, shift: u32, m2: u32): u32 {
  let x = h ^ salt;
  x ^= x >> 16;
  x *= m1;
  x ^= x >> shift;
  x *= m2;
  return x ^ (x >> 16);
}

export let K0: u32 = 0;
export let K1: u32 = 0;

export function setHashSeed(k0: u32, k1: u32): void {
  K0 = k0;
  K1 = k1;
}

export const INIT2: u32 = 0x6c796765;
export const INIT3: u32 = 0x74656462;

/**
 * HalfSipHash-1-3's end, from the state after the message words: the final block's round (c = 1), then
 * v2 ^= 0xff and the three finishing rounds (d = 3); `b` is the final block (byte length << 24, and an odd last
 * code unit). Inlined, so the four state words stay in the caller's locals.
 */
@inline export function finish(v0: u32, v1: u32, v2: u32, v3: u32, b: u32): u32 {
  v3 ^= b;
  for (let r = 0; r < 4; r++) {
    if (r == 1) {
      v0 ^= b;
      v2 ^= 0xff;
    }
    v0 += v1; v1 = rotl<u32>(v1, 5); v1 ^= v0; v0 = rotl<u32>(v0, 16);
    v2 += v3; v3 = rotl<u32>(v3, 8); v3 ^= v2;
    v0 += v3; v3 = rotl<u32>(v3, 7); v3 ^= v0;
    v2 += v1; v1 = rotl<u32>(v1, 13); v1 ^= v2; v2 = rotl<u32>(v2, 16);
  }
  return v1 ^ v3;
}
