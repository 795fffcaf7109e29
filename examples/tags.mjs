// Tags: deleteByTag removes every entry carrying a tag (grace cannot bring them back);
// expireByTag only marks them stale.
import { RustoCache } from 'rustocache'

const cache = new RustoCache({ grace: '1h' })
await cache.set({ key: 'user:1:profile', value: { name: 'Ada' }, tags: ['user:1'] })
await cache.set({ key: 'user:1:posts', value: ['hello'], tags: ['user:1'] })
await cache.set({ key: 'user:2:profile', value: { name: 'Linus' }, tags: ['user:2'] })

await cache.expireByTag({ tags: ['user:2'] })
console.log('expired, still served within grace:', await cache.get({ key: 'user:2:profile' }))

await cache.deleteByTag({ tags: ['user:1'] })
console.log('deleted:', await cache.getMany({ keys: ['user:1:profile', 'user:1:posts'] }))
