import { background } from '../background.js'
import { L2CacheError, L2UnreachableError, RustoCacheError, UndefinedValueError, UnserializableValueError } from '../errors.js'
import type { L2Driver, L2Entry, L2Payload } from '../l2/types.js'
import type { Logger } from '../logger.js'
import type { KeyPolicy } from '../observe.js'
import { Watchdog } from '../watchdog.js'
import type { Flights, Ticket } from './flights.js'
import type { Entry, L1, WriteOptions } from './l1.js'
import type { L2Settings } from './options.js'
import type { Recorder } from './recorder.js'
import type { Common } from './rooms.js'
import { Found, type TagStamps } from './tags.js'
import { nowMs } from '../now.js'

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

/** A value's L2 form and how long L2 keeps it. */
export interface Remote {
  entry: L2Entry
  ttlMs: number
}

/** The L2 form of a value made at `createdAt` whose ttl counts from `from` (the same, for a write made now). */
function toRemote(value: unknown, options: WriteOptions, createdAt: number, now: number, from = createdAt): Remote {
  const expiresAt = from + options.ttl
  return { entry: { value, expiresAt, createdAt, tags: options.tags }, ttlMs: expiresAt + options.grace - now }
}

/**
 * The second tier, seen from the cache: every command runs here, bounded by l2Timeout (the watchdog), behind
 * the circuit breaker, counted and logged; an outage is said once. Reads are judged (tag stamps, here and in
 * L2) and admitted into L1 unless work in flight was overtaken. Values are encoded here, so a value the
 * serializer refuses is the caller's error, never an L2 failure.
 */
export class L2 {
  /** The driver, if the cache has an L2. */
  private readonly driver: L2Driver | undefined
  private readonly kind: string
  private readonly suppressErrors: boolean
  private readonly breakerMs: number
  private breakerUntil = 0
  readonly timeoutMs: number
  /** The cache's own bound on every L2 command but clear, for drivers that hang (see l2Timeout). */
  private readonly watchdog: Watchdog | undefined
  /** When the current outage began (0: L2 answers): its first failure is reported once (see unreachable). */
  private downSince = 0
  /** Called when L2 answers again after an outage (the retry queue flushes then, not at its next backoff). */
  private readonly reachableListeners: Array<() => void> = []

  private readonly logger: Logger
  private readonly recorder: Recorder
  private readonly flights: Flights
  private readonly tags: TagStamps
  private readonly showKey: KeyPolicy

  constructor(
    settings: L2Settings,
    prefix: string,
    common: Common,
    private readonly l1: L1,
    /** No logger was given: an outage is still said once, on the console. */
    private readonly loud: boolean,
  ) {
    ;({ logger: this.logger, recorder: this.recorder, flights: this.flights, tags: this.tags, showKey: this.showKey } = common)
    const { logger, recorder } = common
    this.suppressErrors = settings.suppressErrors
    this.breakerMs = settings.breakerMs
    this.timeoutMs = settings.timeoutMs
    this.watchdog = this.timeoutMs === Infinity ? undefined : new Watchdog(this.timeoutMs, 'L2')
    this.kind = settings.factory?.kind ?? 'none'
    this.driver = settings.factory?.create({
      prefix,
      logger,
      rejected: (key, reason) => {
        recorder.count('l2Rejected')
        logger.warn({ key, tier: 'l2', reason }, 'unreadable L2 entry: read as a miss')
      },
    })
    this.driver?.onRecover?.(() => {
      if (this.downSince !== 0) this.reachable()
      else this.tellReachable()
    })
  }

  /** Calls `listener` each time L2 answers again after an outage. */
  onReachable(listener: () => void): void {
    this.reachableListeners.push(listener)
  }

  private tellReachable(): void {
    for (const listener of this.reachableListeners) listener()
  }

  /** True when the cache has an L2. */
  get present(): boolean {
    return this.driver !== undefined
  }

  /** The driver's distributed locks, if it has them. */
  get locks(): L2Driver['locks'] {
    return this.driver?.locks
  }

  /** The longest key (and tag) the driver holds, in UTF-8 bytes. */
  get maxKeyBytes(): number {
    return this.driver?.maxKeyBytes ?? Infinity
  }

  /** A deadline for the L2 commands of a call starting now. */
  deadline(): number {
    return nowMs() + this.timeoutMs
  }

