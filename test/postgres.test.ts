// rustocache/postgres beyond the conformance suite: what the issue asks of it (an UNLOGGED table, getMany as one
// query, expired rows pruned in batches), PostgreSQL going away mid-operation, distributed locks, bad options.
import pg from 'pg'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { ErrorCodes, RustoCache } from '../src/index.js'
import { postgresDriver, PostgresDriver } from '../src/postgres/index.js'
import { silentLogger } from '../src/logger.js'
import { startFaultProxy } from './helpers/fault-proxy.js'

const url = inject('databaseUrl')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let n = 0
const prefix = () => `pgtest-${process.pid}-${n++}`
const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined)
})

/** A pool whose queries are counted. */
function countingPool(connection = url): { pool: pg.Pool; queries: string[] } {
  const pool = new pg.Pool({ connectionString: connection })
  const queries: string[] = []
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown
  ;(pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    queries.push(String(args[0]).replace(/\s+/g, ' ').trim())
    return query(...args)
  }
  closers.push(() => pool.end())
  return { pool, queries }
}

function driverOn(pool: pg.Pool, options: { pruneBatch?: number; table?: string } = {}): PostgresDriver {
  const driver = postgresDriver({ connection: pool, table: options.table ?? 'rustocache_test', pruneInterval: null, pruneBatch: options.pruneBatch }).create({
    prefix: prefix(),
    logger: silentLogger,
    rejected: () => undefined,
  }) as PostgresDriver
  closers.push(async () => {
    await driver.clear('')
    await driver.disconnect()
  })
  return driver
}

