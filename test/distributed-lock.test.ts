import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { RustoCache } from '../src/index.js'
import { redisBus, redisDriver } from '../src/redis/index.js'
import { waitUntil } from './helpers/redis-server.js'

const url = inject('redisUrl')
const admin = new Redis(url)
const caches: RustoCache[] = []
let runs = 0

afterAll(async () => {
  await Promise.all(caches.map((c) => c.disconnect()))
  admin.disconnect()
})

function instance(prefix: string, lockTtl: string): RustoCache {
  const cache = new RustoCache({
    prefix,
    l2: redisDriver({ connection: url }),
    bus: redisBus({ connection: url }),
    lock: { distributed: true, ttl: lockTtl },
  })
  caches.push(cache)
  return cache
}

describe('distributed stampede protection', () => {
  it('runs exactly one factory for 3 instances (one in another process) x 100 concurrent callers', async () => {
    const prefix = `dl${process.pid}-${++runs}`
    const startAt = Date.now() + 700
    const child = promisify(execFile)(process.execPath, ['test/fixtures/lock-worker.mjs', url, prefix, 'stampede', String(startAt)], {
      timeout: 30_000,
    })
    const factory = async () => {
      await admin.incr(`${prefix}:factory-calls`)
      await new Promise((r) => setTimeout(r, 300))
      return 'value'
    }
    const here = [instance(prefix, '5s'), instance(prefix, '5s')]
    await new Promise((r) => setTimeout(r, startAt - Date.now()))
    const results = await Promise.all(here.flatMap((cache) => Array.from({ length: 100 }, () => cache.getOrSet({ key: 'hot', factory }))))
    const { stdout } = await child
    expect(new Set(results)).toEqual(new Set(['value']))
    expect(JSON.parse(stdout.trim())).toEqual(['value'])
    expect(Number(await admin.get(`${prefix}:factory-calls`))).toBe(1)
  })

  it('takes over within the lock ttl when the owner dies mid-factory', async () => {
    const prefix = `dl${process.pid}-${++runs}`
    const child = spawn(process.execPath, ['test/fixtures/lock-worker.mjs', url, prefix, 'hang', String(Date.now())], { stdio: 'ignore' })
    // Mid-factory: the other process holds the lock and its factory has started (it counts itself first).
    const lockKey = `${prefix}#lock:hot`
    await waitUntil(
      async () => (await admin.get(`${prefix}:factory-calls`)) === '1' && (await admin.exists(lockKey)) === 1,
      10_000,
      'the other process never started its factory under the lock',
    )
    await new Promise<void>((resolve) => (child.once('exit', () => resolve()), child.kill('SIGKILL')))
    const started = Date.now()
    const survivor = instance(prefix, '1s')
    expect(await survivor.getOrSet({ key: 'hot', factory: () => 'finished by the survivor' })).toBe('finished by the survivor')
    // Within the lock's ttl (1 s) of the owner's death, plus room for a loaded test machine.
    expect(Date.now() - started).toBeLessThan(1_000 + 1_500)
    expect(Number(await admin.get(`${prefix}:factory-calls`))).toBe(1) // the dead owner's call
  })
})
