// Named stores, as BentoCache configures them (`stores: { memory, redis }`, `default`, `use('redis')`): a
// RustoCache per store, sharing what is given beside `stores` (logger, ttl, grace...). The result is the default
// store itself, with `use(name)` for the others and a disconnect() that closes them all.
import { InvalidOptionError, shown } from '../errors.js'
import { refuseUnknown } from '../known-options.js'
import { CACHE_OPTIONS, type RustoCacheOptions } from './options.js'
import { RustoCache } from './rusto-cache.js'

/** One store: its tiers and anything of RustoCacheOptions it sets apart from the shared options. */
export type StoreOptions = RustoCacheOptions

/** Options of caches(): the stores by name, the default one, and the options every store shares. */
export interface CachesOptions<S extends Record<string, StoreOptions>> extends Omit<RustoCacheOptions, 'l1' | 'l2' | 'bus'> {
  /** The stores by name; each store's prefix is `<prefix>:<name>` unless it gives its own. */
  stores: S
  /** The store the returned cache is (and `use()` without a name returns). */
  default: NoInfer<keyof S & string>
}

/** The default store, with the others by name. */
export type Caches<N extends string> = RustoCache & {
  /** The store of that name (the default without one); E_INVALID_OPTION for a name not configured. */
  use(name?: N): RustoCache
  /** Disconnects every store. */
  disconnect(): Promise<void>
}

/**
 * Several caches from one configuration, as BentoCache's `stores`:
 * `const cache = caches({ default: 'memory', logger, stores: { memory: {}, redis: { l2, bus } } })`, then
 * `cache.getOrSet(...)` on the default store and `cache.use('redis').getOrSet(...)` on another.
 */
export function caches<S extends Record<string, StoreOptions>>(options: CachesOptions<S>): Caches<keyof S & string> {
  type N = keyof S & string
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('caches needs { default, stores }')
  const { stores, default: fallback, ...shared } = options
  refuseUnknown(shared, CACHE_OPTIONS.filter((o) => o !== 'l1' && o !== 'l2' && o !== 'bus'), 'caches (options shared by every store)')
  if (typeof stores !== 'object' || stores === null || Object.keys(stores).length === 0) throw new InvalidOptionError('caches needs stores: { name: { l1?, l2?, bus?, ... } }')
  const names = Object.keys(stores) as N[]
  if (!names.includes(fallback)) throw new InvalidOptionError(`caches: default ${shown(fallback)} is not one of the stores (${names.join(', ')})`)
  const base = shared.prefix ?? 'rustocache'
  const made = new Map<N, RustoCache>()
  try {
    for (const name of names) made.set(name, new RustoCache({ ...shared, prefix: `${base}:${name}`, ...stores[name] }))
  } catch (error) {
    // A store that cannot be made: the ones made before it let go of what they opened.
    for (const cache of made.values()) void cache.disconnect().catch(() => undefined)
    throw error
  }
  const use = (name: N = fallback): RustoCache => {
    const cache = made.get(name)
    if (!cache) throw new InvalidOptionError(`unknown store ${shown(name)}: one of ${names.join(', ')}`)
    return cache
  }
  // The default store's own methods, on a view of it (as namespace() makes one), plus use() and disconnect().
  const view = Object.create(made.get(fallback)!) as Caches<N>
  Object.defineProperty(view, 'use', { value: use })
  Object.defineProperty(view, 'disconnect', { value: async () => void (await Promise.all([...made.values()].map((c) => c.disconnect()))) })
  return view
}
