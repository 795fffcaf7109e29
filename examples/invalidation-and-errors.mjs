// An invalidation wins over work in flight, and bad input is a typed error that loses nothing.
import { ErrorCodes, RustoCache, RustoCacheError } from 'rustocache'

const cache = new RustoCache()

// A factory is still loading the old price when the price changes and the key is deleted.
let finish
const loading = cache.getOrSet({ key: 'price:1', factory: () => new Promise((resolve) => (finish = resolve)) })
await cache.delete({ key: 'price:1' })
finish(100)
console.log('the caller that started it gets:', await loading) // 100: it asked before the delete
console.log('but the cache did not keep it:', await cache.get({ key: 'price:1' }), '| discarded:', cache.stats().discarded)

// Every bad argument is a RustoCacheError with a code; what was cached stays.
await cache.set({ key: 'kept', value: 'safe' })
for (const bad of [() => cache.set({ key: '', value: 1 }), () => cache.set({ key: 'kept', value: undefined }), () => cache.get({ key: 'kept', grace: 'soon' })]) {
  try {
    await bad()
  } catch (error) {
    console.log('refused:', error instanceof RustoCacheError, error.code)
  }
}
console.log('still there:', await cache.get({ key: 'kept' }), '| codes are exported:', ErrorCodes.E_INVALID_KEY)
