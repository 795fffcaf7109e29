import { brandedInstance, CACHE_BRAND, InvalidKeyError, InvalidOptionError, shown } from '../errors.js'
import { EVENT_ALIASES, type CacheEventName, type CacheEvents } from '../events.js'
import type { CacheObserver, CacheOperation, OperationContext } from '../observe.js'
import type { CacheStats } from '../stats.js'
import type { Duration } from '../ttl.js'
import { getOrSet } from './get-or-set.js'
import { clear, deleteKey, deleteMany, expire, invalidateTags } from './invalidate.js'
import { options, resolveSettings, type GetOptions, type GetOrSetOptions, type KeyOptions, type RustoCacheOptions, type SetManyOptions, type SetOptions } from './options.js'
import { get, getMany, has } from './read.js'
import { buildRooms, type Rooms } from './rooms.js'
import { busLoading } from './coherence-ref.js'
import { Scope } from './scope.js'
import { set, setMany } from './write.js'

export type { Factory, FactoryContext, GetOptions, GetOrSetOptions, KeyOptions, SetManyOptions, SetOptions } from './options.js'

/** Calls `run`, turning a synchronous throw into a rejection: every public call reports bad input by rejecting. */
function rejecting<R>(run: (trace: OperationContext | undefined) => Promise<R>, trace: OperationContext | undefined): Promise<R> {
  try {
    return run(trace)
  } catch (error) {
    return Promise.reject(error)
  }
}

const EVENTS: ReadonlySet<string> = new Set<CacheEventName>([
  'cache:hit',
  'cache:miss',
  'cache:written',
  'cache:deleted',
  'cache:expired',
  'cache:cleared',
  'bus:message:published',
  'bus:message:received',
])

/** What a call waits for before it runs: the L1 core and the bus room, where the browser flavour loads them. */
function loadingOf(rooms: Rooms): Promise<void> | undefined {
  const core = rooms.l1.loading()
  const bus = busLoading(rooms.bus)
  return core && bus ? Promise.all([core, bus]).then(() => undefined) : (core ?? bus)
}

/** The event's own name (an alias such as BentoCache's 'cache:expire' resolved); throws for an unknown one. */
function checkListener<E extends CacheEventName>(event: E, listener: unknown): E {
  const name = typeof event === 'string' && Object.hasOwn(EVENT_ALIASES, event) ? (EVENT_ALIASES[event] as E) : event
  if (typeof name !== 'string' || !EVENTS.has(name)) throw new InvalidOptionError(`unknown event ${shown(event)}: one of ${[...EVENTS].join(', ')}`)
  if (typeof listener !== 'function') throw new InvalidOptionError(`a listener for ${name} must be a function`)
  return name
}

function keyList(given: { keys: unknown } | undefined, call: string): unknown[] {
  const keys = options(given, call).keys
  if (!Array.isArray(keys)) throw new InvalidKeyError(`${call} needs keys: string[]`)
  return keys
}

/**
 * The cache: L1 in WebAssembly (or its TypeScript twin), factories with stampede protection, grace periods,
 * timeouts, background refresh, tags and namespaces, an optional L2 and bus. Method shapes follow BentoCache.
 * Every call checks its arguments before it changes anything: bad input rejects with a RustoCacheError and
 * loses nothing already cached. This class only checks, traces and dispatches: see ARCHITECTURE.md for where
 * each call's work is done.
 */
export class RustoCache {
  private readonly rooms: Rooms
  private readonly scope: Scope

  /**
   * A cache made by another copy of the package (the CJS build beside the ESM one, an edge bundle's other
   * chunk) is a RustoCache too: observe, instrument and collect take it.
   */
  static [Symbol.hasInstance](x: unknown): boolean {
    return brandedInstance(this, CACHE_BRAND, RustoCache, x)
  }

  constructor(config: RustoCacheOptions = {}) {
    // Every option is checked before the first connection is made (the L2 driver's, in buildRooms).
    const settings = resolveSettings(config)
    this.rooms = buildRooms(settings)
    this.scope = new Scope(this.rooms.l2.maxKeyBytes, '', undefined, settings.logger)
  }

  /** The same API with every key and tag prefixed; clear() on it clears only its keys. Namespaces nest. */
  namespace(name: string): RustoCache {
    // A view sharing this cache's rooms: built without the constructor, which would make a new L1.
    const view = Object.create(RustoCache.prototype) as RustoCache
    Object.assign(view, { rooms: this.rooms, scope: this.scope.child(name) })
    return view
  }

