import { FactoryError, FactoryHardTimeoutError, FactorySoftTimeoutError, InvalidKeyError, InvalidOptionError, LockTimeoutError, RustoCacheError } from '../errors.js'
import type { CacheEventName, CacheEvents } from '../events.js'
import { silentLogger, type Logger } from '../logger.js'
import type { CacheStats } from '../stats.js'
import { toMs, type Duration } from '../ttl.js'
import { DEFAULTS, resolveOptions, type EntryOptions, type ResolvedOptions, type RustoCacheOptions } from './options.js'
import { CacheStack, Found, type Entry, type WriteOptions } from './stack.js'

const SKIP: unique symbol = Symbol('rustocache.skip')
const SOFT: unique symbol = Symbol('rustocache.soft-timeout')
const HARD: unique symbol = Symbol('rustocache.hard-timeout')

/** What a factory receives. */
export interface FactoryContext<T> {
  /** Return this to cache nothing: getOrSet resolves to undefined. */
  skip(): never
  /** Fails the factory with this message (E_FACTORY_ERROR): a stale value within grace is served if there is one. */
  fail(message: string): never
  /** Changes how the value being produced is stored. */
  setOptions(options: { ttl?: Duration; grace?: Duration | false; tags?: string[]; skipL2Write?: boolean; skipBusNotify?: boolean }): void
  /** The stale entry this call could fall back to, if any (also in background refreshes). */
  readonly gracedEntry: { value: T } | undefined
}

export type Factory<T> = (ctx: FactoryContext<T>) => T | Promise<T>

export interface KeyOptions {
  key: string
}
export interface GetOrSetOptions<T> extends KeyOptions, EntryOptions {
  factory: Factory<T>
  tags?: string[]
  /** Run the factory even when a fresh value is cached. */
  forceFresh?: boolean
}
export interface GetOptions<T> extends KeyOptions {
  /** Returned on a miss (a function is called for it). */
  defaultValue?: T | (() => T)
  /** false: never answer with a stale value; a duration: only within that long after the ttl. */
  grace?: Duration | false
}
export interface SetOptions<T> extends KeyOptions, EntryOptions {
  value: T
  tags?: string[]
}

type Outcome<T> = { ok: true; value: T | undefined } | { ok: false; error: RustoCacheError }

function race<T>(attempt: Promise<T>, softMs: number, hardMs: number): Promise<T | typeof SOFT | typeof HARD> {
  if (softMs === Infinity && hardMs === Infinity) return attempt
  return new Promise((resolve) => {
    // Whichever comes first clears both timers, so no timer keeps the process alive after the answer.
    const settle = (value: T | typeof SOFT | typeof HARD) => {
      clearTimeout(soft)
      clearTimeout(hard)
      resolve(value)
    }
    const soft = softMs < Infinity ? setTimeout(() => settle(SOFT), softMs) : undefined
    const hard = hardMs < Infinity ? setTimeout(() => settle(HARD), hardMs) : undefined
    void attempt.then(settle)
  })
}

/**
 * The cache: L1 in WebAssembly (or its TypeScript twin), factories with stampede protection, grace periods,
 * timeouts, background refresh, tags and namespaces. Method shapes follow BentoCache.
 */
export class RustoCache {
  private readonly stack: CacheStack
  private readonly defaults: ResolvedOptions
  /** Prefix of this namespace's L1 keys and tags: '' at the root, 'users:' in namespace('users'). */
  private readonly path: string
  private readonly namespaceName: string | undefined
  private readonly logger: Logger

  constructor(options: RustoCacheOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('RustoCache options must be an object')
    const logger = (options.logger ?? silentLogger).child({ cache: options.prefix ?? 'rustocache' })
    this.defaults = resolveOptions(DEFAULTS, options)
    this.stack = new CacheStack(options.l1 ?? {}, logger)
    this.logger = logger
    this.path = ''
    this.namespaceName = undefined
  }

  /** The same API with every key and tag prefixed; clear() on it clears only its keys. Namespaces nest. */
  namespace(name: string): RustoCache {
    if (typeof name !== 'string' || name === '') throw new InvalidOptionError('a namespace name must be a non-empty string')
    // A view sharing this cache's stack: built without the constructor, which would make a new L1.
    const view = Object.create(RustoCache.prototype) as RustoCache
    const path = `${this.path}${name}:`
    Object.assign(view, {
      stack: this.stack,
      defaults: this.defaults,
      path,
      namespaceName: path.slice(0, -1),
      logger: this.logger.child({ namespace: path.slice(0, -1) }),
    })
    return view
  }

