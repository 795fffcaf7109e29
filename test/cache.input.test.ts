import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ErrorCodes, RustoCache, RustoCacheError, type RustoCacheOptions } from '../src/index.js'
import { memoryL2 } from './helpers/memory-l2.js'

// Bad input, per public entry point: any argument either works or throws / rejects a RustoCacheError with a
// documented code, and everything stored before the call is still there afterwards.

const cycle: Record<string, unknown> = {}
cycle.self = cycle
const hostile = fc.oneof(
  fc.constantFrom<unknown>(
    undefined,
    null,
    Number.NaN,
    Infinity,
    -Infinity,
    -1,
    0,
    1.5,
    2 ** 53,
    '',
    ' ',
    'x'.repeat(20_000),
    'soon',
    '-5m',
    true,
    Symbol('s'),
    () => 1,
    10n,
    [],
    [1],
    ['a', 2],
    [''],
    {},
    cycle,
    new Date(0),
    Object.create(null),
    { __proto__: { polluted: true } },
  ),
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true }),
)
/** Mostly valid, sometimes hostile: so calls get past their first check often enough to reach the later ones. */
const field = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: hostile })
const opt = <T>(valid: fc.Arbitrary<T>) => fc.option(field(valid), { nil: undefined })

const key = field(fc.constantFrom('a', 'b', 'ns:c'))
const duration = opt(fc.constantFrom(1_000, '1m', '2.5h', 0, null))
const tags = opt(fc.constantFrom(['t'], ['t', 'u'], []))
const value = field(fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.constant({ ok: true })))
const factory = field(fc.constantFrom(() => 'made', async () => 'made async', () => undefined, () => 10n, () => Promise.reject(new Error('no'))))
const entry = {
  ttl: duration,
  grace: opt(fc.constantFrom(false, '1h', 1_000)),
  graceBackoff: duration,
  timeout: duration,
  hardTimeout: opt(fc.constantFrom(50, null)),
  lockTimeout: opt(fc.constantFrom(50, null)),
  earlyExpiration: opt(fc.constantFrom(0.5, 0.9)),
  jitter: opt(fc.constantFrom('10%', '250ms', 0)),
  onFactoryError: opt(fc.constant(() => undefined)),
  lock: opt(fc.constantFrom({ distributed: true }, { distributed: false, ttl: '1s' }, {})),
}
const keys = field(fc.array(key, { maxLength: 4 }))
const items = field(fc.array(fc.record({ key, value, tags, ttl: duration, grace: entry.grace }, { requiredKeys: ['key'] }), { maxLength: 3 }))
const args = (shape: Record<string, fc.Arbitrary<unknown>>) => fc.oneof({ weight: 5, arbitrary: fc.record(shape, { requiredKeys: [] }) }, { weight: 1, arbitrary: hostile })

const entryPoints: Record<string, fc.Arbitrary<unknown>> = {
  getOrSet: args({ key, factory, tags, forceFresh: opt(fc.boolean()), ...entry }),
  getOrSetForever: args({ key, factory, tags }),
  get: args({ key, defaultValue: opt(fc.constant(5)), grace: entry.grace }),
  getMany: args({ keys, grace: entry.grace }),
  set: args({ key, value, tags, ...entry }),
  setForever: args({ key, value, tags }),
  setMany: args({ items }),
  has: args({ key, grace: entry.grace }),
  missing: args({ key }),
  pull: args({ key }),
  delete: args({ key }),
  deleteMany: args({ keys }),
  expire: args({ key }),
  deleteByTag: args({ tags }),
  expireByTag: args({ tags }),
}

const KEEP = Array.from({ length: 5 }, (_, i) => ({ key: `keep:${i}`, value: { i }, tags: ['keep'] }))
const CODES = new Set<string>(Object.values(ErrorCodes))

async function expectTyped(call: () => unknown): Promise<void> {
  try {
    await call()
  } catch (error) {
    if (!(error instanceof RustoCacheError)) throw new Error(`not a RustoCacheError: ${String(error)}`, { cause: error })
    expect(CODES.has(error.code)).toBe(true)
  }
}

