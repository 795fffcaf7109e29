import { afterEach, describe, expect, inject, it } from 'vitest'
import { RustoCache } from '../src/index.js'
import { redisDriver } from '../src/redis/index.js'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js'
import { waitUntil } from './helpers/redis-server.js'

// The TCP fault proxy the fault runs put between each instance and Redis, and what the cache does with each
// fault it makes: a slow, a stalled, a cut and a refusing connection.
const url = new URL(inject('redisUrl'))
const open: Array<{ disconnect(): Promise<void> }> = []
const proxies: FaultProxy[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.disconnect()))
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})

async function setup() {
  const proxy = await startFaultProxy({ host: url.hostname, port: Number(url.port || 6379) })
  proxies.push(proxy)
  const cache = new RustoCache({ prefix: `proxy${process.pid}-${proxies.length}`, l2: redisDriver({ connection: proxy.url, commandTimeout: 300 }), l2Timeout: 400 })
  open.push(cache)
  await cache.set({ key: 'warm', value: 1 })
  const reader = new RustoCache({ prefix: `proxy${process.pid}-${proxies.length}`, l2: redisDriver({ connection: proxy.url, commandTimeout: 300 }), l2Timeout: 400 })
  open.push(reader)
  return { proxy, cache, reader }
}

describe('fault proxy', () => {
  it('adds latency to every reply', async () => {
    const { proxy, reader } = await setup()
    proxy.latency(60)
    const started = Date.now()
    expect(await reader.get({ key: 'warm' })).toBe(1)
    expect(Date.now() - started).toBeGreaterThanOrEqual(55)
  })

  it('stalls without closing: calls give up at the timeout, and the connection works again after', async () => {
    const { proxy, cache, reader } = await setup()
    proxy.stall(true)
    const started = Date.now()
    expect(await reader.get({ key: 'warm' })).toBeUndefined()
    expect(Date.now() - started).toBeLessThan(600)
    expect(reader.stats().l2Errors).toBe(1)
    proxy.stall(false)
    await cache.set({ key: 'after', value: 2 })
    await waitUntil(async () => (await reader.get({ key: 'after' })) === 2, 3_000)
  })

  it('cuts connections (ioredis reconnects) and refuses new ones (calls fail fast, then recover)', async () => {
    const { proxy, reader } = await setup()
    proxy.refuse(true)
    proxy.cut()
    expect(proxy.stats.cuts).toBeGreaterThanOrEqual(1)
    const started = Date.now()
    expect(await reader.get({ key: 'warm' })).toBeUndefined()
    expect(Date.now() - started).toBeLessThan(600)
    await waitUntil(async () => proxy.stats.refused > 0, 3_000)
    proxy.refuse(false)
    await waitUntil(async () => (await reader.get({ key: 'warm' })) === 1, 5_000)
  })
})