describe('postgresDriver', () => {
  it('keeps entries in UNLOGGED tables it creates, and answers getMany with one query', async () => {
    const { pool, queries } = countingPool()
    const driver = driverOn(pool)
    const cache = new RustoCache({ prefix: prefix(), l1: false, l2: { kind: 'postgres', create: () => driver } })
    await cache.setMany({ items: Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: i })) })
    queries.length = 0
    const values = await cache.getMany({ keys: Array.from({ length: 50 }, (_, i) => `k${i}`) })
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(queries.filter((q) => q.startsWith('SELECT'))).toHaveLength(1)
    const { rows } = await pool.query<{ relname: string; relpersistence: string }>(
      "SELECT relname, relpersistence FROM pg_class WHERE relname IN ('rustocache_test', 'rustocache_test_tags', 'rustocache_test_locks') ORDER BY relname",
    )
    expect(rows).toEqual([
      { relname: 'rustocache_test', relpersistence: 'u' },
      { relname: 'rustocache_test_locks', relpersistence: 'u' },
      { relname: 'rustocache_test_tags', relpersistence: 'u' },
    ])
  })

  it('sends single reads of one tick as one query (concurrent getOrSet misses)', async () => {
    const { pool, queries } = countingPool()
    const driver = driverOn(pool)
    const cache = new RustoCache({ prefix: prefix(), l2: { kind: 'postgres', create: () => driver } })
    await cache.setMany({ items: Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: i })) })
    const reader = new RustoCache({ prefix: 'other-l1', l2: { kind: 'postgres', create: () => driver } })
    queries.length = 0
    // A second cache on the same driver: its L1 is empty, so every getOrSet reads L2.
    const values = await Promise.all(Array.from({ length: 30 }, (_, i) => reader.getOrSet({ key: `k${i}`, factory: () => -1 })))
    expect(values).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(queries.filter((q) => q.startsWith('SELECT'))).toHaveLength(1)
    expect((await driver.get('k3'))?.value).toBe(3)
  })

  it('in L2-only mode, callers waiting on a stampede read L2 together, not one after another', async () => {
    const { pool, queries } = countingPool()
    const driver = driverOn(pool)
    const cache = new RustoCache({ prefix: prefix(), l1: false, l2: { kind: 'postgres', create: () => driver } })
    let calls = 0
    const factory = async () => {
      calls++
      await sleep(30)
      return 'v'
    }
    await driver.get('warm-up') // the tables exist before the count starts
    queries.length = 0
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.getOrSet({ key: 'hot', factory })))
    expect(values).toEqual(Array(50).fill('v'))
    expect(calls).toBe(1)
    // The owner's read, its write, and one read for all 49 waiters (each used to take the key for its own).
    expect(queries.filter((q) => q.startsWith('SELECT')).length).toBeLessThanOrEqual(3)
  })

  it('prunes through cache.prune() (BentoCache\'s prune), with the interval off', async () => {
    const cache = new RustoCache({ prefix: prefix(), l2: postgresDriver({ connection: url, table: 'rustocache_cache_prune', pruneInterval: null }) })
    closers.push(() => cache.disconnect())
    await cache.set({ key: 'gone', value: 1, ttl: 10 })
    await cache.set({ key: 'kept', value: 2, ttl: '1h' })
    await sleep(60)
    expect(await cache.prune()).toBeGreaterThanOrEqual(1)
    expect(await cache.prune()).toBe(0)
    expect(await cache.get({ key: 'kept' })).toBe(2)
  })

  it('skips expired rows on read at once and prunes them in batches of pruneBatch', async () => {
    const { pool, queries } = countingPool()
    const driver = driverOn(pool, { pruneBatch: 1000, table: 'rustocache_prune' })
    // Rows of other tests' prefixes may be expiring too: count only ours after.
    await driver.prune()
    await driver.setMany(Array.from({ length: 2500 }, (_, i) => ({ key: `e${i}`, payload: driver.encode({ value: i, expiresAt: Date.now(), createdAt: Date.now(), tags: undefined }), ttlMs: 1 })))
    await driver.set('kept', driver.encode({ value: 'k', expiresAt: Infinity, createdAt: Date.now(), tags: undefined }), Infinity)
    await sleep(20)
    expect(await driver.get('e1')).toBeUndefined()
    queries.length = 0
    expect(await driver.prune()).toBeGreaterThanOrEqual(2500)
    const deletes = queries.filter((q) => q.includes('DELETE FROM "rustocache_prune" WHERE ctid'))
    expect(deletes.length).toBeGreaterThanOrEqual(3)
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM rustocache_prune')
    expect(Number(rows[0]!.n)).toBe(1)
    expect((await driver.get('kept'))?.value).toBe('k')
  })

  it('keeps NUL characters in keys and values that PostgreSQL text cannot hold', async () => {
    const { pool } = countingPool()
    const driver = driverOn(pool)
    const rawSerializer = { serialize: (v: unknown) => `\0${String(v)}\0\\`, deserialize: (t: string) => t }
    const raw = postgresDriver({ connection: pool, table: 'rustocache_test', serializer: rawSerializer, pruneInterval: null }).create({ prefix: prefix(), logger: silentLogger, rejected: () => undefined })
    closers.push(() => raw.disconnect())
    await driver.set('a\0b\\', driver.encode({ value: 'x\0y', expiresAt: Infinity, createdAt: 1, tags: ['t\0'] }), Infinity)
    expect(await driver.get('a\0b\\')).toEqual({ value: 'x\0y', expiresAt: Infinity, createdAt: 1, tags: ['t\0'] })
    expect(await driver.get('a\0b')).toBeUndefined()
    await raw.set('k', raw.encode({ value: 'v', expiresAt: Infinity, createdAt: 1, tags: undefined }), Infinity)
    expect((await raw.get('k'))?.value).toBe('\0v\0\\')
    await driver.clear('a\0')
    expect(await driver.get('a\0b\\')).toBeUndefined()
  })

  it('runs the factory once across two instances with lock: { distributed: true }', async () => {
    const p = prefix()
    const make = () => new RustoCache({ prefix: p, l2: postgresDriver({ connection: url, table: 'rustocache_test', pruneInterval: null }), lock: { distributed: true, ttl: '5s' } })
    const a = make()
    const b = make()
    closers.push(() => a.disconnect(), () => b.disconnect(), () => a.clear())
    let calls = 0
    const factory = async () => {
      calls++
      await sleep(150)
      return 'made once'
    }
    const values = await Promise.all([a.getOrSet({ key: 'k', factory }), b.getOrSet({ key: 'k', factory })])
    expect(values).toEqual(['made once', 'made once'])
    expect(calls).toBe(1)
  })

  it('answers from L1 with PostgreSQL gone mid-operation: failures counted, bounded, no unhandled rejection', async () => {
    const target = new URL(url)
    const proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port || 5432) })
    closers.push(() => proxy.close())
    const viaProxy = new URL(url)
    viaProxy.hostname = '127.0.0.1'
    viaProxy.port = String(proxy.port)
    const cache = new RustoCache({ prefix: prefix(), l2: postgresDriver({ connection: viaProxy.toString(), commandTimeout: 300, table: 'rustocache_test', pruneInterval: '50ms' }) })
    closers.push(() => cache.disconnect())
    await cache.set({ key: 'k', value: 'v' })
    proxy.cut()
    proxy.refuse(true)
    // A stalled server: commands must fail within commandTimeout, not hang.
    const started = Date.now()
    expect(await cache.get({ key: 'k' })).toBe('v')
    expect(await cache.getOrSet({ key: 'other', factory: () => 'made' })).toBe('made')
    await sleep(120) // a few prune ticks fail in the background, logged
    expect(Date.now() - started).toBeLessThan(3000)
    expect(cache.stats().l2Errors).toBeGreaterThan(0)
    proxy.refuse(false)
    await sleep(50)
    expect(await cache.set({ key: 'back', value: 1 })).toBe(true)
  })

  it('refuses bad options with a typed error', () => {
    const bad: unknown[] = [
      null,
      { connection: 5 },
      { connection: url, table: 'drop table x;' },
      { connection: url, commandTimeout: -1 },
      { connection: url, pruneBatch: 1.5 },
      { connection: url, pruneInterval: 0 },
      { connection: url, serializer: {} },
    ]
    for (const options of bad) {
      expect(() => postgresDriver(options as never), JSON.stringify(options)).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    }
    expect(() => postgresDriver({ connection: url, tagRetention: 'soon' })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_TTL }))
  })
})

