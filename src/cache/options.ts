import { InvalidOptionError, shown, type FactoryError } from '../errors.js'
import { LazySigner } from '../bus/signing-options.js'
import type { BusFactory } from '../bus/types.js'
import type { L2DriverFactory } from '../l2/types.js'
import { redactingLogger, silentLogger, type Logger } from '../logger.js'
import type { KeyPolicy } from '../observe.js'
import { toBytes, toMs, type Duration } from '../ttl.js'
import { refuseUnknown } from '../known-options.js'
import { utf8Length, wellFormed } from './scope.js'

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
   * Where a call hands the work it leaves running (a refresh behind a stale answer, an early refresh, a factory
   * past its soft or hard timeout, with its writes to L1 and L2), so that a serverless platform keeps the
   * request alive until it is done: `ctx.waitUntil.bind(ctx)` in Cloudflare Workers, `waitUntil` from
   * `@vercel/functions`. Set it per call (the request's context) or on the cache (a platform-wide one).
   * @default undefined (the work runs on; nothing waits for it)
   */
  waitUntil?: (promise: Promise<unknown>) => void
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
  waitUntil: ((promise: Promise<unknown>) => void) | undefined
}

/** The in-process tier (`l1:`): its size limits, core, eviction policy, value copies and longest life. */
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
   * Eviction policy. 'tinylfu' (W-TinyLFU with an adaptive window) keeps frequently used keys through scans
   * and one-time keys, gains up to 24 points of hit ratio over LRU on the published traces of docs/benchmarks.md and stays within
   * half a point of it on recency-heavy ones; 'lru' evicts the least recently used entry, costs 9 bytes an
   * entry less and keeps the order of keys() strictly by recency. docs/core.md, "Eviction policies", has the figures.
   * @default 'tinylfu'
   */
  policy?: 'lru' | 'tinylfu'
  /**
   * Keep a copy: values are structuredClone()d on the way into L1 and on every read from it, so a caller that
   * mutates what it got (or what it set) never changes the cached value. Costs a clone per read (docs/options.md, "L1
   * value isolation"). A value structuredClone cannot copy is refused with E_UNCLONEABLE_VALUE.
   * @default false
   */
  clone?: boolean
  /**
   * Longest an entry stays in L1, fresh and stale together (its L2 copy keeps the entry's own ttl and grace):
   * after it, the next read goes to L2. Bounds how long an instance without a bus serves a value changed
   * elsewhere. null: no bound. Edge drivers (httpRedisDriver, kvDriver) used without a bus set '5s'.
   * @default null, or the L2 driver's l1TtlWithoutBus when there is no bus
   */
  ttl?: Duration | null
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

/** Every default of the cache-wide options, in one table (the entry options' are DEFAULTS below). */
export const CACHE_DEFAULTS = {
  prefix: 'rustocache',
  maxItems: 100_000,
  core: 'auto',
  /** The cache's own bound on an L2 command (the Redis driver's commandTimeout, 500 ms, usually fires first). */
  l2Timeout: '2s',
  suppressL2Errors: true,
  /** No circuit breaker. */
  l2CircuitBreakerDuration: 0,
  retryQueue: { maxSize: 1000, retryInterval: '1s' },
} as const

/** The entry options' defaults (each can be given to the constructor and again to each call). */
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
  waitUntil: undefined,
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
  // Most calls set none of these: they share the cache's resolved options (nobody writes to them) instead of
  // a copy each (a stampede of 10,000 waiters made 10,000).
  if (
    given.ttl === undefined &&
    given.jitter === undefined &&
    given.grace === undefined &&
    given.graceBackoff === undefined &&
    given.timeout === undefined &&
    given.hardTimeout === undefined &&
    given.lockTimeout === undefined &&
    given.earlyExpiration === undefined &&
    given.lock === undefined &&
    given.onFactoryError === undefined &&
    given.waitUntil === undefined
  ) {
    return base
  }
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
    refuseUnknown(given.lock, ['distributed', 'ttl'], 'lock')
    if (given.lock.distributed !== undefined) out.distributedLock = given.lock.distributed === true
    if (given.lock.ttl !== undefined) out.distributedLockTtl = toMs(given.lock.ttl, 'lock.ttl')
  }
  if (given.onFactoryError !== undefined) {
    if (typeof given.onFactoryError !== 'function') throw new InvalidOptionError('onFactoryError must be a function')
    out.onFactoryError = given.onFactoryError
  }
  if (given.waitUntil !== undefined) {
    if (typeof given.waitUntil !== 'function') throw new InvalidOptionError(`waitUntil must be a function, got ${shown(given.waitUntil)}`)
    out.waitUntil = given.waitUntil
  }
  return out
}

