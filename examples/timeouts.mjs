// Soft timeout: answer stale after 20 ms and let the factory finish in the background.
// Hard timeout: give up with E_FACTORY_HARD_TIMEOUT; the late value is still cached.
import { RustoCache } from 'rustocache'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const cache = new RustoCache({ ttl: 50, grace: '1h' })
await cache.set({ key: 'report', value: 'yesterday' })
await sleep(60)
const slow = () => sleep(100).then(() => 'today')
console.log('soft timeout answer:', await cache.getOrSet({ key: 'report', factory: slow, timeout: '20ms' }))
await sleep(100)
console.log('after the background run:', await cache.get({ key: 'report' }))

try {
  await cache.getOrSet({ key: 'cold', factory: slow, hardTimeout: '20ms' })
} catch (error) {
  console.log('hard timeout:', error.code)
}
await sleep(100)
console.log('late value cached:', await cache.get({ key: 'cold' }))