  /**
   * Runs an L2 command. Resolves undefined when there is no L2, when the circuit breaker is open, or when the
   * command failed and errors are suppressed; otherwise a failure rejects with E_L2_CACHE_ERROR.
   */
  async call<T>(op: string, key: string | undefined, run: (l2: L2Driver) => Promise<T>, deadline?: number): Promise<T | undefined> {
    const l2 = this.driver
    if (!l2) return undefined
    if (this.breakerUntil > nowMs()) {
      this.recorder.count('l2Errors')
      if (!this.suppressErrors) throw new L2CacheError(op, new Error('circuit breaker open'))
      return undefined
    }
    try {
      // A namespace clear (or a prune) walks the keyspace and may take long: the driver's own timeouts bound its commands.
      const command = this.watched(op, key, () => run(l2))
      const result = await (this.watchdog && op !== 'clear' && op !== 'prune' ? this.watchdog.guard(command, deadline) : command)
      if (this.downSince !== 0) this.reachable()
      return result
    } catch (error) {
      this.recorder.count('l2Errors')
      if (this.breakerMs > 0) this.breakerUntil = nowMs() + this.breakerMs
      this.unreachable(error)
      this.logger.error({ err: error, op, key, tier: 'l2' }, 'L2 command failed')
      if (!this.suppressErrors) throw new L2CacheError(op, error)
      return undefined
    }
  }

  /**
   * An L2 command bounded by l2Timeout, failing as it does (the retry queue's re-apply, which must see
   * failures), and watched by observers as every L2 command is.
   */
  guard<T>(op: string, key: string | undefined, run: (l2: L2Driver) => Promise<T>): Promise<T> {
    const driver = this.driver!
    const command = this.watched(op, key, () => run(driver))
    return this.watchdog ? this.watchdog.guard(command) : command
  }

  /** A command with no bound but the driver's own, failing as it does (the retry queue's namespace clear). */
  unguarded<T>(run: (l2: L2Driver) => Promise<T>): Promise<T> {
    return run(this.driver!)
  }

  private watched<T>(op: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    return this.recorder.l2(op, this.kind, key, run)
  }

  /**
   * An L2 command failed for a reason that may pass (the driver does not class it permanent): the first such
   * failure of an outage is logged once as E_L2_UNREACHABLE naming the server, and, with no logger configured,
   * printed once with console.warn, so a missing Redis is never silent. The next success ends the outage.
   */
  private unreachable(error: unknown): void {
    if (this.downSince !== 0 || this.isPermanent(error)) return
    this.downSince = nowMs()
    const down = new L2UnreachableError(this.target, error)
    this.logger.error({ err: down, tier: 'l2' }, `${down.message}; answering without L2 until it is back`)
    if (this.loud) console.warn(`rustocache: ${down.message}; answering without L2 until it is back (pass a logger to hear more)`)
  }

  private reachable(): void {
    this.logger.warn({ tier: 'l2', downMs: nowMs() - this.downSince }, `${this.target} answers again`)
    this.downSince = 0
    this.tellReachable()
  }

  /** True when the driver classes the error as permanent (a classifier that throws: transient). */
  isPermanent(error: unknown): boolean {
    try {
      return this.driver?.isPermanent?.(error) === true
    } catch {
      return false
    }
  }

  /** Where L2 is, for messages: as the driver describes it, else its kind. */
  private get target(): string {
    return this.driver?.target ?? `the ${this.kind} L2`
  }

  /**
   * Checks that L2 answers: a read of a key no call uses, within l2Timeout. Rejects with E_L2_UNREACHABLE naming
   * the server (connect()).
   */
  async ping(): Promise<void> {
    const l2 = this.driver
    if (!l2) return
    try {
      const read = l2.get('\u0000rustocache:ping')
      await (this.watchdog ? this.watchdog.guard(read) : read)
      if (this.downSince !== 0) this.reachable()
    } catch (error) {
      this.unreachable(error)
      throw new L2UnreachableError(this.target, error)
    }
  }

  /** Reads one key and admits what L2 holds (undefined: nothing usable, L2 down, or its breaker open). */
  async read(key: string, now: number, ticket: Ticket, grace: number): Promise<L2Found | undefined> {
    return this.admit(key, await this.call('get', key, async (l2) => (await l2.get(key)) ?? null, ticket.deadline), now, ticket, grace)
  }

