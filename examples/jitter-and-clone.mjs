// TTL jitter (entries written together expire apart) and L1 value isolation (l1.clone).
import { RustoCache } from 'rustocache'

// jitter: each entry lives ttl plus a random extra of up to 100% of it (400 to 800 ms here).
const spread = new RustoCache({ ttl: 400, jitter: '100%' })
await spread.setMany({ items: Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: i })) })
await new Promise((resolve) => setTimeout(resolve, 600))
const alive = (await spread.getMany({ keys: Array.from({ length: 100 }, (_, i) => `k${i}`) })).filter((v) => v !== undefined).length
console.log(`at 600 ms, between ttl and ttl + jitter: ${alive > 0 && alive < 100 ? 'some' : 'all or none'} of 100 still fresh`)

// Without clone, L1 hands out the object it keeps: mutating it mutates the cache.
const shared = new RustoCache()
await shared.set({ key: 'user', value: { name: 'Ada' } })
;(await shared.get({ key: 'user' })).name = 'changed by a caller'
console.log('without clone:', (await shared.get({ key: 'user' })).name)

// With clone, every caller gets its own copy.
const isolated = new RustoCache({ l1: { clone: true } })
await isolated.set({ key: 'user', value: { name: 'Ada' } })
;(await isolated.get({ key: 'user' })).name = 'changed by a caller'
console.log('with clone:', (await isolated.get({ key: 'user' })).name)
try {
  await isolated.set({ key: 'fn', value: { run: () => 1 } })
} catch (error) {
  console.log('refused:', error.code)
}