  /**
   * The cached value, or the factory's (run by one caller per key, stored in L1 and L2); a stale value within
   * grace when the factory fails or is slow.
   */
  getOrSet<T>(given: GetOrSetOptions<T>): Promise<T> {
    // The browser flavour loads its core at construction: calls until then wait for it (one check otherwise).
    const loading = loadingOf(this.rooms)
    if (loading) return loading.then(() => this.getOrSet(given))
    // The untraced path allocates nothing for tracing: one check per call (see observe.ts).
    if (this.rooms.recorder.tracing()) return this.traced('getOrSet', given, (trace) => getOrSet(this.rooms, this.scope, given, trace))
    return getOrSet(this.rooms, this.scope, given, undefined)
  }

  /** getOrSet() storing the value without a ttl. */
  getOrSetForever<T>(given: GetOrSetOptions<T>): Promise<T> {
    return this.traced('getOrSetForever', given, (trace) => getOrSet(this.rooms, this.scope, { ...options(given, 'getOrSetForever'), ttl: null }, trace))
  }

  /**
   * Runs a public call with a trace context, inside the observers' wrappers and on the TracingChannel; without
   * either, as it is. `run` never throws: every call reports bad input by rejecting.
   */
  private traced<R>(operation: CacheOperation, given: unknown, run: (trace: OperationContext | undefined) => Promise<R>, batch?: 'keys' | 'items'): Promise<R> {
    const loading = loadingOf(this.rooms)
    if (loading) return loading.then(() => this.traced(operation, given, run, batch))
    const recorder = this.rooms.recorder
    if (!recorder.tracing()) return rejecting(run, undefined)
    let key: unknown
    let keys: unknown
    try {
      const g = given as { key?: unknown; keys?: unknown; items?: unknown }
      if (batch === 'keys') keys = g.keys
      else if (batch === 'items') keys = Array.isArray(g.items) ? g.items.map((item: { key?: unknown } | undefined) => item?.key) : undefined
      else key = g.key
    } catch {
      // A hostile argument: the call itself rejects with the typed error.
    }
    return recorder.trace(operation, this.scope.namespaceName, key, keys, (trace) => rejecting(run, trace))
  }

  /** L1, then L2 when L1 has no fresh value; a stale value within grace; else defaultValue. */
  get<T>(given: GetOptions<T>): Promise<T | undefined> {
    const loading = loadingOf(this.rooms)
    if (loading) return loading.then(() => this.get(given))
    if (this.rooms.recorder.tracing()) return this.traced('get', given, (trace) => get(this.rooms, this.scope, given, trace))
    return get(this.rooms, this.scope, given, undefined)
  }

  /** Values in key order, undefined for a miss: one L1 crossing for the batch, one L2 read for what L1 lacks. */
  getMany<T>(given: { keys: string[]; grace?: Duration | false }): Promise<(T | undefined)[]> {
    return this.traced('getMany', given, (trace) => getMany<T>(this.rooms, this.scope, keyList(given, 'getMany'), given, trace), 'keys')
  }

  /** Writes L1, then L2. Resolves true once written (a value too large for L1 still goes to L2). */
  set<T>(given: SetOptions<T>): Promise<boolean> {
    return this.traced('set', given, () => set(this.rooms, this.scope, options(given, 'set')))
  }

  /** set() without a ttl. */
  setForever<T>(given: SetOptions<T>): Promise<boolean> {
    return this.traced('setForever', given, () => set(this.rooms, this.scope, { ...options(given, 'setForever'), ttl: null }))
  }

  /** Writes every item, checking (and encoding) them all first: one bad item writes nothing. One hashing crossing. */
  setMany<T>(given: SetManyOptions<T>): Promise<void> {
    return this.traced('setMany', given, () => setMany(this.rooms, this.scope, options(given, 'setMany')), 'items')
  }

  /**
   * True when a tier holds a value get() would answer with (fresh, or stale within grace): L1 first, without
   * touching its LRU order, then L2 when L1 has nothing (a read, copied into L1 as get's would be). With L2
   * down it answers from L1 alone.
   */
  has(given: KeyOptions & { grace?: Duration | false }): Promise<boolean> {
    return this.traced('has', given, (trace) => has(this.rooms, this.scope, options(given, 'has'), trace))
  }

  /** The opposite of has(). */
  missing(given: KeyOptions & { grace?: Duration | false }): Promise<boolean> {
    return this.traced('missing', given, async (trace) => !(await has(this.rooms, this.scope, options(given, 'missing'), trace)))
  }

  /** get() then delete(). */
  pull<T>(given: GetOptions<T>): Promise<T | undefined> {
    return this.traced('pull', given, async (trace) => {
      const value = await get(this.rooms, this.scope, given, trace)
      await deleteKey(this.rooms, this.scope, options(given, 'delete'))
      return value
    })
  }

