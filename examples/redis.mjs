// Two instances on one Redis: L2 shared, the bus keeps each L1 coherent. Needs a Redis at REDIS_URL
// (default redis://127.0.0.1:6379).
import { RustoCache } from 'rustocache'
import { redisBus, redisDriver } from 'rustocache/redis'
import superjson from 'superjson'

const connection = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
// superjson keeps Dates, Maps, Sets and BigInts through Redis, and writes strings you can still read in redis-cli.
const serializer = { serialize: (value) => superjson.stringify(value), deserialize: (text) => superjson.parse(text) }
const make = () =>
  new RustoCache({
    prefix: `example-${process.pid}`,
    ttl: '10m',
    grace: '1h',
    l2: redisDriver({ connection, serializer }),
    bus: redisBus({ connection, retryQueue: { retryInterval: '1s', maxSize: 1000 } }),
    lock: { distributed: true, ttl: '10s' },
  })
const [a, b] = [make(), make()]
try {
  // Optional: every call connects as it goes. Here, a missing Redis is said at once, by name.
  await a.connect()
} catch (error) {
  console.error(`${error.code}: ${error.message}`) // E_L2_UNREACHABLE: cannot reach Redis at 127.0.0.1:6379 (...)
  await Promise.all([a.disconnect(), b.disconnect()])
  process.exit(1)
}
await new Promise((resolve) => setTimeout(resolve, 100)) // let the subscriptions settle

await a.getOrSet({ key: 'user:1', factory: () => ({ name: 'Ada', since: new Date(Date.UTC(1843, 0, 1)) }) })
const user = await b.get({ key: 'user:1' }) // from L2, now in b's L1 too
console.log('b read from L2:', user.name, user.since instanceof Date)

await a.set({ key: 'user:1', value: { name: 'Ada Lovelace', since: new Date(Date.UTC(1843, 0, 1)) } })
await new Promise((resolve) => setTimeout(resolve, 50)) // the bus message arrives
console.log('b after a changed it:', (await b.get({ key: 'user:1' })).name)
console.log('b stats:', JSON.stringify({ l2Hits: b.stats().l2Hits, busReceived: b.stats().busReceived }))
await a.clear()
await Promise.all([a.disconnect(), b.disconnect()])
