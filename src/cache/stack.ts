import { createCore } from '../core/create-core.js'
import { MISS, SLOT_MASK, STALE, type Core } from '../core/types.js'
import { InvalidOptionError, keyText, L2CacheError, L2UnreachableError, RustoCacheError, shown, UncloneableValueError, UndefinedValueError, UnserializableValueError } from '../errors.js'
import type { L2Driver, L2DriverFactory, L2Entry } from '../l2/types.js'
import { Emitter, type CacheEventName, type CacheEvents } from '../events.js'
import type { Logger } from '../logger.js'
import { newStats, type CacheStats } from '../stats.js'
import { toBytes, toMs, type Duration } from '../ttl.js'
import type { BusMessage } from '../bus/types.js'
import { Watchdog } from '../watchdog.js'
import { Probe, type KeyPolicy } from '../observe.js'
import { KeyFlights } from './locks.js'
import type { L1Options } from './options.js'
import { Found, TagStamps } from './tags.js'

export { Found } from './tags.js'

/** What L1 keeps per key: the value and what the cache needs to judge it. */
export interface Entry {
  value: unknown
  /**
   * When the value was made (its L2 createdAt): this cache's stamp for a local write, the writer's for a value
   * read from L2, whose clock may differ from ours.
   */
  stamp: number
  /**
   * When it entered this L1, in this cache's stamps: what L1 judgements compare with (tag invalidations, a
   * distrusted bus), since every one of them is stamped by this cache too. Its ttl counts from here.
   */
  at: number
  /** Its ttl and grace in ms (earlyExpiration; rewriting it to L2 after an outage). */
  ttl: number
  grace: number
  /** Full tag names (namespace path included), or undefined. */
  tags: readonly string[] | undefined
  /** After a failed refresh served this stale value: no factory call before this time (ms). */
  backoffUntil: number
  /**
   * Another instance wrote a newer value (its bus message made this entry stale): usable as a fallback only
   * while L2 cannot be asked, never once L2 has answered that the newer value is gone too.
   */
  superseded: boolean
}

export interface WriteOptions {
  ttl: number
  grace: number
  tags: readonly string[] | undefined
}

/** What L2 answered for a key, judged: fresh or stale, its value, and the L1 entry it was copied into (if it was). */
export interface L2Found {
  fresh: boolean
  value: unknown
  entry: Entry | undefined
  /** L2 answered, and holds nothing usable for the key (absent, or deleted by a tag). */
  gone?: true
}

/** L2's answer that it holds nothing usable for a key (distinct from no answer: L2 down, breaker open). */
const GONE: L2Found = { fresh: false, value: undefined, entry: undefined, gone: true }

/**
 * Work in flight for a key (a factory run or an L2 read), begun at stamp `since`. Whatever invalidates the key
 * after `since` (a delete, set, expire, clear or tag invalidation, here or from the bus) overtakes it: its result
 * may still answer its own callers, but is not stored.
 */
export interface Ticket {
  readonly key: string
  readonly since: number
  /** When the L2 commands of the call holding the ticket must be done by, together (see l2Timeout). */
  readonly deadline: number
}

/** Lookup codes of CacheStack.lookup: MISS, or a slot with STALE set when the entry is stale. */
export function isFresh(code: number): boolean {
  return code >= 0 && code < STALE
}

