import { createCore } from '../core/create-core.js'
import { MISS, STALE, type Core } from '../core/types.js'
import { InvalidOptionError, L2CacheError, UndefinedValueError } from '../errors.js'
import type { L2Driver, L2DriverFactory, L2Entry } from '../l2/types.js'
import { Emitter, type CacheEventName, type CacheEvents } from '../events.js'
import type { Logger } from '../logger.js'
import { newStats, type CacheStats } from '../stats.js'
import { toBytes, toMs, type Duration } from '../ttl.js'
import type { BusMessage } from '../bus/types.js'
import type { Coherence } from './coherence.js'
import { KeyLocks } from './locks.js'
import type { L1Options } from './options.js'

/** What L1 keeps per key: the value and what the cache needs to judge it. */
export interface Entry {
  value: unknown
  /** When it was written, in stamp units (ms, strictly increasing within this cache). */
  stamp: number
  /** Its ttl and grace in ms (earlyExpiration; rewriting it to L2 after an outage). */
  ttl: number
  grace: number
  /** Full tag names (namespace path included), or undefined. */
  tags: readonly string[] | undefined
  /** After a failed refresh served this stale value: no factory call before this time (ms). */
  backoffUntil: number
}

/** How a read found a key. */
export const Found = { Missing: 0, Fresh: 1, Stale: 2 } as const
export type Found = (typeof Found)[keyof typeof Found]


export interface WriteOptions {
  ttl: number
  grace: number
  tags: readonly string[] | undefined
}

