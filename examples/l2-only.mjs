// L2-only mode: no L1, every read goes to Redis, so an instance sees another's write at once without a bus.
// Needs a Redis at REDIS_URL (default redis://127.0.0.1:6379).
import { RustoCache } from 'rustocache'
import { redisDriver } from 'rustocache/redis'

const connection = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `example-l2only-${process.pid}`
const [a, b] = [0, 1].map(() => new RustoCache({ prefix, l1: false, l2: redisDriver({ connection }) }))

await a.set({ key: 'config', value: { version: 1 } })
console.log('b reads:', await b.get({ key: 'config' }))
await a.set({ key: 'config', value: { version: 2 } })
console.log('b reads after a changed it, no bus:', await b.get({ key: 'config' }))
console.log('b stats:', JSON.stringify({ core: b.stats().core, l2Hits: b.stats().l2Hits }))
await a.clear()
await Promise.all([a.disconnect(), b.disconnect()])