/** Bytes of `text` in UTF-8 (a lone surrogate as 3, as TextEncoder writes U+FFFD). */
export function utf8Length(text: string): number {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

function jsonSize(value: unknown): number {
  const json = JSON.stringify(value)
  return json === undefined ? 0 : utf8Length(json)
}

/**
 * The one rule for a key leaving the process (trace contexts, errors, log lines), from traceKeys: true shows it,
 * a function redacts it (one that throws, told to `onThrow`, or returns anything but a string shows nothing);
 * undefined or false: keys never leave (undefined is returned). Anything else is E_INVALID_OPTION.
 */
export function keyShower(traceKeys: unknown, onThrow: (error: unknown) => void): KeyPolicy | undefined {
  if (traceKeys !== undefined && typeof traceKeys !== 'boolean' && typeof traceKeys !== 'function') {
    throw new InvalidOptionError('traceKeys must be true, false, or a function (key) => string that redacts a key')
  }
  if (traceKeys === true) return (key) => key
  if (typeof traceKeys !== 'function') return undefined
  return (key) => {
    try {
      const shown: unknown = traceKeys(key)
      return typeof shown === 'string' ? shown : undefined
    } catch (error) {
      onThrow(error)
      return undefined
    }
  }
}

/** The key policy that shows no key. */
export const hideKeys: KeyPolicy = () => undefined

/**
 * The state one cache and all its namespaces share: the L1 core, tag stamps, work in flight, locks, counters,
 * events, the logger and the L2 driver. Every change to an L1 key goes through it, so work in flight learns of
 * it. It knows nothing of factories or the bus (getOrSet and Coherence drive it).
 */
export class CacheStack {
  readonly core: Core<Entry>
  /** Per key: the local factory lock and the tickets of work in flight. */
  readonly locks = new KeyFlights()
  readonly emitter: Emitter
  readonly counters: CacheStats
  readonly tags = new TagStamps()
  /** Observers and the TracingChannel: see observe.ts. */
  readonly probe: Probe
  /** While > 0 (tag changes wait in the retry queue, L2 does not know them yet), no tag stamp is dropped. */
  tagsPinned = 0
  private tagSweepAt = 1024
  private lastStamp = 0
  private readonly maxEntrySize: number
  /** False in L2-only mode: entries are judged as usual but never kept (the core stays empty). */
  readonly l1: boolean
  /** L2-only mode: after a failed refresh served a stale value, no factory call for the key before this time. */
  private readonly backoffs = new Map<string, number>()
  /** l1.clone: values are copied into L1 and out of it. */
  readonly cloneValues: boolean
  private readonly sizeOf: ((value: unknown, key: string) => number) | undefined

  /** The second tier, if the cache has one. */
  readonly l2: L2Driver | undefined
  private readonly l2Kind: string
  private readonly suppressL2Errors: boolean
  private readonly breakerMs: number
  private breakerUntil = 0
  readonly l2TimeoutMs: number
  /** The cache's own bound on every L2 command but clear, for drivers that hang (see l2Timeout). */
  private readonly l2Watchdog: Watchdog | undefined
  /** Entries written before this stamp are stale (messages may have been missed while the bus was away). */
  private staleBefore = -Infinity
  /** When the current L2 outage began (0: L2 answers): its first failure is reported once (see unreachable). */
  private downSince = 0
  /** No logger was given: an unreachable L2 is still said once, on the console. */
  loudWhenSilent = false
  /** Called when L2 answers again after an outage (the retry queue flushes then, not at its next backoff). */
  onReachable: (() => void) | undefined
  /** A key as it may leave the process (errors, logs): itself, redacted, or undefined (traceKeys). */
  readonly showKey: KeyPolicy

  constructor(
    l1Given: L1Options | false,
    readonly logger: Logger,
    l2: { factory: L2DriverFactory | undefined; prefix: string; suppressErrors: boolean | undefined; breaker: Duration | undefined; timeout: Duration | undefined },
    /** traceKeys as keyShower made it: undefined when keys never leave the process. */
    keyPolicy: KeyPolicy | undefined,
  ) {
    this.showKey = keyPolicy ?? hideKeys
    this.probe = new Probe(l2.prefix, keyPolicy, (error, where) =>
      this.logger.error({ err: error, where }, 'a cache observer threw: the call went on unwatched'),
    )
    if (l1Given === false && l2.factory === undefined) throw new InvalidOptionError('l1: false (L2-only mode) needs an l2 driver')
    this.l1 = l1Given !== false
    // L2-only: an empty TypeScript core (no WASM to compile in a short-lived function) that is never written.
    const l1: L1Options = l1Given === false ? { core: 'js', maxItems: 1 } : l1Given
    if (typeof l1 !== 'object' || l1 === null) throw new InvalidOptionError('l1 must be an object such as { maxItems: 10_000 }, or false for L2-only mode')
    if (l1.clone !== undefined && typeof l1.clone !== 'boolean') throw new InvalidOptionError(`l1.clone must be true or false, got ${shown(l1.clone)}`)
    this.cloneValues = l1.clone === true
    const maxBytes = l1.maxBytes === undefined ? undefined : toBytes(l1.maxBytes, 'l1.maxBytes')
    this.maxEntrySize = l1.maxEntrySize === undefined ? Infinity : toBytes(l1.maxEntrySize, 'l1.maxEntrySize')
    if (l1.sizeCalculation !== undefined && typeof l1.sizeCalculation !== 'function') {
      throw new InvalidOptionError('l1.sizeCalculation must be a function (value, key) => bytes')
    }
    const limited = maxBytes !== undefined || this.maxEntrySize < Infinity
    this.sizeOf = limited ? (l1.sizeCalculation ?? jsonSize) : undefined
    this.core = createCore<Entry>({
      kind: l1.core ?? 'auto',
      maxItems: l1.maxItems ?? 100_000,
      maxBytes,
      policy: l1.policy,
      onEvict: (_key, _entry, reason) => {
        // A candidate W-TinyLFU turned away left L1 to make room, as an evicted entry does.
        if (reason !== 'expire') this.counters.evictions++
      },
    })
    this.counters = newStats(this.l1 ? this.core.kind : 'none')
    if (l2.factory !== undefined && (typeof l2.factory !== 'object' || l2.factory === null || typeof l2.factory.create !== 'function')) {
      throw new InvalidOptionError("l2 must be a driver factory such as redisDriver({ connection }) from 'rustocache/redis'")
    }
    this.suppressL2Errors = l2.suppressErrors ?? true
    this.breakerMs = l2.breaker === undefined || l2.breaker === null ? 0 : toMs(l2.breaker, 'l2CircuitBreakerDuration')
    this.l2TimeoutMs = toMs(l2.timeout ?? '2s', 'l2Timeout')
    this.l2Watchdog = this.l2TimeoutMs === Infinity ? undefined : new Watchdog(this.l2TimeoutMs, 'L2')
    this.l2Kind = l2.factory?.kind ?? 'none'
    this.l2 = l2.factory?.create({
      prefix: l2.prefix,
      logger,
      rejected: (key, reason) => {
        this.counters.l2Rejected++
        this.logger.warn({ key, tier: 'l2', reason }, 'unreadable L2 entry: read as a miss')
      },
    })
    this.emitter = new Emitter((error, event) => this.logger.error({ err: error, event }, 'a cache event listener threw'))
    this.l2?.onRecover?.(() => {
      if (this.downSince !== 0) this.reachable()
      else this.onReachable?.()
    })
  }

  /** A stamp for a write or an invalidation happening now: ms, but never equal to or below the last one. */
  stamp(now: number): number {
    this.lastStamp = now > this.lastStamp ? now : this.lastStamp + 1 / 1024
    return this.lastStamp
  }

  // ---- Work in flight ----

  /** A deadline for the L2 commands of a call starting now. */
  l2Deadline(): number {
    return Date.now() + this.l2TimeoutMs
  }

  /** A ticket for an L2 read of `key` (end() it when done); reads of one call share one `deadline`. */
  ticket(key: string, deadline = this.l2Deadline()): Ticket {
    return { key, since: this.begin(key), deadline }
  }

  /** Starts a ticket for `key`; returns its `since` stamp. Every begin is matched by one end. */
  begin(key: string): number {
    // The next stamp, without reading the clock: only the order of stamps matters here.
    const since = this.stamp(this.lastStamp)
    this.locks.begin(key, since)
    return since
  }

  end(ticket: Ticket): void {
    this.locks.end(ticket.key)
  }

  /** A write's L2 side goes out: reads of the key that overlap it keep nothing in L1 (see admitL2). */
  beginWrite(key: string): void {
    this.locks.beginWrite(key)
  }

  endWrite(key: string): void {
    this.locks.endWrite(key, this.stamp(this.lastStamp))
  }

  /** True when the key, or one of `tags`, changed after the ticket began: its result must not be stored. */
  overtaken(ticket: Ticket, tags: readonly string[] | undefined): boolean {
    const flight = this.locks.get(ticket.key)
    return (flight !== undefined && flight.changedAt > ticket.since) || (tags !== undefined && this.tags.changedSince(tags, ticket.since))
  }

  /** Tells work in flight for `key` (or, with `prefix`, for every key starting with it) that it changed. */
  private changed(key: string, prefix = false): void {
    if (this.locks.size === 0) return
    if (!prefix) {
      const flight = this.locks.get(key)
      if (flight && flight.tickets > 0) flight.changedAt = this.stamp(this.lastStamp)
      return
    }
    for (const [k, flight] of this.locks.entries()) if (flight.tickets > 0 && k.startsWith(key)) flight.changedAt = this.stamp(this.lastStamp)
  }

  // ---- L1 reads ----

  /** The L1 lookup code of a key (MISS, slot, or slot | STALE) with tags applied; marks the entry used. */
  lookup(key: string, now: number): number {
    return this.judge(key, this.core.lookup(key, now))
  }

  /** Like lookup, without marking the entry used. */
  peek(key: string, now: number): number {
    return this.judge(key, this.core.peek(key, now))
  }

  /** The entry behind a code that is not MISS. */
  entryAt(code: number): Entry {
    return this.core.valueAt(code & SLOT_MASK)
  }

  /**
   * True when a stale L1 entry is known to have been replaced elsewhere (a newer write's bus message, or a bus
   * gap since it entered L1): once L2 has answered that it holds nothing for the key, it must not be served.
   */
  outdated(entry: Entry): boolean {
    return entry.superseded || entry.at < this.staleBefore
  }

  /** A code from the core, with what the core cannot know applied: tag invalidations and a distrusted bus. */
  judge(key: string, code: number): number {
    if (code === MISS) return MISS
    const entry = this.core.valueAt(code & SLOT_MASK)
    let found: Found = code < STALE ? Found.Fresh : Found.Stale
    if (entry.at < this.staleBefore) found = Found.Stale
    if (entry.tags !== undefined) found = this.tags.judge(entry.tags, entry.at, found)
    if (found === Found.Missing) {
      this.core.delete(key)
      return MISS
    }
    return found === Found.Stale ? code | STALE : code
  }

  // ---- L1 writes and invalidations: every one tells work in flight ----

  /** L2-only mode: until when `key` is backing off (0: not). */
  backoffUntil(key: string, now: number): number {
    const until = this.backoffs.get(key)
    if (until === undefined) return 0
    if (until > now) return until
    this.backoffs.delete(key)
    return 0
  }

  /** L2-only mode: starts a backoff. Bounded: past 10,000 keys the ended ones go, then the oldest. */
  backOff(key: string, until: number): void {
    this.backoffs.delete(key)
    this.backoffs.set(key, until)
    if (this.backoffs.size <= 10_000) return
    const now = Date.now()
    for (const [k, t] of this.backoffs) if (t <= now) this.backoffs.delete(k)
    for (const k of this.backoffs.keys()) {
      if (this.backoffs.size <= 10_000) break
      this.backoffs.delete(k)
    }
  }

  /** Checks a value before anything is written; its L2 form when it goes to L2 (an unencodable value throws here). */
  prepare(key: string, value: unknown, options: WriteOptions, stamp: number, now: number, toL2: boolean): { payload: string; ttlMs: number } | undefined {
    if (value === undefined) throw new UndefinedValueError(this.showKey(key))
    if (!toL2 || !this.l2) return undefined
    const { entry, ttlMs } = this.toRemote(value, options, stamp, now)
    return { payload: this.encode(key, entry), ttlMs }
  }

  /** An entry's L2 form; a value the serializer cannot encode is the caller's error, never an L2 failure. */
  encode(key: string, entry: L2Entry): string {
    try {
      return this.l2!.encode(entry)
    } catch (error) {
      throw error instanceof RustoCacheError ? error : new UnserializableValueError(this.showKey(key), error)
    }
  }

  /**
   * Writes a value to L1: a change, so work in flight for the key is overtaken. False when it is too large to
   * keep there, or there is no L1.
   */
  write(key: string, value: unknown, options: WriteOptions, now: number, stamp: number): boolean {
    // L2-only: a new value ends a backoff, as it would replace the L1 entry carrying it.
    if (this.backoffs.size > 0) this.backoffs.delete(key)
    // Sized first: a sizeCalculation that throws leaves everything as it was.
    const size = this.l1 ? this.sizeFor(key, value) : 0
    this.changed(key)
    return this.keep(key, value, options, now, stamp, stamp, size) !== undefined && this.l1
  }

  /** What L1 will keep of a value about to be written: itself, or with l1.clone a copy (checked before any write). */
  copyIn(key: string, value: unknown): unknown {
    if (!this.cloneValues) return value
    try {
      return structuredClone(value)
    } catch (error) {
      throw new UncloneableValueError(this.showKey(key), error)
    }
  }

  /** An L1 value as a caller receives it: with l1.clone, a copy of its own. */
  valueOf(entry: Entry): unknown {
    return this.cloneValues ? structuredClone(entry.value) : entry.value
  }

  /**
   * Puts an entry in L1 and returns it (undefined when L1 could not keep the value). Not a change by itself: a
   * write calls changed() first, a copy from L2 (admitL2) does not, since L2 already held what it copies and
   * work in flight must not be overtaken by its own read. In L2-only mode the entry is returned but not kept:
   * a value read from L2 is judged (and may be served stale) all the same.
   */
  private keep(key: string, value: unknown, options: WriteOptions, now: number, stamp: number, at: number, size: number): Entry | undefined {
    if (!this.l1) return { value, stamp, at, ttl: options.ttl, grace: options.grace, tags: options.tags, backoffUntil: 0, superseded: false }
    if (size < 0) {
      this.refuse(key)
      return undefined
    }
    const entry: Entry = { value, stamp, at, ttl: options.ttl, grace: options.grace, tags: options.tags, backoffUntil: 0, superseded: false }
    if (this.core.set(key, entry, now, options.ttl, options.grace, size) === MISS) {
      this.counters.oversized++
      return undefined
    }
    this.counters.writes++
    return entry
  }

  /** write() for many keys: every value is checked before the first is written, then one batch goes to the core. */
  writeMany(keys: readonly string[], values: readonly unknown[], options: readonly WriteOptions[], now: number, stamps: readonly number[]): boolean[] {
    if (!this.l1) return keys.map((key) => (this.changed(key), this.backoffs.delete(key), false))
    const sizes = keys.map((key, i) => this.sizeFor(key, values[i]))
    const kept: number[] = []
    const written = keys.map((key, i) => {
      this.changed(key)
      return sizes[i]! < 0 ? this.refuse(key) : (kept.push(i), true)
    })
    this.core.setMany(
      kept.map((k) => keys[k]!),
      kept.map((k): Entry => ({ value: values[k], stamp: stamps[k]!, at: stamps[k]!, ttl: options[k]!.ttl, grace: options[k]!.grace, tags: options[k]!.tags, backoffUntil: 0, superseded: false })),
      now,
      kept.map((k) => options[k]!.ttl),
      kept.map((k) => options[k]!.grace),
      kept.map((k) => sizes[k]!),
    )
    this.counters.writes += kept.length
    return written
  }

  remove(key: string): boolean {
    this.changed(key)
    return this.core.delete(key)
  }

  expire(key: string, now: number): boolean {
    this.changed(key)
    return this.core.expire(key, now)
  }

  /** Empties L1 under `path` ('' for all of it: tag stamps go too, since no entry is left to judge). */
  clear(path: string): void {
    this.changed(path, true)
    if (path !== '') {
      // A walk over every L1 key.
      for (const key of [...this.core.keys()]) if (key.startsWith(path)) this.core.delete(key)
      return
    }
    this.core.clear()
    if (this.locks.size === 0 && this.tagsPinned === 0) this.tags.clear()
  }

  /** Records a tag invalidation, then bounds the stamps kept (see sweepTags). */
  invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp: number, origin = stamp): void {
    this.tags.record(tags, how, stamp, origin)
    if (this.tags.size >= this.tagSweepAt) this.sweepTags(Date.now())
  }

  /**
   * Applies every tag stamp to the L1 entries it concerns (drops the deleted, marks the expired stale), so no L1
   * entry needs them any more, then drops the stamps nothing in flight can still need. Runs when the stamps
   * reach max(1024, L1 entries, twice what the last sweep kept): a walk over L1 paid for by as many invalidations.
   */
  sweepTags(now: number): void {
    if (this.tagsPinned === 0) {
      for (const key of [...this.core.keys()]) {
        const code = this.core.peek(key, now)
        if (code === MISS) continue
        const entry = this.core.valueAt(code & SLOT_MASK)
        if (entry.tags === undefined) continue
        const found = this.tags.judge(entry.tags, entry.at, Found.Fresh)
        if (found === Found.Missing) this.core.delete(key)
        else if (found === Found.Stale) this.core.expire(key, now)
      }
      // Work in flight compares its results with the stamps after its start (overtaken): keep those.
      let floor = Infinity
      for (const flight of this.locks.values()) floor = Math.min(floor, flight.since)
      this.tags.retain(floor)
    }
    this.tagSweepAt = Math.max(1024, this.core.size, 2 * this.tags.size)
  }

  /**
   * After the bus lost messages: with an L2, every L1 entry written so far becomes stale, so the next read checks
   * L2 and the copy stays a fallback; without one, L1 is emptied.
   */
  distrustL1(): void {
    // What is in flight may have read what the missed messages changed: none of it is kept (an L2 read that
    // began before a delete we never heard of would otherwise bring the deleted value back, fresh).
    this.changed('', true)
    if (this.l2) this.staleBefore = this.stamp(Date.now())
    else this.clear('')
    this.logger.warn({ tier: 'bus' }, 'bus subscription restored: L1 entries are revalidated against L2')
  }

  /**
   * Another instance changed something. With an L2, a key it wrote is marked stale here, so the next read fetches
   * the new value from L2 and this copy stays a fallback; without an L2 there is nowhere to fetch from: drop it.
   */
  applyRemote(message: BusMessage): void {
    const now = Date.now()
    switch (message.type) {
      case 'set':
      case 'expire':
        for (const key of message.keys) {
          if (this.l2 || message.type === 'expire') {
            this.expire(key, now)
            if (message.type === 'set') this.supersede(key, now)
          } else this.remove(key)
        }
        return
      case 'delete':
        for (const key of message.keys) this.remove(key)
        return
      case 'clear':
        this.clear(message.path ?? '')
        return
      case 'delete-tags':
      case 'expire-tags':
        // Stamped on arrival, by this instance's clock: every entry that entered this L1 before it is covered,
        // whatever the skew between the sender's clock and ours. The sender's stamp judges entries read from L2
        // (made by the writers' clocks), as L2's own record of it does.
        this.invalidateTags(message.tags ?? [], message.type === 'delete-tags' ? 'delete' : 'expire', this.stamp(now), message.stamp)
        return
    }
  }

  /**
   * This instance's own change of `key` could not reach L2 or the others (dropped from a full retry queue):
   * its L1 copy turns stale and outdated, so reads ask L2 again and fall back on it only while L2 cannot answer.
   */
  outdate(key: string): void {
    const now = Date.now()
    this.core.expire(key, now)
    this.supersede(key, now)
  }

  private supersede(key: string, now: number): void {
    const code = this.core.peek(key, now)
    if (code !== MISS) this.core.valueAt(code & SLOT_MASK).superseded = true
  }

  // ---- L2 ----

  /**
   * Runs an L2 command. Resolves undefined when there is no L2, when the circuit breaker is open, or when the
   * command failed and errors are suppressed; otherwise a failure rejects with E_L2_CACHE_ERROR.
   */
  async l2Call<T>(op: string, key: string | undefined, run: (l2: L2Driver) => Promise<T>, deadline?: number): Promise<T | undefined> {
    const l2 = this.l2
    if (!l2) return undefined
    if (this.breakerUntil > Date.now()) {
      this.counters.l2Errors++
      if (!this.suppressL2Errors) throw new L2CacheError(op, new Error('circuit breaker open'))
      return undefined
    }
    try {
      // A namespace clear walks the keyspace and may take long: the driver's own timeouts bound its commands.
      const command = this.probe.any ? this.probe.l2(op, this.l2Kind, key, () => run(l2)) : run(l2)
      const result = await (this.l2Watchdog && op !== 'clear' ? this.l2Watchdog.guard(command, deadline) : command)
      if (this.downSince !== 0) this.reachable()
      return result
    } catch (error) {
      this.counters.l2Errors++
      if (this.breakerMs > 0) this.breakerUntil = Date.now() + this.breakerMs
      this.unreachable(error)
      this.logger.error({ err: error, op, key, tier: 'l2' }, 'L2 command failed')
      if (!this.suppressL2Errors) throw new L2CacheError(op, error)
      return undefined
    }
  }

  /**
   * An L2 command failed for a reason that may pass (the driver does not class it permanent): the first such
   * failure of an outage is logged once as E_L2_UNREACHABLE naming the server, and, with no logger configured,
   * printed once with console.warn, so a missing Redis is never silent. The next success ends the outage.
   */
  private unreachable(error: unknown): void {
    if (this.downSince !== 0) return
    try {
      if (this.l2?.isPermanent?.(error) === true) return
    } catch {
      // A classifier that throws: treat the failure as transient.
    }
    this.downSince = Date.now()
    const down = new L2UnreachableError(this.l2Target, error)
    this.logger.error({ err: down, tier: 'l2' }, `${down.message}; answering without L2 until it is back`)
    if (this.loudWhenSilent) console.warn(`rustocache: ${down.message}; answering without L2 until it is back (pass a logger to hear more)`)
  }

  private reachable(): void {
    this.logger.warn({ tier: 'l2', downMs: Date.now() - this.downSince }, `${this.l2Target} answers again`)
    this.downSince = 0
    this.onReachable?.()
  }

  /**
   * Checks that L2 answers: a read of a key no call uses, within l2Timeout. Rejects with E_L2_UNREACHABLE naming
   * the server (connect()).
   */
  async ping(): Promise<void> {
    const l2 = this.l2
    if (!l2) return
    try {
      const read = l2.get('\u0000rustocache:ping')
      await (this.l2Watchdog ? this.l2Watchdog.guard(read) : read)
      if (this.downSince !== 0) this.reachable()
    } catch (error) {
      this.unreachable(error)
      throw new L2UnreachableError(this.l2Target, error)
    }
  }

  /** Where L2 is, for messages: as the driver describes it, else its kind. */
  private get l2Target(): string {
    return this.l2?.target ?? `the ${this.l2Kind} L2`
  }

  /** Reads one key from L2 and admits what it holds (undefined: nothing usable, L2 down, or its breaker open). */
  async readL2(key: string, now: number, ticket: Ticket, grace: number): Promise<L2Found | undefined> {
    return this.admitL2(key, await this.l2Call('get', key, async (l2) => (await l2.get(key)) ?? null, ticket.deadline), now, ticket, grace)
  }

  /**
   * What L2 answered for one key, the one step of single and batch reads: judged against tag stamps (here and in
   * L2), counted, and copied into L1 unless the key changed while the read was on the wire. `remote` is null
   * when L2 answered that it has no entry, undefined when it could not answer; so is the result (GONE, undefined).
   */
  async admitL2(key: string, remote: L2Entry | null | undefined, now: number, ticket: Ticket, grace: number): Promise<L2Found | undefined> {
    if (remote === undefined || remote === null) {
      this.counters.l2Misses++
      return remote === null ? GONE : undefined
    }
    let found: Found = remote.expiresAt > now ? Found.Fresh : Found.Stale
    const tags = remote.tags
    // Untagged entries (most) are judged without an await.
    if (tags !== undefined) {
      // Older than the driver keeps tag stamps: an invalidation it may have forgotten cannot be ruled out.
      const retention = this.l2?.tagRetentionMs
      if (retention !== undefined && remote.createdAt < now - retention) {
        this.counters.l2Misses++
        return GONE
      }
      const stamps = (await this.l2Call('tagStamps', key, (l2) => l2.tagStamps(tags), ticket.deadline)) ?? []
      found = this.tags.judgeRemote(tags, remote.createdAt, found, stamps)
    }
    if (found === Found.Missing) return GONE
    this.counters.l2Hits++
    const fresh = found === Found.Fresh
    // Overtaken by a change of the key or of one of the entry's tags (a deleteByTag while the read was out), or
    // older than a write of ours still on its way to L2: answered, not kept (L1 would keep the older value).
    if (this.overtaken(ticket, tags) || this.locks.wroteSince(key, ticket.since)) return { fresh, value: remote.value, entry: undefined }
    // A copy, not a change: L2 held this already, so no work in flight (the refresh that read it, say) is overtaken.
    const entry = this.keep(key, remote.value, { ttl: fresh ? remote.expiresAt - now : 0, grace, tags }, now, remote.createdAt, this.stamp(now), this.l1 ? this.sizeFor(key, remote.value) : 0)
    // With l1.clone the caller gets a copy of what L1 now keeps; the decoded value is L1's (no second copy in).
    const value = entry !== undefined && this.l1 && this.cloneValues ? structuredClone(remote.value) : remote.value
    // A stale entry written without grace is past its physical deadline already: not usable.
    return { fresh, value, entry: fresh || grace > 0 ? entry : undefined }
  }

  /** The L2 form of an L1 entry, for re-applying it: made at `stamp`, expiring its ttl after it entered L1. */
  remoteOf(entry: Entry, now: number): { entry: L2Entry; ttlMs: number } {
    return this.toRemote(entry.value, entry, entry.stamp, now, entry.at)
  }

  /** The L2 form of a value made at `createdAt` whose ttl counts from `from` (the same, for a write made now). */
  toRemote(value: unknown, options: WriteOptions, createdAt: number, now: number, from = createdAt): { entry: L2Entry; ttlMs: number } {
    const expiresAt = from + options.ttl
    return {
      entry: { value, expiresAt, createdAt, tags: options.tags },
      ttlMs: expiresAt + options.grace - now,
    }
  }

  /**
   * An L2 command bounded by l2Timeout, failing as it does (the retry queue's re-apply, which must see
   * failures), and watched by observers as every L2 command is.
   */
  guardL2<T>(op: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    const command = this.probe.any ? this.probe.l2(op, this.l2Kind, key, run) : run()
    return this.l2Watchdog ? this.l2Watchdog.guard(command) : command
  }

  /** On disconnect: L2 commands still waiting fail now, later ones at once. */
  stopTimers(): void {
    this.l2Watchdog?.stop()
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    this.emitter.emit(event, payload)
  }

  /** The L1 size of a value about to be written, or -1 when L1 cannot keep it. Throws on undefined. */
  private sizeFor(key: string, value: unknown): number {
    if (value === undefined) throw new UndefinedValueError(this.showKey(key))
    if (!this.sizeOf) return 0
    const size = this.sizeOf(value, key)
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > 0xffffffff) {
      throw new InvalidOptionError(`l1.sizeCalculation returned ${shown(size)} for ${keyText(this.showKey(key))}; it must return whole bytes >= 0`)
    }
    // Larger than the whole L1 is refused here too, so the core never refuses one of a batch.
    return size > this.maxEntrySize || size > this.core.maxBytes ? -1 : size
  }

  /** An entry too large for L1 is not kept there: counted, and any older entry for its key dropped. */
  private refuse(key: string): false {
    this.core.delete(key)
    this.counters.oversized++
    return false
  }
}
