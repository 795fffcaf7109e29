// The Workers KV driver against miniflare's KV (the workerd implementation Wrangler runs locally): from Node
// through miniflare's binding proxy, and inside workerd itself with the built package.
import { Miniflare } from 'miniflare'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { kvDriver, KV_LIMITS, type KvNamespaceLike } from '../src/edge-drivers/index.js'
import { ErrorCodes, RustoCache, type RustoCacheOptions } from '../src/index.js'
import { l2DriverSuite } from '../src/test-suite/index.js'
import { startEdgeWorker } from './helpers/edge-worker.js'

let mf: Miniflare
let kv: KvNamespaceLike
const open: RustoCache[] = []
let prefixes = 0

beforeAll(async () => {
  mf = new Miniflare({ modules: true, script: 'export default { fetch: () => new Response("") }', kvNamespaces: ['KV'] })
  kv = (await mf.getKVNamespace('KV')) as unknown as KvNamespaceLike
})
afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(open.splice(0).map((c) => c.disconnect()))
})
afterAll(async () => {
  await mf.dispose()
})

function cache(options: Partial<RustoCacheOptions> = {}, prefix = `kv${++prefixes}`): RustoCache {
  const c = new RustoCache({ prefix, l2: kvDriver(kv), ...options })
  open.push(c)
  return c
}

l2DriverSuite({
  name: 'kvDriver',
  driver: () => kvDriver(kv),
  writeRaw: async (prefix, key, text) => kv.put(`${prefix}:${key}`, text),
  describe,
  it,
})

describe("kvDriver: KV's limits, stated and enforced", () => {
  it('keeps a ttl shorter than 60 s to the millisecond, though KV keeps the key 60 s', async () => {
    const c = cache()
    await c.set({ key: 'short', value: 'v', ttl: 100 })
    const stored = await kv.get('kv1:short', { type: 'text' })
    expect(stored).toMatch(/^k1\|\d+\|r1\|/)
    await new Promise((r) => setTimeout(r, 150))
    // A second instance, so L1 does not answer.
    expect(await cache({}, 'kv1').get({ key: 'short' })).toBeUndefined()
  })

  it('refuses a value over 25 MiB with E_L2_LIMIT before anything is written, keeping what was cached', async () => {
    const c = cache()
    await c.set({ key: 'k', value: 'small' })
    const big = 'x'.repeat(KV_LIMITS.valueBytes)
    await expect(c.set({ key: 'k', value: big })).rejects.toMatchObject({ code: ErrorCodes.E_L2_LIMIT, message: expect.stringMatching(/25 MiB/) })
    expect(await c.get({ key: 'k' })).toBe('small')
    expect(c.stats().l2Errors).toBe(0)
  })

  it('refuses a key or tag that cannot fit in 512 bytes with the prefix, up front', async () => {
    const c = cache({}, 'p')
    const room = KV_LIMITS.keyBytes - 'p#tag:'.length
    await c.set({ key: 'k'.repeat(room), value: 1 })
    expect(await cache({}, 'p').get({ key: 'k'.repeat(room) })).toBe(1)
    await expect(c.set({ key: 'k'.repeat(room + 1), value: 1 })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_KEY })
    await expect(c.set({ key: 'a', value: 1, tags: ['t'.repeat(room + 1)] })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_OPTION })
  })

  it('classes a refused request as permanent, a rate limit or an outage as transient', () => {
    const driver = kvDriver(kv).create({ prefix: 'p', logger: console as never, rejected: () => undefined })
    expect(driver.isPermanent!(new Error('KV PUT failed: 400 Invalid expiration_ttl of 10.'))).toBe(true)
    expect(driver.isPermanent!(new Error('KV PUT failed: 413 Value too large'))).toBe(true)
    expect(driver.isPermanent!(new Error('KV PUT failed: 429 Too Many Requests'))).toBe(false)
    expect(driver.isPermanent!(new Error('KV GET failed: 503 Service Unavailable'))).toBe(false)
    expect(driver.lateWrites).toBe('may-land')
  })

  it('refuses what is not a KV binding, and a cacheTtl under 60 s, with E_INVALID_OPTION', () => {
    expect(() => kvDriver({} as never)).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION, message: expect.stringMatching(/Workers KV binding/) }))
    expect(() => kvDriver(undefined as never)).toThrow(/env\.KV/)
    expect(() => kvDriver(kv, { cacheTtl: 30 })).toThrow(/cacheTtl/)
    // No locks in KV: lock: { distributed: true } locks within the isolate only, as with any driver without them.
    expect(kvDriver(kv).create({ prefix: 'p', logger: console as never, rejected: () => undefined }).locks).toBeUndefined()
  })

  it('bounds L1 to 5 s by default without a bus, so a change elsewhere is seen once it passes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const a = cache({}, 'kv-l1')
    const b = cache({}, 'kv-l1')
    await a.set({ key: 'k', value: 1 })
    expect(await b.get({ key: 'k' })).toBe(1)
    await a.set({ key: 'k', value: 2 })
    vi.setSystemTime(Date.now() + 4_000)
    expect(await b.get({ key: 'k' })).toBe(1)
    vi.setSystemTime(Date.now() + 1_100)
    expect(await b.get({ key: 'k' })).toBe(2)
  })
})

