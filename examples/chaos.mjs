// Fault injection for your own tests: wrap the L2 driver and the bus, open a failure mid-run, heal it, and
// check what your code saw. Seeded, so a failing run can be replayed.
import { memoryBus, RustoCache } from 'rustocache'
import { chaosBus, chaosDriver } from 'rustocache/chaos'

// In your tests, wrap the real driver: chaosDriver(redisDriver({ connection }), { ... }). An in-memory L2 here
// (a plain Map behind the driver contract) keeps this example self-contained.
const store = new Map()
const mapDriver = {
  kind: 'map',
  create: () => ({
    get: async (key) => store.get(key),
    getMany: async (keys) => keys.map((key) => store.get(key)),
    encode: (entry) => entry,
    set: async (key, payload) => void store.set(key, payload),
    setMany: async (items) => items.forEach(({ key, payload }) => store.set(key, payload)),
    delete: async (key) => store.delete(key),
    deleteMany: async (keys) => keys.filter((key) => store.delete(key)).length,
    expire: async () => false,
    clear: async () => store.clear(),
    invalidateTags: async () => {},
    tagStamps: async (tags) => tags.map(() => ({ deleted: -Infinity, expired: -Infinity })),
    disconnect: async () => {},
  }),
}

const l2 = chaosDriver(mapDriver, { seed: 42, latency: 5, jitter: 20 })
const bus = chaosBus(memoryBus(), { seed: 42, dropRate: 0.1, duplicateRate: 0.05 })
const cache = new RustoCache({ l2, bus, l2Timeout: '200ms', l2CircuitBreakerDuration: '50ms' })

l2.set({ errorRate: 1 }) // L2 goes down: the cache keeps answering from the factory and L1
console.log('during the outage:', await cache.getOrSet({ key: 'user:1', factory: () => 'Ada' }), '| l2Errors:', cache.stats().l2Errors)

l2.set({ hangRate: 1, errorRate: 0 }) // L2 stops answering: every call is bounded by l2Timeout
await new Promise((resolve) => setTimeout(resolve, 60)) // past the circuit breaker, so L2 is called again
const started = Date.now()
await cache.getOrSet({ key: 'user:2', factory: () => 'Linus' })
console.log('a hung L2 cost at most l2Timeout:', Date.now() - started < 1_000)

l2.heal()
await new Promise((resolve) => setTimeout(resolve, 60)) // the circuit breaker closes
await cache.set({ key: 'user:3', value: 'Grace' })
console.log('healed, L2 has user:3:', store.has('user:3'), '| faults injected:', JSON.stringify(l2.stats()))
await cache.disconnect()
