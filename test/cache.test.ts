import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ErrorCodes, RustoCache, RustoCacheError, type RustoCacheOptions } from '../src/index.js'
import { codeOf, recordingLogger } from './helpers/cache.js'
import { memoryL2 } from './helpers/memory-l2.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.each(['wasm', 'js'] as const)('RustoCache on the %s core', (core) => {
  const make = (options: RustoCacheOptions = {}) => new RustoCache({ ...options, l1: { core, ...options.l1 } })

  describe('basic calls', () => {
    it('gets, sets, checks, pulls and deletes', async () => {
      const cache = make()
      expect(await cache.get({ key: 'a' })).toBeUndefined()
      expect(await cache.get({ key: 'a', defaultValue: 5 })).toBe(5)
      expect(await cache.get({ key: 'a', defaultValue: () => 6 })).toBe(6)
      await cache.set({ key: 'a', value: { n: 1 } })
      expect(await cache.get({ key: 'a' })).toEqual({ n: 1 })
      expect(await cache.has({ key: 'a' })).toBe(true)
      expect(await cache.missing({ key: 'b' })).toBe(true)
      expect(await cache.pull({ key: 'a' })).toEqual({ n: 1 })
      expect(await cache.has({ key: 'a' })).toBe(false)
      await cache.set({ key: 'n', value: null })
      expect(await cache.has({ key: 'n' })).toBe(true)
      expect(await cache.get({ key: 'n', defaultValue: 1 })).toBeNull()
      expect(await cache.delete({ key: 'n' })).toBe(true)
      expect(await cache.delete({ key: 'n' })).toBe(false)
      await cache.set({ key: 'x', value: 1 })
      await cache.set({ key: 'y', value: 2 })
      expect(await cache.deleteMany({ keys: ['x', 'y', 'z'] })).toBe(2)
      expect(cache.stats().core).toBe(core)
    })

    it('answers getMany in key order with undefined for misses, and setMany writes all or nothing', async () => {
      const cache = make()
      await cache.setMany({ items: [{ key: 'a', value: 1 }, { key: 'b', value: 2, ttl: '1h', tags: ['t'] }] })
      const values = await cache.getMany({ keys: ['b', 'zz', 'a'] })
      expect(values).toEqual([2, undefined, 1])
      expect(1 in values).toBe(true) // a miss is an explicit undefined, not a hole
      expect(await codeOf(cache.setMany({ items: [{ key: 'c', value: 3 }, { key: 'd', value: undefined }] }))).toBe(ErrorCodes.E_UNDEFINED_VALUE)
      expect(await codeOf(cache.setMany({ items: [{ key: 'c', value: 3 }, { key: 'd', value: 4, ttl: 'soon' }] }))).toBe(ErrorCodes.E_INVALID_TTL)
      expect(await cache.get({ key: 'c' })).toBeUndefined()
    })

    it('lets a call override the global ttl, and keeps setForever and getOrSetForever forever', async () => {
      vi.useFakeTimers()
      try {
        const cache = make({ ttl: '1m' })
        await cache.set({ key: 'global', value: 1 })
        await cache.set({ key: 'call', value: 2, ttl: '2h' })
        await cache.setForever({ key: 'forever', value: 3 })
        await cache.getOrSetForever({ key: 'forever2', factory: () => 4 })
        vi.advanceTimersByTime(61_000)
        expect(await cache.get({ key: 'global' })).toBeUndefined()
        expect(await cache.get({ key: 'call' })).toBe(2)
        vi.advanceTimersByTime(400 * 86_400_000)
        expect(await cache.get({ key: 'forever' })).toBe(3)
        expect(await cache.get({ key: 'forever2' })).toBe(4)
      } finally {
        vi.useRealTimers()
      }
    })

    it('rejects undefined values and bad durations before writing, keeping the old value', async () => {
      const cache = make()
      await cache.set({ key: 'k', value: 'old' })
      expect(await codeOf(cache.set({ key: 'k', value: undefined }))).toBe(ErrorCodes.E_UNDEFINED_VALUE)
      for (const ttl of ['soon', '-1s', -5, Number.NaN, '1x']) {
        expect(await codeOf(cache.set({ key: 'k', value: 'new', ttl }))).toBe(ErrorCodes.E_INVALID_TTL)
      }
      expect(await codeOf(cache.getOrSet({ key: 'k2', factory: () => 1, grace: 'a while' }))).toBe(ErrorCodes.E_INVALID_TTL)
      expect(await codeOf(cache.get({ key: 5 as unknown as string }))).toBe(ErrorCodes.E_INVALID_KEY)
      expect(await cache.get({ key: 'k' })).toBe('old')
      expect(() => make({ ttl: 'forever-ish' })).toThrow(RustoCacheError)
    })

    it('rejects bad options with E_INVALID_OPTION, at construction or before writing', async () => {
      const bad: RustoCacheOptions[] = [
        { earlyExpiration: 1.5 },
        { earlyExpiration: 0 },
        { l1: { maxBytes: '64xb' } },
        { l1: { maxItems: 0 } },
        { l1: { maxEntrySize: -1 } },
        { l1: { sizeCalculation: 'json' as unknown as () => number } },
        { onFactoryError: 'log' as unknown as () => void },
        { lock: 'yes' as unknown as { distributed: boolean } },
        { l2: {} as unknown as RustoCacheOptions['l2'] },
        { bus: { kind: 'x' } as unknown as RustoCacheOptions['bus'] },
        { bus: { kind: 'x', retryQueue: { maxSize: 0 }, create: () => ({}) } as unknown as RustoCacheOptions['bus'] },
      ]
      for (const options of bad) {
        let code: string | undefined
        try {
          make(options)
        } catch (error) {
          code = (error as RustoCacheError).code
        }
        expect(code, JSON.stringify(options)).toBe(ErrorCodes.E_INVALID_OPTION)
      }
      const cache = make({ l1: { maxEntrySize: '1kb', sizeCalculation: (value) => (value === 2 ? -1 : 1) } })
      await cache.set({ key: 'kept', value: 1, ttl: '1h' })
      expect(await codeOf(cache.set({ key: 'kept', value: 2 }))).toBe(ErrorCodes.E_INVALID_OPTION)
      expect(await cache.get({ key: 'kept' })).toBe(1)
      expect(await codeOf(cache.set({ key: 'k', value: 1, tags: 'user:1' as unknown as string[] }))).toBe(ErrorCodes.E_INVALID_OPTION)
      expect(await codeOf(cache.getOrSet({ key: 'k', factory: 'value' as unknown as () => number }))).toBe(ErrorCodes.E_INVALID_OPTION)
      expect(() => cache.namespace('')).toThrow(RustoCacheError)
    })

    it('reads friendly durations', async () => {
      vi.useFakeTimers()
      try {
        const cache = make()
        await cache.set({ key: 'a', value: 1, ttl: '1d 2h' })
        await cache.set({ key: 'b', value: 2, ttl: '2.5h' })
        await cache.set({ key: 'c', value: 3, ttl: '250ms' })
        vi.advanceTimersByTime(251)
        expect(await cache.get({ key: 'c' })).toBeUndefined()
        vi.advanceTimersByTime(2.5 * 3_600_000 - 251)
        expect(await cache.get({ key: 'b' })).toBeUndefined()
        vi.advanceTimersByTime(26 * 3_600_000 - 2.5 * 3_600_000 - 1)
        expect(await cache.get({ key: 'a' })).toBe(1)
        vi.advanceTimersByTime(1)
        expect(await cache.get({ key: 'a' })).toBeUndefined()
      } finally {
        vi.useRealTimers()
      }
    })
  })

  describe('byte limits', () => {
    it('keeps no value over maxEntrySize in L1 and counts it', async () => {
      const cache = make({ l1: { maxEntrySize: 10 } })
      await cache.set({ key: 'small', value: 'abc' })
      await cache.set({ key: 'big', value: 'x'.repeat(20) })
      expect(await cache.get({ key: 'small' })).toBe('abc')
      expect(await cache.get({ key: 'big' })).toBeUndefined()
      expect(cache.stats().oversized).toBe(1)
    })

    it('evicts by maxBytes using sizeCalculation, given as a friendly size', async () => {
      const cache = make({ l1: { maxBytes: '1kb', sizeCalculation: (value) => (value as { bytes: number }).bytes } })
      for (let i = 0; i < 5; i++) await cache.set({ key: `k${i}`, value: { bytes: 300 } })
      // Three fit in 1 kB. W-TinyLFU (the default) keeps the newest in its window and, of the others, the two
      // its sketch ranks highest (all equal here: the first two, since a candidate must beat the victim).
      expect(await cache.getMany({ keys: ['k0', 'k1', 'k2', 'k3', 'k4'] })).toEqual([{ bytes: 300 }, { bytes: 300 }, undefined, undefined, { bytes: 300 }])
      expect(cache.stats().evictions).toBe(2)
      const lru = make({ l1: { maxBytes: '1kb', policy: 'lru', sizeCalculation: (value) => (value as { bytes: number }).bytes } })
      for (let i = 0; i < 5; i++) await lru.set({ key: `k${i}`, value: { bytes: 300 } })
      expect(await lru.getMany({ keys: ['k0', 'k1', 'k2', 'k3', 'k4'] })).toEqual([undefined, undefined, { bytes: 300 }, { bytes: 300 }, { bytes: 300 }])
      expect(lru.stats().evictions).toBe(2)
    })

    it('measures values as UTF-8 JSON by default', async () => {
      const cache = make({ l1: { maxEntrySize: 6 } })
      await cache.set({ key: 'fits', value: 'ééé' }) // "ééé" with quotes: 8 bytes
      await cache.set({ key: 'ascii', value: 'abcd' }) // 6 bytes
      expect(await cache.get({ key: 'fits' })).toBeUndefined()
      expect(await cache.get({ key: 'ascii' })).toBe('abcd')
    })
  })

  describe('getOrSet, grace and stampedes', () => {
    beforeEach(() => {
      vi.useFakeTimers()
    })
    afterEach(() => {
      vi.useRealTimers()
    })

    it('runs one factory for 100 concurrent callers of a cold key', async () => {
      const cache = make()
      let calls = 0
      const factory = async () => {
        calls++
        await sleep(100)
        return 'value'
      }
      const all = Promise.all(Array.from({ length: 100 }, () => cache.getOrSet({ key: 'cold', factory })))
      await vi.advanceTimersByTimeAsync(100)
      expect(new Set(await all)).toEqual(new Set(['value']))
      expect(calls).toBe(1)
      expect(cache.stats()).toMatchObject({ misses: 1, hits: 99, factoryCalls: 1 })
    })

    it('releases the key when a factory throws, so a waiter runs its own', async () => {
      const cache = make()
      let calls = 0
      const factory = async () => {
        calls++
        await sleep(10)
        if (calls === 1) throw new Error('first fails')
        return 'second'
      }
      const first = cache.getOrSet({ key: 'k', factory })
      const second = cache.getOrSet({ key: 'k', factory })
      const firstCode = codeOf(first)
      await vi.advanceTimersByTimeAsync(30)
      expect(await firstCode).toBe(ErrorCodes.E_FACTORY_ERROR)
      expect(await second).toBe('second')
      expect(calls).toBe(2)
    })

    it('keeps the original error as the cause of E_FACTORY_ERROR and tells onFactoryError', async () => {
      const seen: unknown[] = []
      const cache = make({ onFactoryError: (error) => seen.push(error) })
      const boom = new Error('boom')
      const result = cache.getOrSet({ key: 'k', factory: () => Promise.reject(boom) })
      await expect(result).rejects.toMatchObject({ code: ErrorCodes.E_FACTORY_ERROR, cause: boom })
      expect(seen).toHaveLength(1)
      expect((seen[0] as RustoCacheError).cause).toBe(boom)
      expect(cache.stats().factoryErrors).toBe(1)
    })

    it('serves the stale value when the factory throws within grace, then backs off for graceBackoff', async () => {
      const cache = make({ ttl: '1m', grace: '1h', graceBackoff: '30s' })
      await cache.set({ key: 'k', value: 'stale' })
      vi.advanceTimersByTime(61_000)
      let calls = 0
      const failing = () => {
        calls++
        throw new Error('down')
      }
      expect(await cache.getOrSet({ key: 'k', factory: failing, timeout: null })).toBe('stale')
      expect(calls).toBe(1)
      expect(await cache.getOrSet({ key: 'k', factory: failing, timeout: null })).toBe('stale')
      expect(calls).toBe(1)
      vi.advanceTimersByTime(30_001)
      expect(await cache.getOrSet({ key: 'k', factory: () => 'fresh', timeout: null })).toBe('fresh')
      expect(cache.stats().gracedHits).toBe(2)
    })

    it('backs off after a failed background refresh too', async () => {
      const cache = make({ ttl: '1m', grace: '1h', graceBackoff: '30s' })
      await cache.set({ key: 'k', value: 'stale' })
      vi.advanceTimersByTime(61_000)
      let calls = 0
      const failing = async () => {
        calls++
        throw new Error('down')
      }
      expect(await cache.getOrSet({ key: 'k', factory: failing })).toBe('stale') // timeout 0: refresh in background
      await vi.advanceTimersByTimeAsync(1)
      expect(calls).toBe(1)
      expect(await cache.getOrSet({ key: 'k', factory: failing })).toBe('stale')
      await vi.advanceTimersByTimeAsync(1)
      expect(calls).toBe(1)
    })

    it('answers a graced read only within grace, and never when the call says grace: false', async () => {
      const cache = make({ ttl: '1m', grace: '10m' })
      await cache.set({ key: 'k', value: 'v' })
      vi.advanceTimersByTime(2 * 60_000)
      expect(await cache.get({ key: 'k' })).toBe('v')
      expect(await cache.get({ key: 'k', grace: false })).toBeUndefined()
      expect(await cache.get({ key: 'k', grace: '30s' })).toBeUndefined()
      expect(await cache.has({ key: 'k' })).toBe(true)
      vi.advanceTimersByTime(10 * 60_000)
      expect(await cache.get({ key: 'k' })).toBeUndefined()
    })

    it('answers stale at the soft timeout and caches the factory value when it arrives', async () => {
      const cache = make({ ttl: '1m', grace: '1h', timeout: '100ms' })
      await cache.set({ key: 'k', value: 'stale' })
      vi.advanceTimersByTime(61_000)
      const answer = cache.getOrSet({ key: 'k', factory: () => sleep(500).then(() => 'fresh') })
      await vi.advanceTimersByTimeAsync(100)
      expect(await answer).toBe('stale')
      expect(cache.stats().softTimeouts).toBe(1)
      await vi.advanceTimersByTimeAsync(400)
      expect(await cache.get({ key: 'k' })).toBe('fresh')
    })

    it('answers stale at once with timeout 0 and refreshes in the background', async () => {
      const cache = make({ ttl: '1m', grace: '1h' })
      await cache.set({ key: 'k', value: 'stale' })
      vi.advanceTimersByTime(61_000)
      expect(await cache.getOrSet({ key: 'k', factory: () => sleep(50).then(() => 'fresh') })).toBe('stale')
      await vi.advanceTimersByTimeAsync(50)
      expect(await cache.get({ key: 'k' })).toBe('fresh')
    })

    it('rejects with E_FACTORY_HARD_TIMEOUT and still caches the late value', async () => {
      const cache = make({ hardTimeout: '200ms' })
      const answer = codeOf(cache.getOrSet({ key: 'k', factory: () => sleep(1_000).then(() => 'late') }))
      await vi.advanceTimersByTimeAsync(200)
      expect(await answer).toBe(ErrorCodes.E_FACTORY_HARD_TIMEOUT)
      expect(cache.stats().hardTimeouts).toBe(1)
      await vi.advanceTimersByTimeAsync(800)
      expect(await cache.get({ key: 'k' })).toBe('late')
    })

    it('gives up waiting after lockTimeout: E_LOCK_TIMEOUT without a stale value', async () => {
      const cache = make({ lockTimeout: '50ms' })
      const slow = cache.getOrSet({ key: 'k', factory: () => sleep(1_000).then(() => 'v') })
      const waiter = codeOf(cache.getOrSet({ key: 'k', factory: () => 'other' }))
      await vi.advanceTimersByTimeAsync(50)
      expect(await waiter).toBe(ErrorCodes.E_LOCK_TIMEOUT)
      await vi.advanceTimersByTimeAsync(950)
      expect(await slow).toBe('v')
    })

    it('refreshes once in the background when a hit is past earlyExpiration', async () => {
      const cache = make({ ttl: '100s', earlyExpiration: 0.8 })
      let calls = 0
      const factory = async () => `v${++calls}`
      expect(await cache.getOrSet({ key: 'k', factory })).toBe('v1')
      vi.advanceTimersByTime(81_000)
      const answers = await Promise.all([cache.getOrSet({ key: 'k', factory }), cache.getOrSet({ key: 'k', factory })])
      expect(answers).toEqual(['v1', 'v1'])
      await vi.advanceTimersByTimeAsync(1)
      expect(calls).toBe(2)
      expect(await cache.get({ key: 'k' })).toBe('v2')
    })

    it('runs the factory with forceFresh even when a fresh value is cached', async () => {
      const cache = make()
      await cache.set({ key: 'k', value: 'old' })
      expect(await cache.getOrSet({ key: 'k', factory: () => 'new', forceFresh: true })).toBe('new')
      expect(await cache.get({ key: 'k' })).toBe('new')
    })

    it('gives the factory skip, fail, setOptions and the graced entry', async () => {
      const cache = make({ ttl: '1m', grace: '1h' })
      expect(await cache.getOrSet({ key: 'skip', factory: (ctx) => ctx.skip() })).toBeUndefined()
      expect(await cache.has({ key: 'skip' })).toBe(false)
      await expect(cache.getOrSet({ key: 'fail', factory: (ctx) => ctx.fail('nope') })).rejects.toMatchObject({
        code: ErrorCodes.E_FACTORY_ERROR,
        message: 'nope',
      })
      await cache.getOrSet({
        key: 'opts',
        factory: (ctx) => {
          ctx.setOptions({ ttl: '10s', tags: ['t'] })
          return 1
        },
      })
      vi.advanceTimersByTime(11_000)
      expect(await cache.get({ key: 'opts', grace: false })).toBeUndefined()
      await cache.set({ key: 'g', value: 'old' })
      vi.advanceTimersByTime(61_000)
      const seen: unknown[] = []
      await cache.getOrSet({
        key: 'g',
        timeout: null,
        factory: (ctx) => {
          seen.push(ctx.gracedEntry)
          return 'new'
        },
      })
      expect(seen).toEqual([{ value: 'old' }])
    })

    it('passes the graced entry to a background refresh', async () => {
      const cache = make({ ttl: '1m', grace: '1h' })
      await cache.set({ key: 'g', value: 'old' })
      vi.advanceTimersByTime(61_000)
      const seen: unknown[] = []
      expect(await cache.getOrSet({ key: 'g', factory: (ctx) => (seen.push(ctx.gracedEntry), 'new') })).toBe('old')
      await vi.advanceTimersByTimeAsync(1)
      expect(seen).toEqual([{ value: 'old' }])
    })

    it('rejects a factory that returns undefined with E_UNDEFINED_VALUE', async () => {
      const cache = make()
      expect(await codeOf(cache.getOrSet({ key: 'k', factory: () => undefined as unknown as number }))).toBe(ErrorCodes.E_UNDEFINED_VALUE)
    })
  })

  describe('timeouts on real timers', () => {
    it('answers stale at the soft timeout while the factory is still running', async () => {
      const cache = make({ grace: '1h', timeout: 30 })
      await cache.set({ key: 'k', value: 'stale', ttl: 10 })
      await sleep(15)
      let finished = false
      const factory = () => sleep(300).then(() => ((finished = true), 'fresh'))
      expect(await cache.getOrSet({ key: 'k', factory })).toBe('stale')
      expect(finished).toBe(false)
      await sleep(320)
      expect(finished).toBe(true)
      expect(await cache.get({ key: 'k', grace: false })).toBe('fresh')
    })

    it('rejects at the hard timeout while the factory is still running', async () => {
      const cache = make({ hardTimeout: 30 })
      let finished = false
      const factory = () => sleep(300).then(() => ((finished = true), 'late'))
      expect(await codeOf(cache.getOrSet({ key: 'k', factory }))).toBe(ErrorCodes.E_FACTORY_HARD_TIMEOUT)
      expect(finished).toBe(false)
      await sleep(320)
      expect(await cache.get({ key: 'k' })).toBe('late')
    })
  })

  it('leaves no unhandled rejection from background work', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const cache = make({ ttl: 20, grace: '1h', timeout: 5, earlyExpiration: 0.5 })
      await cache.set({ key: 'a', value: 1 })
      await cache.set({ key: 'b', value: 1 })
      await sleep(30)
      const failing = async () => {
        await sleep(20)
        throw new Error('background failure')
      }
      expect(await cache.getOrSet({ key: 'a', factory: failing })).toBe(1) // soft timeout, fails later
      await cache.set({ key: 'c', value: 1, ttl: 100 })
      await sleep(60)
      expect(await cache.getOrSet({ key: 'c', factory: failing })).toBe(1) // early refresh, fails later
      await sleep(100)
      expect(unhandled).toEqual([])
      expect(cache.stats().factoryErrors).toBe(2)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  describe('tags', () => {
    it('deleteByTag deletes: not even a graced read brings the value back', async () => {
      const cache = make({ grace: '1h' })
      await cache.set({ key: 'a', value: 1, tags: ['user:1'] })
      await cache.set({ key: 'b', value: 2, tags: ['user:2'] })
      await cache.deleteByTag({ tags: ['user:1'] })
      expect(await cache.get({ key: 'a' })).toBeUndefined()
      expect(await cache.getOrSet({ key: 'a', factory: () => 'refetched' })).toBe('refetched')
      expect(await cache.get({ key: 'b' })).toBe(2)
    })

    it('expireByTag marks stale: grace still serves, getOrSet refreshes', async () => {
      const cache = make({ grace: '1h' })
      await cache.set({ key: 'a', value: 'old', tags: ['t'] })
      await cache.expireByTag({ tags: ['t'] })
      expect(await cache.get({ key: 'a' })).toBe('old')
      expect(await cache.get({ key: 'a', grace: false })).toBeUndefined()
      expect(await cache.getOrSet({ key: 'a', factory: () => 'new', timeout: null, tags: ['t'] })).toBe('new')
      expect(await cache.get({ key: 'a', grace: false })).toBe('new')
    })
  })

  describe('namespaces', () => {
    it('prefixes keys, scopes clear() and nests', async () => {
      const cache = make()
      const users = cache.namespace('users')
      const admins = users.namespace('admins')
      await cache.set({ key: 'root', value: 0 })
      await users.set({ key: '1', value: 'alice' })
      await admins.set({ key: '1', value: 'root-alice' })
      expect(await cache.get({ key: 'users:1' })).toBe('alice')
      expect(await users.get({ key: 'admins:1' })).toBe('root-alice')
      await admins.clear()
      expect(await admins.get({ key: '1' })).toBeUndefined()
      expect(await users.get({ key: '1' })).toBe('alice')
      await users.clear()
      expect(await users.get({ key: '1' })).toBeUndefined()
      expect(await cache.get({ key: 'root' })).toBe(0)
    })

    it('scopes tags to the namespace', async () => {
      const cache = make()
      const a = cache.namespace('a')
      const b = cache.namespace('b')
      await a.set({ key: 'k', value: 1, tags: ['t'] })
      await b.set({ key: 'k', value: 2, tags: ['t'] })
      await a.deleteByTag({ tags: ['t'] })
      expect([await a.get({ key: 'k' }), await b.get({ key: 'k' })]).toEqual([undefined, 2])
    })
  })

  describe('events, stats and logs', () => {
    it('emits hit, miss, written, deleted, expired and cleared with key and namespace', async () => {
      const cache = make({ grace: '1h' })
      const events: unknown[] = []
      for (const name of ['cache:hit', 'cache:miss', 'cache:written', 'cache:deleted', 'cache:expired', 'cache:cleared'] as const) {
        cache.on(name, (payload) => events.push([name, payload]))
      }
      const users = cache.namespace('users')
      await users.set({ key: '1', value: 'a' })
      await users.get({ key: '1' })
      await users.get({ key: '2' })
      await users.expire({ key: '1' })
      await users.get({ key: '1' })
      await users.delete({ key: '1' })
      await users.clear()
      expect(events).toEqual([
        ['cache:written', { key: '1', store: 'memory', namespace: 'users' }],
        ['cache:hit', { key: '1', store: 'memory', tier: 'l1', graced: false, namespace: 'users' }],
        ['cache:miss', { key: '2', store: 'memory', namespace: 'users' }],
        ['cache:expired', { key: '1', store: 'memory', namespace: 'users' }],
        ['cache:hit', { key: '1', store: 'memory', tier: 'l1', graced: true, namespace: 'users' }],
        ['cache:deleted', { key: '1', store: 'memory', namespace: 'users' }],
        ['cache:cleared', { store: 'memory', namespace: 'users' }],
      ])
    })

    it('prune() answers 0 without an L2 or with one that expires keys itself', async () => {
      expect(await make().prune()).toBe(0)
      expect(await make({ l2: memoryL2() }).prune()).toBe(0)
    })

    it('has() and missing() ask L2 when L1 has nothing, and answer from L1 alone while L2 fails', async () => {
      const shared = memoryL2()
      const writer = make({ l2: shared })
      const reader = make({ l2: shared, grace: false })
      await writer.set({ key: 'k', value: 1 })
      await writer.set({ key: 'short', value: 1, ttl: 1 })
      expect(await reader.has({ key: 'k' })).toBe(true)
      expect(await reader.missing({ key: 'k' })).toBe(false)
      expect(await reader.has({ key: 'none' })).toBe(false)
      await new Promise((r) => setTimeout(r, 5))
      // Past its ttl and without grace: get() would not answer it, so neither does has().
      expect(await reader.has({ key: 'short' })).toBe(false)
      await writer.set({ key: 'only-l2', value: 2 })
      shared.fail.add('get')
      expect(await reader.has({ key: 'only-l2' })).toBe(false)
      expect(await reader.has({ key: 'k' })).toBe(true)
    })

    it("names the tier and the L2 driver's kind of a hit from L2, and takes BentoCache's 'cache:expire'", async () => {
      const shared = memoryL2()
      const writer = make({ l2: shared })
      const reader = make({ l2: shared })
      const hits: unknown[] = []
      reader.on('cache:hit', (payload) => hits.push(payload))
      const expired: string[] = []
      reader.on('cache:expire' as 'cache:expired', ({ key }) => expired.push(key))
      await writer.set({ key: 'k', value: 1 })
      await reader.get({ key: 'k' })
      await reader.get({ key: 'k' })
      expect(hits).toEqual([
        { key: 'k', store: 'memory-test', tier: 'l2', graced: false, namespace: undefined },
        { key: 'k', store: 'memory', tier: 'l1', graced: false, namespace: undefined },
      ])
      await reader.expire({ key: 'k' })
      expect(expired).toEqual(['k'])
      expect(() => reader.on('cache:expires' as 'cache:expired', () => undefined)).toThrow(/unknown event "cache:expires"/)
    })

    it('supports once and off, and survives a throwing listener', async () => {
      const lines: Array<{ level: string; fields: Record<string, unknown>; msg?: string }> = []
      const cache = make({ logger: recordingLogger(lines) })
      let once = 0
      let always = 0
      cache.once('cache:miss', () => once++)
      const off = cache.on('cache:miss', () => always++)
      cache.on('cache:miss', () => {
        throw new Error('listener bug')
      })
      await cache.get({ key: 'a' })
      await cache.get({ key: 'a' })
      off()
      await cache.get({ key: 'a' })
      expect([once, always]).toEqual([1, 2])
      expect(lines.filter((l) => l.level === 'error' && l.fields.event === 'cache:miss')).toHaveLength(3)
    })

    it('counts everything in stats()', async () => {
      const cache = make({ l1: { maxItems: 2 } })
      await cache.getOrSet({ key: 'a', factory: () => 1 })
      await cache.getOrSet({ key: 'a', factory: () => 1 })
      await cache.set({ key: 'b', value: 2 })
      await cache.set({ key: 'c', value: 3 })
      await cache.delete({ key: 'c' })
      await codeOf(cache.getOrSet({ key: 'd', factory: () => Promise.reject(new Error('x')) }))
      expect(cache.stats()).toEqual({
        hits: 1,
        misses: 2,
        gracedHits: 0,
        writes: 3,
        deletes: 1,
        evictions: 1,
        oversized: 0,
        factoryCalls: 2,
        factoryErrors: 1,
        softTimeouts: 0,
        hardTimeouts: 0,
        l2Hits: 0,
        l2Misses: 0,
        l2Errors: 0,
        l2Rejected: 0,
        discarded: 0,
        busPublished: 0,
        busReceived: 0,
        busDropped: 0,
        busRejected: 0,
        busGaps: 0,
        busQueued: 0,
        core,
      })
    })

    it('logs graced answers and factory errors with structured fields to a pino-style logger', async () => {
      const lines: Array<{ level: string; fields: Record<string, unknown>; msg?: string }> = []
      const cache = make({ logger: recordingLogger(lines), prefix: 'app', ttl: 1, grace: '1h', traceKeys: true })
      await cache.set({ key: 'k', value: 1 })
      await sleep(5)
      await cache.getOrSet({ key: 'k', factory: () => Promise.reject(new Error('down')), timeout: null })
      const error = lines.find((l) => l.level === 'error')!
      expect(error.fields).toMatchObject({ cache: 'app', key: 'k', op: 'factory' })
      expect(typeof error.fields.duration).toBe('number')
      expect(lines.find((l) => l.level === 'warn')!.fields).toMatchObject({ cache: 'app', key: 'k', graced: true, tier: 'l1' })
    })
  })
})
