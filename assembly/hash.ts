// The key hash: HalfSipHash-1-3 keyed with (K0, K1), over the key's UTF-16 code units read as little-endian
// bytes: two units per 32-bit word; an odd last unit goes into the final block beside the byte length. The same
// function as src/core/hash.ts (JS, single keys), strings.ts (single keys read through the js-string builtins)
// and batch.ts (four keys at a time in v128 lanes, and its scalar twin): a unit test holds all of them to a
// reference implementation checked against the published HalfSipHash vectors. Each copy writes the rounds out
// on four locals (AssemblyScript has no macros, and state in globals costs a load and a store per step).
//
// Keyed at random per process (JS passes the key in: setHashSeed), so that keys chosen to share a hash or a
// home bucket cannot be made without knowing it; MurmurHash3, used before, has multicollisions for every seed.

export let K0: u32 = 0;
export let K1: u32 = 0;

export function setHashSeed(k0: u32, k1: u32): void {
  K0 = k0;
  K1 = k1;
}

export const INIT2: u32 = 0x6c796765;
export const INIT3: u32 = 0x74656462;
