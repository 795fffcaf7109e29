// The key hash: MurmurHash3 (x86, 32-bit) over the key's UTF-16 code units taken two at a time as little-endian
// u32 words (an odd last unit is zero-padded), seeded with the length. JS computes the same function with
// Math.imul over charCodeAt (src/core/hash.ts) for single keys; batch.ts computes it four keys at a time in v128
// lanes. Same words, same constants, same result: a unit test holds the three together.
export const SEED: u32 = 0x9747b28c;
export const C1: u32 = 0xcc9e2d51;
export const C2: u32 = 0x1b873593;
export const M5: u32 = 5;
export const N1: u32 = 0xe6546b64;
export const F1: u32 = 0x85ebca6b;
export const F2: u32 = 0xc2b2ae35;
