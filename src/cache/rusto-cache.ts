import { InvalidKeyError, InvalidOptionError, shown } from '../errors.js'
import type { CacheEventName, CacheEvents } from '../events.js'
import { redactingLogger, silentLogger, type Logger } from '../logger.js'
import type { CacheStats } from '../stats.js'
import { toMs, type Duration } from '../ttl.js'
import { STALE } from '../core/types.js'
import { background } from '../background.js'
import { Coherence } from './coherence.js'
import { fill, refreshEarly, type GetOrSetOptions } from './get-or-set.js'
import { DEFAULTS, fraction, jittered, resolveOptions, type EntryOptions, type RustoCacheOptions } from './options.js'
import { Scope, stampable, wellFormed } from './scope.js'
import type { CacheObserver, CacheOperation, OperationContext, Tier } from '../observe.js'
import { CacheStack, hideKeys, isFresh, keyShower, type Entry, type WriteOptions } from './stack.js'

export type { Factory, FactoryContext, GetOrSetOptions } from './get-or-set.js'

export interface KeyOptions {
  key: string
}
export interface GetOptions<T> extends KeyOptions {
  /** Returned on a miss (a function is called for it). */
  defaultValue?: T | (() => T)
  /** false: never answer with a stale value; a duration: only within that long after the ttl. */
  grace?: Duration | false
}
export interface SetManyOptions<T> {
  items: Array<{ key: string; value: T; ttl?: Duration; jitter?: EntryOptions['jitter']; grace?: Duration | false; tags?: string[] }>
}
export interface SetOptions<T> extends KeyOptions, EntryOptions {
  value: T
  tags?: string[]
}

/** Calls `run`, turning a synchronous throw into a rejection: every public call reports bad input by rejecting. */
function settle<R>(run: (trace: OperationContext | undefined) => Promise<R>, trace: OperationContext | undefined): Promise<R> {
  try {
    return run(trace)
  } catch (error) {
    return Promise.reject(error)
  }
}

function options<O>(given: O, call: string): NonNullable<O> {
  if (typeof given !== 'object' || given === null) throw new InvalidOptionError(`${call} needs an options object`)
  return given as NonNullable<O>
}

