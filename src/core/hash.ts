// The key hash, the same function as assembly/hash.ts + assembly/batch.ts: MurmurHash3 x86_32 over the key's
// UTF-16 code units, two per u32 word, seeded with the length. Computed here for single keys, because reading
// charCodeAt is as cheap as copying the key into WASM memory and saves the copy.
const SEED = 0x9747b28c
const C1 = 0xcc9e2d51
const C2 = 0x1b873593
const N1 = 0xe6546b64
const F1 = 0x85ebca6b
const F2 = 0xc2b2ae35

/** The key's hash as a signed 32-bit integer (it stays a small integer in V8, never a heap number). */
export function hashKey(key: string): number {
  const len = key.length
  let h = SEED ^ len
  let i = 0
  let k: number
  for (; i + 1 < len; i += 2) {
    k = Math.imul(key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16), C1)
    k = Math.imul((k << 15) | (k >>> 17), C2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + N1) | 0
  }
  if (i < len) {
    k = Math.imul(key.charCodeAt(i), C1)
    k = Math.imul((k << 15) | (k >>> 17), C2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + N1) | 0
  }
  h ^= len
  h ^= h >>> 16
  h = Math.imul(h, F1)
  h ^= h >>> 13
  h = Math.imul(h, F2)
  return h ^ (h >>> 16)
}
