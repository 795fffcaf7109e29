// The HTTP Redis driver (Upstash's REST protocol) against a real redis-server through test/helpers/upstash-shim.ts,
// the shim itself first checked with the official @upstash/redis client.
import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { Miniflare } from 'miniflare'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { httpRedisDriver, HttpRedisError } from '../src/edge-drivers/index.js'
import { memoryBus, RustoCache, type RustoCacheOptions } from '../src/index.js'
import { redisDriver } from '../src/redis/index.js'
import { l2DriverSuite } from '../src/test-suite/index.js'
import { startEdgeWorker } from './helpers/edge-worker.js'
import { startUpstashShim, type UpstashShim } from './helpers/upstash-shim.js'

const redisUrl = inject('redisUrl')
let shim: UpstashShim
const raw = new Redis(redisUrl, { lazyConnect: true })
const open: RustoCache[] = []
let prefixes = 0

beforeAll(async () => {
  shim = await startUpstashShim(redisUrl)
})
afterEach(async () => {
  vi.useRealTimers()
  shim.delayMs = 0
  await Promise.all(open.splice(0).map((c) => c.disconnect()))
})
afterAll(async () => {
  await shim.close()
  raw.disconnect()
})

function cache(options: Partial<RustoCacheOptions> = {}, prefix = `http${process.pid}x${++prefixes}`): RustoCache {
  const c = new RustoCache({ prefix, l2: httpRedisDriver({ url: shim.url, token: shim.token }), ...options })
  open.push(c)
  return c
}

