import { afterEach, describe, expect, inject, it } from 'vitest'
import { memoryBus, RustoCache, type L2DriverFactory } from '../src/index.js'
import { redisDriver } from '../src/redis/index.js'
import { memoryL2 } from './helpers/memory-l2.js'

// Liveness, as issue 17 reproduced it: a refresh that completed and was not overtaken by a real change (a write
// or an invalidation) is stored in L1 and L2. A copy from L2 into L1 (the refresh's own L2 read, a concurrent
// get) is not a change and must not throw the refresh away.

const url = inject('redisUrl')
const open: RustoCache[] = []
let groups = 0
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.disconnect()))
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until `check` holds (each try a macrotask apart), or fails naming what it waited for. */
async function until(check: () => Promise<boolean> | boolean, what: string, ms = 2_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

/** A factory that answers `value` once `release()` is called: a refresh held on the wire while the test acts. */
function held<T>(value: T): { factory: () => Promise<T>; release: () => void } {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  return { factory: async () => (await gate, value), release }
}

const tiers: Record<string, () => L2DriverFactory> = {
  'a memory L2': () => memoryL2(),
  Redis: () => redisDriver({ connection: url }),
}

describe.each(['wasm', 'js'] as const)('a refresh lands (%s core)', (core) => {
  for (const [tier, l2] of Object.entries(tiers)) {
    const make = (shared: { l2: L2DriverFactory; prefix: string }, extra: { l1?: false; bus?: ReturnType<typeof memoryBus> } = {}) => {
      const cache = new RustoCache({ prefix: shared.prefix, l1: extra.l1 === false ? false : { core }, l2: shared.l2, bus: extra.bus, grace: '1h' })
      open.push(cache)
      return cache
    }
    const fresh = () => ({ l2: l2(), prefix: `live${process.pid}:${++groups}` })

    it(`a background refresh of a stale entry is stored in L1 and L2, round after round (${tier})`, async () => {
      const shared = fresh()
      const cache = make(shared)
      await cache.set({ key: 'k', value: 'v0', ttl: 30 })
      for (let round = 1; round <= 3; round++) {
        await sleep(50)
        const answered = await cache.getOrSet({ key: 'k', factory: () => `v${round}`, timeout: 0, ttl: 30 })
        expect(answered).toBe(`v${round - 1}`)
        await until(async () => (await cache.get({ key: 'k' })) === `v${round}`, `round ${round}'s refresh in L1`)
        // A new instance has nothing in L1: it reads what L2 holds.
        const other = make(shared)
        expect(await other.get({ key: 'k' })).toBe(`v${round}`)
      }
      expect(cache.stats().factoryCalls).toBe(3)
      expect(cache.stats().discarded).toBe(0)
    })

    it(`a get that copies the stale L2 entry into L1 while the refresh runs does not throw the refresh away (${tier})`, async () => {
      const shared = fresh()
      const cache = make(shared)
      await cache.set({ key: 'k', value: 'old', ttl: 30 })
      await sleep(50)
      const { factory, release } = held('new')
      const answered = await cache.getOrSet({ key: 'k', timeout: 0, factory })
      expect(answered).toBe('old')
      // The L1 copy is stale: this get reads L2 and copies its (stale) entry into L1.
      expect(await cache.get({ key: 'k' })).toBe('old')
      release()
      await until(async () => (await cache.get({ key: 'k' })) === 'new', 'the refresh in L1')
      expect(await make(shared).get({ key: 'k' })).toBe('new')
      expect(cache.stats().discarded).toBe(0)
    })

    it(`forceFresh on another instance, with a concurrent get there, stores its value for everyone (${tier})`, async () => {
      const shared = fresh()
      const bus = memoryBus()
      const a = make(shared, { bus })
      const b = make(shared, { bus })
      await a.set({ key: 'k', value: 'old' })
      // a's set reaches b first: a change b hears of after the factory began would rightly overtake it.
      await until(() => b.stats().busReceived === 1, 'the bus message of the set')
      const { factory, release } = held('new')
      const forced = b.getOrSet({ key: 'k', forceFresh: true, factory })
      expect(await b.get({ key: 'k' })).toBe('old')
      release()
      expect(await forced).toBe('new')
      expect(await b.get({ key: 'k' })).toBe('new')
      await until(async () => (await a.get({ key: 'k' })) === 'new', 'instance a to hear of the new value')
      expect(await make(shared).get({ key: 'k' })).toBe('new')
    })

    it(`L2-only mode: a background refresh is stored in L2 (${tier})`, async () => {
      const shared = fresh()
      const cache = make(shared, { l1: false })
      await cache.set({ key: 'k', value: 'v0', ttl: 30 })
      await sleep(50)
      expect(await cache.getOrSet({ key: 'k', factory: () => 'v1', timeout: 0, ttl: 60_000 })).toBe('v0')
      await until(async () => (await cache.get({ key: 'k' })) === 'v1', 'the refresh in L2')
      expect(cache.stats().discarded).toBe(0)
    })

    it(`a real change while the refresh runs still overtakes it (${tier})`, async () => {
      const shared = fresh()
      const cache = make(shared)
      await cache.set({ key: 'k', value: 'old', ttl: 30 })
      await sleep(50)
      const { factory, release } = held('refresh')
      await cache.getOrSet({ key: 'k', timeout: 0, factory })
      await cache.set({ key: 'k', value: 'written' })
      release()
      await until(() => cache.stats().discarded === 1, 'the overtaken refresh to be discarded')
      expect(await cache.get({ key: 'k' })).toBe('written')
      expect(await make(shared).get({ key: 'k' })).toBe('written')
    })
  }
})

describe.each(['wasm', 'js'] as const)('instances converge (%s core)', (core) => {
  const make = (l2: L2DriverFactory, bus?: ReturnType<typeof memoryBus>) => {
    const cache = new RustoCache({ l1: { core }, l2, bus, grace: '1h' })
    open.push(cache)
    return cache
  }

  it('a tagged set right after a deleteByTag of its tag is read by every instance, not only the writer', async () => {
    const l2 = memoryL2()
    const a = make(l2)
    // Same millisecond: L2 readers count entries made up to 1 ms after an invalidation as covered by it.
    await a.deleteByTag({ tags: ['t'] })
    await a.set({ key: 'k', value: 'after', tags: ['t'] })
    expect(await a.get({ key: 'k' })).toBe('after')
    expect(await make(l2).get({ key: 'k' })).toBe('after')
  })

  it('a stale copy that another instance superseded is not served once L2 answers that the newer value is gone', async () => {
    const l2 = memoryL2()
    const bus = memoryBus()
    const a = make(l2, bus)
    const b = make(l2, bus)
    await a.set({ key: 'k', value: 'v1' })
    await b.set({ key: 'k', value: 'v2' })
    await until(() => a.stats().busReceived === 1, "b's set to reach a")
    // The newer value leaves L2 without a message (evicted, or deleted by a tag a missed).
    l2.store.delete('k')
    expect(await a.get({ key: 'k' })).toBeUndefined()
    expect(await make(l2).get({ key: 'k' })).toBeUndefined()
    // While L2 cannot answer, the stale copy is still the fallback grace promises.
    await a.set({ key: 'j', value: 'j1' })
    await b.set({ key: 'j', value: 'j2' })
    await until(() => a.stats().busReceived === 2, "b's second set to reach a")
    l2.fail.add('get')
    expect(await a.get({ key: 'j' })).toBe('j1')
  })
})