  /**
   * What L2 answered for one key, the one step of single and batch reads: judged against tag stamps (here and in
   * L2), counted, and copied into L1 unless the key changed while the read was on the wire. `remote` is null
   * when L2 answered that it has no entry, undefined when it could not answer; so is the result (GONE, undefined).
   * A promise only for a tagged entry (its tag stamps may be asked of L2).
   */
  admit(key: string, remote: L2Entry | null | undefined, now: number, ticket: Ticket, grace: number): L2Found | undefined | Promise<L2Found | undefined> {
    // A change of this instance to the key waits in the retry queue (its L2 side failed): L2 is behind, so for
    // this key it cannot answer yet. A delete completed here must not come back from L2's older copy.
    if (this.flights.isBehind(key)) return undefined
    if (remote === undefined || remote === null) {
      this.recorder.count('l2Misses')
      return remote === null ? GONE : undefined
    }
    const found: Found = remote.expiresAt > now ? Found.Fresh : Found.Stale
    // Untagged entries (most) are judged without a promise: a batch of 100 made 100 of them.
    return remote.tags === undefined ? this.keep(key, remote, found, now, ticket, grace) : this.admitTagged(key, remote, remote.tags, found, now, ticket, grace)
  }

  /** admit() for a tagged entry: judged against the tag stamps this cache and L2 hold. */
  private async admitTagged(key: string, remote: L2Entry, tags: readonly string[], found: Found, now: number, ticket: Ticket, grace: number): Promise<L2Found | undefined> {
    // Older than the driver keeps tag stamps: an invalidation it may have forgotten cannot be ruled out.
    const retention = this.driver?.tagRetentionMs
    if (retention !== undefined && remote.createdAt < now - retention) {
      this.recorder.count('l2Misses')
      return GONE
    }
    const stamps = (await this.call('tagStamps', key, (l2) => l2.tagStamps(tags), ticket.deadline)) ?? []
    return this.keep(key, remote, this.tags.judgeRemote(tags, remote.createdAt, found, stamps), now, ticket, grace)
  }

  /** An entry L2 answered, judged: counted, and copied into L1 unless the key changed while the read was out. */
  private keep(key: string, remote: L2Entry, found: Found, now: number, ticket: Ticket, grace: number): L2Found {
    if (found === Found.Missing) return GONE
    const tags = remote.tags
    this.recorder.count('l2Hits')
    const fresh = found === Found.Fresh
    // Overtaken by a change of the key or of one of the entry's tags (a deleteByTag while the read was out), or
    // older than a write of ours still on its way to L2: answered, not kept (L1 would keep the older value).
    if (this.flights.overtaken(ticket, tags) || this.flights.wroteSince(key, ticket.since)) return { fresh, value: remote.value, entry: undefined }
    // A copy, not a change: L2 held this already, so no work in flight (the refresh that read it, say) is overtaken.
    const entry = this.l1.admit(key, remote.value, { ttl: fresh ? remote.expiresAt - now : 0, grace, tags }, now, remote.createdAt)
    // With l1.clone the caller gets a copy of what L1 now keeps; the decoded value is L1's (no second copy in).
    const value = entry !== undefined && this.l1.keeps ? this.l1.valueOf(entry) : remote.value
    // A stale entry written without grace is past its physical deadline already: not usable.
    return { fresh, value, entry: fresh || grace > 0 ? entry : undefined }
  }

  /**
   * Checks a value before anything is written, and its L2 form when it goes to L2 (`toL2`; an unencodable value
   * throws here, before any tier is touched).
   */
  prepare(key: string, value: unknown, options: WriteOptions, stamp: number, now: number, toL2: boolean): { payload: L2Payload; ttlMs: number } | undefined {
    if (value === undefined) throw new UndefinedValueError(this.showKey(key))
    if (!toL2 || !this.driver) return undefined
    const { entry, ttlMs } = toRemote(value, options, stamp, now)
    return { payload: this.encode(key, entry), ttlMs }
  }

  /** The L2 form of an L1 entry, for re-applying it: made at its stamp, expiring its ttl after it entered L1. */
  remoteOf(entry: Entry, now: number): Remote {
    return toRemote(entry.value, entry, entry.stamp, now, entry.at)
  }

  /** An entry's L2 form; a value the serializer cannot encode is the caller's error, never an L2 failure. */
  encode(key: string, entry: L2Entry): L2Payload {
    try {
      return this.driver!.encode(entry)
    } catch (error) {
      throw error instanceof RustoCacheError ? error : new UnserializableValueError(this.showKey(key), error)
    }
  }

  /** On disconnect: L2 commands still waiting fail now, later ones at once; the connection the cache made closes. */
  async close(): Promise<void> {
    await this.driver?.disconnect()
    this.watchdog?.stop()
  }

  /** L2 commands still waiting fail now (the constructor failed after the driver was made). */
  abandon(): void {
    this.watchdog?.stop()
    if (this.driver) background(this.driver.disconnect(), this.logger, 'closing L2 after a failed constructor')
  }
}