describe('the test shim, checked with the official @upstash/redis client', () => {
  const client = () => new Upstash({ url: shim.url, token: shim.token, automaticDeserialization: false, enableTelemetry: false })
  const key = (k: string) => `shim${process.pid}:${k}`

  it('answers single commands, pipelines, scripts, scans and hashes as the client expects', async () => {
    const c = client()
    expect(await c.set(key('a'), 'héllo ✓')).toBe('OK')
    expect(await c.get(key('a'))).toBe('héllo ✓')
    expect(await c.mget(key('a'), key('none'))).toEqual(['héllo ✓', null])
    expect(await c.set(key('b'), 'x', { px: 60_000, nx: true })).toBe('OK')
    expect(await c.set(key('b'), 'y', { px: 60_000, nx: true })).toBe(null)
    expect(await c.hset(key('h'), { t1: '5', t2: '6' })).toBe(2)
    expect(await c.hmget(key('h'), 't1', 'none')).toEqual(['5', null])
    const p = c.pipeline()
    p.incr(key('n'))
    p.incr(key('n'))
    p.get(key('a'))
    expect(await p.exec()).toEqual([1, 2, 'héllo ✓'])
    expect(await c.eval('return {KEYS[1], ARGV[1], 7}', [key('a')], ['arg'])).toEqual([key('a'), 'arg', 7])
    const sha = await c.scriptLoad('return ARGV[1]')
    expect(await c.evalsha(sha, [], ['back'])).toBe('back')
    const [cursor, keys] = await c.scan(0, { match: key('*'), count: 1000 })
    expect(String(cursor)).toBe('0')
    expect(keys.sort()).toEqual([key('a'), key('b'), key('h'), key('n')].sort())
    expect(await c.del(key('a'), key('b'), key('h'), key('n'))).toBe(4)
  })

  it('turns an error reply and a bad token into rejections', async () => {
    const c = client()
    await c.hset(key('wrong'), { f: '1' })
    await expect(c.get(key('wrong'))).rejects.toThrow(/WRONGTYPE/)
    await expect(c.evalsha('0'.repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/)
    await c.del(key('wrong'))
    const bad = new Upstash({ url: shim.url, token: 'not-the-token', enableTelemetry: false })
    await expect(bad.get(key('a'))).rejects.toThrow(/Unauthorized/)
  })

  it('round-trips JSON values with the client defaults (base64 responses, automatic deserialization)', async () => {
    const c = new Upstash({ url: shim.url, token: shim.token, enableTelemetry: false })
    await c.set(key('json'), { a: [1, 'ü'] })
    expect(await c.get(key('json'))).toEqual({ a: [1, 'ü'] })
    await c.del(key('json'))
  })
})

l2DriverSuite({
  name: 'httpRedisDriver',
  driver: () => httpRedisDriver({ url: shim.url, token: shim.token }),
  writeRaw: async (prefix, key, text) => void (await raw.set(`${prefix}:${key}`, text)),
  describe,
  it,
})

describe('httpRedisDriver', () => {
  it('shares one L2 with the ioredis driver: same keys, entries, tombstones and tag stamps', async () => {
    const prefix = `shared${process.pid}`
    const edge = cache({}, prefix)
    const node = new RustoCache({ prefix, l2: redisDriver({ connection: redisUrl }) })
    open.push(node)
    await node.set({ key: 'k', value: { from: 'node' }, tags: ['t'] })
    expect(await edge.get({ key: 'k' })).toEqual({ from: 'node' })
    await edge.set({ key: 'e', value: 'from the edge', tags: ['t'] })
    expect(await node.get({ key: 'e' })).toBe('from the edge')
    // A tag invalidated at the edge reaches Node through the stamps in <prefix>#tags:deleted.
    await edge.deleteByTag({ tags: ['t'] })
    const fresh = new RustoCache({ prefix, l2: redisDriver({ connection: redisUrl }) })
    open.push(fresh)
    expect(await fresh.get({ key: 'k' })).toBeUndefined()
    expect(await fresh.get({ key: 'e' })).toBeUndefined()
    expect(await raw.hexists(`${prefix}#tags:deleted`, 't')).toBe(1)
  })

  it('batches: getMany is one MGET request, a tag check one pipeline', async () => {
    const prefix = `batch${process.pid}`
    await cache({}, prefix).setMany({ items: [{ key: 'a', value: 1 }, { key: 'b', value: 2 }, { key: 'c', value: 3 }] })
    const reader = cache({}, prefix)
    const before = shim.requests.get('/') ?? 0
    expect(await reader.getMany({ keys: ['a', 'b', 'c'] })).toEqual([1, 2, 3])
    expect((shim.requests.get('/') ?? 0) - before).toBe(1)
    await cache({}, prefix).set({ key: 't', value: 'tagged', tags: ['x', 'y'] })
    const pipelines = shim.requests.get('/pipeline') ?? 0
    expect(await cache({}, prefix).get({ key: 't' })).toBe('tagged')
    expect((shim.requests.get('/pipeline') ?? 0) - pipelines).toBe(1)
  })

  it('classifies failures: error replies and refused requests are permanent, the network and 5xx transient', () => {
    const driver = httpRedisDriver({ url: shim.url, token: shim.token }).create({ prefix: 'p', logger: console as never, rejected: () => undefined })
    expect(driver.isPermanent!(new HttpRedisError('WRONGTYPE Operation against a key', 400, true))).toBe(true)
    expect(driver.isPermanent!(new HttpRedisError('LOADING Redis is loading', 400, true))).toBe(false)
    expect(driver.isPermanent!(new HttpRedisError('Unauthorized', 401, false))).toBe(true)
    expect(driver.isPermanent!(new HttpRedisError('too large', 413, false))).toBe(true)
    expect(driver.isPermanent!(new HttpRedisError('busy', 429, false))).toBe(false)
    expect(driver.isPermanent!(new HttpRedisError('bad gateway', 502, false))).toBe(false)
    expect(driver.isPermanent!(new HttpRedisError('did not answer in time', 0, false))).toBe(false)
    expect(driver.isPermanent!(new Error('other'))).toBe(false)
  })

  it('fails a request past commandTimeout, and the cache answers from L1 meanwhile', async () => {
    const driver = httpRedisDriver({ url: shim.url, token: shim.token, commandTimeout: 50 }).create({ prefix: 'p', logger: console as never, rejected: () => undefined })
    shim.delayMs = 300
    const error = await driver.get('k').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HttpRedisError)
    expect((error as HttpRedisError).message).toMatch(/did not answer in time \(50 ms\)/)
    expect(driver.isPermanent!(error)).toBe(false)
    await driver.disconnect()
  })

  it('on defaults, serves L1 while the HTTP endpoint is unreachable, and its set still reports stored', async () => {
    const c = new RustoCache({ prefix: `down${process.pid}`, l2: httpRedisDriver({ url: 'http://127.0.0.1:9', token: 't' }) })
    open.push(c)
    await c.set({ key: 'k', value: 'kept' })
    expect(await c.get({ key: 'k' })).toBe('kept')
    expect(c.stats().l2Errors).toBeGreaterThan(0)
  })

  it('says what it sends to with the host only, never the token', () => {
    const driver = httpRedisDriver({ url: `${shim.url}/`, token: 'secret-token' }).create({ prefix: 'p', logger: console as never, rejected: () => undefined })
    expect(driver.target).toBe(`Redis over HTTP at ${new URL(shim.url).host}`)
    expect(driver.target).not.toContain('secret')
  })

  it('refuses bad options with E_INVALID_OPTION', () => {
    expect(() => httpRedisDriver({ url: 'redis://x', token: 't' })).toThrow(expect.objectContaining({ code: 'E_INVALID_OPTION' }))
    expect(() => httpRedisDriver({ url: 'not a url', token: 't' })).toThrow(/http\(s\) URL/)
    expect(() => httpRedisDriver({ url: shim.url, token: '' })).toThrow(/token/)
    expect(() => httpRedisDriver({ url: shim.url, token: 't', commandTimeout: 0 })).toThrow(/commandTimeout/)
    expect(() => httpRedisDriver(undefined as never)).toThrow(/url, token/)
  })
})

