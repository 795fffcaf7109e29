import { Cluster, Redis } from 'ioredis'
import superjson from 'superjson'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { ErrorCodes, RustoCache, type RustoCacheOptions } from '../src/index.js'
import { redisDriver, type RedisConnection, type RedisDriver } from '../src/redis/index.js'
import { startRedisCluster, startRedisServer, waitUntil, type RedisClusterServers, type RedisServer } from './helpers/redis-server.js'

const url = inject('redisUrl')
const open: RustoCache[] = []
const clusters: Cluster[] = []
let prefixes = 0
let cluster: RedisClusterServers

/** The L2 suite runs on a single server (the suite's Redis) and on a 3-master cluster of its own. */
const targets = {
  'a single Redis': {
    connection: (keyPrefix?: string): RedisConnection => (keyPrefix ? { ...hostPort(url), keyPrefix } : url),
    keys: async (pattern: string) => {
      const admin = new Redis(url)
      try {
        return await admin.keys(pattern)
      } finally {
        admin.disconnect()
      }
    },
  },
  'a Redis Cluster': {
    connection: (keyPrefix?: string): RedisConnection => {
      const c = new Cluster(
        cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
        { keyPrefix, redisOptions: { commandTimeout: 1_000 } },
      )
      clusters.push(c)
      return c
    },
    keys: async (pattern: string) => {
      const found: string[] = []
      for (const port of cluster.ports) {
        const node = new Redis(port, '127.0.0.1')
        try {
          found.push(...(await node.keys(pattern)))
        } finally {
          node.disconnect()
        }
      }
      return found
    },
  },
}
let target: (typeof targets)[keyof typeof targets] = targets['a single Redis']

function hostPort(u: string): { host: string; port: number } {
  const parsed = new URL(u)
  return { host: parsed.hostname, port: Number(parsed.port || 6379) }
}

/** A cache on Redis with a prefix of its own test; `group` shares one prefix between instances. */
function make(group: string, options: RustoCacheOptions = {}, connection: RedisConnection = target.connection()): RustoCache {
  const cache = new RustoCache({ prefix: `t${process.pid}:${group}`, l2: redisDriver({ connection }), ...options })
  open.push(cache)
  return cache
}
const group = () => `g${++prefixes}`

beforeAll(async () => {
  cluster = await startRedisCluster()
}, 60_000)

afterAll(async () => {
  for (const c of clusters) c.disconnect()
  await cluster.stop()
})

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.disconnect()))
})

