// The key hash: HalfSipHash-1-3 (Aumasson and Bernstein's SipHash on 32-bit words, as Linux's hsiphash), keyed
// at random per process, over the key's UTF-16 code units read as little-endian bytes: two units per 32-bit
// word, an odd last unit in the final block with the byte length. Keyed, so that nobody who does not know the
// key can choose keys that share a hash or a home bucket: MurmurHash3, used before, has multicollisions that
// hold for every seed, and a flood of them made every probe of the table walk all of them.
// assembly/hash.ts computes the same function in WASM (one key, and four keys at a time in v128 lanes); JS
// computes it here for single keys where WASM cannot read the key itself. A unit test holds them together and
// to a reference implementation checked against the published HalfSipHash vectors.

/** A 64-bit hash key as two 32-bit halves. */
export type HashSeed = readonly [number, number]

/** The runtime refused to give random values now (workerd, in a module's global scope); later it will. */
export class SeedUnavailable extends Error {}

function randomSeed(): HashSeed {
  const words = new Uint32Array(2)
  const crypto = (globalThis as { crypto?: { getRandomValues?(a: Uint32Array): Uint32Array } }).crypto
  if (crypto?.getRandomValues) {
    try {
      crypto.getRandomValues(words)
    } catch (error) {
      throw new SeedUnavailable(`no random values here yet: ${String(error)}`, { cause: error })
    }
  } else for (let i = 0; i < 2; i++) words[i] = (Math.random() * 0x100000000) >>> 0
  return [words[0]! | 0, words[1]! | 0]
}

let processKey: HashSeed | undefined

/**
 * This process's key: every core uses it unless given its own (`hashSeed`, for tests and replays). Drawn on
 * first use, not at import: workerd refuses random values in a module's global scope.
 */
export function processSeed(): HashSeed {
  return (processKey ??= randomSeed())
}

/** The key's hash under this process's key, as a signed 32-bit integer (a small integer in V8). */
export function hashKey(key: string): number {
  const seed = processSeed()
  return hashWith(key, seed[0], seed[1])
}

/** HalfSipHash-1-3 of the key's UTF-16 units under (k0, k1). */
export function hashWith(key: string, k0: number, k1: number): number {
  const len = key.length
  let v0 = k0
  let v1 = k1
  let v2 = 0x6c796765 ^ k0
  let v3 = 0x74656462 ^ k1
  let i = 0
  for (; i + 1 < len; i += 2) {
    const m = key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16)
    v3 ^= m
    // One SipRound (c = 1).
    v0 = (v0 + v1) | 0
    v1 = (v1 << 5) | (v1 >>> 27)
    v1 ^= v0
    v0 = (v0 << 16) | (v0 >>> 16)
    v2 = (v2 + v3) | 0
    v3 = (v3 << 8) | (v3 >>> 24)
    v3 ^= v2
    v0 = (v0 + v3) | 0
    v3 = (v3 << 7) | (v3 >>> 25)
    v3 ^= v0
    v2 = (v2 + v1) | 0
    v1 = (v1 << 13) | (v1 >>> 19)
    v1 ^= v2
    v2 = (v2 << 16) | (v2 >>> 16)
    v0 ^= m
  }
  // The round is written out again below rather than shared: one loop over words and finishing rounds, with a
  // branch per round, measured 2.5% slower per hash on Node 20 (the runtime that hashes here) and 9% on 24.
  const b = ((len << 25) | (i < len ? key.charCodeAt(i) : 0)) | 0
  v3 ^= b
  for (let r = 0; r < 4; r++) {
    // The last block's round (c = 1), then after v2 ^= 0xff the three finishing rounds (d = 3).
    if (r === 1) {
      v0 ^= b
      v2 ^= 0xff
    }
    v0 = (v0 + v1) | 0
    v1 = (v1 << 5) | (v1 >>> 27)
    v1 ^= v0
    v0 = (v0 << 16) | (v0 >>> 16)
    v2 = (v2 + v3) | 0
    v3 = (v3 << 8) | (v3 >>> 24)
    v3 ^= v2
    v0 = (v0 + v3) | 0
    v3 = (v3 << 7) | (v3 >>> 25)
    v3 ^= v0
    v2 = (v2 + v1) | 0
    v1 = (v1 << 13) | (v1 >>> 19)
    v1 ^= v2
    v2 = (v2 << 16) | (v2 >>> 16)
  }
  return v1 ^ v3
}
