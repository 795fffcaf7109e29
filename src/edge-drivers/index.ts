// rustocache/edge-drivers: L2 drivers that need only fetch or a platform binding, for Workers, Vercel Edge,
// Deno and browsers. Nothing here imports Node.
export { httpRedisDriver, HttpRedisError, type HttpRedisDriverOptions } from './http-redis-driver.js'
export { EDGE_L1_TTL } from './edge-l1.js'
export { kvDriver, KV_LIMITS, type KvDriverOptions, type KvNamespaceLike } from './kv-driver.js'
