// rustocache/keyv: both directions between RustoCache and Keyv 5 (what cache-manager 7, cacheable and the
// @keyv/* adapters use). keyvDriver(keyv): any Keyv store as RustoCache's L2, so SQLite, MySQL, MongoDB, etc.
// come from well-kept adapters. KeyvRustoCache: RustoCache (its WASM L1, W-TinyLFU) as a Keyv store, so code on
// cache-manager or Keyv keeps its API. Neither imports keyv: the driver takes your Keyv instance, and the store
// is the shape Keyv asks of one.
import { RustoCache } from '../cache/rusto-cache.js'
import type { RustoCacheOptions } from '../cache/options.js'
import { InvalidOptionError, shown } from '../errors.js'
import { refuseUnknown } from '../known-options.js'
import { CoalescedReads } from '../l2/coalesce.js'
import { escapeText } from '../l2/escape.js'
import { encodeEntry, nextTagRecord, readStored, readTagRecord, restamp } from '../l2/envelope.js'
import { jsonSerializer, type L2Driver, type L2DriverContext, type L2DriverFactory, type L2Entry, type Serializer } from '../l2/types.js'
import { toMs, type Duration } from '../ttl.js'
import { lastPerKey } from '../l2/batch.js'

/** The parts of a Keyv 5 instance the driver uses. */
export interface KeyvLike {
  /** The value, or undefined. */
  get(key: string): Promise<unknown>
  /** The values in key order, undefined for a miss. */
  getMany(keys: string[]): Promise<unknown[]>
  /** The value with its expiry (ms since the epoch), as Keyv stores it. */
  getRaw(key: string): Promise<{ value?: unknown; expires?: number | null } | undefined>
  /** Stores a value for `ttl` ms (none: for ever); false when the store refused it. */
  set(key: string, value: unknown, ttl?: number): Promise<unknown>
  /** Deletes a key; true when it was there. */
  delete(key: string): Promise<boolean>
  /** Deletes many keys; true when any was there. */
  deleteMany(keys: string[]): Promise<boolean>
  /** Deletes every key of the namespace. */
  clear(): Promise<void>
  /** Every key and value of the namespace, where the store can list them. */
  iterator?: ((namespace?: string) => AsyncGenerator<unknown[], void>) | undefined
  namespace?: string | undefined
  /** Closes the store's connection. */
  disconnect?(): Promise<void>
}

/** Options of keyvDriver(): the serializer, tag retention, and whether the cache closes your Keyv. */
export interface KeyvDriverOptions {
  /** How entries are written as text inside Keyv's own value. @default JSON */
  serializer?: Serializer
  /** How long a tag invalidation is kept. @default '7d' */
  tagRetention?: Duration
  /** Disconnect the Keyv instance when the cache disconnects. @default false (it is yours) */
  disconnect?: boolean
}

class KeyvDriver implements L2Driver {
  /** Keyv cannot write conditionally: a write the cache gave up on may still land (the retry queue re-applies). */
  readonly lateWrites = 'may-land'
  readonly target: string

  constructor(
    private readonly keyv: KeyvLike,
    private readonly prefix: string,
    private readonly rejected: L2DriverContext['rejected'],
    private readonly serializer: Serializer,
    readonly tagRetentionMs: number,
    private readonly owned: boolean,
  ) {
    this.target = `Keyv (namespace ${JSON.stringify(keyv.namespace ?? '')})`
  }

  // Keys escaped (backslash, NUL) so that any key survives stores on SQL text, which refuses NUL.
  private key(key: string): string {
    return `${this.prefix}:${escapeText(key)}`
  }

  private tagKey(tag: string): string {
    return `${this.prefix}#tag:${escapeText(tag)}`
  }

  /** Keyv answers false for a write its store refused (and emits 'error'): here it is a failed command. */
  private async put(key: string, value: string, ttlMs: number | undefined): Promise<void> {
    if ((await this.keyv.set(key, value, ttlMs)) === false) throw new Error(`${this.target} refused the write of a key (its store emitted 'error')`)
  }

  encode(entry: L2Entry): string {
    return encodeEntry(entry, this.serializer)
  }

