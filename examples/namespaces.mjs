// Namespaces: the same API with prefixed keys; clear() on a namespace clears only its keys.
import { RustoCache } from 'rustocache'

const cache = new RustoCache()
const users = cache.namespace('users')
const admins = users.namespace('admins')
await cache.set({ key: 'settings', value: 'global' })
await users.set({ key: '1', value: 'Ada' })
await admins.set({ key: '1', value: 'Grace' })

console.log('users:1 from the root:', await cache.get({ key: 'users:1' }))
await users.clear()
console.log('after users.clear():', await users.get({ key: '1' }), await admins.get({ key: '1' }), await cache.get({ key: 'settings' }))