  getOrSet<T>(options: GetOrSetOptions<T>): Promise<T> {
    try {
      const key = this.keyFor(options)
      if (typeof options.factory !== 'function') throw new InvalidOptionError('getOrSet needs a factory function')
      if (options.forceFresh !== true) {
        const now = Date.now()
        const entry = this.stack.read(key, now)
        if (this.stack.found === Found.Fresh) {
          const early = options.earlyExpiration ?? this.defaults.earlyExpiration
          if (early > 0 && now - entry!.stamp >= entry!.ttl * early) this.refreshEarly(key, options, entry!, now)
          this.hit(options.key, false)
          return Promise.resolve(entry!.value as T)
        }
      }
      return this.fill(key, options)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  getOrSetForever<T>(options: GetOrSetOptions<T>): Promise<T> {
    return this.getOrSet({ ...options, ttl: null })
  }

  async get<T>(options: GetOptions<T>): Promise<T | undefined> {
    const key = this.keyFor(options)
    const now = Date.now()
    const entry = this.stack.read(key, now)
    const found = this.stack.found
    if (found === Found.Fresh) {
      this.hit(options.key, false)
      return entry!.value as T
    }
    if (found === Found.Stale && this.staleUsable(entry!, options.grace, now)) return this.graced(options.key, entry!, 'get')
    this.miss(options.key)
    const fallback = options.defaultValue
    return typeof fallback === 'function' ? (fallback as () => T)() : fallback
  }

  /** Values in key order, undefined for a miss: one crossing into the L1 core for the whole batch. */
  async getMany<T>(options: { keys: string[]; grace?: Duration | false }): Promise<(T | undefined)[]> {
    if (!Array.isArray(options?.keys)) throw new InvalidKeyError('getMany needs keys: string[]')
    const keys = options.keys.map((k) => this.keyFor({ key: k }))
    const now = Date.now()
    const codes = this.stack.core.lookupMany(keys, now)
    const out = new Array<T | undefined>(keys.length)
    for (let i = 0; i < keys.length; i++) {
      const entry = this.stack.judge(keys[i]!, codes[i]!)
      const found = this.stack.found
      if (found === Found.Fresh) {
        this.hit(options.keys[i]!, false)
        out[i] = entry!.value as T
      } else if (found === Found.Stale && this.staleUsable(entry!, options.grace, now)) {
        out[i] = this.graced(options.keys[i]!, entry!, 'getMany') as T
      } else {
        this.miss(options.keys[i]!)
        out[i] = undefined
      }
    }
    return out
  }

  async set<T>(options: SetOptions<T>): Promise<boolean> {
    const key = this.keyFor(options)
    const o = resolveOptions(this.defaults, options)
    const written = this.stack.write(key, options.value, { ttl: o.ttl, grace: o.grace, tags: this.tagsFor(options.tags) }, Date.now())
    if (written) this.emit('cache:written', options.key)
    return written
  }

  setForever<T>(options: SetOptions<T>): Promise<boolean> {
    return this.set({ ...options, ttl: null })
  }

  /** Writes every item, checking them all first: one bad item writes nothing. Hashes the batch in one crossing. */
  async setMany<T>(options: { items: Array<{ key: string; value: T; ttl?: Duration; grace?: Duration | false; tags?: string[] }> }): Promise<void> {
    const items = options?.items
    if (!Array.isArray(items)) throw new InvalidOptionError('setMany needs items: [{ key, value }]')
    const keys = items.map((item) => this.keyFor(item))
    const writes: WriteOptions[] = items.map((item) => {
      const o = resolveOptions(this.defaults, item)
      return { ttl: o.ttl, grace: o.grace, tags: this.tagsFor(item.tags) }
    })
    const written = this.stack.writeMany(keys, items.map((item) => item.value), writes, Date.now())
    for (let i = 0; i < items.length; i++) if (written[i]) this.emit('cache:written', items[i]!.key)
  }

  /** True when get() would answer with a value (fresh, or stale within grace). Does not touch the LRU order. */
  async has(options: KeyOptions & { grace?: Duration | false }): Promise<boolean> {
    const key = this.keyFor(options)
    const now = Date.now()
    const entry = this.stack.peek(key, now)
    return this.stack.found === Found.Fresh || (this.stack.found === Found.Stale && this.staleUsable(entry!, options.grace, now))
  }

  async missing(options: KeyOptions & { grace?: Duration | false }): Promise<boolean> {
    return !(await this.has(options))
  }

  /** get() then delete(). */
  async pull<T>(options: GetOptions<T>): Promise<T | undefined> {
    const value = await this.get(options)
    await this.delete(options)
    return value
  }

  async delete(options: KeyOptions): Promise<boolean> {
    const deleted = this.stack.core.delete(this.keyFor(options))
    if (deleted) {
      this.stack.counters.deletes++
      this.emit('cache:deleted', options.key)
    }
    return deleted
  }

  async deleteMany(options: { keys: string[] }): Promise<number> {
    if (!Array.isArray(options?.keys)) throw new InvalidKeyError('deleteMany needs keys: string[]')
    const keys = options.keys.map((k) => this.keyFor({ key: k }))
    let n = 0
    for (let i = 0; i < keys.length; i++) {
      if (this.stack.core.delete(keys[i]!)) {
        n++
        this.stack.counters.deletes++
        this.emit('cache:deleted', options.keys[i]!)
      }
    }
    return n
  }

  /** Marks the entry stale now: get() and getOrSet() may still serve it within its grace. */
  async expire(options: KeyOptions): Promise<boolean> {
    const expired = this.stack.core.expire(this.keyFor(options), Date.now())
    if (expired) this.emit('cache:expired', options.key)
    return expired
  }

  /** Deletes every entry carrying one of these tags: no read brings them back, graced or not. */
  async deleteByTag(options: { tags: string[] }): Promise<void> {
    this.stack.invalidateTags(this.tagsFor(options?.tags) ?? [], 'delete', Date.now())
  }

  /** Marks every entry carrying one of these tags stale: grace still serves them. */
  async expireByTag(options: { tags: string[] }): Promise<void> {
    this.stack.invalidateTags(this.tagsFor(options?.tags) ?? [], 'expire', Date.now())
  }

  /** Removes every entry of this cache; on a namespace, only that namespace's (and its children's). */
  async clear(): Promise<void> {
    if (this.path === '') {
      this.stack.core.clear()
      this.stack.clearTags()
    } else {
      const mine = [...this.stack.core.keys()].filter((k) => k.startsWith(this.path))
      for (const k of mine) this.stack.core.delete(k)
    }
    if (this.stack.emitter.has('cache:cleared')) this.stack.emit('cache:cleared', { store: 'memory', namespace: this.namespaceName })
  }

  /** Releases what the cache holds open. L1-only caches hold nothing; Redis tiers close their connections. */
  async disconnect(): Promise<void> {}

  on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    return this.stack.emitter.on(event, listener)
  }

  once<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    return this.stack.emitter.once(event, listener)
  }

