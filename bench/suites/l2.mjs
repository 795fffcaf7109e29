// The L2 tier: RustoCache on Redis vs BentoCache 1.6 vs raw ioredis (the floor), against the same Redis, with L1
// missing (a 16-entry L1 over 10,000 keys) and L2 holding every key; and RustoCache on PostgreSQL (its
// postgresDriver, same L1) when one answers at DATABASE_URL or 127.0.0.1:5432.
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver as bentoRedis } from 'bentocache/drivers/redis'
import { Redis } from 'ioredis'
import { RustoCache } from '../../dist/index.js'
import { redisDriver } from '../../dist/redis.js'
import { postgresDriver } from '../../dist/postgres.js'
import pg from 'pg'
import { keys as makeKeys, uniformIndices } from '../lib/workload.mjs'

const N = 10_000
const CONCURRENT = 3_000
const value = { id: 1, name: 'Ada Lovelace', roles: ['admin', 'author'], active: true }

export const baseline = 'raw ioredis'

/** Resolves the Redis URL to use, or undefined when none answers (the L2 rows are then skipped). */
export async function reachable() {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 })
  try {
    await probe.connect()
    await probe.ping()
    return url
  } catch {
    return undefined
  } finally {
    probe.disconnect()
  }
}

/** The PostgreSQL URL to use, or undefined when none answers (the PostgreSQL column is then left out). */
export async function reachablePostgres() {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return url
  } catch {
    return undefined
  } finally {
    await client.end().catch(() => undefined)
  }
}

export const POSTGRES = 'RustoCache (postgres)'

