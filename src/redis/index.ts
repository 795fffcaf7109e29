// rustocache/redis: the Node-only parts (ioredis). The core entry, 'rustocache', imports none of this.
export { redisDriver, RedisDriver, type RedisConnection, type RedisDriverOptions } from './driver.js'
export { jsonSerializer, type L2Driver, type L2DriverFactory, type L2Entry, type Serializer } from '../l2/types.js'
export { redisBus, type RedisBusOptions } from './bus.js'
export type { BusFactory, RetryQueueOptions } from '../bus/types.js'