describe.each(Object.keys(targets) as Array<keyof typeof targets>)('Redis L2 on %s', (name) => {
  beforeAll(() => {
    target = targets[name]
  })

  it('backfills L1 from L2: a second instance answers without its factory', async () => {
    const g = group()
    const a = make(g)
    const b = make(g)
    expect(await a.getOrSet({ key: 'user:1', factory: () => ({ name: 'Ada' }) })).toEqual({ name: 'Ada' })
    let calls = 0
    expect(await b.getOrSet({ key: 'user:1', factory: () => (calls++, { name: 'other' }) })).toEqual({ name: 'Ada' })
    expect(calls).toBe(0)
    expect(b.stats()).toMatchObject({ l2Hits: 1 })
    expect(await b.get({ key: 'user:1' })).toEqual({ name: 'Ada' })
    expect(b.stats().l2Hits).toBe(1) // the second read was an L1 hit
  })

  it('keeps a value too large for L1 in L2', async () => {
    const g = group()
    const a = make(g, { l1: { maxEntrySize: 10 } })
    await a.set({ key: 'big', value: 'x'.repeat(100) })
    expect(await a.get({ key: 'big' })).toBe('x'.repeat(100))
    expect(a.stats()).toMatchObject({ oversized: 2, l2Hits: 1 })
  })

  it('serves L2 stale within grace, and a stale L2 value beats a stale L1 one', async () => {
    const g = group()
    const a = make(g, { grace: '1h' })
    const b = make(g, { grace: '1h' })
    await b.set({ key: 'k', value: 'old', ttl: 50 })
    await b.get({ key: 'k' })
    await a.set({ key: 'k', value: 'newer', ttl: 50 })
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(await b.getOrSet({ key: 'k', factory: () => Promise.reject(new Error('down')), timeout: null })).toBe('newer')
    expect(await b.get({ key: 'k', grace: false })).toBeUndefined()
  })

  it('expires across tiers and instances: stale for grace, then refreshed', async () => {
    const g = group()
    const a = make(g, { grace: '1h' })
    const b = make(g, { grace: '1h' })
    await a.set({ key: 'k', value: 'v' })
    expect(await a.expire({ key: 'k' })).toBe(true)
    expect(await b.get({ key: 'k' })).toBe('v')
    expect(await b.get({ key: 'k', grace: false })).toBeUndefined()
    expect(await b.getOrSet({ key: 'k', factory: () => 'fresh', timeout: null })).toBe('fresh')
  })

  it('deleteByTag holds for L2 entries read by an instance that never heard of it', async () => {
    const g = group()
    const a = make(g, { grace: '1h' })
    await a.set({ key: 'p', value: 'profile', tags: ['user:1'] })
    await a.set({ key: 'q', value: 'other', tags: ['user:2'] })
    await make(g).deleteByTag({ tags: ['user:1'] })
    const c = make(g, { grace: '1h' })
    expect(await c.get({ key: 'p' })).toBeUndefined()
    expect(await c.get({ key: 'q' })).toBe('other')
    await make(g).expireByTag({ tags: ['user:2'] })
    const d = make(g, { grace: '1h' })
    expect(await d.get({ key: 'q' })).toBe('other')
    expect(await d.get({ key: 'q', grace: false })).toBeUndefined()
  })

  it('clears only a namespace in Redis, honouring the ioredis keyPrefix', async () => {
    const g = group()
    const root = make(g, {}, target.connection(`kp${g}:`))
    const users = root.namespace('users')
    await root.set({ key: 'settings', value: 1 })
    await users.set({ key: '1', value: 'a' })
    await users.set({ key: '2', value: 'b' })
    await users.clear()
    const fresh = make(g, {}, target.connection(`kp${g}:`))
    expect(await fresh.getMany({ keys: ['users:1', 'users:2', 'settings'] })).toEqual([undefined, undefined, 1])
    expect((await target.keys(`kp${g}:*`)).sort()).toEqual([`kp${g}:t${process.pid}:${g}:settings`])
  })

  it('keeps user keys apart from its own records: keys that look internal, __proto__, constructor', async () => {
    const g = group()
    const a = make(g)
    const lookalikes = ['__tags:deleted', '__tags:expired', '__lock:k', '#tags:deleted', '#lock:k', '__proto__', 'constructor', 'prototype']
    await a.set({ key: 'tagged', value: 'v', tags: ['t'] })
    for (const key of lookalikes) await a.set({ key, value: { key } })
    await a.deleteByTag({ tags: ['t'] })
    const b = make(g)
    for (const key of lookalikes) expect(await b.get({ key })).toEqual({ key })
    expect(await b.get({ key: 'tagged' })).toBeUndefined()
    expect(b.stats().l2Rejected).toBe(0)
  })

  it('a root clear() leaves a distributed lock in place', async () => {
    const g = group()
    const a = make(g, { lock: { distributed: true, ttl: '10s' } })
    let release!: (v: string) => void
    const pending = a.getOrSet({ key: 'hot', factory: () => new Promise<string>((r) => (release = r)) })
    await new Promise((r) => setTimeout(r, 50))
    const prefix = `t${process.pid}:${g}`
    expect(await target.keys(`${prefix}#lock:hot`)).toEqual([`${prefix}#lock:hot`])
    await a.clear()
    expect(await target.keys(`${prefix}#lock:hot`)).toEqual([`${prefix}#lock:hot`])
    release('v')
    expect(await pending).toBe('v')
    await new Promise((r) => setTimeout(r, 20))
    expect(await target.keys(`${prefix}#lock:hot`)).toEqual([])
  })

  it('refuses a value JSON cannot encode with E_UNSERIALIZABLE_VALUE: nothing written, no L2 error, breaker shut', async () => {
    const g = group()
    const a = make(g, { l2CircuitBreakerDuration: '1m' })
    await a.set({ key: 'k', value: 'kept' })
    expect(await a.set({ key: 'k', value: 1n }).catch((e: { code: string }) => e.code)).toBe(ErrorCodes.E_UNSERIALIZABLE_VALUE)
    expect(await make(g).get({ key: 'k' })).toBe('kept')
    expect(await a.get({ key: 'k' })).toBe('kept')
    expect(a.stats().l2Errors).toBe(0)
    await a.set({ key: 'k2', value: 2 })
    expect(await make(g).get({ key: 'k2' })).toBe(2)
  })

  it('keeps tag stamps for tagRetention only: the hashes stay bounded, and an entry older than that is not trusted', async () => {
    const g = group()
    const prefix = `t${process.pid}:${g}`
    const cache = (retention: number) => {
      const c = new RustoCache({ prefix, l2: redisDriver({ connection: target.connection(), tagRetention: retention }) })
      open.push(c)
      return c
    }
    const a = cache(1_000)
    await a.set({ key: 'old', value: 'v', tags: ['kept'] })
    for (let i = 0; i < 300; i++) await a.deleteByTag({ tags: [`churn${i}`] })
    const driver = (a as unknown as { rooms: { l2: { driver: { redis: Redis } } } }).rooms.l2.driver.redis
    // Most of them, at least: on a slow machine the first may already be past the window.
    expect(await driver.hlen(`${prefix}#tags:deleted`)).toBeGreaterThanOrEqual(250)
    await new Promise((r) => setTimeout(r, 1_100))
    await a.deleteByTag({ tags: ['last'] })
    expect(await driver.hlen(`${prefix}#tags:deleted`)).toBe(1)
    // 'old' may have lost a tag stamp with the pruning: a new instance does not trust it, it refreshes it.
    const b = cache(1_000)
    expect(await b.get({ key: 'old' })).toBeUndefined()
    expect(await b.getOrSet({ key: 'old', factory: () => 'fresh', tags: ['kept'] })).toBe('fresh')
    // With a long retention the same entry is trusted.
    await a.set({ key: 'recent', value: 'r', tags: ['kept'] })
    expect(await cache(60_000).get({ key: 'recent' })).toBe('r')
  })

  it('never pollutes a prototype from what L2 holds: __proto__ and constructor in payloads and tags, JSON and superjson', async () => {
    const g = group()
    const prefix = `t${process.pid}:${g}`
    const superjsonSerializer = { serialize: (v: unknown) => superjson.stringify(v), deserialize: (t: string) => superjson.parse(t) }
    const writer = new Redis(url)
    try {
      for (const [serializer, evil] of [
        [undefined, '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1}'],
        [superjsonSerializer, '{"json":{"__proto__":{"polluted":true},"ok":1},"meta":{"values":{"__proto__.polluted":["undefined"]}}}'],
      ] as const) {
        const cache = new RustoCache({ prefix, l2: redisDriver({ connection: target.connection(), serializer }) })
        open.push(cache)
        // Written straight into Redis (on a cluster, through a cluster client, into the key's slot).
        const raw = target === targets['a single Redis'] ? writer : (target.connection() as Cluster)
        await raw.set(`${prefix}:evil`, `r1|inf|1|0|${evil}`)
        await raw.set(`${prefix}:evil-tags`, 'r1|inf|1|25|["__proto__","constructor"]1')
        const value = (await cache.get<Record<string, unknown>>({ key: 'evil' })) ?? {}
        await cache.get({ key: 'evil-tags' })
        await cache.deleteByTag({ tags: ['__proto__'] })
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
        expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined()
        expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
        expect(await cache.get({ key: 'evil-tags' })).toBeUndefined()
      }
    } finally {
      writer.disconnect()
    }
  })

  it('stores Dates, Maps and BigInts through superjson', async () => {
    const g = group()
    const serializer = { serialize: (v: unknown) => superjson.stringify(v), deserialize: (t: string) => superjson.parse(t) }
    const options: RustoCacheOptions = {}
    const a = new RustoCache({ prefix: `t${process.pid}:${g}`, l2: redisDriver({ connection: target.connection(), serializer }), ...options })
    const b = new RustoCache({ prefix: `t${process.pid}:${g}`, l2: redisDriver({ connection: target.connection(), serializer }), ...options })
    open.push(a, b)
    const value = { at: new Date(0), tags: new Map([['a', 1n]]) }
    await a.set({ key: 'rich', value })
    const read = await b.get<typeof value>({ key: 'rich' })
    expect(read?.at).toBeInstanceOf(Date)
    expect(read?.tags.get('a')).toBe(1n)
  })
})