export async function scenarios(url, { concurrentIterations = 10 } = {}) {
  const run = `bench${process.pid}`
  const keys = makeKeys(N, 'l2:')
  const idx = uniformIndices(N, 1 << 16)
  const closers = []
  const { hostname, port } = new URL(url)
  const connection = { host: hostname, port: Number(port || 6379) }

  const rusto = new RustoCache({ prefix: `${run}:rusto`, ttl: '1h', l1: { maxItems: 16, policy: 'lru' }, l2: redisDriver({ connection: url }) })
  const bento = new BentoCache({
    default: 'c',
    ttl: '1h',
    prefix: `${run}:bento`,
    // serialize: false would break BentoCache's L1 refill from L2 (its issue #111), so its default here
    stores: { c: bentostore().useL1Layer(memoryDriver({ maxItems: 16 })).useL2Layer(bentoRedis({ connection })) },
  })
  const raw = new Redis(url)
  closers.push(() => rusto.disconnect(), () => bento.disconnect(), () => raw.quit())
  const databaseUrl = await reachablePostgres()
  const onPostgres = databaseUrl
    ? new RustoCache({ prefix: `${run}:rusto`, ttl: '1h', l1: { maxItems: 16, policy: 'lru' }, l2: postgresDriver({ connection: databaseUrl, table: 'rustocache_bench', pruneInterval: null }) })
    : undefined
  if (onPostgres) closers.push(async () => {
    await onPostgres.clear()
    await onPostgres.disconnect()
  })

  const contenders = {
    'RustoCache (wasm)': {
      getOrSet: (key) => rusto.getOrSet({ key, factory: () => value }),
      getOrSetTagged: (key, tag) => rusto.getOrSet({ key, factory: () => value, tags: [tag] }),
      setTagged: (key, v, tag) => rusto.set({ key, value: v, tags: [tag] }),
      get: (key) => rusto.get({ key }),
      set: (key, v) => rusto.set({ key, value: v }),
      getMany: (ks) => rusto.getMany({ keys: ks }),
    },
    ...(onPostgres
      ? {
          [POSTGRES]: {
            getOrSet: (key) => onPostgres.getOrSet({ key, factory: () => value }),
            getOrSetTagged: (key, tag) => onPostgres.getOrSet({ key, factory: () => value, tags: [tag] }),
            setTagged: (key, v, tag) => onPostgres.set({ key, value: v, tags: [tag] }),
            get: (key) => onPostgres.get({ key }),
            set: (key, v) => onPostgres.set({ key, value: v }),
            getMany: (ks) => onPostgres.getMany({ keys: ks }),
          },
        }
      : {}),
    BentoCache: {
      getOrSet: (key) => bento.getOrSet({ key, factory: () => value }),
      getOrSetTagged: (key, tag) => bento.getOrSet({ key, factory: () => value, tags: [tag] }),
      setTagged: (key, v, tag) => bento.set({ key, value: v, tags: [tag] }),
      get: (key) => bento.get({ key }),
      set: (key, v) => bento.set({ key, value: v }),
      getMany: (ks) => Promise.all(ks.map((key) => bento.get({ key }))),
    },
    [baseline]: {
      getOrSet: async (key) => {
        const text = await raw.get(`${run}:raw:${key}`)
        if (text !== null) return JSON.parse(text)
        await raw.set(`${run}:raw:${key}`, JSON.stringify(value), 'PX', 3_600_000)
        return value
      },
      // A tagged entry: its GET, then the HMGETs of its tag's stamps (the two hashes RustoCache keeps), as it reads them.
      getOrSetTagged: async (key, tag) => {
        const text = await raw.get(`${run}:raw:${key}`)
        if (text === null) throw new Error(`raw: ${key} is missing`)
        await Promise.all([raw.hmget(`${run}:raw#tags:deleted`, tag), raw.hmget(`${run}:raw#tags:expired`, tag)])
        return JSON.parse(text)
      },
      setTagged: (key, v) => raw.set(`${run}:raw:${key}`, JSON.stringify(v), 'PX', 3_600_000),
      get: async (key) => {
        const text = await raw.get(`${run}:raw:${key}`)
        return text === null ? undefined : JSON.parse(text)
      },
      set: (key, v) => raw.set(`${run}:raw:${key}`, JSON.stringify(v), 'PX', 3_600_000),
      getMany: async (ks) => (await raw.mget(ks.map((k) => `${run}:raw:${k}`))).map((t) => (t === null ? undefined : JSON.parse(t))),
    },
  }
  const tagged = makeKeys(N, 'l2t:')
  const tagOf = (i) => `team:${i % 100}`
  for (const c of Object.values(contenders)) {
    for (const k of keys) await c.set(k, value)
    for (let i = 0; i < N; i++) await c.setTagged(tagged[i], value, tagOf(i))
  }

  const each = (make) => Object.fromEntries(Object.entries(contenders).map(([name, c]) => [name, () => make(c)]))
  let p = 0
  const next = () => keys[idx[p++ & 0xffff]]
  let q = 0
  const nextTagged = (c) => {
    const i = idx[q++ & 0xffff]
    return c.getOrSetTagged(tagged[i], tagOf(i))
  }
  const batches = Array.from({ length: 256 }, (_, b) => Array.from({ length: 100 }, (_, j) => keys[(b * 100 + j * 37) % N]))
  let b = 0

  return {
    closers,
    columns: Object.keys(contenders),
    list: [
      { name: 'getOrSet, one await at a time', opsPerCall: 16, iterations: 16, contenders: each((c) => async () => { for (let i = 0; i < 16; i++) await c.getOrSet(next()) }) },
      { name: 'getOrSet of a tagged entry, one await at a time', opsPerCall: 16, iterations: 16, contenders: each((c) => async () => { for (let i = 0; i < 16; i++) await nextTagged(c) }) },
      {
        name: `getOrSet, ${CONCURRENT.toLocaleString('en')} concurrent callers, distinct keys`,
        opsPerCall: CONCURRENT,
        iterations: concurrentIterations,
        contenders: each((c) => () => Promise.all(Array.from({ length: CONCURRENT }, (_, i) => c.getOrSet(keys[(p++ + i * 3) % N])))),
      },
      { name: 'tiered get (L1 miss, L2 hit)', opsPerCall: 16, iterations: 16, contenders: each((c) => async () => { for (let i = 0; i < 16; i++) await c.get(next()) }) },
      { name: 'set (L1 + L2)', opsPerCall: 16, iterations: 16, contenders: each((c) => async () => { for (let i = 0; i < 16; i++) await c.set(next(), value) }) },
      { name: 'getMany of 100 keys (per key)', opsPerCall: 100, contenders: each((c) => () => c.getMany(batches[b++ & 255])) },
    ],
  }
}