// ---- The call shapes ----

/** A call on one key. */
export interface KeyOptions {
  key: string
}
/** get() and pull(): the key, a value to answer on a miss, and the grace to allow. */
export interface GetOptions<T> extends KeyOptions {
  /** Returned on a miss (a function is called for it). */
  defaultValue?: T | (() => T)
  /** false: never answer with a stale value; a duration: only within that long after the ttl. */
  grace?: Duration | false
}
/** setMany(): the items, each with its own ttl, grace and tags, and options shared by all. */
export interface SetManyOptions<T> {
  items: Array<{ key: string; value: T; ttl?: Duration; jitter?: EntryOptions['jitter']; grace?: Duration | false; tags?: string[] }>
}
export interface SetOptions<T> extends KeyOptions, EntryOptions {
  value: T
  tags?: string[]
}

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

/**
 * What getOrSet runs on a miss: returns the value (or a promise of it); `ctx` skips, fails or changes how it
 * is stored.
 */
export type Factory<T> = (ctx: FactoryContext<T>) => T | Promise<T>

export interface GetOrSetOptions<T> extends EntryOptions {
  key: string
  factory: Factory<T>
  tags?: string[]
  /** Run the factory even when a fresh value is cached. */
  forceFresh?: boolean
}

/** The options object of a call; E_INVALID_OPTION when there is none. */
export function options<O>(given: O, call: string): NonNullable<O> {
  if (typeof given !== 'object' || given === null) throw new InvalidOptionError(`${call} needs an options object`)
  return given as NonNullable<O>
}

/**
 * How much of an entry's grace a call accepts, resolved once per call: undefined (all of it), false (none), or
 * ms past the ttl. Checked before anything is read, though it is used only when a stale entry turns up.
 */
export type CallGrace = number | false | undefined

export function callGrace(given: Duration | false | undefined): CallGrace {
  return given === undefined || given === false ? given : toMs(given, 'grace')
}

/**
 * A stale entry may answer only if it was written with grace (an entry made stale by expireByTag or a lost bus
 * connection is stale before its ttl, and without grace it must not be served), and the call can narrow it.
 */
export function withinGrace(entry: { grace: number; at: number; ttl: number }, grace: CallGrace, now: number): boolean {
  if (entry.grace <= 0 || grace === false) return false
  return grace === undefined || now < entry.at + entry.ttl + grace
}

// ---- The cache-wide options, checked and resolved once, before anything connects ----

export interface L1Settings {
  /** False in L2-only mode (`l1: false`). */
  keeps: boolean
  core: 'auto' | 'wasm' | 'js'
  maxItems: number
  maxBytes: number | undefined
  maxEntrySize: number
  /** How a value is sized, when maxBytes or maxEntrySize asks for sizes. */
  sizeOf: ((value: unknown, key: string) => number) | undefined
  policy: L1Options['policy']
  clone: boolean
  /** l1.ttl in ms (Infinity: none). */
  maxTtl: number
}

export interface L2Settings {
  factory: L2DriverFactory | undefined
  suppressErrors: boolean
  breakerMs: number
  timeoutMs: number
}

export interface BusSettings {
  factory: BusFactory | undefined
  channel: string
  maxSize: number
  retryMs: number
  signer: LazySigner | undefined
}

