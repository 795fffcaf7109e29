// rustocache/browser: the tiers built on the web platform's own parts. Nothing here imports Node.
export { broadcastBus, type BroadcastBusOptions } from './broadcast-bus.js'
export { indexedDbDriver, type IndexedDbDriverOptions } from './indexeddb-driver.js'