describe('Redis L2 batches', () => {
  let server: RedisServer
  let admin: Redis
  beforeAll(async () => {
    server = await startRedisServer()
    admin = new Redis(server.url)
  })
  afterAll(async () => {
    admin.disconnect()
    await server.stop()
  })
  const calls = async (command: string): Promise<number> => {
    const info = await admin.info('commandstats')
    // Scripts go as EVALSHA, and as EVAL once for a server that does not have them yet: one script call either way.
    if (command === 'eval') return (await calls('eval_')) + (await calls('evalsha'))
    return Number(new RegExp(`cmdstat_${command.replace(/_$/, '')}:calls=(\\d+)`).exec(info)?.[1] ?? 0)
  }

  it('reads getMany misses with one MGET, writes setMany as one script call, deletes deleteMany with one script call', async () => {
    const g = group()
    const a = make(g, {}, server.url)
    const b = make(g, {}, server.url)
    const hundred = Array.from({ length: 100 }, (_, i) => `h${i}`)
    // The server learns the scripts on their first use (EVALSHA, NOSCRIPT, EVAL): counted from then on.
    await a.set({ key: 'warm', value: 0 })
    await a.delete({ key: 'warm' })
    const evals = await calls('eval')
    await a.setMany({ items: [...hundred.map((key, i) => ({ key, value: i })), { key: 'a', value: 1 }, { key: 'b', value: 2 }, { key: 'c', value: 3 }] })
    expect(await calls('eval')).toBe(evals + 1)
    const mget = await calls('mget')
    const get = await calls('get')
    expect(await b.getMany({ keys: hundred })).toEqual(hundred.map((_, i) => i))
    expect(await b.getMany({ keys: ['c', 'zz', 'a', 'b'] })).toEqual([3, undefined, 1, 2])
    expect(await calls('mget')).toBe(mget + 2)
    expect(await calls('get')).toBe(get)
    const deletes = await calls('eval')
    expect(await b.deleteMany({ keys: ['a', 'b', 'zz'] })).toBe(2)
    expect(await calls('eval')).toBe(deletes + 1)
    expect(await make(g, {}, server.url).getMany({ keys: ['a', 'b', 'c'] })).toEqual([undefined, undefined, 3])
  })

  it('sends its scripts by SHA1: the text goes to a server only when it lacks them (new, restarted, flushed)', async () => {
    const g = group()
    const a = make(g, {}, server.url)
    await a.set({ key: 'warm', value: 0 })
    const [texts, shas] = [await calls('eval_'), await calls('evalsha')]
    for (let i = 0; i < 10; i++) await a.set({ key: `s${i}`, value: i })
    expect([await calls('eval_'), await calls('evalsha')]).toEqual([texts, shas + 10])
    // SCRIPT FLUSH: the next write gets NOSCRIPT, sends the text once, and is written.
    await admin.script('FLUSH')
    await a.set({ key: 'after', value: 'flush' })
    await a.delete({ key: 's0' })
    expect(await calls('eval_')).toBe(texts + 2)
    const reader = make(g, {}, server.url)
    expect(await reader.getMany({ keys: ['after', 's0', 's1'] })).toEqual(['flush', undefined, 1])
    expect(a.stats().l2Errors).toBe(0)
  })
})