  private decode(key: string, stored: unknown): L2Entry | undefined {
    if (stored === undefined || stored === null) return undefined
    if (typeof stored !== 'string') {
      this.rejected(key, `not text (${typeof stored})`)
      return undefined
    }
    return readStored(key, stored, undefined, this.serializer, this.rejected)
  }

  get(key: string): Promise<L2Entry | undefined> {
    return this.reads.get(key)
  }

  private readonly reads = new CoalescedReads(async (key) => this.decode(key, await this.keyv.get(this.key(key))), (keys) => this.getMany(keys))

  /** The values in key order, undefined for a miss. */
  async getMany(keys: readonly string[]): Promise<(L2Entry | undefined)[]> {
    if (keys.length === 0) return []
    const found = await this.keyv.getMany(keys.map((k) => this.key(k)))
    return keys.map((key, i) => this.decode(key, found[i]))
  }

  /** Stores an encoded entry for `ttlMs` (Infinity: no expiry). */
  async set(key: string, payload: string, ttlMs: number): Promise<void> {
    await this.put(this.key(key), payload, ttlMs === Infinity ? undefined : Math.max(1, Math.ceil(ttlMs)))
  }

  async setMany(items: ReadonlyArray<{ key: string; payload: string; ttlMs: number }>): Promise<void> {
    await Promise.all(lastPerKey(items).map((item) => this.set(item.key, item.payload, item.ttlMs)))
  }

  /** Deletes a key; true when it was there. */
  async delete(key: string): Promise<boolean> {
    return (await this.deleteMany([key])) > 0
  }

  /** Keyv's deleteMany says only whether any went: the keys are read first to count the live ones. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    const unique = [...new Set(keys)]
    const found = await this.keyv.getMany(unique.map((k) => this.key(k)))
    await this.keyv.deleteMany(unique.map((k) => this.key(k)))
    return found.filter((v) => v !== undefined && v !== null).length
  }

  async expire(key: string, now: number): Promise<boolean> {
    const raw = await this.keyv.getRaw(this.key(key))
    if (raw === undefined || typeof raw.value !== 'string') return false
    const rewritten = restamp(raw.value, now)
    if (rewritten === undefined) return false
    if (rewritten === 'stale') return true
    // Keeps its physical expiry: what is left of it.
    const left = typeof raw.expires === 'number' ? raw.expires - Date.now() : undefined
    if (left !== undefined && left <= 0) return false
    await this.put(this.key(key), rewritten, left === undefined ? undefined : Math.max(1, left))
    return true
  }

  /** Deletes the keys under `path` by walking Keyv's iterator (the store must offer one). */
  async clear(path: string): Promise<void> {
    const iterator = this.keyv.iterator
    if (typeof iterator !== 'function') {
      throw new Error(`this Keyv store cannot list its keys (no iterator): clear() of a RustoCache on it needs one`)
    }
    const starts = path === '' ? [`${this.prefix}:`, `${this.prefix}#tag:`] : [`${this.prefix}:${escapeText(path)}`]
    const doomed: string[] = []
    for await (const pair of iterator.call(this.keyv)) {
      const name = String(pair[0])
      // Keyv gives keys without its namespace; some stores give them with it.
      const bare = this.keyv.namespace && name.startsWith(`${this.keyv.namespace}:`) ? name.slice(this.keyv.namespace.length + 1) : name
      if (starts.some((s) => bare.startsWith(s))) doomed.push(bare)
    }
    if (doomed.length > 0) await this.keyv.deleteMany(doomed)
  }

  async invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp: number): Promise<void> {
    if (tags.length === 0) return
    const current = await this.tagStamps(tags)
    const ttl = this.tagRetentionMs === Infinity ? undefined : this.tagRetentionMs
    await Promise.all(tags.map((tag, i) => this.put(this.tagKey(tag), nextTagRecord(current[i]!, how, stamp), ttl)))
  }

  async tagStamps(tags: readonly string[]): Promise<Array<{ deleted: number; expired: number }>> {
    if (tags.length === 0) return []
    const found = await this.keyv.getMany(tags.map((t) => this.tagKey(t)))
    return found.map((text) => readTagRecord(text))
  }

  /** Disconnects the Keyv instance when the options asked for it (`disconnect: true`). */
  async disconnect(): Promise<void> {
    if (this.owned) await this.keyv.disconnect?.()
  }
}