/** A call's grace, checked before anything is read (it is used only when a stale entry turns up). */
function checkGrace(grace: unknown): void {
  if (grace !== undefined && grace !== false) toMs(grace, 'grace')
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

function checkListener(event: unknown, listener: unknown): void {
  if (typeof event !== 'string' || !EVENTS.has(event)) throw new InvalidOptionError(`unknown event ${shown(event)}: one of ${[...EVENTS].join(', ')}`)
  if (typeof listener !== 'function') throw new InvalidOptionError(`a listener for ${event} must be a function`)
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
 * loses nothing already cached.
 */
export class RustoCache {
  private readonly scope: Scope

  constructor(config: RustoCacheOptions = {}) {
    if (typeof config !== 'object' || config === null) throw new InvalidOptionError('RustoCache options must be an object')
    if (config.prefix !== undefined && (typeof config.prefix !== 'string' || config.prefix === '')) {
      throw new InvalidOptionError('prefix must be a non-empty string')
    }
    if (config.prefix !== undefined && !wellFormed(config.prefix)) throw new InvalidOptionError('prefix must be well-formed UTF-16 (it has a lone surrogate)')
    const prefix = config.prefix ?? 'rustocache'
    const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'child'] as const
    const pinoLike = (l: unknown): l is Logger => typeof l === 'object' && l !== null && levels.every((m) => typeof (l as Record<string, unknown>)[m] === 'function')
    const given = config.logger === undefined ? silentLogger.child({ cache: prefix }) : pinoLike(config.logger) ? config.logger.child({ cache: prefix }) : undefined
    if (!pinoLike(given)) throw new InvalidOptionError(`logger must be pino-compatible: an object with ${levels.join(', ')} (child returning the same)`)
    // Keys leave the process in log lines, errors and traces alike: only as traceKeys says (see keyShower).
    const keyPolicy = keyShower(config.traceKeys, (error) => given.error({ err: error, where: 'traceKeys' }, 'traceKeys threw: the key is not shown'))
    const logger = config.logger === undefined || config.traceKeys === true ? given : redactingLogger(given, keyPolicy ?? hideKeys)
    const defaults = resolveOptions(DEFAULTS, config)
    if (config.l1 === false && config.bus !== undefined) throw new InvalidOptionError('l1: false (L2-only mode) keeps no L1 for a bus to keep coherent: leave bus out')
    // Every option is checked before the first connection is made (the L2 driver's, in CacheStack).
    const channel = `${prefix}:bus`
    const bus = Coherence.check(config.bus, channel)
    const stack = new CacheStack(
      config.l1 ?? {},
      logger,
      {
        factory: config.l2,
        prefix,
        suppressErrors: config.suppressL2Errors,
        breaker: config.l2CircuitBreakerDuration,
        timeout: config.l2Timeout,
      },
      keyPolicy,
    )
    let coherence: Coherence
    try {
      coherence = new Coherence(stack, config.bus, channel, bus)
    } catch (error) {
      // The bus transport could not be made: close the L2 connection already open, then refuse.
      stack.stopTimers()
      if (stack.l2) background(stack.l2.disconnect(), logger, 'closing L2 after a failed constructor')
      throw error
    }
    stack.loudWhenSilent = config.logger === undefined
    this.scope = new Scope(stack, coherence, defaults, '', undefined, logger)
  }

  /** The same API with every key and tag prefixed; clear() on it clears only its keys. Namespaces nest. */
  namespace(name: string): RustoCache {
    // A view sharing this cache's stack: built without the constructor, which would make a new L1.
    const view = Object.create(RustoCache.prototype) as RustoCache
    Object.assign(view, { scope: this.scope.child(name) })
    return view
  }

  getOrSet<T>(given: GetOrSetOptions<T>): Promise<T> {
    // The untraced path allocates nothing for tracing: one check per call (see observe.ts).
    if (this.scope.stack.probe.active()) return this.traced('getOrSet', given, (trace) => this.fetch(given, trace, 'getOrSet'))
    return this.fetch(given, undefined, 'getOrSet')
  }

  getOrSetForever<T>(given: GetOrSetOptions<T>): Promise<T> {
    return this.traced('getOrSetForever', given, (trace) => this.fetch({ ...options(given, 'getOrSetForever'), ttl: null }, trace, 'getOrSetForever'))
  }

  private fetch<T>(given: GetOrSetOptions<T>, trace: OperationContext | undefined, call: string): Promise<T> {
    try {
      const scope = this.scope
      const key = scope.keyFor(options(given, call).key)
      if (typeof given.factory !== 'function') throw new InvalidOptionError('getOrSet needs a factory function')
      if (given.forceFresh !== true) {
        const now = Date.now()
        const code = scope.stack.lookup(key, now)
        if (isFresh(code)) {
          const entry = scope.stack.entryAt(code)
          // The one option a hit uses; the others are checked on the miss path, where they are used.
          const early = given.earlyExpiration === undefined ? scope.defaults.earlyExpiration : fraction(given.earlyExpiration)
          if (early > 0 && now - entry.at >= entry.ttl * early) refreshEarly(scope, key, given, entry, now)
          scope.hit(given.key, false, 'l1', trace)
          return Promise.resolve(scope.stack.valueOf(entry) as T)
        }
      }
      return fill(scope, key, given, trace)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Runs a public call with a trace context, inside the observers' wrappers and on the TracingChannel; without
   * either, as it is. `run` never throws: every call reports bad input by rejecting.
   */
  private traced<R>(operation: CacheOperation, given: unknown, run: (trace: OperationContext | undefined) => Promise<R>, batch?: 'keys' | 'items'): Promise<R> {
    const probe = this.scope.stack.probe
    if (!probe.active()) return settle(run, undefined)
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
    const trace = probe.context(operation, this.scope.namespaceName, key, keys)
    return probe.operation(trace, () => settle(run, trace))
  }

  /** L1, then L2 when L1 has no fresh value; a stale value within grace; else defaultValue. */
  get<T>(given: GetOptions<T>): Promise<T | undefined> {
    if (this.scope.stack.probe.active()) return this.traced('get', given, (trace) => this.read(given, trace))
    return this.read(given, undefined)
  }

  private async read<T>(given: GetOptions<T>, trace: OperationContext | undefined): Promise<T | undefined> {
    const { scope } = this
    const { stack } = scope
    const key = scope.keyFor(options(given, 'get').key)
    checkGrace(given.grace)
    const now = Date.now()
    const code = stack.lookup(key, now)
    const entry = code < 0 ? undefined : stack.entryAt(code)
    if (entry && isFresh(code)) {
      scope.hit(given.key, false, 'l1', trace)
      return stack.valueOf(entry) as T
    }
    let stale = entry && scope.staleUsable(entry, given.grace, now) ? entry : undefined
    let from: Tier = 'l1'
    if (stack.l2) {
      const ticket = stack.ticket(key)
      try {
        const remote = await stack.readL2(key, now, ticket, scope.defaults.grace)
        if (remote?.fresh) {
          scope.hit(given.key, false, 'l2', trace)
          return remote.value as T
        }
        // A stale value from L2 is at least as new as L1's.
        if (remote?.entry && scope.staleUsable(remote.entry, given.grace, now)) {
          stale = remote.entry
          from = 'l2'
        } else if (remote?.gone && stale && stack.outdated(stale)) stale = undefined
      } finally {
        stack.end(ticket)
      }
    }
    if (stale) return scope.graced(given.key, stale, from, trace, 'get')
    scope.miss(given.key, trace)
    const fallback = given.defaultValue
    return typeof fallback === 'function' ? (fallback as () => T)() : fallback
  }

  /**
   * Values in key order, undefined for a miss: one crossing into the L1 core for the whole batch, one L2 read
   * for what L1 could not answer. Every answer is settled before the first event is emitted, so a listener that
   * calls back into the cache cannot change what this call returns.
   */
  getMany<T>(given: { keys: string[]; grace?: Duration | false }): Promise<(T | undefined)[]> {
    return this.traced('getMany', given, (trace) => this.readMany<T>(given, trace), 'keys')
  }

  private async readMany<T>(given: { keys: string[]; grace?: Duration | false }, trace: OperationContext | undefined): Promise<(T | undefined)[]> {
    const { scope } = this
    const { stack } = scope
    const userKeys = keyList(given, 'getMany')
    const keys = userKeys.map((k) => scope.keyFor(k))
    checkGrace(given.grace)
    const now = Date.now()
    const codes = stack.core.lookupMany(keys, now)
    const out = new Array<T | undefined>(keys.length)
    const how = new Array<'hit' | 'graced' | 'miss'>(keys.length)
    const tier = new Array<Tier>(keys.length).fill('l1')
    const stale = new Array<Entry | undefined>(keys.length)
    const ask: number[] = []
    for (let i = 0; i < keys.length; i++) {
      // A key twice in the batch: judging the first copy may have dropped the entry the second code points to.
      const code = codes[i]! >= 0 && stack.core.keyAt(codes[i]! & ~STALE) === keys[i] ? stack.judge(keys[i]!, codes[i]!) : -1
      const entry = code < 0 ? undefined : stack.entryAt(code)
      if (entry && isFresh(code)) {
        out[i] = stack.valueOf(entry) as T
        how[i] = 'hit'
        continue
      }
      stale[i] = entry && scope.staleUsable(entry, given.grace, now) ? entry : undefined
      ask.push(i)
    }
    if (ask.length > 0 && stack.l2) {
      const deadline = stack.l2Deadline()
      const tickets = ask.map((i) => stack.ticket(keys[i]!, deadline))
      try {
        const answer = await stack.l2Call('getMany', undefined, (l2) => l2.getMany(ask.map((i) => keys[i]!)), deadline)
        // Judged side by side: a tagged entry may need its tag stamps from L2.
        const judged = await Promise.all(ask.map((i, j) => stack.admitL2(keys[i]!, answer === undefined ? undefined : (answer[j] ?? null), now, tickets[j]!, scope.defaults.grace)))
        judged.forEach((r, j) => {
          const i = ask[j]!
          if (r?.fresh) {
            out[i] = r.value as T
            how[i] = 'hit'
            tier[i] = 'l2'
          } else if (r?.entry && scope.staleUsable(r.entry, given.grace, now)) {
            stale[i] = r.entry
            tier[i] = 'l2'
          } else if (r?.gone && stale[i] && stack.outdated(stale[i]!)) stale[i] = undefined
        })
      } finally {
        for (const ticket of tickets) stack.end(ticket)
      }
    }
    for (const i of ask) {
      if (how[i] === 'hit') continue
      how[i] = stale[i] ? 'graced' : 'miss'
      out[i] = (stale[i] === undefined ? undefined : stack.valueOf(stale[i]!)) as T | undefined
    }
    let hits = 0
    for (let i = 0; i < keys.length; i++) {
      const userKey = userKeys[i] as string
      if (how[i] === 'miss') scope.miss(userKey, undefined)
      else {
        hits++
        if (how[i] === 'hit') scope.hit(userKey, false, tier[i]!, undefined)
        else scope.graced(userKey, stale[i]!, tier[i]!, undefined, 'getMany')
      }
    }
    if (trace !== undefined) {
      trace.hits = hits
      trace.hit = hits === keys.length
    }
    return out
  }

  /** Writes L1, then L2. Resolves true once written (a value too large for L1 still goes to L2). */
  set<T>(given: SetOptions<T>): Promise<boolean> {
    return this.traced('set', given, () => this.write(given))
  }

  private async write<T>(given: SetOptions<T>): Promise<boolean> {
    const { scope } = this
    const key = scope.keyFor(options(given, 'set').key)
    const o = resolveOptions(scope.defaults, given)
    const write: WriteOptions = { ttl: jittered(o.ttl, o), grace: o.grace, tags: scope.tagsFor(given.tags) }
    return scope.writeThrough(key, given.key, given.value, write, false, false)
  }

  setForever<T>(given: SetOptions<T>): Promise<boolean> {
    return this.traced('setForever', given, () => this.write({ ...options(given, 'setForever'), ttl: null }))
  }

  /** Writes every item, checking (and encoding) them all first: one bad item writes nothing. One hashing crossing. */
  setMany<T>(given: SetManyOptions<T>): Promise<void> {
    return this.traced('setMany', given, () => this.writeMany(given), 'items')
  }

  private async writeMany<T>(given: SetManyOptions<T>): Promise<void> {
    const { scope } = this
    const { stack } = scope
    const items = options(given, 'setMany').items
    if (!Array.isArray(items)) throw new InvalidOptionError('setMany needs items: [{ key, value }]')
    const keys = items.map((item) => scope.keyFor(options(item, 'setMany item').key))
    const writes: WriteOptions[] = items.map((item) => {
      const o = resolveOptions(scope.defaults, item)
      return { ttl: jittered(o.ttl, o), grace: o.grace, tags: scope.tagsFor(item.tags) }
    })
    // As writeThrough: tagged writes wait until they can be stamped past every tag invalidation known here.
    const wait = stampable(stack.tags, stack.l2 !== undefined && writes.some((w) => w.tags !== undefined))
    if (wait) await wait
    const now = Date.now()
    const stamps = keys.map(() => stack.stamp(now))
    const values = items.map((item, i) => stack.copyIn(keys[i]!, item.value))
    const remote = keys.map((key, i) => stack.prepare(key, values[i], writes[i]!, stamps[i]!, now, true))
    const written = stack.writeMany(keys, values, writes, now, stamps)
    let inL2 = !stack.l2
    if (stack.l2) {
      const batch = keys.map((key, i) => ({ key, payload: remote[i]!.payload, ttlMs: remote[i]!.ttlMs }))
      for (const key of keys) stack.beginWrite(key)
      try {
        const answer = await stack.l2Call('setMany', undefined, (l2) => l2.setMany(batch).then((done) => done ?? true))
        inL2 = answer !== undefined
        // Keys L2 kept a newer version of (a conditional driver): this L1's copies must not outlive it.
        if (Array.isArray(answer)) answer.forEach((done, i) => done || stack.outdate(keys[i]!))
      } finally {
        for (const key of keys) stack.endWrite(key)
      }
      if (inL2) written.fill(true)
    }
    scope.coherence.announce({ type: 'set', keys }, inL2)
    for (let i = 0; i < items.length; i++) if (written[i]) scope.emit('cache:written', items[i]!.key)
  }

  /**
   * True when L1 holds a value get() would answer with (fresh, or stale within grace). Reads L1 only, never L2,
   * and does not touch the LRU order: a key only L2 holds reads as missing here. In L2-only mode (`l1: false`)
   * it asks L2 instead.
   */
  has(given: KeyOptions & { grace?: Duration | false }): Promise<boolean> {
    return this.traced('has', given, (trace) => this.holds(given, trace, 'has'))
  }

  /** The opposite of has(): L1 only. */
  missing(given: KeyOptions & { grace?: Duration | false }): Promise<boolean> {
    return this.traced('missing', given, async (trace) => !(await this.holds(given, trace, 'missing')))
  }

  private async holds(given: KeyOptions & { grace?: Duration | false }, trace: OperationContext | undefined, call: string): Promise<boolean> {
    const { scope } = this
    const { stack } = scope
    const key = scope.keyFor(options(given, call).key)
    checkGrace(given.grace)
    const now = Date.now()
    if (!stack.l1) {
      const ticket = stack.ticket(key)
      try {
        const remote = await stack.readL2(key, now, ticket, scope.defaults.grace)
        const yes = remote !== undefined && (remote.fresh || (remote.entry !== undefined && scope.staleUsable(remote.entry, given.grace, now)))
        if (trace !== undefined) {
          trace.hit = yes
          if (yes) trace.tier = 'l2'
        }
        return yes
      } finally {
        stack.end(ticket)
      }
    }
    const code = stack.peek(key, now)
    const yes = isFresh(code) || (code >= 0 && scope.staleUsable(stack.entryAt(code), given.grace, now))
    if (trace !== undefined) {
      trace.hit = yes
      if (yes) trace.tier = 'l1'
    }
    return yes
  }

  /** get() then delete(). */
  pull<T>(given: GetOptions<T>): Promise<T | undefined> {
    return this.traced('pull', given, async (trace) => {
      const value = await this.read(given, trace)
      await this.remove(given)
      return value
    })
  }

  delete(given: KeyOptions): Promise<boolean> {
    return this.traced('delete', given, () => this.remove(given))
  }

  private async remove(given: KeyOptions): Promise<boolean> {
    const { scope } = this
    const { stack } = scope
    const key = scope.keyFor(options(given, 'delete').key)
    const inL1 = stack.remove(key)
    // Stamped: a conditional driver keeps it as a tombstone that refuses writes made before it.
    const stamp = stack.stamp(Date.now())
    const l2Result = await stack.l2Call('delete', key, (l2) => l2.delete(key, stamp))
    scope.coherence.announce({ type: 'delete', keys: [key], stamp }, l2Result !== undefined || !stack.l2)
    const deleted = inL1 || l2Result === true
    if (deleted) {
      stack.counters.deletes++
      scope.emit('cache:deleted', given.key)
    }
    return deleted
  }

  deleteMany(given: { keys: string[] }): Promise<number> {
    return this.traced('deleteMany', given, () => this.removeMany(given), 'keys')
  }

  private async removeMany(given: { keys: string[] }): Promise<number> {
    const { scope } = this
    const { stack } = scope
    const userKeys = keyList(given, 'deleteMany')
    const keys = userKeys.map((k) => scope.keyFor(k))
    const deleted = keys.map((key) => stack.remove(key))
    // One UNLINK for the batch; its count covers keys that were only in L2.
    const stamp = stack.stamp(Date.now())
    const inL2 = await stack.l2Call('deleteMany', undefined, (l2) => l2.deleteMany(keys, stamp))
    scope.coherence.announce({ type: 'delete', keys, stamp }, inL2 !== undefined || !stack.l2)
    let n = 0
    deleted.forEach((yes, i) => {
      if (!yes) return
      n++
      stack.counters.deletes++
      scope.emit('cache:deleted', userKeys[i] as string)
    })
    return Math.max(n, inL2 ?? 0)
  }

  /** Marks the entry stale now: get() and getOrSet() may still serve it within its grace. */
  expire(given: KeyOptions): Promise<boolean> {
    return this.traced('expire', given, () => this.stale(given))
  }

  private async stale(given: KeyOptions): Promise<boolean> {
    const { scope } = this
    const { stack } = scope
    const key = scope.keyFor(options(given, 'expire').key)
    const now = Date.now()
    const inL1 = stack.expire(key, now)
    const l2Result = await stack.l2Call('expire', key, (l2) => l2.expire(key, now))
    scope.coherence.announce({ type: 'expire', keys: [key] }, l2Result !== undefined || !stack.l2)
    const inL2 = l2Result === true
    if (inL1 || inL2) scope.emit('cache:expired', given.key)
    return inL1 || inL2
  }

  /** Deletes every entry carrying one of these tags: no read brings them back, graced or not. */
  deleteByTag(given: { tags: string[] }): Promise<void> {
    return this.traced('deleteByTag', given, () => this.invalidate(options(given, 'deleteByTag').tags, 'delete'))
  }

  /** Marks every entry carrying one of these tags stale: grace still serves them. */
  expireByTag(given: { tags: string[] }): Promise<void> {
    return this.traced('expireByTag', given, () => this.invalidate(options(given, 'expireByTag').tags, 'expire'))
  }

  private async invalidate(given: unknown, how: 'delete' | 'expire'): Promise<void> {
    const { scope } = this
    const { stack } = scope
    if (given === undefined) throw new InvalidOptionError(`${how}ByTag needs tags: string[]`)
    const tags = scope.tagsFor(given) ?? []
    const stamp = stack.stamp(Date.now())
    stack.invalidateTags(tags, how, stamp)
    const done = await stack.l2Call(`${how}ByTag`, undefined, (l2) => l2.invalidateTags(tags, how, stamp).then(() => true))
    scope.coherence.announce({ type: how === 'delete' ? 'delete-tags' : 'expire-tags', keys: [], tags, stamp }, done === true || !stack.l2)
  }

  /** Removes every entry of this cache; on a namespace, only that namespace's (and its children's). */
  clear(): Promise<void> {
    return this.traced('clear', undefined, () => this.empty())
  }

  private async empty(): Promise<void> {
    const { scope } = this
    const { stack } = scope
    stack.clear(scope.path)
    const done = await stack.l2Call('clear', undefined, (l2) => l2.clear(scope.path).then(() => true))
    scope.coherence.announce({ type: 'clear', keys: [], path: scope.path }, done === true || !stack.l2)
    if (stack.emitter.has('cache:cleared')) stack.emit('cache:cleared', { store: 'memory', namespace: scope.namespaceName })
  }

  /**
   * Checks that L2 answers (a read, within l2Timeout), for a start-up check or a health probe: rejects with
   * E_L2_UNREACHABLE (`L2UnreachableError`, naming the server) when it does not. Never needed: every call
   * connects as it goes, and answers from L1 (or the factory) while L2 is down.
   */
  connect(): Promise<void> {
    return this.scope.stack.ping()
  }

  /** Releases what the cache holds open: the L2 connection it made (one handed in stays open). */
  async disconnect(): Promise<void> {
    await this.scope.coherence.close()
    await this.scope.stack.l2?.disconnect()
    this.scope.stack.stopTimers()
  }

  on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    checkListener(event, listener)
    return this.scope.stack.emitter.on(event, listener)
  }

  once<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    checkListener(event, listener)
    return this.scope.stack.emitter.once(event, listener)
  }

  off<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): void {
    checkListener(event, listener)
    this.scope.stack.emitter.off(event, listener)
  }

  /** Counters since the cache was made, shared by all its namespaces. */
  stats(): CacheStats {
    return { ...this.scope.stack.counters }
  }
}


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
  return cache['scope'].stack.probe.add(observer)
}
