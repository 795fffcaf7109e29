// The features users of BentoCache and FusionCache expect when they switch: onFactoryError's error shape, TTL
// jitter, L1 value isolation (l1.clone) and L2-only mode.
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ErrorCodes, FactoryError, memoryBus, RustoCache, RustoCacheError, type RustoCacheOptions } from '../src/index.js'
import { decodeEntry } from '../src/l2/envelope.js'
import { jsonSerializer } from '../src/l2/types.js'
import { codeOf, recordingLogger, type LogLine } from './helpers/cache.js'
import { memoryL2 } from './helpers/memory-l2.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe.each(['wasm', 'js'] as const)('parity features on the %s core', (core) => {
  const make = (options: RustoCacheOptions = {}) => new RustoCache({ ...options, l1: { core, ...(options.l1 || {}) } })

  describe('onFactoryError', () => {
    it('gets a FactoryError with the caller key and isBackgroundFactory false for a caller-awaited run', async () => {
      const seen: FactoryError[] = []
      const users = make({ traceKeys: true, onFactoryError: (e) => seen.push(e) }).namespace('users')
      const boom = new Error('boom')
      expect(await codeOf(users.getOrSet({ key: 'k', factory: () => Promise.reject(boom) }))).toBe(ErrorCodes.E_FACTORY_ERROR)
      expect(await codeOf(users.getOrSet({ key: 'f', factory: (ctx) => ctx.fail('said no') }))).toBe(ErrorCodes.E_FACTORY_ERROR)
      expect(seen).toHaveLength(2)
      expect(seen[0]).toBeInstanceOf(FactoryError)
      expect(seen[0]).toMatchObject({ key: 'k', isBackgroundFactory: false, cause: boom, code: ErrorCodes.E_FACTORY_ERROR })
      expect(seen[1]).toMatchObject({ key: 'f', isBackgroundFactory: false, message: 'said no' })
    })

    it('says isBackgroundFactory for stale-while-revalidate, soft-timeout and early-refresh runs', async () => {
      const seen: FactoryError[] = []
      const cache = make({ traceKeys: true, ttl: 20, grace: '1h', onFactoryError: (e) => seen.push(e) })
      await cache.set({ key: 'swr', value: 'old' })
      await cache.set({ key: 'soft', value: 'old' })
      await sleep(30)
      // timeout 0: the caller gets the stale value at once, the factory fails later.
      expect(await cache.getOrSet({ key: 'swr', timeout: 0, factory: () => sleep(5).then(() => Promise.reject(new Error('late'))) })).toBe('old')
      // Soft timeout: the caller stops waiting at 5 ms; the failure comes at 30 ms.
      expect(await cache.getOrSet({ key: 'soft', timeout: 5, factory: () => sleep(30).then(() => Promise.reject(new Error('later'))) })).toBe('old')
      await cache.set({ key: 'early', value: 'v', ttl: 40 })
      await sleep(25)
      expect(await cache.getOrSet({ key: 'early', earlyExpiration: 0.5, factory: () => Promise.reject(new Error('refresh')) })).toBe('v')
      await sleep(60)
      expect(seen.map((e) => [e.key, e.isBackgroundFactory])).toEqual(
        expect.arrayContaining([
          ['swr', true],
          ['soft', true],
          ['early', true],
        ]),
      )
      expect(seen).toHaveLength(3)
    })

    it("never reports another key's error as this key's: a nested cache error becomes the cause", async () => {
      const seen: FactoryError[] = []
      const cache = make({ traceKeys: true, onFactoryError: (e) => seen.push(e) })
      const inner = () => cache.getOrSet({ key: 'inner', factory: () => Promise.reject(new Error('inner down')) })
      const outer = cache.getOrSet({ key: 'outer', factory: inner })
      const error = await outer.catch((e: unknown) => e)
      // The caller still gets what the factory threw.
      expect(error).toMatchObject({ key: 'inner', code: ErrorCodes.E_FACTORY_ERROR })
      expect(seen.map((e) => e.key)).toEqual(['inner', 'outer'])
      expect(seen[1]!.cause).toBe(error)
    })
  })

  describe('ttl jitter', () => {
    it('spreads the expiry of entries written together over [ttl, ttl + jitter]', async () => {
      vi.useFakeTimers()
      const cache = make({ ttl: 1000, jitter: '50%' })
      const keys = Array.from({ length: 100 }, (_, i) => `k${i}`)
      await cache.setMany({ items: keys.slice(0, 50).map((key) => ({ key, value: key })) })
      for (const key of keys.slice(50)) await cache.getOrSet({ key, factory: () => key })
      const alive = async () => (await cache.getMany({ keys })).filter((v) => v !== undefined).length
      vi.advanceTimersByTime(999)
      expect(await alive()).toBe(100)
      vi.advanceTimersByTime(251)
      const between = await alive()
      // Uniform over 500 ms: at 1250 ms all alive or all gone has odds 2 x 2^-100.
      expect(between).toBeGreaterThan(0)
      expect(between).toBeLessThan(100)
      vi.advanceTimersByTime(251)
      expect(await alive()).toBe(0)
    })

    it('keeps every entry within its bounds, for shares and durations, in L1 and in L2 (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 1e6 }),
          fc.oneof(fc.integer({ min: 0, max: 100 }).map((p) => `${p}%` as const), fc.integer({ min: 0, max: 1e6 })),
          fc.double({ min: 0, max: 0.9999999, noNaN: true }),
          async (ttl, jitter, random) => {
            vi.spyOn(Math, 'random').mockReturnValue(random)
            const l2 = memoryL2()
            const cache = make({ ttl, jitter, l2 })
            const before = Date.now()
            await cache.set({ key: 'k', value: 1 })
            const after = Date.now()
            const most = typeof jitter === 'string' ? (ttl * Number(jitter.slice(0, -1))) / 100 : jitter
            const entry = decodeEntry(l2.store.get('k')!, jsonSerializer)
            if (typeof entry === 'string') throw new Error(entry)
            expect(entry.expiresAt).toBeGreaterThanOrEqual(before + ttl)
            expect(entry.expiresAt).toBeLessThanOrEqual(after + ttl + Math.round(most))
            expect(entry.expiresAt - entry.createdAt).toBe(ttl + Math.round(random * most))
            vi.restoreAllMocks()
          },
        ),
        { numRuns: 60 },
      )
    })

    it('leaves forever as forever, and refuses a bad jitter with a typed error, keeping what is cached', async () => {
      vi.useFakeTimers()
      const cache = make({ jitter: '100%' })
      await cache.setForever({ key: 'f', value: 1 })
      vi.advanceTimersByTime(10 * 365 * 86_400_000)
      expect(await cache.get({ key: 'f' })).toBe(1)
      expect(await codeOf(cache.set({ key: 'f', value: 2, jitter: '150%' }))).toBe(ErrorCodes.E_INVALID_OPTION)
      expect(await codeOf(cache.set({ key: 'f', value: 2, jitter: 'soon' as '1s' }))).toBe(ErrorCodes.E_INVALID_TTL)
      expect(await codeOf(cache.set({ key: 'f', value: 2, jitter: null as unknown as '1s' }))).toBe(ErrorCodes.E_INVALID_OPTION)
      expect(await codeOf(cache.getOrSet({ key: 'f', forceFresh: true, factory: () => 2, jitter: '-5%' as '5%' }))).toBe(ErrorCodes.E_INVALID_TTL)
      expect(() => make({ jitter: '101%' })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
      expect(await cache.get({ key: 'f' })).toBe(1)
    })
  })

  describe('l1.clone', () => {
    it('shares the object by default: a caller who mutates what it got mutates the cache', async () => {
      const cache = make()
      const value = { n: 1 }
      await cache.set({ key: 'k', value })
      expect(await cache.get({ key: 'k' })).toBe(value)
    })

    it('copies values into L1 and out of it on every read path', async () => {
      const cache = make({ l1: { clone: true }, grace: '1h', ttl: 20 })
      const value = { n: 1, list: [1] }
      await cache.set({ key: 'k', value })
      value.n = 99
      const got = (await cache.get<typeof value>({ key: 'k' }))!
      expect(got).toEqual({ n: 1, list: [1] })
      got.list.push(2)
      const viaGetOrSet = await cache.getOrSet({ key: 'k', factory: () => ({ n: 0, list: [] as number[] }) })
      expect(viaGetOrSet).toEqual({ n: 1, list: [1] })
      viaGetOrSet.n = 7
      const [viaMany] = await cache.getMany<typeof value>({ keys: ['k'] })
      expect(viaMany).toEqual({ n: 1, list: [1] })
      viaMany!.n = 8
      // A factory's value: the caller keeps its own object, the cache a copy.
      const made = await cache.getOrSet({ key: 'm', factory: () => ({ n: 2 }) })
      made.n = 3
      expect(await cache.get({ key: 'm' })).toEqual({ n: 2 })
      // Stale within grace, and the stale entry a factory sees.
      await sleep(30)
      const graced = await cache.get<typeof value>({ key: 'k' })
      expect(graced).toEqual({ n: 1, list: [1] })
      graced!.n = 9
      let seen: { n: number } | undefined
      const answer = await cache.getOrSet<{ n: number }>({
        key: 'k',
        factory: (ctx) => {
          seen = ctx.gracedEntry!.value
          seen.n = 10
          return ctx.fail('no')
        },
      })
      expect(seen).toEqual({ n: 10, list: [1] })
      expect(answer).toEqual({ n: 1, list: [1] })
    })

    it('copies values read from L2 too: the caller and L1 never hold the same object', async () => {
      const l2 = memoryL2()
      const writer = make({ l2 })
      const reader = make({ l2, l1: { clone: true } })
      await writer.set({ key: 'k', value: { n: 1 } })
      const first = await reader.get<{ n: number }>({ key: 'k' })
      first!.n = 2
      await l2.store.clear()
      expect(await reader.get({ key: 'k' })).toEqual({ n: 1 })
    })

    it('refuses a value structuredClone cannot copy with E_UNCLONEABLE_VALUE, keeping the cached value', async () => {
      const l2 = memoryL2()
      const cache = make({ l1: { clone: true }, l2 })
      await cache.set({ key: 'k', value: { ok: true } })
      const bad = { run: () => 1 }
      expect(await codeOf(cache.set({ key: 'k', value: bad }))).toBe(ErrorCodes.E_UNCLONEABLE_VALUE)
      expect(await codeOf(cache.setMany<unknown>({ items: [{ key: 'k', value: 1 }, { key: 'j', value: bad }] }))).toBe(ErrorCodes.E_UNCLONEABLE_VALUE)
      expect(await codeOf(cache.getOrSet({ key: 'k', forceFresh: true, factory: () => bad }))).toBe(ErrorCodes.E_UNCLONEABLE_VALUE)
      expect(await cache.get({ key: 'k' })).toEqual({ ok: true })
      expect(await cache.get({ key: 'j' })).toBeUndefined()
      expect(decodeEntry(l2.store.get('k')!, jsonSerializer)).toMatchObject({ value: { ok: true } })
      expect(l2.store.has('j')).toBe(false)
      expect(() => make({ l1: { clone: 'yes' as unknown as boolean } })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    })
  })
})

