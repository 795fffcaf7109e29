// Events, stats and a pino-compatible logger (here a tiny console one).
import { RustoCache } from 'rustocache'

const logger = {
  ...Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level) => [level, (fields, msg) => {
    if (level === 'warn' || level === 'error') console.log(`[${level}] ${msg}`, JSON.stringify({ key: fields.key, op: fields.op }))
  }])),
  child() {
    return this
  },
}
const cache = new RustoCache({ logger, ttl: 20, grace: '1m', timeout: null })
cache.on('cache:miss', ({ key }) => console.log('miss', key))
cache.on('cache:hit', ({ key, graced }) => console.log('hit', key, graced ? '(graced)' : ''))
cache.on('cache:written', ({ key }) => console.log('written', key))

await cache.getOrSet({ key: 'a', factory: () => 1 })
await cache.getOrSet({ key: 'a', factory: () => 1 })
await new Promise((resolve) => setTimeout(resolve, 30))
await cache.getOrSet({ key: 'a', factory: () => Promise.reject(new Error('db timeout')) })
console.log(cache.stats())
