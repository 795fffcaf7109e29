// PostgreSQL as the L2: for teams that run a database and no Redis. Needs a PostgreSQL at DATABASE_URL
// (default postgres://postgres@127.0.0.1:5432/postgres).
import { RustoCache } from 'rustocache'
import { postgresDriver } from 'rustocache/postgres'

const connection = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const prefix = `example-pg-${process.pid}`
const make = () => new RustoCache({ prefix, ttl: '10m', l2: postgresDriver({ connection, table: 'rustocache_example' }) })
const [a, b] = [make(), make()]
try {
  // Optional: every call connects as it goes. Here, a missing server is said at once, by name.
  await a.connect()
} catch (error) {
  console.error(`${error.code}: ${error.message}`) // E_L2_UNREACHABLE: cannot reach PostgreSQL at 127.0.0.1:5432/postgres (...)
  await Promise.all([a.disconnect(), b.disconnect()])
  process.exit(1)
}

await a.set({ key: 'user:1', value: { name: 'Ada' }, tags: ['users'] })
console.log('b reads from PostgreSQL:', await b.get({ key: 'user:1' }), '| l2Hits:', b.stats().l2Hits)
console.log('getMany, one query:', await b.getMany({ keys: ['user:1', 'user:2'] }))
await a.deleteByTag({ tags: ['users'] })
// b still has its L1 copy (no bus here); a fresh instance reads L2, where the tag invalidation is recorded.
const c = make()
console.log('a fresh instance after deleteByTag:', await c.get({ key: 'user:1' }))
await a.clear()
await Promise.all([a.disconnect(), b.disconnect(), c.disconnect()])
