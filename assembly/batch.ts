// Batch hashing with v128: four keys per vector, one lane each. JS lays the keys out transposed in SCRATCH so
// that word j of the four keys of a group is one 16-byte load:
//
//   LENS   u32[n4]  each key's length in UTF-16 code units (0 for padding lanes)
//   HASHES u32[n4]  out: the hash of each key
//   SLOTS  i32[n4]  out: the first slot whose hash matches (-1: none); after touch, the lookup code
//   WORDS  u32[n4/4] the number of u32 words of the longest key in each group
//   DATA   for each group g, WORDS[g] vectors: lane l of vector j = code units 2j, 2j+1 of key 4g+l
//
// n4 is the key count rounded up to a multiple of 4. The hash is hash.ts's HalfSipHash-1-3: a lane whose key
// has fewer than j + 1 full words keeps its state (bitselect on a mask), which is what the scalar loop does by
// stopping early, and picks up its odd last unit (word j, zero-padded) as the final block's tail.
import * as L from "./layout";
import { K0, K1, INIT2, INIT3, finish } from "./hash";
import { find } from "./table";

@inline export function lensAt(n4: u32): usize { return L.oScratch; }
@inline export function hashesAt(n4: u32): usize { return L.oScratch + (<usize>n4 << 2); }
@inline export function slotsAt(n4: u32): usize { return L.oScratch + (<usize>n4 << 3); }
@inline export function wordsAt(n4: u32): usize { return L.oScratch + <usize>n4 * 12; }
@inline export function dataAt(n4: u32): usize { return (L.oScratch + <usize>n4 * 13 + 15) & ~<usize>15; }

/** Test hook (see maskHashes in src/core/wasm-core.ts): ANDed into every hash, to force collisions. */
export let hashMask: u32 = 0xffffffff;
export function setHashMask(mask: u32): void {
  hashMask = mask;
}

@inline function rotlv(x: v128, r: i32): v128 {
  return v128.or(i32x4.shl(x, r), i32x4.shr_u(x, 32 - r));
}

/** v128 where the build has SIMD (scripts/build-wasm.mjs builds both); the scalar loop elsewhere. */
export function hashBatch(n4: u32): void {
  if (ASC_FEATURE_SIMD) hashBatchSimd(n4);
  else hashBatchScalar(n4);
}

