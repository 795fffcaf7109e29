// rustocache/postgres: an L2 on PostgreSQL through pg (a peer dependency). Node-only; the core entry imports none of it.
export { postgresDriver, PostgresDriver, type PostgresConnection, type PostgresDriverOptions } from './driver.js'
export { jsonSerializer, type L2Driver, type L2DriverFactory, type L2Entry, type Serializer } from '../l2/types.js'