  /**
   * Deletes the key from every tier (and, over the bus, from every instance's L1); true when a tier held it.
   */
  delete(given: KeyOptions): Promise<boolean> {
    return this.traced('delete', given, () => deleteKey(this.rooms, this.scope, options(given, 'delete')))
  }

  /** delete() for many keys; resolves how many were held. */
  deleteMany(given: { keys: string[] }): Promise<number> {
    return this.traced('deleteMany', given, () => deleteMany(this.rooms, this.scope, keyList(given, 'deleteMany')), 'keys')
  }

  /** Marks the entry stale now: get() and getOrSet() may still serve it within its grace. */
  expire(given: KeyOptions): Promise<boolean> {
    return this.traced('expire', given, () => expire(this.rooms, this.scope, options(given, 'expire')))
  }

  /** Deletes every entry carrying one of these tags: no read brings them back, graced or not. */
  deleteByTag(given: { tags: string[] }): Promise<void> {
    return this.traced('deleteByTag', given, () => invalidateTags(this.rooms, this.scope, options(given, 'deleteByTag').tags, 'delete'))
  }

  /** Marks every entry carrying one of these tags stale: grace still serves them. */
  expireByTag(given: { tags: string[] }): Promise<void> {
    return this.traced('expireByTag', given, () => invalidateTags(this.rooms, this.scope, options(given, 'expireByTag').tags, 'expire'))
  }

  /** Removes every entry of this cache; on a namespace, only that namespace's (and its children's). */
  clear(): Promise<void> {
    return this.traced('clear', undefined, () => clear(this.rooms, this.scope))
  }

  /**
   * Deletes L2's expired entries now (BentoCache's prune): for stores that keep them until something deletes them
   * (PostgreSQL, IndexedDB, which also prune every `pruneInterval` by themselves). Resolves with how many went;
   * 0 where the store expires keys itself (Redis, Workers KV) or there is no L2. L1 drops expired entries as
   * lookups meet them and as it evicts.
   */
  prune(): Promise<number> {
    return this.traced('prune', undefined, async () => (await this.rooms.l2.call('prune', undefined, (driver) => driver.prune?.() ?? Promise.resolve(0))) ?? 0)
  }

  /**
   * Checks that L2 answers (a read, within l2Timeout), for a start-up check or a health probe: rejects with
   * E_L2_UNREACHABLE (`L2UnreachableError`, naming the server) when it does not. Never needed: every call
   * connects as it goes, and answers from L1 (or the factory) while L2 is down.
   */
  connect(): Promise<void> {
    return this.rooms.l2.ping()
  }

  /** Releases what the cache holds open: the L2 connection it made (one handed in stays open). */
  async disconnect(): Promise<void> {
    const { queue, bus, l2 } = this.rooms
    await queue.close(Math.min(l2.timeoutMs, 10_000))
    await bus.close()
    await l2.close()
  }

  /** Calls `listener` on every event of that name; returns the function that stops it. */
  on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    return this.rooms.recorder.on(checkListener(event, listener), listener)
  }

  /** Calls `listener` on the next event of that name only. */
  once<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    return this.rooms.recorder.once(checkListener(event, listener), listener)
  }

  /** Stops a listener on()/once() registered. */
  off<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): void {
    this.rooms.recorder.off(checkListener(event, listener), listener)
  }

  /** Counters since the cache was made, shared by all its namespaces. */
  stats(): CacheStats {
    return this.rooms.recorder.stats()
  }
}

Object.defineProperty(RustoCache.prototype, CACHE_BRAND, { value: true })

const HOOKS = ['operation', 'l2', 'factory', 'request', 'bus'] as const

/**
 * Watches a cache (and all its namespaces) with `observer`: see CacheObserver. Returns the function that stops
 * watching. rustocache/otel and rustocache/prometheus are built on it.
 */
export function observe(cache: RustoCache, observer: CacheObserver): () => void {
  if (!(cache instanceof RustoCache)) throw new InvalidOptionError('observe needs a RustoCache')
  if (typeof observer !== 'object' || observer === null) throw new InvalidOptionError('observe needs an observer object: { operation?, l2?, factory?, request?, bus? }')
  for (const hook of HOOKS) {
    if (observer[hook] !== undefined && typeof observer[hook] !== 'function') throw new InvalidOptionError(`observer.${hook} must be a function`)
  }
  return cache['rooms'].recorder.observe(observer)
}

/** The name a cache's observers and metrics know it by (its prefix). */
export function cacheName(cache: RustoCache): string {
  return cache['rooms'].recorder.name
}
