import { describe, expect, it, vi } from 'vitest'
import { ErrorCodes, memoryBus, RustoCache, type RustoCacheOptions } from '../src/index.js'
import { codeOf, recordingLogger, type LogLine } from './helpers/cache.js'
import { chaosBus } from '../src/chaos/index.js'
import { memoryL2 } from './helpers/memory-l2.js'

// Each test here failed before the fix it guards: a re-entrant listener, an invalidation racing work in flight,
// a promise nobody owned, a value the serializer cannot encode, a bus message nobody should trust.

const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

describe.each(['wasm', 'js'] as const)('on the %s core', (core) => {
  const make = (options: RustoCacheOptions = {}) => new RustoCache({ ...options, l1: { core, ...options.l1 } })

  describe('a listener that calls back into the cache', () => {
    it('cannot change what getMany returns: not by reading, deleting or writing other keys', async () => {
      const cache = make({ l1: { maxItems: 4 } })
      await cache.setMany({ items: ['a', 'b', 'c'].map((k) => ({ key: k, value: k.toUpperCase() })) })
      const inner: Array<Promise<unknown>> = []
      let first = true
      cache.on('cache:hit', () => {
        if (!first) return
        first = false
        // Frees b's slot and hands it to x, and runs a batch of its own through the core.
        inner.push(cache.getMany({ keys: ['c', 'zz', 'zz', 'zz'] }), cache.delete({ key: 'b' }), cache.set({ key: 'x', value: 'X' }))
      })
      expect(await cache.getMany({ keys: ['a', 'b', 'c'] })).toEqual(['A', 'B', 'C'])
      expect(await Promise.all(inner)).toEqual([['C', undefined, undefined, undefined], true, true])
    })

    it('cannot change what get and getOrSet return', async () => {
      const cache = make()
      await cache.set({ key: 'a', value: 'A' })
      await cache.set({ key: 'b', value: 'B' })
      const inner: Array<Promise<unknown>> = []
      cache.on('cache:hit', ({ key }) => {
        if (key === 'a') inner.push(cache.delete({ key: 'a' }), cache.set({ key: 'c', value: 'C' }), cache.get({ key: 'b' }))
      })
      expect(await cache.get({ key: 'a' })).toBe('A')
      await cache.set({ key: 'a', value: 'A2' })
      expect(await cache.getOrSet({ key: 'a', factory: () => 'never' })).toBe('A2')
      await Promise.all(inner)
    })
  })

  describe('an invalidation wins over work already in flight', () => {
    const cases: Array<{ name: string; act: (cache: RustoCache) => Promise<unknown>; after: unknown; graceOff?: boolean }> = [
      { name: 'delete', act: (c) => c.delete({ key: 'k' }), after: undefined },
      { name: 'set', act: (c) => c.set({ key: 'k', value: 'newer' }), after: 'newer' },
      { name: 'expire', act: (c) => c.expire({ key: 'k' }), after: undefined, graceOff: true },
      { name: 'deleteByTag', act: (c) => c.deleteByTag({ tags: ['t'] }), after: undefined },
      { name: 'expireByTag', act: (c) => c.expireByTag({ tags: ['t'] }), after: undefined, graceOff: true },
      { name: 'clear', act: (c) => c.clear(), after: undefined },
    ]
    for (const { name, act, after, graceOff } of cases) {
      it(`${name} during a factory: the factory's value answers its callers but is not stored`, async () => {
        const cache = make({ grace: '1h' })
        const factory = deferred<string>()
        const pending = cache.getOrSet({ key: 'k', tags: ['t'], factory: () => factory.promise })
        await tick()
        await act(cache)
        factory.resolve('older')
        expect(await pending).toBe('older')
        expect(await cache.get({ key: 'k', grace: graceOff ? false : undefined })).toBe(after)
        expect(cache.stats().discarded).toBeGreaterThanOrEqual(1)
      })
    }

    it('callers waiting on an overtaken factory get a value made after the invalidation', async () => {
      const cache = make()
      const factory = deferred<string>()
      let calls = 0
      const pending = cache.getOrSet({ key: 'k', factory: () => (calls++, factory.promise) })
      const waiter = cache.getOrSet({ key: 'k', factory: () => (calls++, 'made after the delete') })
      await tick()
      await cache.delete({ key: 'k' })
      factory.resolve('older')
      expect(await pending).toBe('older')
      expect(await waiter).toBe('made after the delete')
      expect(calls).toBe(2)
    })

    it('a namespace clear during a factory in that namespace', async () => {
      const cache = make()
      const users = cache.namespace('users')
      const factory = deferred<string>()
      const pending = users.getOrSet({ key: 'k', factory: () => factory.promise })
      await tick()
      await users.clear()
      factory.resolve('older')
      expect(await pending).toBe('older')
      expect(await users.get({ key: 'k' })).toBeUndefined()
    })

    it('a delete heard on the bus during a factory', async () => {
      const bus = memoryBus()
      const a = make({ bus })
      const b = make({ bus })
      const factory = deferred<string>()
      const pending = a.getOrSet({ key: 'k', factory: () => factory.promise })
      await tick()
      await b.delete({ key: 'k' })
      await tick()
      factory.resolve('older')
      expect(await pending).toBe('older')
      expect(await a.get({ key: 'k' })).toBeUndefined()
    })

    it('a delete during an L2 read: the read answers its caller, L1 is not backfilled', async () => {
      const l2 = memoryL2()
      const writer = make({ l2 })
      await writer.set({ key: 'k', value: 'v1' })
      const reader = make({ l2 })
      const release = l2.hold('get')
      const read = reader.get({ key: 'k' })
      const filled = reader.getOrSet({ key: 'k2', factory: () => 'never' })
      await tick()
      await reader.delete({ key: 'k' })
      release()
      expect(await read).toBe('v1')
      await filled
      expect(await reader.get({ key: 'k' })).toBeUndefined()
      expect(await reader.has({ key: 'k' })).toBe(false)
    })

    // Its own delete or expire still on the way to L2: L2 holds the value they remove, so a read that overlaps
    // them may answer it but must not copy it back into L1 (the chaos run on Node 22 found this one).
    for (const how of ['delete', 'expire'] as const) {
      it(`a read during this instance's own ${how} on its way to L2: L1 is not backfilled`, async () => {
        const l2 = memoryL2()
        const cache = make({ l2 })
        await cache.set({ key: 'k', value: 'v1' })
        const release = l2.hold(how)
        const invalidated = how === 'delete' ? cache.delete({ key: 'k' }) : cache.expire({ key: 'k' })
        const read = cache.get({ key: 'k' })
        const reads = cache.getMany({ keys: ['k'] })
        await tick()
        release()
        await invalidated
        expect(await read).toBe('v1') // began before the invalidation completed: may answer it
        expect(await reads).toEqual(['v1'])
        expect(await cache.get({ key: 'k', grace: false })).toBeUndefined()
        expect(await cache.has({ key: 'k' })).toBe(false)
      })
    }

    // Its delete's L2 side failed and waits in the retry queue: until it is re-applied L2 still holds the value,
    // and a read here must neither answer it (the delete completed before the read began) nor keep it in L1
    // (the queue's re-apply would not take it out of this instance's L1 again). The chaos run found this one.
    it("a read after this instance's delete whose L2 side waits in the retry queue", async () => {
      const l2 = memoryL2()
      const cache = make({ l2, bus: memoryBus({ retryQueue: { retryInterval: 60_000 } }) })
      await cache.set({ key: 'k', value: 'v1' })
      l2.fail.add('delete')
      expect(await cache.delete({ key: 'k' })).toBe(true)
      expect(cache.stats().busQueued).toBe(1)
      l2.fail.delete('delete')
      // L2 answers again, and still holds v1: not this instance's truth for k.
      expect(await cache.get({ key: 'k' })).toBeUndefined()
      expect(await cache.getMany({ keys: ['k'] })).toEqual([undefined])
      expect(await cache.getOrSet({ key: 'k', factory: () => 'made after' })).toBe('made after')
      await cache.disconnect()
    })

    it('a delete during a getMany L2 read: nothing is backfilled', async () => {
      const l2 = memoryL2()
      await make({ l2 }).setMany({ items: [{ key: 'a', value: 1 }, { key: 'b', value: 2 }] })
      const reader = make({ l2 })
      const release = l2.hold('get')
      const read = reader.getMany({ keys: ['a', 'b'] })
      await tick()
      await reader.delete({ key: 'a' })
      release()
      expect(await read).toEqual([1, 2])
      expect(await reader.get({ key: 'a' })).toBeUndefined()
      expect(await reader.get({ key: 'b' })).toBe(2)
    })

    it('a factory value written while a get read L2 is not overwritten by the older L2 value', async () => {
      const l2 = memoryL2()
      await make({ l2 }).set({ key: 'k', value: 'old' })
      const cache = make({ l2 })
      const release = l2.hold('get')
      const read = cache.get({ key: 'k' })
      await tick()
      await cache.set({ key: 'k', value: 'new' })
      release()
      expect(await read).toBe('old')
      expect(await cache.get({ key: 'k' })).toBe('new')
    })
  })

  describe('stale only within grace', () => {
    it('an entry without grace made stale by expireByTag is not served', async () => {
      const cache = make()
      await cache.set({ key: 'k', value: 'v', tags: ['t'] })
      await cache.expireByTag({ tags: ['t'] })
      expect(await cache.get({ key: 'k' })).toBeUndefined()
      expect(await cache.has({ key: 'k' })).toBe(false)
      expect(await cache.getOrSet({ key: 'k', factory: () => 'fresh' })).toBe('fresh')
    })

    it('a tag invalidation heard on the bus covers every entry written here before it arrived', async () => {
      const bus = memoryBus()
      const a = make({ bus })
      const b = make({ bus })
      await a.set({ key: 'k0', value: 0, tags: ['t'] })
      await a.set({ key: 'k1', value: 1, tags: ['t'] })
      // b's clock runs 5 s behind a's: its stamp must not decide what a's L1 drops.
      const behind = Date.now() - 5_000
      const clock = vi.spyOn(Date, 'now').mockReturnValue(behind)
      try {
        await b.deleteByTag({ tags: ['t'] })
      } finally {
        clock.mockRestore()
      }
      await tick()
      expect(await a.getMany({ keys: ['k0', 'k1'] })).toEqual([undefined, undefined])
    })
  })

  describe('across instances, clocks and delays', () => {
    it('an entry made after a deleteByTag survives the late arrival of that invalidation at a third instance', async () => {
      const l2 = memoryL2()
      const base = memoryBus()
      const a = make({ l2, bus: base })
      const b = make({ l2, bus: base })
      const c = make({ l2, bus: chaosBus(base, { deliveryDelay: 50 }) })
      await b.deleteByTag({ tags: ['t'] }) // reaches c 50 ms later
      // Across instances an invalidation covers entries made up to REMOTE_TIE_MS after it: be later than that.
      await new Promise((r) => setTimeout(r, 5))
      await a.set({ key: 'k', value: 'made after', tags: ['t'] })
      await new Promise((r) => setTimeout(r, 80))
      expect(await c.get({ key: 'k' })).toBe('made after')
      // And an entry made before it is gone for everyone.
      await a.set({ key: 'old', value: 'before', tags: ['u'] })
      expect(await c.get({ key: 'old' })).toBe('before')
      // Across instances, stamps order events only to the millisecond (and to the instances' clock skew).
      await new Promise((r) => setTimeout(r, 5))
      await b.deleteByTag({ tags: ['u'] })
      await new Promise((r) => setTimeout(r, 80))
      expect(await c.get({ key: 'old' })).toBeUndefined()
      expect(await make({ l2 }).get({ key: 'old' })).toBeUndefined()
    })
  })

  describe('no promise without an owner', () => {
    it('disconnect() while a distributed lock is held: the failed unlock is logged, not unhandled', async () => {
      const l2 = memoryL2()
      const lines: LogLine[] = []
      const cache = make({ l2, lock: { distributed: true }, suppressL2Errors: false, logger: recordingLogger(lines) })
      const factory = deferred<string>()
      const pending = cache.getOrSet({ key: 'k', factory: () => factory.promise })
      await tick()
      await cache.disconnect()
      factory.resolve('v')
      expect(await codeOf(pending)).toBe(ErrorCodes.E_L2_CACHE_ERROR)
      await tick()
      expect(lines.some((l) => l.level === 'error' && /distributed unlock/.test(l.msg ?? ''))).toBe(true)
    })

    it('an unlock that fails while Redis is away is logged, not unhandled', async () => {
      const l2 = memoryL2()
      const lines: LogLine[] = []
      const cache = make({ l2, lock: { distributed: true }, suppressL2Errors: false, logger: recordingLogger(lines) })
      l2.fail.add('unlock')
      expect(await cache.getOrSet({ key: 'k', factory: () => 'v' })).toBe('v')
      await tick()
      expect(lines.some((l) => l.level === 'error' && /distributed unlock/.test(l.msg ?? ''))).toBe(true)
    })
  })

  describe('values the serializer cannot encode', () => {
    it('reject at once with E_UNSERIALIZABLE_VALUE, lose nothing, and neither count as L2 errors nor enter the retry queue', async () => {
      const l2 = memoryL2()
      const cache = make({ l2, bus: memoryBus(), l2CircuitBreakerDuration: '1m' })
      await cache.set({ key: 'k', value: 'kept' })
      const cycle: Record<string, unknown> = {}
      cycle.self = cycle
      for (const value of [10n, cycle, { n: 1n }]) {
        expect(await codeOf(cache.set({ key: 'k', value }))).toBe(ErrorCodes.E_UNSERIALIZABLE_VALUE)
        expect(await codeOf(cache.setMany<unknown>({ items: [{ key: 'other', value: 1 }, { key: 'k', value }] }))).toBe(ErrorCodes.E_UNSERIALIZABLE_VALUE)
        expect(await codeOf(cache.getOrSet({ key: 'fresh', factory: () => value }))).toBe(ErrorCodes.E_UNSERIALIZABLE_VALUE)
      }
      expect(await cache.get({ key: 'k' })).toBe('kept')
      expect(await cache.get({ key: 'other' })).toBeUndefined()
      expect(await make({ l2 }).get({ key: 'k' })).toBe('kept')
      const stats = cache.stats()
      expect([stats.l2Errors, stats.busQueued]).toEqual([0, 0])
      // The breaker did not open: L2 still serves this cache.
      await cache.set({ key: 'after', value: 1 })
      expect(l2.store.has('after')).toBe(true)
    })

    it('a queued change whose value cannot be encoded is dropped and counted; the changes behind it go through', async () => {
      const l2 = memoryL2()
      const cache = make({ l2, bus: memoryBus({ retryQueue: { retryInterval: 10 } }) })
      l2.fail.add('set')
      await cache.set({ key: 'first', value: 1 })
      // Replaced in L1 only, by a value L2 cannot take: the queued change re-applies it and fails for itself.
      await cache.getOrSet({ key: 'first', forceFresh: true, factory: (ctx) => (ctx.setOptions({ skipL2Write: true }), 2n) })
      await cache.set({ key: 'second', value: 2 })
      // The queue re-applied 'first' from L1, could not encode it, and dropped it; 'second' waits for L2.
      await new Promise((r) => setTimeout(r, 5))
      expect(cache.stats().busDropped).toBe(1)
      expect(cache.stats().busQueued).toBe(1)
      l2.fail.delete('set')
      for (let i = 0; i < 100 && cache.stats().busQueued > 0; i++) await new Promise((r) => setTimeout(r, 10))
      expect(cache.stats().busQueued).toBe(0)
      expect(cache.stats().busDropped).toBe(1)
      expect(await make({ l2 }).get({ key: 'second' })).toBe(2)
    })
  })

  describe('what arrives from outside is checked', () => {
    it('refuses malformed bus messages, counts them, and keeps L1 as it was', async () => {
      const bus = memoryBus()
      const cache = make({ bus })
      await cache.set({ key: 'k', value: 'kept' })
      const rogue = bus.create({ channel: 'rustocache:bus', logger: recordingLogger([]) })
      const bad = [
        'not json',
        JSON.stringify({ type: 'delete', keys: ['k'] }),
        JSON.stringify([2, 'x', 1, ['k'], null, null, null]),
        JSON.stringify([1, 'x', 99, ['k'], null, null, null]),
        JSON.stringify([1, 'x', 1, [1, 2], null, null, null]),
        JSON.stringify([1, 'x', 1, 'k', null, null, null]),
        JSON.stringify([1, 'x', 4, [], null, ['t'], 'soon']),
        JSON.stringify([1, 'x', 4, [], null, [{}], 5]),
        JSON.stringify([1, '', 1, ['k'], null, null, null]),
        JSON.stringify([1, 'x', 1, ['k'.repeat(20_000)], null, null, null]),
        JSON.stringify([1, 'x', 1, ['k', 'pad'.repeat(400_000)], null, null, null]),
      ]
      for (const payload of bad) await rogue.publish(payload)
      await tick()
      expect(cache.stats().busRejected).toBe(bad.length)
      expect(await cache.get({ key: 'k' })).toBe('kept')
      // A well-formed message still works.
      await rogue.publish(JSON.stringify([1, 'x', 1, ['k'], null, null, null]))
      await tick()
      expect(await cache.get({ key: 'k' })).toBeUndefined()
    })

    it('reads an L2 entry with invalid tags or a broken header as a miss, counted', async () => {
      const l2 = memoryL2()
      const cache = make({ l2 })
      l2.store.set('badtags', 'r1|inf|1|9|[1,2,3]{}1')
      l2.store.set('header', 'r1|x|y|z|1')
      l2.store.set('value', 'r1|inf|1|0|{not json')
      l2.store.set('other', 'hello')
      for (const key of ['badtags', 'header', 'value', 'other']) expect(await cache.get({ key })).toBeUndefined()
      expect(cache.stats().l2Rejected).toBe(4)
      expect(cache.stats().l2Errors).toBe(0)
    })

    it('keeps __proto__ and constructor as ordinary keys and tags, and pollutes no prototype', async () => {
      const l2 = memoryL2()
      const cache = make({ l2 })
      for (const key of ['__proto__', 'constructor', 'prototype', 'hasOwnProperty']) {
        await cache.set({ key, value: { key, __proto__: { polluted: true } }, tags: [key] })
        expect(await cache.get({ key })).toMatchObject({ key })
        expect(await make({ l2 }).get({ key })).toMatchObject({ key })
      }
      l2.store.set('evil', 'r1|inf|1|0|{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}')
      await cache.get({ key: 'evil' })
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      await cache.deleteByTag({ tags: ['__proto__'] })
      expect(await cache.get({ key: '__proto__' })).toBeUndefined()
      expect(await cache.get({ key: 'constructor' })).toMatchObject({ key: 'constructor' })
    })
  })
})