function hashBatchSimd(n4: u32): void {
  const lens = lensAt(n4), hashes = hashesAt(n4), words = wordsAt(n4);
  const zero = i32x4.splat(0), one = i32x4.splat(1);
  let data = dataAt(n4);
  const groups = n4 >> 2;
  for (let g: u32 = 0; g < groups; g++) {
    const len = v128.load(lens + (<usize>g << 4));
    const full = i32x4.shr_u(len, 1);
    // Lanes whose length is odd take word `full` as the tail of their final block.
    const odd = i32x4.ne(v128.and(len, one), zero);
    let v0 = i32x4.splat(<i32>K0), v1 = i32x4.splat(<i32>K1);
    let v2 = i32x4.splat(<i32>(INIT2 ^ K0)), v3 = i32x4.splat(<i32>(INIT3 ^ K1));
    let tail = zero;
    const w = load<u32>(words + (<usize>g << 2));
    for (let j: u32 = 0; j < w; j++) {
      const m = v128.load(data);
      data += 16;
      const at = i32x4.splat(<i32>j);
      tail = v128.bitselect(m, tail, v128.and(odd, i32x4.eq(full, at)));
      const take = i32x4.gt_s(full, at);
      let a0 = v0, a1 = v1, a2 = v2, a3 = v128.xor(v3, m);
      a0 = i32x4.add(a0, a1); a1 = rotlv(a1, 5); a1 = v128.xor(a1, a0); a0 = rotlv(a0, 16);
      a2 = i32x4.add(a2, a3); a3 = rotlv(a3, 8); a3 = v128.xor(a3, a2);
      a0 = i32x4.add(a0, a3); a3 = rotlv(a3, 7); a3 = v128.xor(a3, a0);
      a2 = i32x4.add(a2, a1); a1 = rotlv(a1, 13); a1 = v128.xor(a1, a2); a2 = rotlv(a2, 16);
      a0 = v128.xor(a0, m);
      v0 = v128.bitselect(a0, v0, take);
      v1 = v128.bitselect(a1, v1, take);
      v2 = v128.bitselect(a2, v2, take);
      v3 = v128.bitselect(a3, v3, take);
    }
    const b = v128.or(i32x4.shl(len, 25), tail);
    v3 = v128.xor(v3, b);
    for (let r = 0; r < 4; r++) {
      if (r == 1) {
        v0 = v128.xor(v0, b);
        v2 = v128.xor(v2, i32x4.splat(0xff));
      }
      v0 = i32x4.add(v0, v1); v1 = rotlv(v1, 5); v1 = v128.xor(v1, v0); v0 = rotlv(v0, 16);
      v2 = i32x4.add(v2, v3); v3 = rotlv(v3, 8); v3 = v128.xor(v3, v2);
      v0 = i32x4.add(v0, v3); v3 = rotlv(v3, 7); v3 = v128.xor(v3, v0);
      v2 = i32x4.add(v2, v1); v1 = rotlv(v1, 13); v1 = v128.xor(v1, v2); v2 = rotlv(v2, 16);
    }
    v128.store(hashes + (<usize>g << 4), v128.and(v128.xor(v1, v3), i32x4.splat(<i32>hashMask)));
  }
}

/**
 * The same hashes as hashBatch, one lane at a time with scalar i32 operations over the same layout: the
 * baseline that shows what v128 buys (`npm run bench`, the SIMD table), and hashBatch in the scalar build.
 */
export function hashBatchScalar(n4: u32): void {
  const lens = lensAt(n4), hashes = hashesAt(n4), words = wordsAt(n4);
  let data = dataAt(n4);
  const groups = n4 >> 2;
  for (let g: u32 = 0; g < groups; g++) {
    const w = load<u32>(words + (<usize>g << 2));
    for (let lane: u32 = 0; lane < 4; lane++) {
      const i = (g << 2) + lane;
      const len = load<u32>(lens + (<usize>i << 2));
      const full = len >> 1;
      let v0 = K0, v1 = K1, v2 = INIT2 ^ K0, v3 = INIT3 ^ K1;
      for (let j: u32 = 0; j < full; j++) {
        const m = load<u32>(data + (<usize>j << 4) + (<usize>lane << 2));
        v3 ^= m;
        v0 += v1; v1 = rotl<u32>(v1, 5); v1 ^= v0; v0 = rotl<u32>(v0, 16);
        v2 += v3; v3 = rotl<u32>(v3, 8); v3 ^= v2;
        v0 += v3; v3 = rotl<u32>(v3, 7); v3 ^= v0;
        v2 += v1; v1 = rotl<u32>(v1, 13); v1 ^= v2; v2 = rotl<u32>(v2, 16);
        v0 ^= m;
      }
      const b = (len << 25) | (len & 1 ? load<u32>(data + (<usize>full << 4) + (<usize>lane << 2)) : 0);
      store<u32>(hashes + (<usize>i << 2), finish(v0, v1, v2, v3, b) & hashMask);
    }
    data += <usize>w << 4;
  }
}

/** Hashes the batch and writes, for each of the first n keys, the first slot whose hash matches. */
export function probeBatch(n: u32, n4: u32): void {
  hashBatch(n4);
  const hashes = hashesAt(n4), slots = slotsAt(n4);
  for (let i: u32 = 0; i < n; i++) {
    store<i32>(slots + (<usize>i << 2), find(load<u32>(hashes + (<usize>i << 2))));
  }
}
