// Grace: when the source fails, keep serving the last good value, and back off before asking again.
import { RustoCache } from 'rustocache'

const cache = new RustoCache({ ttl: 50, grace: '1h', graceBackoff: '30s', timeout: null })
await cache.set({ key: 'price', value: 42 })
await new Promise((resolve) => setTimeout(resolve, 60)) // now stale

let calls = 0
const broken = () => {
  calls++
  throw new Error('pricing service down')
}
console.log('answer while the source is down:', await cache.getOrSet({ key: 'price', factory: broken }))
console.log('again (backing off, no factory call):', await cache.getOrSet({ key: 'price', factory: broken }), `| factory calls: ${calls}`)
console.log('get with grace: false:', await cache.get({ key: 'price', grace: false }))
console.log('graced hits:', cache.stats().gracedHits)