  off<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): void {
    this.stack.emitter.off(event, listener)
  }

  /** Counters since the cache was made, shared by all its namespaces. */
  stats(): CacheStats {
    return { ...this.stack.counters }
  }

  private keyFor(options: KeyOptions): string {
    const key = options?.key
    if (typeof key !== 'string') throw new InvalidKeyError(`cache keys must be strings, got ${key === null ? 'null' : typeof key}`)
    return this.path === '' ? key : this.path + key
  }

  private tagsFor(tags: readonly string[] | undefined): string[] | undefined {
    if (tags === undefined) return undefined
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) throw new InvalidOptionError('tags must be an array of strings')
    return tags.length === 0 ? undefined : this.path === '' ? [...tags] : tags.map((t) => this.path + t)
  }

  /** A stale entry (the core keeps it only within its own grace) may answer unless the call narrows grace. */
  private staleUsable(entry: Entry, grace: Duration | false | undefined, now: number): boolean {
    if (grace === undefined) return true
    if (grace === false) return false
    return now < entry.stamp + entry.ttl + toMs(grace, 'grace')
  }

  private hit(key: string, graced: boolean): void {
    this.stack.counters.hits++
    if (graced) this.stack.counters.gracedHits++
    if (this.stack.emitter.has('cache:hit')) this.stack.emit('cache:hit', { key, store: 'memory', graced, namespace: this.namespaceName })
  }

  private miss(key: string): void {
    this.stack.counters.misses++
    if (this.stack.emitter.has('cache:miss')) this.stack.emit('cache:miss', { key, store: 'memory', namespace: this.namespaceName })
  }

  private graced<T>(key: string, entry: Entry, op = 'getOrSet'): T {
    this.hit(key, true)
    this.logger.warn({ key, op, tier: 'l1', graced: true }, 'answered with a stale value within grace')
    return entry.value as T
  }

  private emit(event: 'cache:written' | 'cache:deleted' | 'cache:expired', key: string): void {
    if (this.stack.emitter.has(event)) this.stack.emit(event, { key, store: 'memory', namespace: this.namespaceName })
  }

  /** The miss path: wait for another caller's factory, or run ours; fall back to a stale value when allowed. */
  private async fill<T>(key: string, options: GetOrSetOptions<T>): Promise<T> {
    const o = resolveOptions(this.defaults, options)
    const tags = this.tagsFor(options.tags)
    const locks = this.stack.locks
    let forceFresh = options.forceFresh === true
    for (;;) {
      const now = Date.now()
      const entry = this.stack.read(key, now)
      const found = this.stack.found
      if (found === Found.Fresh && !forceFresh) {
        this.hit(options.key, false)
        return entry!.value as T
      }
      const stale = found === Found.Stale && this.staleUsable(entry!, options.grace, now) ? entry : undefined
      if (stale && stale.backoffUntil > now) return this.graced(options.key, stale)
      if (locks.isHeld(key)) {
        if (stale && o.timeout === 0) return this.graced(options.key, stale)
        const wait = stale ? Math.min(o.timeout, o.lockTimeout) : o.lockTimeout
        if (!(await locks.wait(key, wait))) {
          if (stale) return this.graced(options.key, stale)
          throw new LockTimeoutError(options.key, o.lockTimeout)
        }
        // What the holder wrote is as fresh as what our own factory would make.
        forceFresh = false
        continue
      }
      this.miss(options.key)
      const attempt = this.attempt(key, options.key, options.factory, o, tags, stale)
      if (stale && o.timeout === 0) return this.graced(options.key, stale)
      const outcome = await race(attempt, stale ? o.timeout : Infinity, o.hardTimeout)
      if (outcome === SOFT) {
        this.stack.counters.softTimeouts++
        const err = new FactorySoftTimeoutError(options.key, o.timeout)
        this.logger.warn({ key: options.key, op: 'getOrSet', err }, 'factory ran past its soft timeout: answering stale')
        return this.graced(options.key, stale!)
      }
      if (outcome === HARD) {
        this.stack.counters.hardTimeouts++
        this.logger.warn({ key: options.key, op: 'getOrSet', hardTimeout: o.hardTimeout }, 'factory ran past its hard timeout')
        if (stale) return this.graced(options.key, stale)
        throw new FactoryHardTimeoutError(options.key, o.hardTimeout)
      }
      if (outcome.ok) return outcome.value as T
      if (stale) return this.graced(options.key, stale)
      throw outcome.error
    }
  }

  /** A hit past earlyExpiration: refresh once in the background unless a factory already runs for the key. */
  private refreshEarly<T>(key: string, options: GetOrSetOptions<T>, entry: Entry, now: number): void {
    if (this.stack.locks.isHeld(key) || entry.backoffUntil > now) return
    let o: ResolvedOptions
    try {
      o = resolveOptions(this.defaults, options)
    } catch (error) {
      this.logger.error({ key: options.key, err: error }, 'early refresh skipped: invalid options')
      return
    }
    void this.attempt(key, options.key, options.factory, o, this.tagsFor(options.tags), entry)
  }

  /**
   * Runs a factory under the key's lock and stores its value. Never rejects: the outcome says how it went, and
   * failures are counted, logged, reported to onFactoryError and start the stale entry's backoff here, so a
   * background run is handled exactly like a foreground one.
   */
  private async attempt<T>(
    key: string,
    userKey: string,
    factory: Factory<T>,
    o: ResolvedOptions,
    tags: readonly string[] | undefined,
    stale: Entry | undefined,
  ): Promise<Outcome<T>> {
    const release = this.stack.locks.acquire(key)
    const started = Date.now()
    const write: WriteOptions = { ttl: o.ttl, grace: o.grace, tags }
    let skipped = false
    const ctx: FactoryContext<T> = {
      gracedEntry: stale ? { value: stale.value as T } : undefined,
      skip: () => {
        skipped = true
        return SKIP as never
      },
      fail: (message) => {
        throw new FactoryError(userKey, message)
      },
      setOptions: (given) => {
        if (given.ttl !== undefined) write.ttl = toMs(given.ttl, 'ttl')
        if (given.grace !== undefined) write.grace = given.grace === false ? 0 : toMs(given.grace, 'grace')
        if (given.tags !== undefined) write.tags = this.tagsFor(given.tags)
      },
    }
    this.stack.counters.factoryCalls++
    try {
      const value = await factory(ctx)
      if (skipped || (value as unknown) === SKIP) return { ok: true, value: undefined }
      const now = Date.now()
      if (this.stack.write(key, value, write, now)) this.emit('cache:written', userKey)
      this.logger.debug({ key: userKey, op: 'factory', tier: 'l1', duration: now - started }, 'factory value cached')
      return { ok: true, value }
    } catch (error) {
      const failure =
        error instanceof RustoCacheError
          ? error
          : new FactoryError(userKey, `factory for key "${userKey}" failed: ${error instanceof Error ? error.message : String(error)}`, error)
      this.stack.counters.factoryErrors++
      if (stale) stale.backoffUntil = Date.now() + o.graceBackoff
      this.logger.error({ key: userKey, op: 'factory', err: failure, duration: Date.now() - started }, 'factory failed')
      if (o.onFactoryError) {
        try {
          o.onFactoryError(failure)
        } catch (listenerError) {
          this.logger.error({ key: userKey, err: listenerError }, 'onFactoryError threw')
        }
      }
      return { ok: false, error: failure }
    } finally {
      release()
    }
  }
}
