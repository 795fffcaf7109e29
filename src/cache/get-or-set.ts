import { background } from '../background.js'
import { FactoryError, FactoryHardTimeoutError, FactorySoftTimeoutError, InvalidOptionError, keyText, LockTimeoutError, RustoCacheError, shown } from '../errors.js'
import type { OperationContext } from '../observe.js'
import type { Logger } from '../logger.js'
import { toMs } from '../ttl.js'
import type { Ticket } from './flights.js'
import { isFresh, type Entry, type WriteOptions } from './l1.js'
import { callGrace, fraction, jittered, options, resolveOptions, type CallGrace, type FactoryContext, type GetOrSetOptions, type ResolvedOptions } from './options.js'
import { fallbackAfter, readOnce, serveStale, staleIn, type Fallback } from './read.js'
import type { Rooms } from './rooms.js'
import type { Scope } from './scope.js'
import { writeThrough } from './write.js'
import { nowMs, recentMs } from '../now.js'

const SKIP: unique symbol = Symbol('rustocache.skip')
const SOFT: unique symbol = Symbol('rustocache.soft-timeout')
const HARD: unique symbol = Symbol('rustocache.hard-timeout')

type Outcome<T> = { ok: true; value: T | undefined } | { ok: false; error: RustoCacheError }

/**
 * What a miss holds while it fills a key: the key's local lock, a ticket (so an invalidation meanwhile wins), and
 * perhaps the key's distributed lock. end() lets go of all of them, once, whoever calls it first: the caller's
 * frame when it answers before the factory starts, else the factory run when it finishes.
 */
class Turn implements Ticket {
  readonly since: number
  /** The L2 commands of this miss share one budget (l2Timeout); the factory's run time extends it. */
  deadline: number
  private readonly releaseLocal: () => void
  private releaseDistributed: (() => Promise<void>) | undefined
  private ended = false

  constructor(
    private readonly rooms: Rooms,
    readonly key: string,
  ) {
    this.releaseLocal = rooms.flights.acquire(key)
    this.since = rooms.flights.begin(key)
    this.deadline = rooms.l2.deadline()
  }

  holdDistributed(release: () => Promise<void>): void {
    this.releaseDistributed = release
  }

  end(): void {
    if (this.ended) return
    this.ended = true
    this.releaseLocal()
    this.rooms.flights.end(this)
    if (this.releaseDistributed) background(this.releaseDistributed(), this.rooms.logger, `distributed unlock of "${this.key}"`)
  }
}

/** A factory run: whether a caller still waits for it (its failures say so in isBackgroundFactory). */
interface Run {
  background: boolean
}

function race<T>(attempt: Promise<T>, softMs: number, hardMs: number, run: Run): Promise<T | typeof SOFT | typeof HARD> {
  if (softMs === Infinity && hardMs === Infinity) return attempt
  return new Promise((resolve, reject) => {
    // Whichever comes first clears both timers, so no timer keeps the process alive after the answer.
    const timers: Array<ReturnType<typeof setTimeout>> = []
    const finish = (value: T | typeof SOFT | typeof HARD) => {
      for (const timer of timers) clearTimeout(timer)
      // Set when the timer fires, not when the caller resumes: a failure in between is already a background one.
      if (value === SOFT || value === HARD) run.background = true
      resolve(value)
    }
    if (softMs < Infinity) timers.push(setTimeout(() => finish(SOFT), softMs))
    if (hardMs < Infinity) timers.push(setTimeout(() => finish(HARD), hardMs))
    attempt.then(finish, reject)
  })
}

/** One getOrSet call: what every step of its miss path reads. */
interface Call<T> {
  rooms: Rooms
  scope: Scope
  /** The full key (namespace path included); options.key is the caller's. */
  key: string
  options: GetOrSetOptions<T>
  trace: OperationContext | undefined
}

/** The options of a miss, resolved once (a hit needs none of them but earlyExpiration). */
interface Miss<T> extends Call<T> {
  o: ResolvedOptions
  tags: string[] | undefined
  /** How much of a stale entry's grace this call accepts (its grace option, parsed once). */
  grace: CallGrace
}

/**
 * getOrSet: one L1 lookup, which answers a fresh hit at once (refreshing early past earlyExpiration), else hands
 * its code to the miss path. Not async: a hit resolves without a promise hop for this frame.
 */