/**
 * Any Keyv 5 store as RustoCache's L2: `new RustoCache({ l2: keyvDriver(new Keyv({ store: new KeyvPostgres(url) })) })`.
 * Entries are the Redis driver's text format inside Keyv's value; Keyv expires them. `clear()` needs a store
 * with an iterator (most have one). No conditional writes (lateWrites 'may-land') and no locks.
 */
export function keyvDriver(keyv: KeyvLike, options: KeyvDriverOptions = {}): L2DriverFactory {
  const k = keyv as Partial<KeyvLike> | null | undefined
  if (typeof k !== 'object' || k === null || typeof k.get !== 'function' || typeof k.getMany !== 'function' || typeof k.getRaw !== 'function' || typeof k.deleteMany !== 'function') {
    throw new InvalidOptionError(`keyvDriver needs a Keyv 5 instance (new Keyv(...): get, getMany, getRaw, set, delete, deleteMany), got ${shown(keyv)}`)
  }
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`keyvDriver options must be an object, got ${shown(options)}`)
  refuseUnknown(options, ['serializer', 'tagRetention', 'disconnect'], 'keyvDriver')
  const tagRetention = toMs(options.tagRetention ?? '7d', 'tagRetention')
  return {
    kind: 'keyv',
    create: ({ prefix, rejected }) => new KeyvDriver(keyv, prefix, rejected, options.serializer ?? jsonSerializer, tagRetention, options.disconnect === true),
  }
}

type Listener = (...args: unknown[]) => void

/**
 * RustoCache as a Keyv store: `new Keyv({ store: new KeyvRustoCache({ l1: { maxItems: 10_000 } }) })`, or under
 * cache-manager 7: `createCache({ stores: [new Keyv({ store: new KeyvRustoCache() })] })`. Values are whatever
 * Keyv hands the store (its serialized text, by default), kept for Keyv's ttl (ms) or, without one, for ever.
 * Give it options for a new cache or a cache of your own (its L2 and bus included); one store per Keyv
 * namespace, since clear() clears the cache it wraps.
 */
export class KeyvRustoCache {
  readonly cache: RustoCache
  /** Set by Keyv; keys arrive already prefixed with it. */
  namespace: string | undefined
  readonly opts: { dialect: string; url?: string }
  private readonly listeners = new Map<string, Set<Listener>>()

  constructor(cache: RustoCache | RustoCacheOptions = {}) {
    this.cache = cache instanceof RustoCache ? cache : new RustoCache(cache)
    this.opts = { dialect: 'rustocache' }
  }

  /** The value Keyv stored, or undefined. */
  async get(key: string): Promise<unknown> {
    return this.cache.get({ key })
  }

  /** The values in key order, undefined for a miss. */
  async getMany(keys: string[]): Promise<unknown[]> {
    return this.cache.getMany({ keys })
  }

  /** Stores a value for Keyv's `ttl` (ms; none or 0: no expiry). */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    return this.cache.set({ key, value, ttl: typeof ttl === 'number' && ttl > 0 ? ttl : null })
  }

  /** set() for many entries. */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    await Promise.all(entries.map((e) => this.set(e.key, e.value, e.ttl)))
  }

  /** Deletes a key; true when it was there. */
  async delete(key: string): Promise<boolean> {
    return this.cache.delete({ key })
  }

  /** Deletes many keys; true when any was there. */
  async deleteMany(keys: string[]): Promise<boolean> {
    return (await this.cache.deleteMany({ keys })) > 0
  }

  /** True when the cache holds the key (L1, then L2). */
  async has(key: string): Promise<boolean> {
    return this.cache.has({ key })
  }

  /** has() for many keys. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this.has(key)))
  }

  /** Clears the cache it wraps. */
  async clear(): Promise<void> {
    await this.cache.clear()
  }

  /** Disconnects the cache it wraps. */
  async disconnect(): Promise<void> {
    await this.cache.disconnect()
  }

  /** Keyv listens for 'error'; the cache reports its own failures through its logger and stats. */
  on(event: string, listener: Listener): this {
    let set = this.listeners.get(event)
    if (!set) this.listeners.set(event, (set = new Set()))
    set.add(listener)
    return this
  }
}