/** Everything the constructor was given, checked and defaulted: what the rooms are built from. */
export interface CacheSettings {
  prefix: string
  /** The cache's logger (redacting keys unless traceKeys is true). */
  logger: Logger
  /** traceKeys as keyShower made it: undefined when keys never leave the process. */
  keyPolicy: KeyPolicy | undefined
  /** No logger was given: an unreachable L2 is still said once, on the console. */
  loud: boolean
  defaults: ResolvedOptions
  l1: L1Settings
  l2: L2Settings
  bus: BusSettings
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

const LOGGER_METHODS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'child'] as const

function loggerFor(config: RustoCacheOptions, prefix: string): { logger: Logger; keyPolicy: KeyPolicy | undefined } {
  const pinoLike = (l: unknown): l is Logger => typeof l === 'object' && l !== null && LOGGER_METHODS.every((m) => typeof (l as Record<string, unknown>)[m] === 'function')
  const given = config.logger === undefined ? silentLogger.child({ cache: prefix }) : pinoLike(config.logger) ? config.logger.child({ cache: prefix }) : undefined
  if (!pinoLike(given)) throw new InvalidOptionError(`logger must be pino-compatible: an object with ${LOGGER_METHODS.join(', ')} (child returning the same)`)
  // Keys leave the process in log lines, errors and traces alike: only as traceKeys says (see keyShower).
  const keyPolicy = keyShower(config.traceKeys, (error) => given.error({ err: error, where: 'traceKeys' }, 'traceKeys threw: the key is not shown'))
  const logger = config.logger === undefined || config.traceKeys === true ? given : redactingLogger(given, keyPolicy ?? hideKeys)
  return { logger, keyPolicy }
}

function l1Settings(given: L1Options | false | undefined, l2: L2DriverFactory | undefined, bus: BusFactory | undefined): L1Settings {
  if (given === false && l2 === undefined) throw new InvalidOptionError('l1: false (L2-only mode) needs an l2 driver')
  // L2-only: an empty TypeScript core (no WASM to compile in a short-lived function) that is never written.
  const l1: L1Options = given === false ? { core: 'js', maxItems: 1 } : (given ?? {})
  if (typeof l1 !== 'object' || l1 === null) throw new InvalidOptionError('l1 must be an object such as { maxItems: 10_000 }, or false for L2-only mode')
  refuseUnknown(l1, L1_OPTIONS, 'l1')
  if (l1.clone !== undefined && typeof l1.clone !== 'boolean') throw new InvalidOptionError(`l1.clone must be true or false, got ${shown(l1.clone)}`)
  const maxBytes = l1.maxBytes === undefined ? undefined : toBytes(l1.maxBytes, 'l1.maxBytes')
  const maxEntrySize = l1.maxEntrySize === undefined ? Infinity : toBytes(l1.maxEntrySize, 'l1.maxEntrySize')
  if (l1.sizeCalculation !== undefined && typeof l1.sizeCalculation !== 'function') {
    throw new InvalidOptionError('l1.sizeCalculation must be a function (value, key) => bytes')
  }
  const limited = maxBytes !== undefined || maxEntrySize < Infinity
  // An explicit l1.ttl wins; else an edge driver without a bus bounds how long a change elsewhere goes unseen.
  const busless = bus === undefined ? l2?.l1TtlWithoutBus : undefined
  const maxTtl = l1.ttl === null ? Infinity : l1.ttl !== undefined ? toMs(l1.ttl, 'l1.ttl') : (busless ?? Infinity)
  if (l1.ttl !== undefined && l1.ttl !== null && maxTtl <= 0) throw new InvalidOptionError('l1.ttl must be > 0 (or null for no bound)')
  return {
    keeps: given !== false,
    core: l1.core ?? CACHE_DEFAULTS.core,
    maxItems: l1.maxItems ?? CACHE_DEFAULTS.maxItems,
    maxBytes,
    maxEntrySize,
    sizeOf: limited ? (l1.sizeCalculation ?? jsonSize) : undefined,
    policy: l1.policy,
    clone: l1.clone === true,
    maxTtl,
  }
}

