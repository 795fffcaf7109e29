// Deterministic key streams, so every contender sees the same keys in the same order.
// The package's own seeded generator (rustocache/chaos), so bench and fault runs draw from one implementation.
import { seededRandom as rng } from '../../dist/chaos.js'

export { rng }

export const keyOf = (prefix, i) => `${prefix}${String(i).padStart(7, '0')}`

export function keys(n, prefix = 'user:') {
  return Array.from({ length: n }, (_, i) => keyOf(prefix, i))
}

/** Indices in [0, n) with P(i) proportional to 1 / (i + 1)^s, shuffled so hot keys are spread over the table. */
export function zipfIndices(n, count, s = 0.99, seed = 7) {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, s)
  const perm = Uint32Array.from({ length: n }, (_, i) => i)
  const r = rng(seed)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1))
    ;[perm[i], perm[j]] = [perm[j], perm[i]]
  }
  const out = new Uint32Array(count)
  for (let k = 0; k < count; k++) {
    const u = r() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < u) lo = mid + 1
      else hi = mid
    }
    out[k] = perm[lo]
  }
  return out
}

export function uniformIndices(n, count, seed = 11) {
  const r = rng(seed)
  return Uint32Array.from({ length: count }, () => Math.floor(r() * n))
}
