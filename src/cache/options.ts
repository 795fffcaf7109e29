import { InvalidOptionError, shown, type FactoryError } from '../errors.js'
import type { BusFactory } from '../bus/types.js'
import type { L2DriverFactory } from '../l2/types.js'
import type { Logger } from '../logger.js'
import { toMs, type Duration } from '../ttl.js'

/** Options that can be set for the whole cache and again on each call; the call's value wins. */
export interface EntryOptions {
  /**
   * How long a value is fresh.
   * @default '30m'
   */
  ttl?: Duration
  /**
   * Adds a random extra of up to this much to each entry's ttl, so entries written together do not all expire
   * (and hit the factory) together: a duration ('30s') or a share of the ttl ('10%', at most '100%'). 0: none.
   * @default 0
   */
  jitter?: Duration | `${number}%`
  /**
   * How long a value stays usable as a fallback after its ttl (factory failed or timed out), or false.
   * @default false
   */
  grace?: Duration | false
  /**
   * After a failed factory served a stale value, how long to keep serving it before calling the factory again.
   * @default '10s'
   */
  graceBackoff?: Duration
  /**
   * Soft timeout: with a stale value at hand, answer with it once the factory has run this long and let the
   * factory finish in the background. 0 answers stale at once (stale-while-revalidate).
   * @default 0
   */
  timeout?: Duration
  /**
   * Hard timeout: reject with E_FACTORY_HARD_TIMEOUT once the factory has run this long (a stale value is served
   * instead when there is one). The factory's late result is still cached.
   * @default null (none)
   */
  hardTimeout?: Duration
  /**
   * Longest wait for another caller's factory on the same key; then a stale value, else E_LOCK_TIMEOUT.
   * @default null (wait as long as it takes)
   */
  lockTimeout?: Duration
  /**
   * A fraction of the ttl (0 < x < 1): a hit past it answers at once and refreshes in the background.
   * @default undefined (off)
   */
  earlyExpiration?: number
  /**
   * Called with every factory failure, including background ones, as a FactoryError (E_FACTORY_ERROR) for this
   * call's key: `error.key`, `error.isBackgroundFactory`, and what the factory threw as `error.cause`.
   */
  onFactoryError?: (error: FactoryError) => void
  /**
   * Stampede protection across instances (needs an L2 with locks, such as Redis): the first instance to miss
   * takes a lock for `ttl`; the others wait for its value in L2 instead of running their own factory, and take
   * over if the lock expires because its owner died.
   * @default { distributed: false, ttl: '10s' }
   */
  lock?: { distributed?: boolean; ttl?: Duration }
}

export interface ResolvedOptions {
  /** The most ttl jitter in ms, or (jitterShare > 0) as a share of the ttl. */
  jitterMs: number
  jitterShare: number
  distributedLock: boolean
  distributedLockTtl: number
  ttl: number
  grace: number
  graceBackoff: number
  timeout: number
  hardTimeout: number
  lockTimeout: number
  earlyExpiration: number
  onFactoryError: ((error: FactoryError) => void) | undefined
}

export interface L1Options {
  /** @default 100_000 */
  maxItems?: number
  /** Total bytes of values in L1 (sizes from sizeCalculation), as bytes or a string like '64mb'. @default none */
  maxBytes?: number | string
  /** Values larger than this are not kept in L1. @default none */
  maxEntrySize?: number | string
  /**
   * The size of a value in bytes, used only when maxBytes or maxEntrySize is set.
   * @default the UTF-8 length of JSON.stringify(value)
   */
  sizeCalculation?: (value: unknown, key: string) => number
  /**
   * Which L1 core: 'auto' takes WebAssembly where it runs (the SIMD build, else the scalar one), else the
   * TypeScript core.
   * @default 'auto'
   */
  core?: 'auto' | 'wasm' | 'js'
  /**
   * Eviction policy. 'tinylfu' (W-TinyLFU) keeps frequently used keys through scans and one-time keys and
   * gains 4-24 points of hit ratio on the README's traces, but lost 1.2 points to LRU on a recency-heavy one;
   * 'lru' evicts the least recently used entry. README, "Hit ratio", has the figures.
   * @default 'lru'
   */
  policy?: 'lru' | 'tinylfu'
  /**
   * Keep a copy: values are structuredClone()d on the way into L1 and on every read from it, so a caller that
   * mutates what it got (or what it set) never changes the cached value. Costs a clone per read (README, "L1
   * value isolation"). A value structuredClone cannot copy is refused with E_UNCLONEABLE_VALUE.
   * @default false
   */
  clone?: boolean
}

