// earlyExpiration: past 80% of the ttl, a hit answers at once and refreshes in the background.
import { RustoCache } from 'rustocache'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const cache = new RustoCache({ ttl: 100, earlyExpiration: 0.8 })
let version = 0
const factory = async () => `config v${++version}`
console.log(await cache.getOrSet({ key: 'config', factory }))
await sleep(85)
console.log('hit past 80%:', await cache.getOrSet({ key: 'config', factory }))
await sleep(5)
console.log('refreshed meanwhile:', await cache.get({ key: 'config' }))