describe('Redis down', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedisServer(['--enable-debug-command', 'yes'])
  })

  it('never hangs on a Redis that stopped answering: the command timeout fails the L2 read', async () => {
    const cache = new RustoCache({ prefix: `t${process.pid}:${group()}`, l2: redisDriver({ connection: server.url, commandTimeout: 100 }) })
    open.push(cache)
    await cache.get({ key: 'warm-up' })
    const admin = new Redis(server.url)
    try {
      let stalled = true
      const stall = admin.call('DEBUG', 'SLEEP', '2').then(() => (stalled = false)) // the server answers nobody for 2 s
      await new Promise((r) => setTimeout(r, 50))
      expect(await cache.getOrSet({ key: 'cold', factory: () => 'from the source' })).toBe('from the source')
      expect(stalled).toBe(true) // answered while Redis was still asleep
      expect(cache.stats().l2Errors).toBeGreaterThanOrEqual(1)
      await stall
    } finally {
      admin.disconnect()
    }
  })
  afterAll(async () => {
    await server.stop()
  })

  it('never hangs a cold getOrSet: the factory answers and the L2 error is counted', async () => {
    const cache = make(group(), {}, server.url)
    await cache.set({ key: 'warm', value: 1 })
    await server.stop()
    try {
      const answer = cache.getOrSet({ key: 'cold', factory: () => 'from the source' })
      const guard = new Promise((_, reject) => setTimeout(() => reject(new Error('getOrSet hung')), 5_000))
      expect(await Promise.race([answer, guard])).toBe('from the source')
      expect(cache.stats().l2Errors).toBeGreaterThanOrEqual(2) // the L2 read and the L2 write
      expect(await cache.get({ key: 'warm' })).toBe(1) // L1 still answers
    } finally {
      await server.start()
    }
  })

  it('rejects with E_L2_CACHE_ERROR when suppressL2Errors is false', async () => {
    const cache = make(group(), { suppressL2Errors: false }, server.url)
    await server.stop()
    try {
      await expect(cache.getOrSet({ key: 'cold', factory: () => 1 })).rejects.toMatchObject({ code: ErrorCodes.E_L2_CACHE_ERROR })
    } finally {
      await server.start()
    }
  })

  it('stops calling L2 while the circuit breaker is open', async () => {
    const cache = make(group(), { l2CircuitBreakerDuration: '1h' }, server.url)
    await cache.get({ key: 'k' }) // connected
    const l2 = (cache as unknown as { rooms: { l2: { driver: { get: (key: string) => Promise<unknown> } } } }).rooms.l2.driver
    let sent = 0
    const get = l2.get.bind(l2)
    l2.get = (key) => (sent++, get(key))
    await server.stop()
    try {
      expect(await cache.getOrSet({ key: 'a', factory: () => 1 })).toBe(1)
      const afterFirst = sent
      expect(await cache.getOrSet({ key: 'b', factory: () => 2 })).toBe(2)
      expect(await cache.get({ key: 'c' })).toBeUndefined()
      expect(sent).toBe(afterFirst)
      expect(cache.stats().l2Errors).toBeGreaterThanOrEqual(3)
    } finally {
      await server.start()
    }
  })
})

