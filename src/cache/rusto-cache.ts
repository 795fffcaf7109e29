import { FactoryError, FactoryHardTimeoutError, FactorySoftTimeoutError, InvalidKeyError, InvalidOptionError, LockTimeoutError, RustoCacheError } from '../errors.js'
import type { CacheEventName, CacheEvents } from '../events.js'
import { silentLogger, type Logger } from '../logger.js'
import type { CacheStats } from '../stats.js'
import { toMs, type Duration } from '../ttl.js'
import { DEFAULTS, resolveOptions, type EntryOptions, type ResolvedOptions, type RustoCacheOptions } from './options.js'
import type { L2Entry } from '../l2/types.js'
import { Coherence } from './coherence.js'
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
    this.stack = new CacheStack(options.l1 ?? {}, logger, {
      factory: options.l2,
      prefix: options.prefix ?? 'rustocache',
      suppressErrors: options.suppressL2Errors,
      breaker: options.l2CircuitBreakerDuration,
    })
    const stack = this.stack
    stack.coherence = new Coherence(stack, options.bus, `${options.prefix ?? 'rustocache'}:bus`, (m) => stack.applyRemote(m))
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
    let stale = found === Found.Stale && this.staleUsable(entry!, options.grace, now) ? entry : undefined
    if (this.stack.l2) {
      const remote = await this.fromL2(key, now)
      if (remote?.found === Found.Fresh) {
        this.hit(options.key, false)
        return remote.value as T
      }
      // A stale value from L2 is at least as new as L1's.
      if (remote?.entry && this.staleUsable(remote.entry, options.grace, now)) stale = remote.entry
    }
    if (stale) return this.graced(options.key, stale, 'get')
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
    const found = new Array<Entry | undefined>(keys.length)
    const ask: number[] = []
    for (let i = 0; i < keys.length; i++) {
      const entry = this.stack.judge(keys[i]!, codes[i]!)
      if (this.stack.found === Found.Fresh) {
        this.hit(options.keys[i]!, false)
        out[i] = entry!.value as T
        continue
      }
      found[i] = this.stack.found === Found.Stale && this.staleUsable(entry!, options.grace, now) ? entry : undefined
      ask.push(i)
    }
    if (ask.length > 0 && this.stack.l2) {
      // One batch read (MGET) for every key L1 could not answer fresh.
      const remote = (await this.stack.l2Call('getMany', undefined, (l2) => l2.getMany(ask.map((i) => keys[i]!)))) ?? []
      // Judged side by side: a tagged entry may need its tag stamps from L2.
      const judged = await Promise.all(ask.map((i, j) => this.judgeFromL2(keys[i]!, remote[j], now)))
      for (let j = 0; j < ask.length; j++) {
        const i = ask[j]!
        const r = judged[j]
        if (r?.found === Found.Fresh) {
          this.hit(options.keys[i]!, false)
          out[i] = r.value as T
          ask[j] = -1
        } else if (r?.entry && this.staleUsable(r.entry, options.grace, now)) found[i] = r.entry
      }
    }
    for (const i of ask) {
      if (i < 0) continue
      if (found[i]) out[i] = this.graced(options.keys[i]!, found[i]!, 'getMany') as T
      else {
        this.miss(options.keys[i]!)
        out[i] = undefined
      }
    }
    return out
  }

  /** Writes L1, then L2. Resolves true once written (a value too large for L1 still goes to L2). */
  async set<T>(options: SetOptions<T>): Promise<boolean> {
    const key = this.keyFor(options)
    const o = resolveOptions(this.defaults, options)
    const write: WriteOptions = { ttl: o.ttl, grace: o.grace, tags: this.tagsFor(options.tags) }
    return this.writeThrough(key, options.key, options.value, write, false, false)
  }

  /**
   * The one write path of set() and of factories: L1 first so this process answers at once, then L2 (awaited:
   * the bus publishes only after it), then the bus. True when either tier took the value.
   */
  private async writeThrough(key: string, userKey: string, value: unknown, write: WriteOptions, skipL2: boolean, skipBus: boolean): Promise<boolean> {
    const now = Date.now()
    const stamp = this.stack.stamp(now)
    const inL1 = this.stack.write(key, value, write, now, stamp)
    // L1-only caches skip both awaits: each costs a promise hop on every miss.
    const inL2 = !skipL2 && this.stack.l2 !== undefined && (await this.toL2(key, value, write, stamp, now))
    const l2Done = inL2 || skipL2 || !this.stack.l2
    if (!skipBus && !this.stack.coherence.idle(l2Done)) await this.stack.coherence.announce({ type: 'set', keys: [key] }, l2Done)
    if (inL1 || inL2) this.emit('cache:written', userKey)
    return inL1 || inL2
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
    const now = Date.now()
    const stamps = keys.map(() => this.stack.stamp(now))
    const values = items.map((item) => item.value)
    const written = this.stack.writeMany(keys, values, writes, now, stamps)
    let inL2 = !this.stack.l2
    if (this.stack.l2) {
      const batch = keys.map((key, i) => ({ key, ...this.stack.toRemote(values[i], writes[i]!, stamps[i]!, now) }))
      inL2 = (await this.stack.l2Call('setMany', undefined, (l2) => l2.setMany(batch).then(() => true))) === true
      if (inL2) written.fill(true)
    }
    await this.stack.coherence.announce({ type: 'set', keys }, inL2)
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
    const key = this.keyFor(options)
    const inL1 = this.stack.core.delete(key)
    const l2Result = await this.stack.l2Call('delete', key, (l2) => l2.delete(key))
    await this.stack.coherence.announce({ type: 'delete', keys: [key] }, l2Result !== undefined || !this.stack.l2)
    const deleted = inL1 || l2Result === true
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
    // One UNLINK for the batch; its count covers keys that were only in L2.
    const inL2 = await this.stack.l2Call('deleteMany', undefined, (l2) => l2.deleteMany(keys))
    await this.stack.coherence.announce({ type: 'delete', keys }, inL2 !== undefined || !this.stack.l2)
    return Math.max(n, inL2 ?? 0)
  }

  /** Marks the entry stale now: get() and getOrSet() may still serve it within its grace. */
  async expire(options: KeyOptions): Promise<boolean> {
    const key = this.keyFor(options)
    const now = Date.now()
    const inL1 = this.stack.core.expire(key, now)
    const l2Result = await this.stack.l2Call('expire', key, (l2) => l2.expire(key, now))
    await this.stack.coherence.announce({ type: 'expire', keys: [key] }, l2Result !== undefined || !this.stack.l2)
    const inL2 = l2Result === true
    if (inL1 || inL2) this.emit('cache:expired', options.key)
    return inL1 || inL2
  }

  /** Deletes every entry carrying one of these tags: no read brings them back, graced or not. */
  async deleteByTag(options: { tags: string[] }): Promise<void> {
    await this.invalidate(options, 'delete')
  }

  /** Marks every entry carrying one of these tags stale: grace still serves them. */
  async expireByTag(options: { tags: string[] }): Promise<void> {
    await this.invalidate(options, 'expire')
  }

  private async invalidate(options: { tags: string[] }, how: 'delete' | 'expire'): Promise<void> {
    const tags = this.tagsFor(options?.tags) ?? []
    const stamp = this.stack.invalidateTags(tags, how, Date.now())
    const done = await this.stack.l2Call(`${how}ByTag`, undefined, (l2) => l2.invalidateTags(tags, how, stamp).then(() => true))
    await this.stack.coherence.announce({ type: how === 'delete' ? 'delete-tags' : 'expire-tags', keys: [], tags, stamp }, done === true || !this.stack.l2)
  }

  /** Removes every entry of this cache; on a namespace, only that namespace's (and its children's). */
  async clear(): Promise<void> {
    if (this.path === '') {
      this.stack.core.clear()
      this.stack.clearTags()
    } else {
      this.stack.clearPath(this.path)
    }
    const done = await this.stack.l2Call('clear', undefined, (l2) => l2.clear(this.path).then(() => true))
    await this.stack.coherence.announce({ type: 'clear', keys: [], path: this.path }, done === true || !this.stack.l2)
    if (this.stack.emitter.has('cache:cleared')) this.stack.emit('cache:cleared', { store: 'memory', namespace: this.namespaceName })
  }

  /** Releases what the cache holds open: the L2 connection it made (one handed in stays open). */
  async disconnect(): Promise<void> {
    await this.stack.coherence.close()
    await this.stack.l2?.disconnect()
  }

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

  /** An L2 entry judged (tags, expiry) and copied into L1: the value, how it stands, and the L1 entry if kept. */
  private async judgedRemote(key: string, remote: L2Entry, now: number): Promise<{ found: Found; value: unknown; entry: Entry | undefined }> {
    const judged = this.stack.judgeRemote(key, remote, now)
    const found = typeof judged === 'number' ? judged : await judged
    if (found === Found.Missing) return { found, value: undefined, entry: undefined }
    this.stack.counters.l2Hits++
    return { found, value: remote.value, entry: this.stack.backfill(key, remote, found, this.defaults.grace, now) }
  }

  /** Reads one key from L2 (undefined when L2 has nothing usable, is down, or its breaker is open). */
  private async fromL2(key: string, now: number): Promise<{ found: Found; value: unknown; entry: Entry | undefined } | undefined> {
    return this.judgeFromL2(key, await this.stack.l2Call('get', key, (l2) => l2.get(key)), now)
  }

  /** What L2 answered for one key, counted and judged: the one step of single and batch reads. */
  private async judgeFromL2(key: string, remote: L2Entry | undefined, now: number): Promise<{ found: Found; value: unknown; entry: Entry | undefined } | undefined> {
    if (remote === undefined) {
      this.stack.counters.l2Misses++
      return undefined
    }
    const judged = await this.judgedRemote(key, remote, now)
    return judged.found === Found.Missing ? undefined : judged
  }

  /** Writes a value to L2; true when L2 took it. */
  private async toL2(key: string, value: unknown, write: WriteOptions, stamp: number, now: number): Promise<boolean> {
    if (!this.stack.l2) return false
    const { entry, ttlMs } = this.stack.toRemote(value, write, stamp, now)
    return (await this.stack.l2Call('set', key, (l2) => l2.set(key, entry, ttlMs).then(() => true))) === true
  }

  /** A stale entry (the core keeps it only within its own grace) may answer unless the call narrows grace. */
  private staleUsable(entry: Entry | L2Entry, grace: Duration | false | undefined, now: number): boolean {
    if (grace === undefined) return true
    if (grace === false) return false
    const expiredAt = 'expiresAt' in entry ? entry.expiresAt : entry.stamp + entry.ttl
    return now < expiredAt + toMs(grace, 'grace')
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
      const release = locks.acquire(key)
      let candidate = stale
      if (this.stack.l2 && !forceFresh) {
        // Under the lock, so a stampede makes one L2 read, not one per caller.
        let remote: Awaited<ReturnType<RustoCache['fromL2']>>
        try {
          remote = await this.fromL2(key, Date.now())
        } catch (error) {
          release()
          throw error
        }
        if (remote?.found === Found.Fresh) {
          release()
          this.hit(options.key, false)
          return remote.value as T
        }
        // L2's stale value beats L1's: another instance may have refreshed it since.
        if (remote?.entry && this.staleUsable(remote.entry, options.grace, now)) candidate = remote.entry
      }
      let releaseAll = release
      if (o.distributedLock && this.stack.l2?.locks) {
        let turn: Awaited<ReturnType<RustoCache['distributedTurn']>>
        try {
          turn = await this.distributedTurn(key, o, forceFresh)
        } catch (error) {
          release()
          throw error
        }
        if (turn.kind === 'value') {
          release()
          this.hit(options.key, false)
          return turn.value as T
        }
        if (turn.kind === 'timeout') {
          release()
          if (candidate) return this.graced(options.key, candidate)
          throw new LockTimeoutError(options.key, o.lockTimeout)
        }
        if (turn.kind === 'owner') {
          const releaseLock = turn.release
          releaseAll = () => {
            release()
            void releaseLock()
          }
        }
      }
      this.miss(options.key)
      const attempt = this.attempt(key, options.key, options.factory, o, tags, candidate, releaseAll)
      if (candidate && o.timeout === 0) return this.graced(options.key, candidate)
      const outcome = await race(attempt, candidate ? o.timeout : Infinity, o.hardTimeout)
      if (outcome === SOFT) {
        this.stack.counters.softTimeouts++
        const err = new FactorySoftTimeoutError(options.key, o.timeout)
        this.logger.warn({ key: options.key, op: 'getOrSet', err }, 'factory ran past its soft timeout: answering stale')
        return this.graced(options.key, candidate!)
      }
      if (outcome === HARD) {
        this.stack.counters.hardTimeouts++
        this.logger.warn({ key: options.key, op: 'getOrSet', hardTimeout: o.hardTimeout }, 'factory ran past its hard timeout')
        if (candidate) return this.graced(options.key, candidate)
        throw new FactoryHardTimeoutError(options.key, o.hardTimeout)
      }
      if (outcome.ok) return outcome.value as T
      if (candidate) return this.graced(options.key, candidate)
      throw outcome.error
    }
  }

  /**
   * Takes the key's lock across instances, or waits for the instance holding it to put a fresh value in L2.
   * 'owner': run the factory, then release; 'value': another instance made it; 'local': L2 cannot lock right now,
   * so run the factory under the local lock only; 'timeout': waited lockTimeout.
   */
  private async distributedTurn(
    key: string,
    o: ResolvedOptions,
    forceFresh: boolean,
  ): Promise<{ kind: 'owner'; release: () => Promise<void> } | { kind: 'value'; value: unknown } | { kind: 'local' } | { kind: 'timeout' }> {
    const locks = this.stack.l2!.locks!
    const token = `${this.stack.coherence.id}:${Math.random().toString(36).slice(2)}`
    const deadline = Date.now() + o.lockTimeout
    for (;;) {
      const acquired = await this.stack.l2Call('lock', key, (l2) => l2.locks!.acquire(key, token, o.distributedLockTtl))
      if (acquired === undefined) return { kind: 'local' }
      if (acquired) {
        const release = async () => {
          await this.stack.l2Call('unlock', key, () => locks.release(key, token))
        }
        // The previous owner may have finished between our L2 read and our lock (unless we must run anyway).
        const remote = forceFresh ? undefined : await this.fromL2(key, Date.now())
        if (remote?.found === Found.Fresh) {
          await release()
          return { kind: 'value', value: remote.value }
        }
        return { kind: 'owner', release }
      }
      // Another instance runs the factory: wait for its value, or for its lock to go (finished, or owner died).
      for (;;) {
        if (Date.now() > deadline) return { kind: 'timeout' }
        await new Promise((resolve) => setTimeout(resolve, 25))
        const remote = await this.fromL2(key, Date.now())
        if (remote?.found === Found.Fresh) return { kind: 'value', value: remote.value }
        const held = await this.stack.l2Call('lockHeld', key, () => locks.held(key))
        if (held === undefined) return { kind: 'local' }
        if (!held) break
      }
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
    void this.attempt(key, options.key, options.factory, o, this.tagsFor(options.tags), entry, this.stack.locks.acquire(key))
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
    release: () => void,
  ): Promise<Outcome<T>> {
    const started = Date.now()
    const write: WriteOptions = { ttl: o.ttl, grace: o.grace, tags }
    let skipped = false
    let skipL2Write = false
    let skipBusNotify = false
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
        if (given.skipL2Write !== undefined) skipL2Write = given.skipL2Write === true
        if (given.skipBusNotify !== undefined) skipBusNotify = given.skipBusNotify === true
      },
    }
    this.stack.counters.factoryCalls++
    try {
      const value = await factory(ctx)
      if (skipped || (value as unknown) === SKIP) return { ok: true, value: undefined }
      await this.writeThrough(key, userKey, value, write, skipL2Write, skipBusNotify)
      this.logger.debug({ key: userKey, op: 'factory', duration: Date.now() - started }, 'factory value cached')
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
