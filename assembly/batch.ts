// Batch hashing with v128: four keys per vector, one lane each. JS lays the keys out transposed in SCRATCH so
// that word j of the four keys of a group is one 16-byte load:
//
//   LENS   u32[n4]  each key's length in UTF-16 code units (0 for padding lanes)
//   HASHES u32[n4]  out: the hash of each key
//   SLOTS  i32[n4]  out: the first slot whose hash matches (-1: none); after touch, the lookup code
//   WORDS  u32[n4/4] the number of u32 words of the longest key in each group
//   DATA   for each group g, WORDS[g] vectors: lane l of vector j = code units 2j, 2j+1 of key 4g+l
//
// n4 is the key count rounded up to a multiple of 4. A lane whose key is shorter than j words keeps its hash
// unchanged (bitselect on a mask), which is what the scalar loop does by stopping early.
import * as L from "./layout";
import { SEED, C1, C2, M5, N1, F1, F2 } from "./hash";
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

@inline function rotl(x: v128, r: i32): v128 {
  return v128.or(i32x4.shl(x, r), i32x4.shr_u(x, 32 - r));
}

/** v128 where the build has SIMD (scripts/build-wasm.mjs builds both); the scalar loop elsewhere. */
export function hashBatch(n4: u32): void {
  if (ASC_FEATURE_SIMD) hashBatchSimd(n4);
  else hashBatchScalar(n4);
}

function hashBatchSimd(n4: u32): void {
  const c1 = i32x4.splat(<i32>C1), c2 = i32x4.splat(<i32>C2), m5 = i32x4.splat(<i32>M5), n1 = i32x4.splat(<i32>N1);
  const f1 = i32x4.splat(<i32>F1), f2 = i32x4.splat(<i32>F2), one = i32x4.splat(1);
  const lens = lensAt(n4), hashes = hashesAt(n4), words = wordsAt(n4);
  let data = dataAt(n4);
  const groups = n4 >> 2;
  for (let g: u32 = 0; g < groups; g++) {
    const len = v128.load(lens + (<usize>g << 4));
    const laneWords = i32x4.shr_u(i32x4.add(len, one), 1);
    let h = v128.xor(i32x4.splat(<i32>SEED), len);
    const w = load<u32>(words + (<usize>g << 2));
    for (let j: u32 = 0; j < w; j++) {
      let k = v128.load(data);
      data += 16;
      k = i32x4.mul(k, c1);
      k = rotl(k, 15);
      k = i32x4.mul(k, c2);
      let next = v128.xor(h, k);
      next = rotl(next, 13);
      next = i32x4.add(i32x4.mul(next, m5), n1);
      h = v128.bitselect(next, h, i32x4.gt_s(laneWords, i32x4.splat(<i32>j)));
    }
    h = v128.xor(h, len);
    h = v128.xor(h, i32x4.shr_u(h, 16));
    h = i32x4.mul(h, f1);
    h = v128.xor(h, i32x4.shr_u(h, 13));
    h = i32x4.mul(h, f2);
    h = v128.xor(h, i32x4.shr_u(h, 16));
    v128.store(hashes + (<usize>g << 4), v128.and(h, i32x4.splat(<i32>hashMask)));
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
      const laneWords = (len + 1) >> 1;
      let h: u32 = SEED ^ len;
      for (let j: u32 = 0; j < laneWords; j++) {
        let k = load<u32>(data + (<usize>j << 4) + (<usize>lane << 2));
        k *= C1;
        k = (k << 15) | (k >> 17);
        k *= C2;
        h ^= k;
        h = (h << 13) | (h >> 19);
        h = h * M5 + N1;
      }
      h ^= len;
      h ^= h >> 16;
      h *= F1;
      h ^= h >> 13;
      h *= F2;
      h ^= h >> 16;
      store<u32>(hashes + (<usize>i << 2), h & hashMask);
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