export interface RustoCacheOptions extends EntryOptions {
  /**
   * The in-process tier. false: none at all (L2-only mode, needs `l2`): nothing is kept in this process between
   * calls, for serverless functions; stampede protection still holds within the process.
   */
  l1?: L1Options | false
  /** A second tier shared by every instance: `redisDriver({ connection })` from 'rustocache/redis'. */
  l2?: L2DriverFactory
  /**
   * Treat a failed L2 command as an L2 miss (counted in stats().l2Errors and logged) instead of rejecting.
   * @default true
   */
  suppressL2Errors?: boolean
  /**
   * After an L2 failure, stop calling L2 for this long (reads go to the factory, writes stay in L1).
   * @default null (no circuit breaker)
   */
  l2CircuitBreakerDuration?: Duration
  /**
   * The cache's own bound on each L2 command (a namespace clear excepted), for drivers that can hang: past it
   * the command counts as failed. The Redis driver's `commandTimeout` (500 ms) usually fires first. null: none.
   * @default '2s'
   */
  l2Timeout?: Duration
  /**
   * Keeps every instance's L1 coherent: `redisBus({ connection })` from 'rustocache/redis', or `memoryBus()` for
   * caches in one process. Messages that cannot be sent wait in its retry queue.
   */
  bus?: BusFactory
  /** Any pino-compatible logger. @default silent */
  logger?: Logger
  /** A name for this cache, used in logs (and by Redis tiers for their keys and channel). */
  prefix?: string
  /**
   * Whether keys appear in trace contexts (the TracingChannel, spans, observers): false, true, or a function
   * that redacts a key (`(key) => key.split(':')[0]`). Off by default: keys often carry user ids.
   * @default false
   */
  traceKeys?: boolean | ((key: string) => string)
}

export const DEFAULTS: ResolvedOptions = {
  jitterMs: 0,
  jitterShare: 0,
  distributedLock: false,
  distributedLockTtl: 10_000,
  ttl: 30 * 60_000,
  grace: 0,
  graceBackoff: 10_000,
  timeout: 0,
  hardTimeout: Infinity,
  lockTimeout: Infinity,
  earlyExpiration: 0,
  onFactoryError: undefined,
}

export function fraction(value: unknown): number {
  if (value === undefined) return 0
  if (typeof value !== 'number' || !(value > 0 && value < 1)) {
    throw new InvalidOptionError(`earlyExpiration must be a fraction of the ttl between 0 and 1, got ${shown(value)}`)
  }
  return value
}

const PERCENT = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/

function setJitter(out: ResolvedOptions, given: unknown): void {
  const percent = typeof given === 'string' ? PERCENT.exec(given) : null
  if (percent) {
    const share = Number(percent[1]) / 100
    if (!(share <= 1)) throw new InvalidOptionError(`jitter as a share of the ttl must be from 0% to 100%, got ${shown(given)}`)
    out.jitterShare = share
    out.jitterMs = 0
    return
  }
  if (given === null) throw new InvalidOptionError("jitter must be a duration ('30s') or a share of the ttl ('10%'); 0 for none")
  out.jitterMs = toMs(given, 'jitter')
  out.jitterShare = 0
}

/**
 * The ttl an entry is written with: `ttl` plus a uniform random extra of up to the jitter (whole ms). A ttl of
 * 0 or forever is kept as it is.
 */
export function jittered(ttl: number, o: ResolvedOptions): number {
  if (ttl === 0 || ttl === Infinity) return ttl
  const most = o.jitterShare > 0 ? ttl * o.jitterShare : o.jitterMs
  return most > 0 ? ttl + Math.round(Math.random() * most) : ttl
}

/** Applies the options a call (or the constructor) gives on top of `base`. Throws before anything is written. */
export function resolveOptions(base: ResolvedOptions, given: EntryOptions | undefined): ResolvedOptions {
  if (!given) return base
  const out = { ...base }
  if (given.ttl !== undefined) out.ttl = toMs(given.ttl, 'ttl')
  if (given.jitter !== undefined) setJitter(out, given.jitter)
  if (given.grace !== undefined) out.grace = given.grace === false ? 0 : toMs(given.grace, 'grace')
  if (given.graceBackoff !== undefined) out.graceBackoff = toMs(given.graceBackoff, 'graceBackoff')
  if (given.timeout !== undefined) out.timeout = toMs(given.timeout, 'timeout')
  if (given.hardTimeout !== undefined) out.hardTimeout = toMs(given.hardTimeout, 'hardTimeout')
  if (given.lockTimeout !== undefined) out.lockTimeout = toMs(given.lockTimeout, 'lockTimeout')
  if (given.earlyExpiration !== undefined) out.earlyExpiration = fraction(given.earlyExpiration)
  if (given.lock !== undefined) {
    if (typeof given.lock !== 'object' || given.lock === null) throw new InvalidOptionError('lock must be { distributed?, ttl? }')
    if (given.lock.distributed !== undefined) out.distributedLock = given.lock.distributed === true
    if (given.lock.ttl !== undefined) out.distributedLockTtl = toMs(given.lock.ttl, 'lock.ttl')
  }
  if (given.onFactoryError !== undefined) {
    if (typeof given.onFactoryError !== 'function') throw new InvalidOptionError('onFactoryError must be a function')
    out.onFactoryError = given.onFactoryError
  }
  return out
}
