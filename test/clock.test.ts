import { afterEach, describe, expect, it, vi } from 'vitest'
import { RustoCache } from '../src/index.js'
import { nowMs, preciseClock, recentMs } from '../src/now.js'

// The cache reads the clock at most once a millisecond on Node (src/now.ts). These check what that must not cost.
describe.each(['wasm', 'js'] as const)('the clock, on the %s core', (core) => {
  afterEach(() => vi.useRealTimers())

  it('sees an expire() at once: a read right after it, in the same millisecond, is not fresh', async () => {
    const cache = new RustoCache({ l1: { core } })
    for (let round = 0; round < 200; round++) {
      await cache.set({ key: `k${round}`, value: round, ttl: '1h', grace: '1h' })
      expect(await cache.get({ key: `k${round}` })).toBe(round)
      await cache.expire({ key: `k${round}` })
      // Stale within grace: get answers it, but getOrSet must run its factory.
      expect(await cache.getOrSet({ key: `k${round}`, factory: () => -1, timeout: Infinity })).toBe(-1)
    }
  })

  it('sees a system clock moved by a test at once (vi.setSystemTime, no timer advanced)', async () => {
    const cache = new RustoCache({ l1: { core } })
    await cache.set({ key: 'warm', value: 0 })
    expect(await cache.get({ key: 'warm' })).toBe(0) // the clock is cached now, on real time
    vi.useFakeTimers()
    await cache.set({ key: 'a', value: 1, ttl: '1m' })
    expect(await cache.get({ key: 'a' })).toBe(1)
    vi.setSystemTime(Date.now() + 61_000)
    expect(await cache.get({ key: 'a' })).toBeUndefined()
  })

  it('sees a spied Date.now at once', async () => {
    const cache = new RustoCache({ l1: { core } })
    const start = Date.now()
    const clock = vi.spyOn(Date, 'now').mockReturnValue(start)
    try {
      await cache.set({ key: 'a', value: 1, ttl: '1s' })
      expect(await cache.get({ key: 'a' })).toBe(1)
      clock.mockReturnValue(start + 1_001)
      expect(await cache.get({ key: 'a' })).toBeUndefined()
    } finally {
      clock.mockRestore()
    }
  })
})

describe('recentMs', () => {
  it('answers within a millisecond of Date.now, never ahead of it', async () => {
    for (let i = 0; i < 2_000; i++) {
      const before = Date.now()
      const t = recentMs()
      expect(t).toBeLessThanOrEqual(Date.now())
      // Cached: at most a few ms behind (the reset is a 1 ms timer; the loop yields every 100 reads).
      expect(before - t).toBeLessThan(50)
      if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 2))
    }
  })

  it('moves on within a run of awaits that never lets a timer fire (at most 64 answers old)', async () => {
    const first = recentMs()
    const until = first + 5
    let t = first
    // Microtasks only: the 1 ms reset timer cannot fire in here, the read count must move the clock on.
    while (Date.now() < until) t = await Promise.resolve(recentMs())
    for (let i = 0; i < 300; i++) t = await Promise.resolve(recentMs())
    expect(t).toBeGreaterThanOrEqual(until)
  })

  it('never answers a time before the last exact one (nowMs), cached or not', () => {
    for (let i = 0; i < 10_000; i++) {
      const exact = nowMs()
      expect(recentMs()).toBeGreaterThanOrEqual(exact)
    }
  })

  it('reads the clock on every call once told to (the workerd entry does)', () => {
    preciseClock()
    const a = recentMs()
    const end = Date.now() + 3
    while (Date.now() < end) {
      /* spin */
    }
    expect(recentMs()).toBeGreaterThanOrEqual(a + 3)
  })
})
