import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { RustoCache, type RustoCacheOptions } from '../src/index.js'
import { redisBus, redisDriver } from '../src/redis/index.js'
import { startRedisServer, waitUntil } from './helpers/redis-server.js'

const url = inject('redisUrl')
const open: RustoCache[] = []
let groups = 0

function instance(prefix: string, connection: string = url, options: RustoCacheOptions = {}): RustoCache {
  const cache = new RustoCache({
    prefix,
    l2: redisDriver({ connection }),
    bus: redisBus({ connection, retryQueue: { retryInterval: 200 } }),
    ...options,
  })
  open.push(cache)
  return cache
}

const within = (ms: number, check: () => Promise<boolean>): Promise<number> => waitUntil(check, ms)

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.disconnect()))
})

describe('Redis bus', () => {
  it('keeps L1 coherent across instances: set, delete, tags and namespace clear', async () => {
    const prefix = `bus${process.pid}-${++groups}`
    const a = instance(prefix)
    const b = instance(prefix)
    await new Promise((r) => setTimeout(r, 100)) // subscriptions in place
    await a.set({ key: 'k', value: 'v1' })
    expect(await b.get({ key: 'k' })).toBe('v1') // from L2, now in B's L1
    await a.set({ key: 'k', value: 'v2' })
    await within(1_000, async () => (await b.get({ key: 'k' })) === 'v2')
    await a.delete({ key: 'k' })
    await within(1_000, async () => (await b.get({ key: 'k' })) === undefined)
    await b.getOrSet({ key: 't', factory: () => 'tagged', tags: ['user:1'] })
    await a.deleteByTag({ tags: ['user:1'] })
    await within(1_000, async () => (await b.get({ key: 't' })) === undefined)
    await b.namespace('n').set({ key: '1', value: 1 })
    await a.namespace('n').clear()
    await within(1_000, async () => (await b.namespace('n').get({ key: '1' })) === undefined)
    expect(b.stats().busReceived).toBeGreaterThanOrEqual(4)
  })

  it('after Redis was down, no instance serves a replaced or deleted value longer than one retry interval + 1 s', async () => {
    const server = await startRedisServer()
    try {
      const prefix = `outage${process.pid}-${++groups}`
      const a = instance(prefix, server.url)
      const b = instance(prefix, server.url)
      await new Promise((r) => setTimeout(r, 100))
      await a.set({ key: 'replaced', value: 'old' })
      await a.set({ key: 'deleted', value: 'old' })
      expect(await b.getMany({ keys: ['replaced', 'deleted'] })).toEqual(['old', 'old'])
      // a's messages of those sets are out before Redis goes.
      await within(500, async () => a.stats().busQueued === 0)
      await server.stop()
      await a.set({ key: 'replaced', value: 'new' }) // L2 write fails: queued
      await a.delete({ key: 'deleted' })
      expect(a.stats().busQueued).toBe(2)
      await server.start()
      await within(200 + 1_000, async () => (await b.get({ key: 'replaced' })) === 'new' && (await b.get({ key: 'deleted' })) === undefined)
      // b may hear the last message before a's publish call returns and a takes it off its queue.
      await within(500, async () => a.stats().busQueued === 0)
    } finally {
      await Promise.all(open.splice(0).map((c) => c.disconnect()))
      await server.stop()
    }
  })

  it('hears another process', async () => {
    const prefix = `proc${process.pid}-${++groups}`
    const here = instance(prefix)
    await here.set({ key: 'k', value: 'from here' })
    const dir = mkdtempSync(join(tmpdir(), 'rustocache-'))
    const script = join(dir, 'writer.mjs')
    const root = resolve('.')
    writeFileSync(
      script,
      `import { RustoCache } from '${root}/dist/index.js'
       import { redisBus, redisDriver } from '${root}/dist/redis.js'
       const connection = ${JSON.stringify(url)}
       const cache = new RustoCache({ prefix: ${JSON.stringify(prefix)}, l2: redisDriver({ connection }), bus: redisBus({ connection }) })
       await new Promise((r) => setTimeout(r, 100))
       await cache.set({ key: 'k', value: 'from the other process' })
       await cache.disconnect()`,
    )
    await promisify(execFile)(process.execPath, [script], { timeout: 20_000 })
    await within(1_000, async () => (await here.get({ key: 'k' })) === 'from the other process')
  })
})
