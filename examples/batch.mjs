// getMany / setMany: one crossing into the WASM core for the whole batch (keys hashed with v128 SIMD).
import { RustoCache } from 'rustocache'

const cache = new RustoCache()
await cache.setMany({ items: Array.from({ length: 64 }, (_, i) => ({ key: `item:${i}`, value: i * i, ttl: '5m' })) })
const values = await cache.getMany({ keys: ['item:3', 'item:missing', 'item:8'] })
console.log(values)
