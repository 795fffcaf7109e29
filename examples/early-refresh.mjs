// earlyExpiration: past half of the ttl, a hit answers at once and refreshes in the background.
import { RustoCache } from 'rustocache'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
// A 1 s ttl refreshed from 500 ms: the 600 ms wait below lands in that window even on a loaded machine.
const cache = new RustoCache({ ttl: 1_000, earlyExpiration: 0.5 })
let version = 0
const factory = async () => `config v${++version}`
console.log(await cache.getOrSet({ key: 'config', factory }))
await sleep(600)
console.log('hit past half the ttl:', await cache.getOrSet({ key: 'config', factory }))
await sleep(20)
console.log('refreshed meanwhile:', await cache.get({ key: 'config' }))