describe('a constructor that refuses its options', () => {
  it('opens nothing: the process exits at once (a bus secret too short, with a Redis L2 and bus)', async () => {
    const { spawnSync } = await import('node:child_process')
    const script = `
      import { RustoCache } from './dist/index.js'
      import { redisBus, redisDriver } from './dist/redis.js'
      try {
        new RustoCache({ l2: redisDriver({ connection: process.env.URL }), bus: redisBus({ connection: process.env.URL, secret: 'too short' }) })
      } catch (error) {
        console.log(error.code)
      }`
    const started = Date.now()
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, URL: url }, timeout: 10_000, encoding: 'utf8' })
    expect(child.stdout.trim()).toBe(ErrorCodes.E_INVALID_OPTION)
    expect(child.signal).toBeNull()
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('closes the L2 connection it opened when the bus transport cannot be made', async () => {
    let closed = 0
    const l2 = { kind: 'test', create: () => ({ disconnect: async () => void closed++ }) } as unknown as RustoCacheOptions['l2']
    const bus = {
      kind: 'test',
      retryQueue: {},
      create: () => {
        throw new Error('cannot reach the bus')
      },
    } as unknown as RustoCacheOptions['bus']
    expect(() => new RustoCache({ l2, bus })).toThrow('cannot reach the bus')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(closed).toBe(1)
  })
})

