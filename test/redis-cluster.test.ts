import { Cluster } from 'ioredis'
import calculateSlot from 'cluster-key-slot'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RustoCache } from '../src/index.js'
import { redisBus, redisDriver } from '../src/redis/index.js'
import { startRedisCluster, waitUntil, type RedisClusterServers } from './helpers/redis-server.js'

// The L2 and the bus on a real 3-master Redis Cluster started from redis-server binaries.
let servers: RedisClusterServers
const clients: Cluster[] = []
const caches: RustoCache[] = []

function cluster(): Cluster {
  const c = new Cluster(
    servers.ports.map((port) => ({ host: '127.0.0.1', port })),
    { redisOptions: { commandTimeout: 1_000 }, enableOfflineQueue: true },
  )
  clients.push(c)
  return c
}
function cache(prefix: string): RustoCache {
  const connection = cluster()
  const c = new RustoCache({ prefix, l2: redisDriver({ connection }), bus: redisBus({ connection }) })
  caches.push(c)
  return c
}

beforeAll(async () => {
  servers = await startRedisCluster()
}, 60_000)

afterAll(async () => {
  await Promise.all(caches.map((c) => c.disconnect()))
  for (const c of clients) c.disconnect()
  await servers.stop()
})

describe('Redis Cluster', () => {
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`)

  it('spreads a batch over several slots and still reads, writes and deletes it in key order', async () => {
    expect(new Set(keys.map((k) => calculateSlot(`c1:${k}`))).size).toBeGreaterThan(30)
    const a = cache('c1')
    const b = cache('c1')
    await a.setMany({ items: keys.map((key, i) => ({ key, value: i })) })
    expect(await b.getMany({ keys: [...keys, 'missing'] })).toEqual([...keys.map((_, i) => i), undefined])
    expect(b.stats().l2Errors).toBe(0)
    expect(await b.deleteMany({ keys: keys.slice(0, 10) })).toBe(10)
    expect(await cache('c1').getMany({ keys: keys.slice(0, 12) })).toEqual([...Array(10).fill(undefined), 10, 11])
  })

  it('backfills, expires, invalidates tags and clears a namespace across masters', async () => {
    const a = cache('c2')
    const b = cache('c2')
    await a.set({ key: 'one', value: 1, tags: ['t'] })
    expect(await b.get({ key: 'one' })).toBe(1)
    await a.deleteByTag({ tags: ['t'] })
    expect(await cache('c2').get({ key: 'one' })).toBeUndefined()
    const ns = a.namespace('ns')
    for (const k of keys) await ns.set({ key: k, value: k })
    await a.set({ key: 'outside', value: 'kept' })
    await ns.clear()
    const fresh = cache('c2')
    expect(await fresh.namespace('ns').getMany({ keys })).toEqual(keys.map(() => undefined))
    expect(await fresh.get({ key: 'outside' })).toBe('kept')
    await a.clear() // everything, tag records included
    expect(await cache('c2').get({ key: 'outside' })).toBeUndefined()
    expect(a.stats().l2Errors).toBe(0)
  })

  it('carries bus messages between instances', async () => {
    const a = cache('c3')
    const b = cache('c3')
    await new Promise((r) => setTimeout(r, 200))
    await a.set({ key: 'k', value: 'v1' })
    expect(await b.get({ key: 'k' })).toBe('v1')
    await a.set({ key: 'k', value: 'v2' })
    await waitUntil(async () => (await b.get({ key: 'k' })) === 'v2', 2_000, 'bus message not heard on the cluster')
    expect(b.stats().busReceived).toBeGreaterThanOrEqual(1)
  })
})