function utf8Length(text: string): number {
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
 * The state one cache and all its namespaces share: the L1 core, tag invalidations, locks, counters, events and
 * the logger. It knows nothing of factories; RustoCache drives it.
 */
export class CacheStack {
  readonly core: Core<Entry>
  readonly locks = new KeyLocks()
  readonly emitter: Emitter
  readonly counters: CacheStats
  /** Per full tag name: the stamp of its last deleteByTag and of its last expireByTag. */
  private readonly tagDeleted = new Map<string, number>()
  private readonly tagExpired = new Map<string, number>()
  private lastStamp = 0
  private readonly maxEntrySize: number
  private readonly sizeOf: ((value: unknown, key: string) => number) | undefined

  /** The bus and retry queue; set by the cache right after the stack is made. */
  coherence!: Coherence
  /** The second tier, if the cache has one. */
  readonly l2: L2Driver | undefined
  private readonly suppressL2Errors: boolean
  private readonly breakerMs: number
  private breakerUntil = 0

  constructor(
    l1: L1Options,
    readonly logger: Logger,
    l2: { factory: L2DriverFactory | undefined; prefix: string; suppressErrors: boolean | undefined; breaker: Duration | undefined },
  ) {
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
      onEvict: (_key, _entry, reason) => {
        if (reason === 'evict') this.counters.evictions++
      },
    })
    this.counters = newStats(this.core.kind)
    if (l2.factory !== undefined && (typeof l2.factory !== 'object' || typeof l2.factory.create !== 'function')) {
      throw new InvalidOptionError("l2 must be a driver factory such as redisDriver({ connection }) from 'rustocache/redis'")
    }
    this.suppressL2Errors = l2.suppressErrors ?? true
    this.breakerMs = l2.breaker === undefined || l2.breaker === null ? 0 : toMs(l2.breaker, 'l2CircuitBreakerDuration')
    this.l2 = l2.factory?.create({ prefix: l2.prefix, logger })
    this.emitter = new Emitter((error, event) => this.logger.error({ err: error, event }, 'a cache event listener threw'))
  }

  /** A stamp for a write or an invalidation happening now: ms, but never equal to or below the last one. */
  stamp(now: number): number {
    this.lastStamp = now > this.lastStamp ? now : this.lastStamp + 1 / 1024
    return this.lastStamp
  }

  /** Deletes the L1 entries of one namespace (keys starting with `path`): a walk over every L1 key. */
  clearPath(path: string): void {
    for (const key of [...this.core.keys()]) if (key.startsWith(path)) this.core.delete(key)
  }

  /** How the last read() or peek() found its key (kept here so a hit allocates nothing). */
  found: Found = Found.Missing

  /** Looks a key up in L1, marking it used; applies tag invalidations (a deleted tag makes the entry gone). */
  read(key: string, now: number): Entry | undefined {
    return this.judge(key, this.core.lookup(key, now))
  }

  /** Like read, without marking the entry used. */
  peek(key: string, now: number): Entry | undefined {
    return this.judge(key, this.core.peek(key, now))
  }

  /** Turns a lookup code into an entry and sets `found`; the shared step of single and batch reads. */
  judge(key: string, code: number): Entry | undefined {
    if (code === MISS) {
      this.found = Found.Missing
      return undefined
    }
    const entry = this.core.valueAt(code & ~STALE)
    this.found = this.judgeTags(key, entry, code < STALE ? Found.Fresh : Found.Stale)
    return this.found === Found.Missing ? undefined : entry
  }

  /** Entries written before this stamp are stale (messages may have been missed while the bus was away). */
  private staleBefore = -Infinity

  /**
   * After the bus lost messages: with an L2, every L1 entry written so far becomes stale, so the next read checks
   * L2 and the copy stays a fallback; without one, L1 is emptied.
   */
  distrustL1(): void {
    if (this.l2) this.staleBefore = this.stamp(Date.now())
    else this.core.clear()
    this.logger.warn({ tier: 'bus' }, 'bus subscription restored: L1 entries are revalidated against L2')
  }

  /** Tags can only make an entry worse: stale if a tag was expired after it was written, gone if deleted. */
  judgeTags(key: string, entry: Entry, found: Found): Found {
    if (entry.stamp < this.staleBefore && found === Found.Fresh) found = Found.Stale
    const tags = entry.tags
    if (tags === undefined) return found
    for (let i = 0; i < tags.length; i++) {
      const deleted = this.tagDeleted.get(tags[i]!)
      if (deleted !== undefined && deleted >= entry.stamp) {
        this.core.delete(key)
        return Found.Missing
      }
      const expired = this.tagExpired.get(tags[i]!)
      if (expired !== undefined && expired >= entry.stamp) found = Found.Stale
    }
    return found
  }

  /** The L1 size of a value about to be written, or -1 when L1 cannot keep it. Throws on undefined. */
  private sizeFor(key: string, value: unknown): number {
    if (value === undefined) throw new UndefinedValueError(key)
    if (!this.sizeOf) return 0
    const size = this.sizeOf(value, key)
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > 0xffffffff) {
      throw new InvalidOptionError(`l1.sizeCalculation returned ${String(size)} for key "${key}"; it must return whole bytes >= 0`)
    }
    // Larger than the whole L1 is refused here too, so the core never refuses one of a batch.
    return size > this.maxEntrySize || size > this.core.maxBytes ? -1 : size
  }

  private entryFor(value: unknown, options: WriteOptions, stamp: number): Entry {
    return { value, stamp, ttl: options.ttl, grace: options.grace, tags: options.tags, backoffUntil: 0 }
  }

  /** An entry too large for L1 is not kept there: counted, and any older entry for its key dropped. */
  private refuse(key: string): false {
    this.core.delete(key)
    this.counters.oversized++
    return false
  }

  /** Writes a value to L1; false when it is too large to keep there. `stamp` defaults to a new one. */
  write(key: string, value: unknown, options: WriteOptions, now: number, stamp = this.stamp(now)): boolean {
    return this.put(key, value, options, now, stamp) !== undefined
  }

  /** write(), returning the L1 entry it stored (undefined when L1 could not keep the value). */
  private put(key: string, value: unknown, options: WriteOptions, now: number, stamp: number): Entry | undefined {
    const size = this.sizeFor(key, value)
    if (size < 0) {
      this.refuse(key)
      return undefined
    }
    const entry = this.entryFor(value, options, stamp)
    if (this.core.set(key, entry, now, options.ttl, options.grace, size) === MISS) {
      this.counters.oversized++
      return undefined
    }
    this.counters.writes++
    return entry
  }

  /** write() for many keys: every value is checked before the first is written, then one batch goes to the core. */
  writeMany(keys: readonly string[], values: readonly unknown[], options: readonly WriteOptions[], now: number, stamps: readonly number[]): boolean[] {
    const sizes = keys.map((key, i) => this.sizeFor(key, values[i]))
    const kept: number[] = []
    const written = keys.map((key, i) => (sizes[i]! < 0 ? this.refuse(key) : (kept.push(i), true)))
    this.core.setMany(
      kept.map((k) => keys[k]!),
      kept.map((k) => this.entryFor(values[k], options[k]!, stamps[k]!)),
      now,
      kept.map((k) => options[k]!.ttl),
      kept.map((k) => options[k]!.grace),
      kept.map((k) => sizes[k]!),
    )
    this.counters.writes += kept.length
    return written
  }

  /** Records a tag invalidation locally and returns its stamp (for L2 and the bus). */
  invalidateTags(tags: readonly string[], how: 'delete' | 'expire', now: number, stamp = this.stamp(now)): number {
    const map = how === 'delete' ? this.tagDeleted : this.tagExpired
    for (const tag of tags) if (!(map.get(tag)! >= stamp)) map.set(tag, stamp)
    return stamp
  }

  /**
   * Runs an L2 command. Resolves undefined when there is no L2, when the circuit breaker is open, or when the
   * command failed and errors are suppressed; otherwise a failure rejects with E_L2_CACHE_ERROR.
   */
  async l2Call<T>(op: string, key: string | undefined, run: (l2: L2Driver) => Promise<T>): Promise<T | undefined> {
    const l2 = this.l2
    if (!l2) return undefined
    if (this.breakerUntil > Date.now()) {
      this.counters.l2Errors++
      if (!this.suppressL2Errors) throw new L2CacheError(op, new Error('circuit breaker open'))
      return undefined
    }
    try {
      return await run(l2)
    } catch (error) {
      this.counters.l2Errors++
      if (this.breakerMs > 0) this.breakerUntil = Date.now() + this.breakerMs
      this.logger.error({ err: error, op, key, tier: 'l2' }, 'L2 command failed')
      if (!this.suppressL2Errors) throw new L2CacheError(op, error)
      return undefined
    }
  }

  /**
   * How an entry read from L2 stands: tags invalidated after it was written (here, or by another instance, as
   * recorded in L2) make it gone or stale; past its logical expiry it is stale.
   */
  judgeRemote(key: string, entry: L2Entry, now: number): Found | Promise<Found> {
    const found: Found = entry.expiresAt > now ? Found.Fresh : Found.Stale
    const tags = entry.tags
    // Untagged entries (most) are judged without an await.
    return tags === undefined ? found : this.judgeRemoteTags(key, entry, tags, found)
  }

  private async judgeRemoteTags(key: string, entry: L2Entry, tags: readonly string[], found: Found): Promise<Found> {
    const remote = (await this.l2Call('tagStamps', key, (l2) => l2.tagStamps(tags))) ?? []
    for (let i = 0; i < tags.length; i++) {
      const deleted = Math.max(this.tagDeleted.get(tags[i]!) ?? -Infinity, remote[i]?.deleted ?? -Infinity)
      if (deleted >= entry.createdAt) return Found.Missing
      const expired = Math.max(this.tagExpired.get(tags[i]!) ?? -Infinity, remote[i]?.expired ?? -Infinity)
      if (expired >= entry.createdAt) found = Found.Stale
    }
    return found
  }

  /** Copies an L2 entry into L1 (stale ones as stale, kept for `grace`); returns the L1 entry, if kept. */
  backfill(key: string, remote: L2Entry, found: Found, grace: number, now: number): Entry | undefined {
    const ttl = found === Found.Fresh ? remote.expiresAt - now : 0
    const entry = this.put(key, remote.value, { ttl, grace, tags: remote.tags }, now, remote.createdAt)
    // A stale entry written without grace is past its physical deadline already: not usable.
    return found === Found.Fresh || grace > 0 ? entry : undefined
  }

  /** The L2 form of a value written at `stamp` (now, or earlier when a queued change is re-applied). */
  toRemote(value: unknown, options: WriteOptions, stamp: number, now: number): { entry: L2Entry; ttlMs: number } {
    const expiresAt = stamp + options.ttl
    return {
      entry: { value, expiresAt, createdAt: stamp, tags: options.tags },
      ttlMs: expiresAt + options.grace - now,
    }
  }

  clearTags(): void {
    this.tagDeleted.clear()
    this.tagExpired.clear()
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
          if (this.l2 || message.type === 'expire') this.core.expire(key, now)
          else this.core.delete(key)
        }
        return
      case 'delete':
        for (const key of message.keys) this.core.delete(key)
        return
      case 'clear':
        if (!message.path) this.core.clear()
        else this.clearPath(message.path)
        return
      case 'delete-tags':
      case 'expire-tags':
        this.invalidateTags(message.tags ?? [], message.type === 'delete-tags' ? 'delete' : 'expire', now, message.stamp)
        return
    }
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    this.emitter.emit(event, payload)
  }
}
