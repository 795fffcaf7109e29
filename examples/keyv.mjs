// rustocache/keyv, both ways. Needs a PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)
// for the first half; keyv, @keyv/postgres and cache-manager come from your own dependencies.
import KeyvPostgres from '@keyv/postgres'
import { createCache } from 'cache-manager'
import Keyv from 'keyv'
import { RustoCache } from 'rustocache'
import { KeyvRustoCache, keyvDriver } from 'rustocache/keyv'

// 1. Any Keyv store as RustoCache's L2: here @keyv/postgres, a well-kept adapter instead of a driver of ours.
const uri = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const keyv = new Keyv({ store: new KeyvPostgres({ uri, table: 'rustocache_keyv_example' }) })
const prefix = `example-keyv-${process.pid}`
const a = new RustoCache({ prefix, l2: keyvDriver(keyv) })
const b = new RustoCache({ prefix, l2: keyvDriver(keyv) })
await a.set({ key: 'user:1', value: { name: 'Ada' }, tags: ['users'] })
console.log('b reads through Keyv:', await b.get({ key: 'user:1' }), '| l2Hits:', b.stats().l2Hits)
await a.clear()
await Promise.all([a.disconnect(), b.disconnect()])
await keyv.disconnect()

// 2. RustoCache as a Keyv store, under cache-manager 7: its WASM L1 (W-TinyLFU) behind cache-manager's API.
const store = new KeyvRustoCache({ l1: { maxItems: 10_000 } })
const cache = createCache({ stores: [new Keyv({ store })] })
let calls = 0
const load = () => cache.wrap('config', async () => (calls++, { theme: 'dark' }), 60_000)
console.log('cache-manager wrap:', await load(), await load(), '| factory calls:', calls, '| core:', store.cache.stats().core)
await store.disconnect()