describe('what PostgreSQL cannot hold, and errors that will not pass by retrying', () => {
  it('refuses a key or tag longer than its index can hold up front (E_INVALID_KEY / E_INVALID_OPTION), keeping what is cached', async () => {
    const { pool } = countingPool()
    const driver = driverOn(pool)
    const cache = new RustoCache({ prefix: prefix(), l2: { kind: 'postgres', create: () => driver } })
    closers.push(() => cache.disconnect())
    await cache.set({ key: 'price', value: 100 })
    const long = 'k'.repeat(4_000)
    await expect(cache.set({ key: long, value: 1 })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_KEY })
    await expect(cache.getOrSet({ key: long, factory: () => 1 })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_KEY })
    await expect(cache.set({ key: 'x', value: 1, tags: ['\u20ac'.repeat(1_000)] })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_OPTION })
    // The longest key it takes is stored and read back.
    const longest = 'k'.repeat(driver.maxKeyBytes)
    await cache.set({ key: longest, value: 'fits' })
    // Read by an instance with no L1 (the driver is the same table and prefix).
    expect(await new RustoCache({ l1: false, l2: { kind: 'postgres', create: () => driver } }).get({ key: longest })).toBe('fits')
    expect(await cache.get({ key: 'price' })).toBe(100)
    expect(cache.stats().l2Errors).toBe(0)
  })

  it('classes its errors: what the server refuses is permanent, a lost connection or a timeout is not', async () => {
    const { pool } = countingPool()
    const driver = driverOn(pool)
    // Past the index limit, as a driver used without the cache's check would send it.
    const refused = await driver.set('k'.repeat(8_000).replace(/k/g, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))), 'r1|x', 1000).catch((e: unknown) => e)
    expect((refused as { code?: string }).code).toBe('54000')
    expect(driver.isPermanent(refused)).toBe(true)
    expect(driver.isPermanent(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }))).toBe(false)
    expect(driver.isPermanent(Object.assign(new Error('connection terminated'), { code: '08006' }))).toBe(false)
    expect(driver.isPermanent(new Error('PostgreSQL command timed out'))).toBe(false)
  })

  it('the retry queue drops a change PostgreSQL refuses, so the changes behind it reach the other instances', async () => {
    const { memoryBus } = await import('../src/index.js')
    const { pool } = countingPool()
    const driver = driverOn(pool)
    // A driver whose set of one key fails as PostgreSQL refuses a row (54000), the others pass.
    const refusing: typeof driver = Object.create(driver, {
      setMany: {
        value: async (items: Array<{ key: string; payload: string; ttlMs: number }>) => {
          if (items.some((i) => i.key === 'bad')) throw Object.assign(new Error('index row size 4080 exceeds btree version 4 maximum 2704'), { code: '54000' })
          return driver.setMany(items)
        },
      },
      set: {
        value: async (key: string, payload: string, ttlMs: number) => {
          if (key === 'bad') throw Object.assign(new Error('index row size 4080 exceeds btree version 4 maximum 2704'), { code: '54000' })
          return driver.set(key, payload, ttlMs)
        },
      },
    })
    const p = prefix()
    const bus = memoryBus({ retryQueue: { retryInterval: 20 } })
    const a = new RustoCache({ prefix: p, l2: { kind: 'postgres', create: () => refusing }, bus })
    const b = new RustoCache({ prefix: p, l2: { kind: 'postgres', create: () => driver }, bus })
    closers.push(() => a.disconnect(), () => b.disconnect())
    await a.set({ key: 'price', value: 100 })
    expect(await b.get({ key: 'price' })).toBe(100)
    await a.set({ key: 'bad', value: 1 })
    await a.set({ key: 'price', value: 200 })
    for (let i = 0; i < 100 && (await b.get({ key: 'price' })) !== 200; i++) await sleep(10)
    expect(await b.get({ key: 'price' })).toBe(200)
    expect(a.stats().busDropped).toBe(1)
  })
})

describe('a statement past the command timeout', () => {
  it('is cancelled by the server (statement_timeout), so a write the cache gave up on never lands later', async () => {
    const p = prefix()
    const factory = postgresDriver({ connection: url, table: 'rustocache_test', commandTimeout: 300, pruneInterval: null })
    const driver = factory.create({ prefix: p, logger: silentLogger, rejected: () => undefined }) as PostgresDriver
    closers.push(async () => {
      await driver.clear('')
      await driver.disconnect()
    })
    const { rows } = await driver.pool.query<{ statement_timeout: string }>('SHOW statement_timeout')
    expect(rows[0]!.statement_timeout).toBe('300ms')
    // A statement that would run for 2 s is cancelled by the server at 300 ms (SQLSTATE 57014, transient).
    const error = await driver.pool.query('SELECT pg_sleep(2)').catch((e: unknown) => e)
    expect((error as { code?: string }).code).toBe('57014')
    expect(driver.isPermanent(error)).toBe(false)
  })
})
