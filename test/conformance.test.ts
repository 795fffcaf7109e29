// rustocache/test-suite run against every driver and bus this package ships, with
// vitest's describe and it. test/fixtures/conformance.node.mjs runs it under node:test too.
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { broadcastBus } from '../src/browser/index.js'
import { memoryBus } from '../src/index.js'
import { postgresDriver } from '../src/postgres/index.js'
import { redisBus, redisDriver } from '../src/redis/index.js'
import { busSuite, l2DriverSuite, sameValue } from '../src/test-suite/index.js'

const redisUrl = inject('redisUrl')
const databaseUrl = inject('databaseUrl')

// writeRaw: what another program could have left under a key, for the 'unreadable entry' test.
const raw = new Redis(redisUrl, { lazyConnect: true })
const pool = new pg.Pool({ connectionString: databaseUrl })
afterAll(async () => {
  raw.disconnect()
  await pool.end()
})
l2DriverSuite({
  name: 'redisDriver',
  driver: () => redisDriver({ connection: redisUrl }),
  writeRaw: async (prefix, key, text) => void (await raw.set(`${prefix}:${key}`, text)),
  describe,
  it,
})
l2DriverSuite({
  name: 'postgresDriver',
  driver: () => postgresDriver({ connection: databaseUrl, table: 'rustocache_conformance' }),
  writeRaw: async (prefix, key, text) =>
    void (await pool.query('INSERT INTO rustocache_conformance (ns, key, payload) VALUES ($1, $2, $3) ON CONFLICT (key, ns) DO UPDATE SET payload = EXCLUDED.payload', [prefix, key, text])),
  describe,
  it,
})
busSuite({ name: 'redisBus', bus: () => redisBus({ connection: redisUrl }), describe, it })
// One in-process medium for all the instances of a test.
const sharedMemoryBus = memoryBus()
busSuite({ name: 'memoryBus', bus: () => sharedMemoryBus, describe, it })
busSuite({ name: 'broadcastBus', bus: () => broadcastBus({ channel: `conformance-${process.pid}` }), describe, it })

describe('the suite under node:test', () => {
  it('passes for the built Redis and PostgreSQL drivers and the Redis bus', async () => {
    const { execFile } = await import('node:child_process')
    const { promisify } = await import('node:util')
    const env = { ...process.env, REDIS_URL: redisUrl, DATABASE_URL: databaseUrl }
    const { stdout } = await promisify(execFile)(process.execPath, ['--test', '--test-reporter=tap', 'test/fixtures/conformance.node.mjs'], { env, timeout: 120_000 })
    expect(stdout).toMatch(/# pass 37\n/)
    expect(stdout).toMatch(/# fail 0\n/)
  })
})

describe("the suite's equality (sameValue)", () => {
  it('tells apart what a driver could get wrong: Dates, maps, sets, bytes, prototypes, missing keys', () => {
    expect(sameValue(new Date(0), new Date(0))).toBe(true)
    expect(sameValue(new Date(0), new Date(1))).toBe(false)
    expect(sameValue({ at: new Date(0) }, { at: new Date(86_400_000) })).toBe(false)
    expect(sameValue(new Date(0), '1970-01-01T00:00:00.000Z')).toBe(false)
    expect(sameValue(new Date(0), {})).toBe(false)
    expect(sameValue(new Map([['a', 1]]), new Map([['a', 1]]))).toBe(true)
    expect(sameValue(new Map([['a', 1]]), new Map([['a', 2]]))).toBe(false)
    expect(sameValue(new Set([1, 2]), new Set([1, 3]))).toBe(false)
    expect(sameValue(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true)
    expect(sameValue(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false)
    expect(sameValue(/a/g, /a/i)).toBe(false)
    expect(sameValue([1, { b: undefined }], [1, {}])).toBe(true)
    expect(sameValue({ a: 1 }, { b: 1 })).toBe(false)
    expect(sameValue(NaN, NaN)).toBe(true)
  })
})