// The built package in workerd with a KV binding: the worker below runs as Wrangler would run it.
const WORKER = `import { RustoCache } from './entry.js'
import { kvDriver } from './edge-drivers.js'
let cache
export default {
  async fetch(request, env, ctx) {
    cache ??= new RustoCache({ prefix: 'w', l2: kvDriver(env.KV), grace: '1h' })
    const url = new URL(request.url)
    const key = url.searchParams.get('key') ?? 'k'
    if (url.pathname === '/set') {
      await cache.set({ key, value: url.searchParams.get('value') })
      return Response.json({ ok: true })
    }
    if (url.pathname === '/swr') {
      // Stale after 1 s: the refresh runs behind the stale answer and only waitUntil keeps it alive.
      const value = await cache.getOrSet({ key, ttl: '1s', factory: async () => { await new Promise((r) => setTimeout(r, 50)); return url.searchParams.get('value') }, waitUntil: (p) => ctx.waitUntil(p) })
      return Response.json({ value })
    }
    if (url.pathname === '/big') {
      const error = await cache.set({ key, value: 'x'.repeat(26 * 1024 * 1024) }).catch((e) => e)
      return Response.json({ code: error?.code, branded: error instanceof Error })
    }
    return Response.json({ value: (await cache.get({ key })) ?? null, core: cache.stats().core })
  },
}`

describe('kvDriver in workerd (miniflare)', () => {
  let worker: Miniflare
  let call: (path: string) => Promise<Record<string, unknown>>
  beforeAll(() => {
    ;({ mf: worker, call } = startEdgeWorker(WORKER, { kvNamespaces: ['KV'] }))
  })
  afterAll(async () => {
    await worker?.dispose()
  })
  const workerKv = async () => (await worker.getKVNamespace('KV')) as unknown as KvNamespaceLike

  it('stores in KV from a Worker and reads it back on the WASM core', async () => {
    expect(await call('/set?key=a&value=hello')).toEqual({ ok: true })
    const stored = await (await workerKv()).get('w:a', { type: 'text' })
    expect(stored).toMatch(/^k1\|\d+\|r1\|.*"hello"$/)
    expect(await call('/get?key=a')).toEqual({ value: 'hello', core: 'wasm' })
  })

  it('keeps a refresh started by one request for the next, through waitUntil', async () => {
    expect(await call('/swr?key=s&value=v1')).toEqual({ value: 'v1' })
    await new Promise((r) => setTimeout(r, 1_100))
    // Stale: answered at once with v1, the refresh to v2 left to waitUntil.
    expect(await call('/swr?key=s&value=v2')).toEqual({ value: 'v1' })
    await new Promise((r) => setTimeout(r, 300))
    expect(await call('/get?key=s')).toMatchObject({ value: 'v2' })
    expect(await (await workerKv()).get('w:s', { type: 'text' })).toMatch(/"v2"$/)
  })

  it('refuses a value over 25 MiB with E_L2_LIMIT, as a RustoCacheError the Worker can catch', async () => {
    expect(await call('/big?key=b')).toEqual({ code: 'E_L2_LIMIT', branded: true })
  })
})
