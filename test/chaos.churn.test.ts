import { describe, expect, it } from 'vitest'
import { RustoCache } from '../src/index.js'
import { seededRandom } from '../src/chaos/index.js'

// Memory under churn: millions of operations over far more distinct keys than the cache holds, with tags and
// tag invalidations. The entry count never passes maxItems, and once the cache is full, WASM memory plus the JS
// heap stay flat. `npm run chaos` runs the full size (5,000,000 operations over 1,000,000 keys, maxItems
// 100,000); `npm test` a tenth of it.
const FULL = Number(process.env.CHAOS_SECONDS ?? 3) >= 20
const OPS = FULL ? 5_000_000 : 500_000
const KEYS = FULL ? 1_000_000 : 100_000
const MAX_ITEMS = FULL ? 100_000 : 10_000

interface Inner {
  rooms: { l1: { size: number; memoryBytes(): number }; tags: { size: number } }
}

function footprint(cache: RustoCache): { heap: number; wasm: number } {
  globalThis.gc?.()
  return { heap: process.memoryUsage().heapUsed, wasm: (cache as unknown as Inner).rooms.l1.memoryBytes() }
}

describe.each(['wasm', 'js'] as const)('memory under churn on the %s core', (core) => {
  it(`stays within maxItems and flat once full: ${OPS.toLocaleString('en')} operations over ${KEYS.toLocaleString('en')} keys`, async () => {
    const cache = new RustoCache({ l1: { core, maxItems: MAX_ITEMS }, ttl: '1h' })
    const inner = (cache as unknown as Inner).rooms
    const next = seededRandom(12345)
    const samples: Array<{ at: number; heap: number; wasm: number }> = []
    let most = 0
    for (let i = 0; i < OPS; i++) {
      const key = `user:${Math.floor(next() * KEYS)}`
      const r = next()
      if (r < 0.5) await cache.set({ key, value: { i }, tags: [`t${i % 1000}`] })
      else if (r < 0.9) await cache.getOrSet({ key, factory: () => i })
      else if (r < 0.99) await cache.get({ key })
      else await cache.deleteByTag({ tags: [`t${Math.floor(next() * 1000)}`] })
      if (i % 10_000 === 0) most = Math.max(most, inner.l1.size)
      // Memory once full (after a tenth of the run), at the middle, and at the end.
      if (i === OPS / 10 || i === OPS / 2 || i === OPS - 1) samples.push({ at: i, ...footprint(cache) })
    }
    const [full, middle, end] = samples as [(typeof samples)[0], (typeof samples)[0], (typeof samples)[0]]
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1)
    console.log(
      `churn (${core}): ${OPS.toLocaleString('en')} ops, ${KEYS.toLocaleString('en')} keys, maxItems ${MAX_ITEMS.toLocaleString('en')}: ` +
        `most entries ${most}; heap ${mb(full.heap)} / ${mb(middle.heap)} / ${mb(end.heap)} MB and WASM ${mb(full.wasm)} / ${mb(middle.wasm)} / ${mb(end.wasm)} MB ` +
        `(full / middle / end); tag stamps ${inner.tags.size}`,
    )
    expect(most).toBeLessThanOrEqual(MAX_ITEMS)
    expect(inner.l1.size).toBeLessThanOrEqual(MAX_ITEMS)
    // Flat once full: the second half of the run adds at most 10% (+2 MB for the GC's slack).
    const total = (s: { heap: number; wasm: number }) => s.heap + s.wasm
    expect(total(end)).toBeLessThan(total(middle) * 1.1 + 2 * 1024 * 1024)
    expect(end.wasm).toBe(middle.wasm)
    expect(inner.tags.size).toBeLessThanOrEqual(Math.max(1024, MAX_ITEMS))
  }, 600_000)
})