describe('L2-only mode (l1: false)', () => {
  it('keeps nothing in process: another instance sees every write at once, with no bus', async () => {
    const l2 = memoryL2()
    const a = new RustoCache({ l1: false, l2 })
    const b = new RustoCache({ l1: false, l2 })
    expect(a.stats().core).toBe('none')
    await a.set({ key: 'k', value: 1 })
    expect(await b.get({ key: 'k' })).toBe(1)
    await a.set({ key: 'k', value: 2 })
    expect(await b.get({ key: 'k' })).toBe(2)
    expect(await b.getOrSet({ key: 'k', factory: () => 3 })).toBe(2)
    expect(await b.has({ key: 'k' })).toBe(true)
    await a.delete({ key: 'k' })
    expect(await b.has({ key: 'k' })).toBe(false)
    expect(await b.getMany({ keys: ['k', 'x'] })).toEqual([undefined, undefined])
    await a.set({ key: 't', value: 't', tags: ['tag'] })
    await b.deleteByTag({ tags: ['tag'] })
    expect(await a.get({ key: 't' })).toBeUndefined()
  })

  it('answers every read with the last value written by any instance (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(2), fc.constantFrom('set', 'delete', 'get'), fc.constantFrom('a', 'b'), fc.integer()), { maxLength: 30 }), async (steps) => {
        const l2 = memoryL2()
        const caches = [0, 1, 2].map(() => new RustoCache({ l1: false, l2 }))
        const model = new Map<string, number>()
        for (const [who, op, key, value] of steps) {
          const cache = caches[who]!
          if (op === 'set') {
            await cache.set({ key, value })
            model.set(key, value)
          } else if (op === 'delete') {
            await cache.delete({ key })
            model.delete(key)
          } else expect(await cache.get({ key })).toBe(model.get(key))
        }
      }),
      { numRuns: 100 },
    )
  })

  it('runs the factory once for a stampede in one process, and serves stale from L2 within grace', async () => {
    const cache = new RustoCache({ l1: false, l2: memoryL2(), ttl: 20, grace: '1h' })
    let calls = 0
    const factory = async () => {
      calls++
      await sleep(10)
      return 'v'
    }
    expect(await Promise.all(Array.from({ length: 10 }, () => cache.getOrSet({ key: 'k', factory })))).toEqual(Array(10).fill('v'))
    expect(calls).toBe(1)
    await sleep(30)
    expect(await cache.getOrSet({ key: 'k', factory: () => Promise.reject(new Error('down')) })).toBe('v')
    expect(cache.stats().gracedHits).toBe(1)
  })

  it('backs off after a failed refresh served a stale value from L2 (graceBackoff), until a new value arrives', async () => {
    const cache = new RustoCache({ l1: false, l2: memoryL2(), ttl: 20, grace: '1h', graceBackoff: 200, timeout: null })
    await cache.set({ key: 'k', value: 'stale' })
    await sleep(30)
    let calls = 0
    const failing = () => {
      calls++
      throw new Error('down')
    }
    expect(await cache.getOrSet({ key: 'k', factory: failing })).toBe('stale')
    expect(await cache.getOrSet({ key: 'k', factory: failing })).toBe('stale')
    expect(calls).toBe(1)
    // Another key is not backing off.
    await cache.set({ key: 'j', value: 'old', ttl: 1 })
    await sleep(5)
    expect(await cache.getOrSet({ key: 'j', factory: () => 'new' })).toBe('new')
    // A set ends the backoff at once; after it expires, the factory runs again.
    await cache.set({ key: 'k', value: 'again', ttl: 1 })
    await sleep(5)
    expect(await cache.getOrSet({ key: 'k', factory: failing })).toBe('again')
    expect(calls).toBe(2)
    await sleep(250)
    expect(await cache.getOrSet({ key: 'k', factory: () => 'fresh' })).toBe('fresh')
  })

  it('refuses l1: false without an l2, or with a bus, with E_INVALID_OPTION', () => {
    expect(() => new RustoCache({ l1: false })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    expect(() => new RustoCache({ l1: false, l2: memoryL2(), bus: memoryBus() })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
  })
})

