// rustocache/keyv: a Keyv store as RustoCache's L2 (the conformance suite on @keyv/postgres against a real
// PostgreSQL, and on Keyv's in-memory store), and RustoCache as a Keyv store under Keyv and cache-manager 7.
import KeyvPostgres from '@keyv/postgres'
import { createCache } from 'cache-manager'
import Keyv from 'keyv'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ErrorCodes, RustoCache } from '../src/index.js'
import { KeyvRustoCache, keyvDriver, type KeyvLike } from '../src/keyv/index.js'
import { l2DriverSuite } from '../src/test-suite/index.js'

const databaseUrl = inject('databaseUrl')
const opened: Array<{ disconnect(): Promise<unknown> }> = []
afterAll(async () => {
  for (const o of opened) await o.disconnect().catch(() => undefined)
})

function postgresKeyv(): Keyv {
  const keyv = new Keyv({ store: new KeyvPostgres({ uri: databaseUrl, table: 'rustocache_keyv' }) })
  opened.push(keyv)
  return keyv
}

const shared = postgresKeyv()
l2DriverSuite({
  name: 'keyvDriver on @keyv/postgres',
  driver: () => keyvDriver(shared as unknown as KeyvLike),
  writeRaw: async (prefix, key, text) => void (await shared.set(`${prefix}:${key}`, text)),
  describe,
  it,
})

const memory = new Keyv()
l2DriverSuite({
  name: "keyvDriver on Keyv's in-memory store",
  driver: () => keyvDriver(memory as unknown as KeyvLike),
  writeRaw: async (prefix, key, text) => void (await memory.set(`${prefix}:${key}`, text)),
  describe,
  it,
})

describe('keyvDriver', () => {
  it('shares one PostgreSQL table between two caches through Keyv, tags included', async () => {
    const a = new RustoCache({ prefix: 'kv-share', l2: keyvDriver(postgresKeyv() as unknown as KeyvLike) })
    const b = new RustoCache({ prefix: 'kv-share', l2: keyvDriver(postgresKeyv() as unknown as KeyvLike) })
    opened.push(a, b)
    await a.set({ key: 'user:1', value: { name: 'Ada', at: 1 }, tags: ['users'] })
    expect(await b.get({ key: 'user:1' })).toEqual({ name: 'Ada', at: 1 })
    await b.deleteByTag({ tags: ['users'] })
    const c = new RustoCache({ prefix: 'kv-share', l2: keyvDriver(postgresKeyv() as unknown as KeyvLike) })
    opened.push(c)
    expect(await c.get({ key: 'user:1' })).toBeUndefined()
  })

  it('refuses what is not a Keyv 5 instance, and unknown options', () => {
    expect(() => keyvDriver({} as never)).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION, message: expect.stringMatching(/Keyv 5 instance/) }))
    expect(() => keyvDriver(memory as unknown as KeyvLike, { tagRetension: '1d' } as never)).toThrow(/did you mean 'tagRetention'/)
  })
})

describe('KeyvRustoCache under Keyv and cache-manager 7', () => {
  it("serves cache-manager's API: set, get, ttl expiry, mget, del, mdel, wrap, clear", async () => {
    const store = new KeyvRustoCache({ l1: { maxItems: 1000 } })
    const cache = createCache({ stores: [new Keyv({ store })] })
    opened.push(store)
    expect(store.cache.stats().core).toBe('wasm')
    await cache.set('k', { a: 1 })
    expect(await cache.get('k')).toEqual({ a: 1 })
    await cache.set('short', 'v', 40)
    expect(await cache.get('short')).toBe('v')
    await new Promise((r) => setTimeout(r, 80))
    expect(await cache.get('short')).toBeUndefined()
    await cache.mset([
      { key: 'x', value: 1 },
      { key: 'y', value: 2 },
    ])
    expect(await cache.mget(['x', 'y', 'none'])).toEqual([1, 2, undefined])
    await cache.del('x')
    expect(await cache.get('x')).toBeUndefined()
    await cache.mdel(['y'])
    expect(await cache.get('y')).toBeUndefined()
    let runs = 0
    const wrapped = await Promise.all([1, 2, 3].map(() => cache.wrap('w', async () => (runs++, 'computed'))))
    expect(wrapped).toEqual(['computed', 'computed', 'computed'])
    expect(runs).toBe(1)
    expect(await cache.wrap('w', async () => 'again')).toBe('computed')
    await cache.clear()
    expect(await cache.get('k')).toBeUndefined()
  })

  it('serves Keyv directly, in a namespace, over a RustoCache of your own with an L2', async () => {
    const own = new RustoCache({ prefix: 'keyv-own', l2: keyvDriver(memory as unknown as KeyvLike) })
    const keyv = new Keyv({ store: new KeyvRustoCache(own), namespace: 'app' })
    opened.push(own)
    await keyv.set('a', 'b')
    expect(await keyv.get('a')).toBe('b')
    expect(await keyv.has('a')).toBe(true)
    expect(await keyv.get(['a', 'none'])).toEqual(['b', undefined])
    expect(await keyv.delete('a')).toBe(true)
    expect(await keyv.has('a')).toBe(false)
  })
})