function l2Settings(config: RustoCacheOptions): L2Settings {
  const factory = config.l2
  if (factory !== undefined && (typeof factory !== 'object' || factory === null || typeof factory.create !== 'function')) {
    throw new InvalidOptionError("l2 must be a driver factory such as redisDriver({ connection }) from 'rustocache/redis'")
  }
  const breaker = config.l2CircuitBreakerDuration
  return {
    factory,
    suppressErrors: config.suppressL2Errors ?? CACHE_DEFAULTS.suppressL2Errors,
    breakerMs: breaker === undefined || breaker === null ? CACHE_DEFAULTS.l2CircuitBreakerDuration : toMs(breaker, 'l2CircuitBreakerDuration'),
    timeoutMs: toMs(config.l2Timeout ?? CACHE_DEFAULTS.l2Timeout, 'l2Timeout'),
  }
}

function busSettings(factory: BusFactory | undefined, channel: string): BusSettings {
  if (factory !== undefined && (typeof factory !== 'object' || factory === null || typeof factory.create !== 'function')) {
    throw new InvalidOptionError("bus must be a bus factory such as redisBus({ connection }) from 'rustocache/redis'")
  }
  const retry = factory?.retryQueue ?? {}
  if (typeof retry !== 'object' || retry === null) throw new InvalidOptionError('retryQueue must be { maxSize?, retryInterval? }')
  refuseUnknown(retry, ['maxSize', 'retryInterval'], 'retryQueue')
  const maxSize = retry.maxSize ?? CACHE_DEFAULTS.retryQueue.maxSize
  if (!(Number.isInteger(maxSize) && maxSize > 0)) throw new InvalidOptionError('retryQueue.maxSize must be a whole number > 0')
  const retryMs = toMs(retry.retryInterval ?? CACHE_DEFAULTS.retryQueue.retryInterval, 'retryQueue.retryInterval')
  const signer = factory?.signing ? new LazySigner(factory.signing, channel) : undefined
  return { factory, channel, maxSize, retryMs, signer }
}

/** Every option the constructor takes (EntryOptions and RustoCacheOptions); anything else is refused. */
export const CACHE_OPTIONS = [
  ...['ttl', 'jitter', 'grace', 'graceBackoff', 'timeout', 'hardTimeout', 'lockTimeout', 'earlyExpiration', 'onFactoryError', 'waitUntil', 'lock'],
  ...['l1', 'l2', 'suppressL2Errors', 'l2CircuitBreakerDuration', 'l2Timeout', 'bus', 'logger', 'prefix', 'traceKeys'],
] as const
const L1_OPTIONS = ['maxItems', 'maxBytes', 'maxEntrySize', 'sizeCalculation', 'core', 'policy', 'clone', 'ttl'] as const

/** Checks every cache-wide option and applies the defaults; throws E_INVALID_OPTION before anything connects. */
export function resolveSettings(config: RustoCacheOptions): CacheSettings {
  if (typeof config !== 'object' || config === null) throw new InvalidOptionError('RustoCache options must be an object')
  refuseUnknown(config, CACHE_OPTIONS, 'the RustoCache options')
  if (config.prefix !== undefined && (typeof config.prefix !== 'string' || config.prefix === '')) {
    throw new InvalidOptionError('prefix must be a non-empty string')
  }
  if (config.prefix !== undefined && !wellFormed(config.prefix)) throw new InvalidOptionError('prefix must be well-formed UTF-16 (it has a lone surrogate)')
  const prefix = config.prefix ?? CACHE_DEFAULTS.prefix
  const { logger, keyPolicy } = loggerFor(config, prefix)
  const defaults = resolveOptions(DEFAULTS, config)
  if (config.l1 === false && config.bus !== undefined) throw new InvalidOptionError('l1: false (L2-only mode) keeps no L1 for a bus to keep coherent: leave bus out')
  const bus = busSettings(config.bus, `${prefix}:bus`)
  const l2 = l2Settings(config)
  return { prefix, logger, keyPolicy, loud: config.logger === undefined, defaults, l1: l1Settings(config.l1, config.l2, config.bus), l2, bus }
}
