// The factory context: skip caching, fail on purpose, change how the value is stored, see the stale value.
import { RustoCache } from 'rustocache'

const errors = []
// traceKeys: true puts keys in errors (error.key) and logs; off by default, since keys often carry user ids.
const cache = new RustoCache({ ttl: 50, grace: '1h', timeout: null, traceKeys: true, onFactoryError: (error) => errors.push(`${error.code} ${error.key} background=${error.isBackgroundFactory}`) })

// skip(): nothing is cached, getOrSet resolves to undefined
console.log('skipped:', await cache.getOrSet({ key: 'maybe', factory: (ctx) => ctx.skip() }), await cache.has({ key: 'maybe' }))

// setOptions(): this value lives 1 hour and carries a tag, whatever the call said
await cache.getOrSet({ key: 'rates', factory: (ctx) => (ctx.setOptions({ ttl: '1h', tags: ['fx'] }), { eur: 1.08 }) })

// gracedEntry and fail(): a factory may look at the stale value and decide to keep it
await cache.set({ key: 'feed', value: ['old post'] })
await new Promise((resolve) => setTimeout(resolve, 60))
const feed = await cache.getOrSet({
  key: 'feed',
  factory: (ctx) => ctx.fail(`upstream empty; stale had ${ctx.gracedEntry?.value.length} post(s)`),
})
console.log('kept the stale feed:', feed, '| onFactoryError saw:', errors)

// forceFresh: run the factory even though a fresh value is cached
console.log('forced:', await cache.getOrSet({ key: 'rates', factory: () => ({ eur: 1.09 }), forceFresh: true }))