describe('Redis killed, on default options', () => {
  it('the first call waits one commandTimeout at most, the next ones fail fast, and it works again once Redis is back', async () => {
    const server = await startRedisServer()
    const { redisBus } = await import('../src/redis/index.js')
    try {
      const g = group()
      const cache = new RustoCache({ prefix: `t${process.pid}:${g}`, l2: redisDriver({ connection: server.url }), bus: redisBus({ connection: server.url }) })
      open.push(cache)
      await cache.set({ key: 'cached', value: 'kept' })
      await server.stop()
      const took: number[] = []
      for (let i = 0; i < 6; i++) {
        const started = Date.now()
        expect(await cache.getOrSet({ key: `miss${i}`, factory: () => i })).toBe(i)
        expect(await cache.get({ key: 'cached' })).toBe('kept')
        await cache.set({ key: `w${i}`, value: i })
        took.push(Date.now() - started)
      }
      // No call waits more than one commandTimeout (500 ms) plus 100 ms, and once Redis is known down, none waits.
      expect(Math.max(...took)).toBeLessThan(600)
      expect(Math.max(...took.slice(1))).toBeLessThan(100)
      await server.start()
      const admin = new Redis(server.url)
      try {
        await waitUntil(async () => {
          await cache.set({ key: 'back', value: 1 })
          return (await admin.get(`t${process.pid}:${g}:back`)) !== null
        }, 5_000)
      } finally {
        admin.disconnect()
      }
    } finally {
      await server.stop()
    }
  })
})

describe('conditional writes (lateWrites: refused)', () => {
  it('a write the cache gave up on, arriving after a later delete, does not bring the value back', async () => {
    const g = group()
    const a = make(g)
    const b = make(g)
    await a.set({ key: 'price', value: 100 })
    const l2 = (a as unknown as { rooms: { l2: { driver: RedisDriver } } }).rooms.l2.driver
    // What a's timed-out SET carried: made before b's delete.
    const late = l2.encode({ value: 100, expiresAt: Date.now() + 60_000, createdAt: Date.now() - 10, tags: undefined })
    await b.delete({ key: 'price' })
    expect(await l2.set('price', late, 60_000)).toBe(false)
    expect(await make(g).get({ key: 'price' })).toBeUndefined()
  })

  it('a write L2 refuses (it holds a newer one) leaves the writer reading the newer one', async () => {
    const g = group()
    const a = make(g)
    const l2 = (a as unknown as { rooms: { l2: { driver: RedisDriver } } }).rooms.l2.driver
    // Another instance's entry, made 10 s ahead of a's clock.
    await l2.set('k', l2.encode({ value: 'newer', expiresAt: Date.now() + 60_000, createdAt: Date.now() + 10_000, tags: undefined }), 60_000)
    await a.set({ key: 'k', value: 'older' })
    expect(await a.get({ key: 'k' })).toBe('newer')
    expect(await make(g).get({ key: 'k' })).toBe('newer')
  })
})
