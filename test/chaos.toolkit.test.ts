import { describe, expect, it } from 'vitest'
import { ErrorCodes, memoryBus, RustoCache, RustoCacheError } from '../src/index.js'
import { ChaosError, chaosBus, chaosDriver } from '../src/chaos/index.js'
import { memoryL2 } from './helpers/memory-l2.js'

// The fault toolkit itself (rustocache/chaos), and what the cache does under each fault it injects.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function outcomes(seed: number, n: number): Promise<string> {
  const l2 = chaosDriver(memoryL2(), { seed, errorRate: 0.5 })
  const driver = l2.create({ prefix: 'p', logger: console as never, rejected: () => {} })
  let out = ''
  for (let i = 0; i < n; i++) out += await driver.get('k').then(() => '.', (e: unknown) => (e instanceof ChaosError ? 'x' : '?'))
  return out
}

describe('chaosDriver', () => {
  it('injects the same faults for the same seed, and others for another', async () => {
    const a = await outcomes(7, 64)
    expect(a).toBe(await outcomes(7, 64))
    expect(a).not.toBe(await outcomes(8, 64))
    expect(a).toMatch(/x/)
    expect(a).toMatch(/\./)
  })

  it('changes faults at run time: open an outage, heal it', async () => {
    const l2 = chaosDriver(memoryL2(), { errorRate: 1 })
    const cache = new RustoCache({ l2 })
    await cache.set({ key: 'k', value: 1 })
    expect(cache.stats().l2Errors).toBe(1)
    l2.set({ errorRate: 0 })
    await cache.set({ key: 'k', value: 2 })
    expect(cache.stats().l2Errors).toBe(1)
    l2.set({ errorRate: 1 })
    l2.heal()
    await cache.delete({ key: 'k' })
    expect(cache.stats().l2Errors).toBe(1)
    // The failed set also failed its re-apply from the retry queue before the heal: errors counts both.
    expect(l2.stats().errors).toBeGreaterThanOrEqual(1)
    expect(l2.stats().calls).toBeGreaterThanOrEqual(3)
  })

  it('adds latency and jitter', async () => {
    const l2 = chaosDriver(memoryL2(), { latency: 30, jitter: 20 })
    const cache = new RustoCache({ l2 })
    const started = Date.now()
    await cache.set({ key: 'k', value: 1 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(29)
    expect(l2.stats().delayed).toBe(1)
  })

  it('hangs calls: the cache bounds every one by l2Timeout and answers without L2', async () => {
    const l2 = chaosDriver(memoryL2(), { hangRate: 1 })
    const cache = new RustoCache({ l2, l2Timeout: 100, lock: { distributed: true } })
    const started = Date.now()
    expect(await cache.getOrSet({ key: 'k', factory: () => 'made' })).toBe('made')
    expect(await cache.get({ key: 'other' })).toBeUndefined()
    await cache.set({ key: 'k2', value: 1 })
    await cache.deleteByTag({ tags: ['t'] })
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(cache.stats().l2Errors).toBeGreaterThanOrEqual(4)
    expect(l2.stats().hangs).toBeGreaterThanOrEqual(4)
    await cache.disconnect()
  })

  it('refuses rates outside 0..1 and negative delays with E_INVALID_OPTION', () => {
    for (const bad of [{ errorRate: 2 }, { hangRate: -0.1 }, { latency: -5 }, { jitter: Number.NaN }, { errorRate: '0.5' as unknown as number }]) {
      try {
        chaosDriver(memoryL2(), bad)
        expect.unreachable()
      } catch (error) {
        expect(error).toBeInstanceOf(RustoCacheError)
        expect((error as RustoCacheError).code).toBe(ErrorCodes.E_INVALID_OPTION)
      }
    }
  })
})

describe('chaosBus', () => {
  const pair = (faults: Parameters<typeof chaosBus>[1]) => {
    const bus = chaosBus(memoryBus({ retryQueue: { retryInterval: 20 } }), faults)
    return { bus, a: new RustoCache({ bus }), b: new RustoCache({ bus }) }
  }

  it('drops messages (the other instance keeps its copy) until healed', async () => {
    const { bus, a, b } = pair({ dropRate: 1 })
    await b.set({ key: 'k', value: 'b' })
    await a.delete({ key: 'k' })
    await sleep(10)
    expect(await b.get({ key: 'k' })).toBe('b')
    expect(bus.stats().dropped).toBeGreaterThanOrEqual(1)
    bus.heal()
    await a.delete({ key: 'k' })
    await sleep(10)
    expect(await b.get({ key: 'k' })).toBeUndefined()
  })

  it('duplicates and reorders messages; a copy is refused by its sequence number, and the outcome is the same', async () => {
    const { bus, a, b } = pair({ duplicateRate: 1, reorderRate: 0.5, seed: 3 })
    for (let i = 0; i < 20; i++) await b.set({ key: `k${i}`, value: i })
    for (let i = 0; i < 20; i++) await a.delete({ key: `k${i}` })
    await sleep(100)
    expect(await b.getMany({ keys: Array.from({ length: 20 }, (_, i) => `k${i}`) })).toEqual(new Array(20).fill(undefined))
    expect(bus.stats().duplicated).toBeGreaterThanOrEqual(20)
    expect(bus.stats().reordered).toBeGreaterThanOrEqual(1)
    // Every copy arrived: applied once, and refused the second time (its number was heard already).
    expect(b.stats().busReceived + b.stats().busRejected).toBeGreaterThanOrEqual(40)
    expect(b.stats().busRejected).toBeGreaterThanOrEqual(1)
  })

  it('a lost message is noticed by the sequence gap at the sender\'s next message, or its heartbeat: L1 revalidates', async () => {
    const l2 = memoryL2()
    const bus = chaosBus(memoryBus({ retryQueue: { retryInterval: 30 } }))
    const a = new RustoCache({ l2, bus })
    const b = new RustoCache({ l2, bus })
    await a.set({ key: 'k', value: 'v1' })
    await sleep(5) // b has heard of it (the bus is sent in the background)
    expect(await b.get({ key: 'k' })).toBe('v1') // b's L1 copy
    bus.set({ dropRate: 1 })
    await a.set({ key: 'k', value: 'v2' }) // b never hears of it
    await sleep(5)
    bus.heal()
    expect(await b.get({ key: 'k' })).toBe('v1') // stale, and b cannot know yet
    await sleep(80) // a's heartbeat (every retry interval) carries its last sequence number
    expect(b.stats().busGaps).toBe(1)
    expect(await b.get({ key: 'k' })).toBe('v2')
    await a.disconnect()
    await b.disconnect()
  })

  it('delays delivery, and fails publishes into the retry queue', async () => {
    const { bus, a, b } = pair({ deliveryDelay: 40, errorRate: 1 })
    await b.set({ key: 'k', value: 'b' })
    await a.delete({ key: 'k' })
    await sleep(10)
    expect(a.stats().busQueued).toBe(1)
    bus.set({ errorRate: 0 })
    await sleep(30) // the retry interval (20 ms) sends it
    expect(a.stats().busQueued).toBe(0)
    expect(await b.get({ key: 'k' })).toBe('b') // still on its way
    await sleep(60)
    expect(await b.get({ key: 'k' })).toBeUndefined()
  })
})