describe('without a bus at the edge, L1 keeps an entry 5 s by default', () => {
  it('another instance sees a change within l1 ttl, not before it ends', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const prefix = `edge-l1-${process.pid}`
    const a = cache({}, prefix)
    const b = cache({}, prefix)
    await a.set({ key: 'k', value: 1 })
    expect(await b.get({ key: 'k' })).toBe(1)
    await a.set({ key: 'k', value: 2 })
    vi.setSystemTime(Date.now() + 4_900)
    expect(await b.get({ key: 'k' })).toBe(1)
    vi.setSystemTime(Date.now() + 200)
    expect(await b.get({ key: 'k' })).toBe(2)
  })

  it('l1.ttl changes it, null removes the bound, and a bus removes the default', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const prefix = `edge-l1b-${process.pid}`
    const writer = cache({}, prefix)
    const unbounded = cache({ l1: { ttl: null } }, prefix)
    const longer = cache({ l1: { ttl: '1m' } }, prefix)
    const withBus = cache({ bus: memoryBus() }, prefix)
    await writer.set({ key: 'k', value: 1 })
    for (const c of [unbounded, longer, withBus]) expect(await c.get({ key: 'k' })).toBe(1)
    await raw.set(`${prefix}:k`, (await raw.get(`${prefix}:k`))!.replace(/1$/, '2'))
    vi.setSystemTime(Date.now() + 10_000)
    expect(await unbounded.get({ key: 'k' })).toBe(1)
    expect(await longer.get({ key: 'k' })).toBe(1)
    expect(await withBus.get({ key: 'k' })).toBe(1)
    vi.setSystemTime(Date.now() + 60_000)
    expect(await longer.get({ key: 'k' })).toBe(2)
    expect(() => cache({ l1: { ttl: 0 } })).toThrow(expect.objectContaining({ code: 'E_INVALID_OPTION' }))
  })

  it('keeps a short entry stale in L1 within the bound, and serves L2 grace after it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const c = cache({ grace: '1h' })
    await c.set({ key: 'k', value: 'v', ttl: '2s' })
    vi.setSystemTime(Date.now() + 3_000)
    expect(await c.getOrSet({ key: 'k', factory: () => Promise.reject(new Error('down')), ttl: '2s' })).toBe('v')
    vi.setSystemTime(Date.now() + 60_000)
    expect(await c.getOrSet({ key: 'k', factory: () => Promise.reject(new Error('down')), ttl: '2s' })).toBe('v')
  })
})

// The built workerd flavour in workerd (miniflare), on httpRedisDriver through the shim: what a Worker on Upstash
// runs, sharing its L2 with a Node cache on redisDriver.
const WORKER = `import { RustoCache } from './entry.js'
import { httpRedisDriver } from './edge-drivers.js'
let cache
export default {
  async fetch(request, env) {
    cache ??= new RustoCache({ prefix: env.PREFIX, l2: httpRedisDriver({ url: env.URL, token: env.TOKEN }) })
    const url = new URL(request.url)
    const key = url.searchParams.get('key')
    if (url.pathname === '/set') await cache.set({ key, value: url.searchParams.get('value'), tags: ['t'] })
    if (url.pathname === '/invalidate') await cache.deleteByTag({ tags: ['t'] })
    return Response.json({ value: (await cache.get({ key })) ?? null, core: cache.stats().core, l2Errors: cache.stats().l2Errors })
  },
}`

describe('httpRedisDriver in workerd (miniflare), sharing L2 with Node', () => {
  let worker: Miniflare
  let call: (path: string) => Promise<Record<string, unknown>>
  const prefix = `workerd${process.pid}`
  beforeAll(() => {
    ;({ mf: worker, call } = startEdgeWorker(WORKER, { bindings: { URL: shim.url, TOKEN: shim.token, PREFIX: prefix } }))
  })
  afterAll(async () => {
    await worker?.dispose()
  })

  it('reads what Node wrote, writes what Node reads, and its tag invalidation reaches Node', async () => {
    const node = new RustoCache({ prefix, l2: redisDriver({ connection: redisUrl }) })
    open.push(node)
    await node.set({ key: 'from-node', value: 'n', tags: ['t'] })
    expect(await call('/get?key=from-node')).toEqual({ value: 'n', core: 'wasm', l2Errors: 0 })
    expect(await call('/set?key=from-edge&value=e')).toMatchObject({ value: 'e' })
    expect(await node.get({ key: 'from-edge' })).toBe('e')
    await call('/invalidate?key=from-node')
    const fresh = new RustoCache({ prefix, l2: redisDriver({ connection: redisUrl }) })
    open.push(fresh)
    expect(await fresh.get({ key: 'from-node' })).toBeUndefined()
    expect(await fresh.get({ key: 'from-edge' })).toBeUndefined()
  })
})