describe('keys leave the process only as traceKeys says', () => {
  const secret = 'user:42:alice@example.com'
  const run = async (traceKeys: RustoCacheOptions['traceKeys']) => {
    const lines: LogLine[] = []
    const seen: FactoryError[] = []
    const cache = new RustoCache({ traceKeys, logger: recordingLogger(lines), onFactoryError: (e) => seen.push(e), lockTimeout: 10 })
    const errors: unknown[] = []
    errors.push(await cache.getOrSet({ key: secret, factory: () => Promise.reject(new Error('down')) }).catch((e: unknown) => e))
    errors.push(await cache.getOrSet({ key: secret, factory: () => new Promise(() => {}), hardTimeout: 5 }).catch((e: unknown) => e))
    errors.push(await cache.getOrSet({ key: secret, factory: () => 1 }).catch((e: unknown) => e))
    errors.push(await cache.set({ key: secret, value: undefined }).catch((e: unknown) => e))
    errors.push(await cache.getOrSet({ key: `${secret}:2`, factory: () => 1n }).catch((e: unknown) => e))
    return { lines, seen, errors: errors.filter((e) => e instanceof RustoCacheError) as RustoCacheError[] }
  }
  const text = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => (v instanceof Error ? { message: v.message, key: (v as { key?: unknown }).key } : typeof v === 'bigint' ? String(v) : v))

  it('off (the default): no error message, error.key, log line or onFactoryError report carries the key', async () => {
    const { lines, seen, errors } = await run(undefined)
    expect(errors.length).toBeGreaterThanOrEqual(3)
    expect(seen.length).toBeGreaterThanOrEqual(1)
    for (const e of [...errors, ...seen]) {
      expect(e.message).not.toContain('alice')
      expect((e as { key?: string }).key).toBeUndefined()
    }
    expect(errors[0]!.message).toContain('a key (not shown: see traceKeys)')
    expect(text(lines)).not.toContain('alice')
  })

  it('a redaction function: errors and logs carry what it returns', async () => {
    const { lines, seen, errors } = await run((key) => key.split(':')[0]!)
    for (const e of [...errors, ...seen]) {
      expect(e.message).not.toContain('alice')
      if ('key' in e) expect(e.key).toBe('user')
    }
    expect(seen[0]!.key).toBe('user')
    expect(text(lines)).not.toContain('alice')
    expect(text(lines)).toContain('"key":"user"')
  })

  it('true: keys as they are', async () => {
    const { seen } = await run(true)
    expect(seen[0]!.key).toBe(secret)
  })
})