export function getOrSet<T>(rooms: Rooms, scope: Scope, given: GetOrSetOptions<T>, trace: OperationContext | undefined): Promise<T> {
  try {
    const key = scope.lookupKey(options(given, 'getOrSet').key)
    if (typeof given.factory !== 'function') throw new InvalidOptionError('getOrSet needs a factory function')
    const forceFresh = given.forceFresh === true
    const now = recentMs()
    // The call's only L1 lookup (a forceFresh call makes it too: its stale value is still a fallback).
    const code = rooms.l1.lookup(key, now)
    if (isFresh(code) && !forceFresh) {
      const entry = rooms.l1.entryAt(code)
      // The one option a hit uses; the others are checked on the miss path, where they are used.
      const early = given.earlyExpiration === undefined ? rooms.defaults.earlyExpiration : fraction(given.earlyExpiration)
      if (early > 0 && now - entry.at >= entry.ttl * early) refreshEarly({ rooms, scope, key, options: given, trace }, entry, now)
      const value = rooms.l1.valueOf(entry) as T
      rooms.recorder.hit(given.key, false, 'l1', scope.namespaceName, trace)
      return Promise.resolve(value)
    }
    // Past a fresh hit, the key is checked in full (lookupKey checked only what the core needs).
    scope.keyFor(given.key)
    // Spelled out, not spread from `call`: a spread object came out in dictionary mode, 3x the miss path's time.
    const miss: Miss<T> = { rooms, scope, key, options: given, trace, o: resolveOptions(rooms.defaults, given), tags: scope.tagsFor(given.tags), grace: callGrace(given.grace) }
    return decide(miss, code, forceFresh, now)
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * The miss path, top to bottom, from an L1 lookup's code: a stale value backing off answers; a key nobody holds
 * is ours (ownTurn: L2, the distributed turn, the factory under the soft and hard timeouts, the write-back);
 * else wait for the caller who holds it, then look again.
 */
function decide<T>(call: Miss<T>, code: number, forceFresh: boolean, now: number): Promise<T> {
  const { rooms, scope, key, options, o, trace } = call
  const stale: Fallback = { entry: staleIn(rooms.l1, code, call.grace, now), tier: 'l1' }
  if (stale.entry && stale.entry.backoffUntil > now) return Promise.resolve(serveStale<T>(rooms, scope, options.key, stale, trace))
  if (!rooms.flights.isHeld(key)) return ownTurn(call, stale, forceFresh)
  if (stale.entry && o.timeout === 0) return Promise.resolve(serveStale<T>(rooms, scope, options.key, stale, trace))
  return waitTurn(call, stale)
}

/**
 * Looks L1 up again (after waiting for another caller's factory): what the holder wrote is as fresh as ours
 * would be. A hit is the value itself, so a waiter resumed by a `then` answers without another promise.
 */
function again<T>(call: Miss<T>): T | Promise<T> {
  const { rooms, scope, key, options, trace } = call
  const now = recentMs()
  const code = rooms.l1.lookup(key, now)
  if (isFresh(code)) {
    const value = rooms.l1.valueOf(rooms.l1.entryAt(code)) as T
    rooms.recorder.hit(options.key, false, 'l1', scope.namespaceName, trace)
    return value
  }
  return decide(call, code, false, now)
}

/**
 * Another caller is filling the key: wait for it (bounded by lockTimeout, or the soft timeout with a stale
 * value), then look again. The usual wait (no bound, an L1 to look in) is one promise per waiter: a stampede of
 * 10,000 calls spent a third of its time collecting the four each made.
 */
function waitTurn<T>(call: Miss<T>, stale: Fallback): Promise<T> {
  const { rooms, key, o } = call
  const wait = stale.entry ? Math.min(o.timeout, o.lockTimeout) : o.lockTimeout
  if (wait === Infinity && (rooms.l1.keeps || !rooms.l2.present)) {
    const released = rooms.flights.released(key)
    if (released !== undefined) return released.then(() => again(call))
  }
  return waitBounded(call, stale, wait)
}

async function waitBounded<T>(call: Miss<T>, stale: Fallback, wait: number): Promise<T> {
  const { rooms, scope, key, options, o, trace } = call
  if (!(await rooms.flights.wait(key, wait))) {
    if (stale.entry) return serveStale(rooms, scope, options.key, stale, trace)
    throw new LockTimeoutError(rooms.showKey(options.key), o.lockTimeout)
  }
  if (!rooms.l1.keeps && rooms.l2.present) {
    // L2-only: no L1 to re-read. Every waiter reads L2 at once (the drivers send one tick's reads as one
    // command) instead of taking the key one after another for a read each.
    const remote = await readOnce(rooms, key, nowMs())
    if (remote?.fresh) {
      rooms.recorder.hit(options.key, false, 'l2', scope.namespaceName, trace)
      return remote.value as T
    }
  }
  return again(call)
}

/** The key is ours: L2 (read once for the whole stampede), the distributed turn, then the factory. */
async function ownTurn<T>(call: Miss<T>, stale: Fallback, forceFresh: boolean): Promise<T> {
  const { rooms, scope, key, options, o, trace } = call
  const turn = new Turn(rooms, key)
  let handedOff = false
  try {
    let candidate = stale
    if (rooms.l2.present && !forceFresh) {
      const now = nowMs()
      const remote = await rooms.l2.read(key, now, turn, rooms.defaults.grace)
      if (remote?.fresh) {
        rooms.recorder.hit(options.key, false, 'l2', scope.namespaceName, trace)
        return remote.value as T
      }
      candidate = fallbackAfter(rooms.l1, remote, candidate, call.grace, now)
    }
    // L2-only: a failed refresh's backoff cannot live on an L1 entry; L1 keeps it by key.
    if (candidate.entry && !rooms.l1.keeps && rooms.l1.backoffUntil(key, nowMs()) > 0) return serveStale(rooms, scope, options.key, candidate, trace)
    if (o.distributedLock && rooms.l2.locks) {
      const distributed = await distributedTurn(call, turn, forceFresh)
      if (distributed.kind === 'value') {
        rooms.recorder.hit(options.key, false, 'l2', scope.namespaceName, trace)
        return distributed.value as T
      }
      if (distributed.kind === 'timeout') {
        if (candidate.entry) return serveStale(rooms, scope, options.key, candidate, trace)
        throw new LockTimeoutError(rooms.showKey(options.key), o.lockTimeout)
      }
    }
    // One outcome per call: a miss is counted once it is known the stale value will not be the answer.
    if (trace !== undefined) trace.factory = true
    handedOff = true
    return await runFactory(call, turn, candidate)
  } finally {
    // Before the factory starts the turn is this frame's; from then on, the factory run's (it may outlive us).
    if (!handedOff) turn.end()
  }
}

/** Runs the factory for a turn and answers: its value, or the stale fallback under a timeout or a failure. */
async function runFactory<T>(call: Miss<T>, turn: Turn, candidate: Fallback): Promise<T> {
  const { rooms, scope, options, o, trace } = call
  const stale = candidate.entry
  const run: Run = { background: stale !== undefined && o.timeout === 0 }
  const result = produce({ rooms, scope, turn, userKey: options.key, factory: options.factory, o, tags: call.tags, stale, run })
  if (run.background) {
    handOff(o, result, scope.logger)
    return serveStale(rooms, scope, options.key, candidate, trace)
  }
  const outcome = await race(result, stale ? o.timeout : Infinity, o.hardTimeout, run)
  // Answered before the factory run ended: it runs on, and the platform is asked to wait for it.
  if (outcome === SOFT || outcome === HARD) handOff(o, result, scope.logger)
  if (outcome === SOFT) {
    rooms.recorder.count('softTimeouts')
    const err = new FactorySoftTimeoutError(rooms.showKey(options.key), o.timeout)
    scope.logger.warn({ key: options.key, op: 'getOrSet', err }, 'factory ran past its soft timeout: answering stale')
    return serveStale(rooms, scope, options.key, candidate, trace)
  }
  if (outcome === HARD) {
    rooms.recorder.count('hardTimeouts')
    scope.logger.warn({ key: options.key, op: 'getOrSet', hardTimeout: o.hardTimeout }, 'factory ran past its hard timeout')
    if (stale) return serveStale(rooms, scope, options.key, candidate, trace)
    rooms.recorder.miss(options.key, scope.namespaceName, trace)
    throw new FactoryHardTimeoutError(rooms.showKey(options.key), o.hardTimeout)
  }
  if (outcome.ok) {
    rooms.recorder.miss(options.key, scope.namespaceName, trace)
    return outcome.value as T
  }
  if (stale) return serveStale(rooms, scope, options.key, candidate, trace)
  rooms.recorder.miss(options.key, scope.namespaceName, trace)
  throw outcome.error
}

/**
 * Takes the key's lock across instances, or waits for the instance holding it to put a fresh value in L2.
 * 'owner': the turn holds the lock, run the factory; 'value': another instance made it; 'local': L2 cannot lock
 * right now, so the factory runs under the local lock only; 'timeout': waited lockTimeout.
 */
async function distributedTurn<T>(call: Miss<T>, turn: Turn, forceFresh: boolean): Promise<{ kind: 'owner' | 'local' | 'timeout' } | { kind: 'value'; value: unknown }> {
  const { rooms, key, o } = call
  const { l2 } = rooms
  const locks = l2.locks!
  const token = `${rooms.bus.id}:${Math.random().toString(36).slice(2)}`
  const deadline = nowMs() + o.lockTimeout
  for (;;) {
    const acquired = await l2.call('lock', key, () => locks.acquire(key, token, o.distributedLockTtl), turn.deadline)
    if (acquired === undefined) return { kind: 'local' }
    if (acquired) {
      turn.holdDistributed(async () => {
        await l2.call('unlock', key, () => locks.release(key, token))
      })
      // The previous owner may have finished between our L2 read and our lock (unless we must run anyway).
      const remote = forceFresh ? undefined : await l2.read(key, nowMs(), turn, rooms.defaults.grace)
      return remote?.fresh ? { kind: 'value', value: remote.value } : { kind: 'owner' }
    }
    // Another instance runs the factory: wait for its value, or for its lock to go (finished, or owner died).
    for (;;) {
      if (nowMs() > deadline) return { kind: 'timeout' }
      await new Promise((resolve) => setTimeout(resolve, 25))
      // Waiting on another instance: each poll gets a budget of its own (lockTimeout bounds the wait).
      turn.deadline = l2.deadline()
      const remote = await l2.read(key, nowMs(), turn, rooms.defaults.grace)
      if (remote?.fresh) return { kind: 'value', value: remote.value }
      const held = await l2.call('lockHeld', key, () => locks.held(key), turn.deadline)
      if (held === undefined) return { kind: 'local' }
      if (!held) break
    }
  }
}

/** A hit past earlyExpiration: refresh once in the background unless a factory already runs for the key. */
function refreshEarly<T>(call: Call<T>, entry: Entry, now: number): void {
  const { rooms, scope, key, options } = call
  if (rooms.flights.isHeld(key) || entry.backoffUntil > now) return
  let o: ResolvedOptions
  let tags: string[] | undefined
  try {
    o = resolveOptions(rooms.defaults, options)
    tags = scope.tagsFor(options.tags)
  } catch (error) {
    scope.logger.error({ key: options.key, err: error }, 'early refresh skipped: invalid options')
    return
  }
  const job: Job<T> = { rooms, scope, turn: new Turn(rooms, key), userKey: options.key, factory: options.factory, o, tags, stale: entry, run: { background: true } }
  const refresh = produce(job)
  background(refresh, scope.logger, 'early refresh')
  handOff(o, refresh, scope.logger)
}

/** Gives a run the call answered before to the platform's waitUntil (o.waitUntil), which must not see it fail. */
function handOff(o: ResolvedOptions, work: Promise<unknown>, logger: Logger): void {
  if (!o.waitUntil) return
  try {
    o.waitUntil(work.then(noop, noop))
  } catch (error) {
    logger.error({ err: error }, 'waitUntil threw')
  }
}

function noop(): void {}

/** A factory run: what it makes, for which turn, and what it may fall back on. */
interface Job<T> {
  rooms: Rooms
  scope: Scope
  turn: Turn
  userKey: string
  factory: GetOrSetOptions<T>['factory']
  o: ResolvedOptions
  tags: readonly string[] | undefined
  stale: Entry | undefined
  run: Run
}

/** How a factory asked its value to be stored (ctx.setOptions), and whether it skipped or failed. */
interface Asked {
  write: WriteOptions
  skipL2: boolean
  skipBus: boolean
  skipped: boolean
  failed: FactoryError | undefined
}

/** The context a factory receives; what it asks for lands in `asked`. */
function factoryContext<T>(job: Job<T>, asked: Asked): FactoryContext<T> {
  const { rooms, scope, stale, run, o } = job
  const shownKey = rooms.showKey(job.userKey)
  return {
    // A getter: the copy l1.clone makes is paid only by a factory that reads it.
    gracedEntry: stale
      ? {
          get value() {
            return rooms.l1.valueOf(stale) as T
          },
        }
      : undefined,
    skip: () => {
      asked.skipped = true
      return SKIP as never
    },
    fail: (message) => {
      throw (asked.failed = new FactoryError(shownKey, message, undefined, run.background))
    },
    setOptions: (given) => {
      if (typeof given !== 'object' || given === null) throw new FactoryError(shownKey, 'ctx.setOptions needs an object')
      if (given.ttl !== undefined) asked.write.ttl = jittered(toMs(given.ttl, 'ttl'), o)
      if (given.grace !== undefined) asked.write.grace = given.grace === false ? 0 : toMs(given.grace, 'grace')
      if (given.tags !== undefined) asked.write.tags = scope.tagsFor(given.tags)
      if (given.skipL2Write !== undefined) asked.skipL2 = given.skipL2Write === true
      if (given.skipBusNotify !== undefined) asked.skipBus = given.skipBusNotify === true
    },
  }
}

/**
 * Runs a factory and stores its value, then ends the turn. Never rejects: the outcome says how it went, and
 * failures are counted, logged, reported to onFactoryError and start the stale entry's backoff here, so a
 * background run is handled exactly like a foreground one.
 */
async function produce<T>(job: Job<T>): Promise<Outcome<T>> {
  const { rooms, scope, turn, userKey, o } = job
  const started = nowMs()
  const asked: Asked = { write: { ttl: jittered(o.ttl, o), grace: o.grace, tags: job.tags }, skipL2: false, skipBus: false, skipped: false, failed: undefined }
  const ctx = factoryContext(job, asked)
  rooms.recorder.count('factoryCalls')
  try {
    // Unwatched, the factory's own value is awaited (no wrapper's promise hop between its answer and the write).
    const value = await rooms.recorder.factory(scope.namespaceName, userKey, job.run.background, () => job.factory(ctx))
    turn.deadline += nowMs() - started
    if (asked.skipped || (value as unknown) === SKIP) return { ok: true, value: undefined }
    await writeThrough(rooms, scope, { key: turn.key, userKey, value, options: asked.write, skipL2: asked.skipL2, skipBus: asked.skipBus, ticket: turn })
    scope.logger.debug({ key: userKey, op: 'factory', duration: nowMs() - started }, 'factory value cached')
    return { ok: true, value }
  } catch (error) {
    return { ok: false, error: failed(job, error, asked.failed, started) }
  } finally {
    turn.end()
  }
}

/** A factory failure: counted, logged, the stale entry's backoff started, and onFactoryError told. */
function failed<T>(job: Job<T>, error: unknown, thrownByFail: FactoryError | undefined, started: number): RustoCacheError {
  const { rooms, scope, userKey, stale, o } = job
  const shownKey = rooms.showKey(userKey)
  const failure = error instanceof RustoCacheError ? error : new FactoryError(shownKey, `factory for ${keyText(shownKey)} failed: ${shown(error)}`, error, job.run.background)
  // onFactoryError always hears a FactoryError of this key: a RustoCacheError the factory let through (say,
  // another key's, from a nested cache call) is its cause, never handed on as this key's failure.
  const report = failure === error && failure !== thrownByFail ? new FactoryError(shownKey, `factory for ${keyText(shownKey)} failed: ${failure.message}`, failure, job.run.background) : (failure as FactoryError)
  rooms.recorder.count('factoryErrors')
  if (stale) {
    stale.backoffUntil = nowMs() + o.graceBackoff
    if (!rooms.l1.keeps) rooms.l1.backOff(job.turn.key, stale.backoffUntil)
  }
  scope.logger.error({ key: userKey, op: 'factory', err: failure, duration: nowMs() - started }, 'factory failed')
  if (o.onFactoryError) {
    try {
      o.onFactoryError(report)
    } catch (listenerError) {
      scope.logger.error({ key: userKey, err: listenerError }, 'onFactoryError threw')
    }
  }
  return failure
}
