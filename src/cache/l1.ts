import { CoreNotLoaded, createCore, type CreateCoreOptions } from '../core/create-core.js'
import { SeedUnavailable } from '../core/hash.js'
import { MISS, SLOT_MASK, STALE, type Core } from '../core/types.js'
import { InvalidOptionError, keyText, RustoCacheError, shown, UncloneableValueError, UndefinedValueError, WasmUnavailableError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { KeyPolicy } from '../observe.js'
import type { Flights } from './flights.js'
import type { L1Settings } from './options.js'
import type { Recorder } from './recorder.js'
import type { Common } from './rooms.js'
import { Found, type TagStamps } from './tags.js'
import { nowMs } from '../now.js'

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

/** How a value is stored: its ttl and grace in ms, and its full tag names. */
export interface WriteOptions {
  ttl: number
  grace: number
  tags: readonly string[] | undefined
}

/** Lookup codes of L1.lookup: MISS, or a slot with STALE set when the entry is stale. */
export function isFresh(code: number): boolean {
  return code >= 0 && code < STALE
}

/** Most keys an L2-only cache keeps a failed refresh's backoff for. */
const MAX_BACKOFFS = 10_000

function newEntry(value: unknown, options: WriteOptions, stamp: number, at: number): Entry {
  return { value, stamp, at, ttl: options.ttl, grace: options.grace, tags: options.tags, backoffUntil: 0, superseded: false }
}

/**
 * The in-process tier: the core (WASM or TypeScript) and what it cannot know, tag invalidations and a
 * distrusted bus, applied to every lookup. Every change of a key here (write, remove, expire, clear, tag
 * invalidation) tells work in flight (Flights); a copy from L2 (admit) does not. Sizes and l1.clone copies are
 * made here too. In L2-only mode (`l1: false`) entries are judged as usual but never kept.
 */
export class L1 {
  /** The core, made at construction, or at first use where the hash key cannot be drawn yet (see core). */
  private made: Core<Entry> | undefined
  private readonly coreOptions: CreateCoreOptions<Entry>
  /** False in L2-only mode: nothing is kept between calls. */
  readonly keeps: boolean
  private readonly cloneValues: boolean
  private readonly sizeOf: ((value: unknown, key: string) => number) | undefined
  private readonly maxEntrySize: number
  /** Longest an entry stays in L1 (l1.ttl), fresh and stale together; its L2 copy keeps its own ttl and grace. */
  private readonly maxTtl: number
  /** L2-only mode: after a failed refresh served a stale value, no factory call for the key before this time. */
  private readonly backoffs = new Map<string, number>()
  /** Entries that entered before this stamp are stale (messages may have been missed while the bus was away). */
  private staleBefore = -Infinity
  private tagSweepAt = 1024
  /** While > 0 (tag changes wait in the retry queue, L2 does not know them yet), no tag stamp is dropped. */
  private pins = 0

  private readonly flights: Flights
  private readonly tags: TagStamps
  private readonly recorder: Recorder
  private readonly logger: Logger
  private readonly showKey: KeyPolicy

  constructor(
    settings: L1Settings,
    common: Common,
    /** With an L2, a distrusted L1 turns stale (a fallback); without one it is emptied. */
    private readonly hasL2: boolean,
  ) {
    ;({ flights: this.flights, tags: this.tags, recorder: this.recorder, logger: this.logger, showKey: this.showKey } = common)
    const recorder = this.recorder
    this.keeps = settings.keeps
    this.cloneValues = settings.clone
    this.sizeOf = settings.sizeOf
    this.maxEntrySize = settings.maxEntrySize
    this.maxTtl = settings.maxTtl
    this.coreOptions = {
      kind: settings.core,
      maxItems: settings.maxItems,
      maxBytes: settings.maxBytes,
      policy: settings.policy,
      onEvict: (_key, _entry, reason) => {
        // A candidate W-TinyLFU turned away left L1 to make room, as an evicted entry does.
        if (reason !== 'expire') recorder.count('evictions')
      },
    }
    try {
      this.made = this.build()
    } catch (error) {
      if (error instanceof CoreNotLoaded) {
        this.loader = error.load
        // Started now, so the first call waits less; its failure is that call's (it loads again).
        this.loading()?.catch(() => undefined)
      } else if (!(error instanceof SeedUnavailable)) throw error
    }
  }

  private build(): Core<Entry> {
    const core = createCore<Entry>(this.coreOptions)
    this.recorder.setCore(this.keeps ? core.kind : 'none')
    return core
  }

  /**
   * Workers refuse random values in a module's global scope, where a cache shared by every request is made:
   * there the core is made by the first call, inside a request, once the hash key can be drawn.
   */
  private get core(): Core<Entry> {
    if (this.made) return this.made
    // Loading (the browser flavour): holds nothing yet. Calls wait for the load; a bus message finds nothing.
    return this.loader ? (NOT_LOADED as Core<Entry>) : (this.made = this.build())
  }

  /** Fetches what the core needs (CoreNotLoaded.load), in the browser flavour; undefined while nothing is in flight. */
  private loader: (() => Promise<void>) | undefined
  private inflight: Promise<void> | undefined

  /**
   * Undefined once the core is made (every runtime but the browser flavour, at once); else the load, which the
   * cache's calls wait for. A failed load rejects those calls (E_WASM_UNAVAILABLE) and the next call tries again.
   */
  loading(): Promise<void> | undefined {
    if (this.made || !this.loader) return undefined
    return (this.inflight ??= this.loader().then(
      () => {
        this.made = this.build()
        this.inflight = undefined
      },
      (error: unknown) => {
        this.inflight = undefined
        throw error instanceof RustoCacheError ? error : new WasmUnavailableError(`the L1 core could not be loaded: ${shown(error)}`, error)
      },
    ))
  }

  get kind(): Core<Entry>['kind'] | 'none' {
    return this.keeps ? this.core.kind : 'none'
  }

  /** Entries held now. */
  get size(): number {
    return this.core.size
  }

  /** Bytes of WASM memory the core holds (0 for the TypeScript core). */
  memoryBytes(): number {
    return this.core.memoryBytes()
  }

  // ---- Reads ----

  /** The lookup code of a key (MISS, slot, or slot | STALE) with tags applied; marks the entry used. */
  lookup(key: string, now: number): number {
    return this.judge(key, this.core.lookup(key, now))
  }

  /** Like lookup, without marking the entry used. */
  peek(key: string, now: number): number {
    return this.judge(key, this.core.peek(key, now))
  }

  /** lookup for a batch: one crossing into the core; the codes are judged in place. */
  lookupMany(keys: readonly string[], now: number): Int32Array {
    const codes = this.core.lookupMany(keys, now)
    for (let i = 0; i < keys.length; i++) {
      // A key twice in the batch: judging the first copy may have dropped the entry the second code points to.
      const code = codes[i]!
      codes[i] = code >= 0 && this.core.keyAt(code & ~STALE) === keys[i] ? this.judge(keys[i]!, code) : MISS
    }
    return codes
  }

  /** The entry behind a code that is not MISS. */
  entryAt(code: number): Entry {
    return this.core.valueAt(code & SLOT_MASK)
  }

  /** The entry a key holds now, fresh or stale, without marking it used. */
  entryOf(key: string, now: number): Entry | undefined {
    const code = this.peek(key, now)
    return code === MISS ? undefined : this.entryAt(code)
  }

  /**
   * True when a stale entry is known to have been replaced elsewhere (a newer write's bus message, or a bus gap
   * since it entered L1): once L2 has answered that it holds nothing for the key, it must not be served.
   */
  outdated(entry: Entry): boolean {
    return entry.superseded || entry.at < this.staleBefore
  }

  /** A code from the core, with what the core cannot know applied: tag invalidations and a distrusted bus. */
  private judge(key: string, code: number): number {
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

  /** An L1 value as a caller receives it: with l1.clone, a copy of its own. */
  valueOf(entry: Entry): unknown {
    return this.cloneValues ? structuredClone(entry.value) : entry.value
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

  // ---- Changes: each one tells work in flight ----

  /** Writes a value: a change, so work in flight for the key is overtaken. False when L1 does not keep it. */
  write(key: string, value: unknown, options: WriteOptions, now: number, stamp: number): boolean {
    // L2-only: a new value ends a backoff, as it would replace the L1 entry carrying it.
    if (this.backoffs.size > 0) this.backoffs.delete(key)
    // Sized first: a sizeCalculation that throws leaves everything as it was.
    const size = this.keeps ? this.sizeFor(key, value) : 0
    this.flights.changed(key)
    return this.put(key, newEntry(value, options, stamp, stamp), now, size) !== undefined && this.keeps
  }

  /** write() for many keys: every value is checked before the first is written, then one batch goes to the core. */
  writeMany(keys: readonly string[], values: readonly unknown[], options: readonly WriteOptions[], now: number, stamps: readonly number[]): boolean[] {
    if (!this.keeps) return keys.map((key) => (this.flights.changed(key), this.backoffs.delete(key), false))
    const sizes = keys.map((key, i) => this.sizeFor(key, values[i]))
    const kept: number[] = []
    const written = keys.map((key, i) => {
      this.flights.changed(key)
      return sizes[i]! < 0 ? this.refuse(key) : (kept.push(i), true)
    })
    this.core.setMany(
      kept.map((k) => keys[k]!),
      kept.map((k) => newEntry(values[k], options[k]!, stamps[k]!, stamps[k]!)),
      now,
      kept.map((k) => this.bounded(options[k]!.ttl)),
      kept.map((k) => this.boundedGrace(options[k]!.ttl, options[k]!.grace)),
      kept.map((k) => sizes[k]!),
    )
    this.recorder.count('writes', kept.length)
    return written
  }

  remove(key: string): boolean {
    this.flights.changed(key)
    return this.core.delete(key)
  }

  expire(key: string, now: number): boolean {
    this.flights.changed(key)
    return this.core.expire(key, now)
  }

  /** Another instance wrote a newer value: this copy turns stale and outdated (a fallback only while L2 cannot answer). */
  replaced(key: string, now: number): void {
    this.expire(key, now)
    this.supersede(key, now)
  }

  /**
   * This instance's own change of `key` could not reach L2 or the others (refused by a conditional L2, dropped
   * from a full retry queue): its copy turns stale and outdated, so reads ask L2 again.
   */
  outdate(key: string): void {
    const now = nowMs()
    this.core.expire(key, now)
    this.supersede(key, now)
  }

  private supersede(key: string, now: number): void {
    const code = this.core.peek(key, now)
    if (code !== MISS) this.core.valueAt(code & SLOT_MASK).superseded = true
  }

  /** Empties L1 under `path` ('' for all of it: tag stamps go too, since no entry is left to judge). */
  clear(path: string): void {
    this.flights.changedUnder(path)
    if (path !== '') {
      // A walk over every L1 key.
      for (const key of [...this.core.keys()]) if (key.startsWith(path)) this.core.delete(key)
      return
    }
    this.core.clear()
    if (!this.flights.busy && this.pins === 0) this.tags.clear()
  }

  /**
   * Records a tag invalidation stamped `stamp` (by this cache: now, when not given) and made at `origin` by
   * the instance that made it, then bounds the stamps kept (see sweepTags).
   */
  invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp = this.flights.stamp(nowMs()), origin = stamp): void {
    this.tags.record(tags, how, stamp, origin)
    if (this.tags.size >= this.tagSweepAt) this.sweepTags(nowMs())
  }

  /** A tag change L2 does not know yet (it waits in the retry queue): no tag stamp is dropped until unpin(). */
  pin(): void {
    this.pins++
  }

  unpin(): void {
    this.pins--
  }

  /**
   * Applies every tag stamp to the L1 entries it concerns (drops the deleted, marks the expired stale), so no L1
   * entry needs them any more, then drops the stamps nothing in flight can still need. Runs when the stamps
   * reach max(1024, L1 entries, twice what the last sweep kept): a walk over L1 paid for by as many invalidations.
   */
  private sweepTags(now: number): void {
    if (this.pins === 0) {
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
      this.tags.retain(this.flights.oldestSince())
    }
    this.tagSweepAt = Math.max(1024, this.core.size, 2 * this.tags.size)
  }

  /**
   * After the bus lost messages: with an L2, every entry so far becomes stale, so the next read checks L2 and
   * the copy stays a fallback; without one, L1 is emptied.
   */
  distrust(): void {
    // What is in flight may have read what the missed messages changed: none of it is kept (an L2 read that
    // began before a delete we never heard of would otherwise bring the deleted value back, fresh).
    this.flights.changedUnder('')
    if (this.hasL2) this.staleBefore = this.flights.stamp(nowMs())
    else this.clear('')
    this.logger.warn({ tier: 'bus' }, 'bus subscription restored: L1 entries are revalidated against L2')
  }

  // ---- Copies: what L2 held already, never a change ----

  /**
   * Keeps a value read from L2, made at `createdAt`, and returns its entry (undefined when L1 cannot keep it).
   * Not a change: work in flight (the refresh that read it, say) is not overtaken by its own read. In L2-only
   * mode the entry is returned but not kept: a value read from L2 is judged (and may be served stale) all the same.
   */
  admit(key: string, value: unknown, options: WriteOptions, now: number, createdAt: number): Entry | undefined {
    const size = this.keeps ? this.sizeFor(key, value) : 0
    return this.put(key, newEntry(value, options, createdAt, this.flights.stamp(now)), now, size)
  }

  private put(key: string, entry: Entry, now: number, size: number): Entry | undefined {
    if (!this.keeps) return entry
    if (size < 0) {
      this.refuse(key)
      return undefined
    }
    if (this.core.set(key, entry, now, this.bounded(entry.ttl), this.boundedGrace(entry.ttl, entry.grace), size) === MISS) {
      this.recorder.count('oversized')
      return undefined
    }
    this.recorder.count('writes')
    return entry
  }

  /** An entry's ttl in L1, within l1.ttl. */
  private bounded(ttl: number): number {
    return Math.min(ttl, this.maxTtl)
  }

  /** Its grace in L1: what is left of l1.ttl after the ttl (Infinity - Infinity would be NaN). */
  private boundedGrace(ttl: number, grace: number): number {
    return this.maxTtl === Infinity ? grace : Math.min(grace, this.maxTtl - this.bounded(ttl))
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
    this.recorder.count('oversized')
    return false
  }

  // ---- L2-only mode: a failed refresh's backoff, by key ----

  /** Until when `key` is backing off (0: not). */
  backoffUntil(key: string, now: number): number {
    const until = this.backoffs.get(key)
    if (until === undefined) return 0
    if (until > now) return until
    this.backoffs.delete(key)
    return 0
  }

  /** Starts a backoff. Bounded: past MAX_BACKOFFS keys the ended ones go, then the oldest. */
  backOff(key: string, until: number): void {
    this.backoffs.delete(key)
    this.backoffs.set(key, until)
    if (this.backoffs.size <= MAX_BACKOFFS) return
    const now = nowMs()
    for (const [k, t] of this.backoffs) if (t <= now) this.backoffs.delete(k)
    for (const k of this.backoffs.keys()) {
      if (this.backoffs.size <= MAX_BACKOFFS) break
      this.backoffs.delete(k)
    }
  }
}

/** The core of an L1 whose core is still loading: it holds nothing, so every lookup misses and nothing is removed. */
const NOT_LOADED: Core<unknown> = {
  kind: 'js',
  policy: 'lru',
  size: 0,
  bytes: 0,
  capacity: 0,
  maxItems: 0,
  maxBytes: 0,
  lookup: () => MISS,
  peek: () => MISS,
  get: () => undefined,
  set: () => MISS,
  delete: () => false,
  expire: () => false,
  clear: () => undefined,
  lookupMany: (keys) => new Int32Array(keys.length).fill(MISS),
  getMany: (keys) => keys.map(() => undefined),
  setMany: () => undefined,
  keyAt: () => {
    throw new Error('no entries while the core loads')
  },
  valueAt: () => {
    throw new Error('no entries while the core loads')
  },
  keys: () => [][Symbol.iterator](),
  memoryBytes: () => 0,
}