describe.each(['wasm', 'js'] as const)('bad input on the %s core', (core) => {
  for (const withL2 of [false, true]) {
    // The L2 runs also copy values (l1.clone), so refusals of uncloneable values are exercised too.
    const make = (): RustoCache => new RustoCache({ l1: { core, clone: withL2 }, ...(withL2 ? { l2: memoryL2() } : {}) })
    for (const [name, arbitrary] of Object.entries(entryPoints)) {
      it(`${name}${withL2 ? ' (with an L2, l1.clone)' : ''}: works or rejects with a coded RustoCacheError, and loses nothing stored`, async () => {
        const cache = make()
        await cache.setMany({ items: KEEP })
        await fc.assert(
          fc.asyncProperty(arbitrary, async (given) => {
            await expectTyped(() => (cache as unknown as Record<string, (a: unknown) => unknown>)[name]!(given))
            expect(await cache.getMany({ keys: KEEP.map((k) => k.key) })).toEqual(KEEP.map((k) => k.value))
          }),
          { numRuns: Number(process.env.INPUT_RUNS ?? 150) },
        )
      })
    }
  }

  it('namespace, on, once and off: typed errors for bad names and listeners', async () => {
    const cache = new RustoCache({ l1: { core } })
    await fc.assert(
      fc.asyncProperty(hostile, hostile, async (a, b) => {
        await expectTyped(() => cache.namespace(a as string))
        await expectTyped(() => cache.on(a as 'cache:hit', b as () => void))
        await expectTyped(() => cache.once(a as 'cache:hit', b as () => void))
        await expectTyped(() => cache.off(a as 'cache:hit', b as () => void))
        await expectTyped(() => cache.on('cache:hit', b as () => void))
      }),
      { numRuns: 100 },
    )
    // A listener that was refused is not called.
    expect(await cache.set({ key: 'k', value: 1 })).toBe(true)
    expect(await cache.get({ key: 'k' })).toBe(1)
  })

  it('the constructor: works or throws a coded RustoCacheError for any options', async () => {
    const options = args({
      l1: opt(fc.oneof(fc.constant(false), fc.record({ maxItems: opt(fc.constantFrom(10, 1_000)), maxBytes: opt(fc.constantFrom('1mb', 10_000)), maxEntrySize: opt(fc.constant('1kb')), core: opt(fc.constant(core)), clone: opt(fc.boolean()) }, { requiredKeys: [] }))),
      prefix: opt(fc.constantFrom('app', 'x')),
      suppressL2Errors: opt(fc.boolean()),
      l2CircuitBreakerDuration: duration,
      l2: opt(fc.constant(memoryL2())),
      bus: opt(fc.constant({ kind: 'x', retryQueue: { maxSize: 0 }, create: () => undefined })),
      logger: opt(fc.constant({ child: () => undefined })),
      ...entry,
    })
    await fc.assert(
      fc.asyncProperty(options, async (given) => {
        await expectTyped(() => new RustoCache(given as RustoCacheOptions))
      }),
      { numRuns: 300 },
    )
  })
})

describe('keys, tags and namespaces that L2 could not tell apart', () => {
  // UTF-8 (what ioredis and pg send) turns every lone surrogate into U+FFFD: these would be one key in L2.
  const lone = ['user:\uD800', 'user:\uDC00', '\uDBFF', 'a\uDC00b']

  it('refuses keys with a lone surrogate (E_INVALID_KEY) in every call, keeping what is cached', async () => {
    const l2 = memoryL2()
    const cache = new RustoCache({ l2 })
    await cache.set({ key: 'user:\uD83D\uDE00', value: 'a pair is fine' })
    for (const key of lone) {
      await expect(cache.set({ key, value: 1 })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_KEY })
      await expect(cache.get({ key })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_KEY })
      await expect(cache.getOrSet({ key, factory: () => 1 })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_KEY })
      await expect(cache.getMany({ keys: ['ok', key] })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_KEY })
      await expect(cache.delete({ key })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_KEY })
    }
    expect(await cache.get({ key: 'user:\uD83D\uDE00' })).toBe('a pair is fine')
    expect([...l2.store.keys()].some((k) => k.includes('\uFFFD'))).toBe(false)
    await cache.disconnect()
  })

  it('refuses tags, namespaces and a prefix with a lone surrogate (E_INVALID_OPTION)', async () => {
    const cache = new RustoCache({ l2: memoryL2() })
    for (const tag of lone) {
      await expect(cache.set({ key: 'k', value: 1, tags: [tag] })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_OPTION })
      await expect(cache.deleteByTag({ tags: [tag] })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_OPTION })
      expect(() => cache.namespace(tag)).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
      expect(() => new RustoCache({ prefix: tag })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    }
    await cache.disconnect()
  })

  it('checks a tag against the limit with its namespace path, as L2 stores it, so a tag it takes can be read back', async () => {
    const l2 = memoryL2()
    const cache = new RustoCache({ l2 })
    const ns = cache.namespace('users')
    const longest = 't'.repeat(1024 - 'users:'.length)
    await ns.set({ key: 'k', value: 'v', tags: [longest] })
    // A new instance has nothing in L1: it reads the entry and judges its tags from L2.
    const other = new RustoCache({ l2 }).namespace('users')
    expect(await other.get({ key: 'k' })).toBe('v')
    await expect(ns.set({ key: 'k', value: 'w', tags: [longest + 't'] })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_OPTION })
    expect(await ns.get({ key: 'k' })).toBe('v')
    await Promise.all([cache.disconnect(), other.disconnect()])
  })
})
