// getOrSet: one factory call for any number of concurrent callers of a cold key.
import { RustoCache } from 'rustocache'

const cache = new RustoCache({ ttl: '10m' })
let calls = 0
const loadUser = async () => {
  calls++
  await new Promise((resolve) => setTimeout(resolve, 20)) // a slow database
  return { id: 1, name: 'Ada' }
}

const users = await Promise.all(Array.from({ length: 1000 }, () => cache.getOrSet({ key: 'user:1', factory: loadUser })))
console.log(`1000 callers, ${calls} factory call, got ${users[0].name}`)
console.log('cached:', await cache.get({ key: 'user:1' }), '| core:', cache.stats().core)
