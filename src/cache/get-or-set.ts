import { background } from '../background.js'
import { FactoryError, FactoryHardTimeoutError, FactorySoftTimeoutError, keyText, LockTimeoutError, RustoCacheError, shown } from '../errors.js'
import { toMs, type Duration } from '../ttl.js'
import { jittered, resolveOptions, type EntryOptions, type ResolvedOptions } from './options.js'
import type { Scope } from './scope.js'
import { isFresh, type Entry, type Ticket, type WriteOptions } from './stack.js'
import { STALE } from '../core/types.js'
import type { OperationContext, Tier } from '../observe.js'

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

export interface GetOrSetOptions<T> extends EntryOptions {
  key: string
  factory: Factory<T>
  tags?: string[]
  /** Run the factory even when a fresh value is cached. */
  forceFresh?: boolean
}

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
    private readonly scope: Scope,
    readonly key: string,
  ) {
    this.releaseLocal = scope.stack.locks.acquire(key)
    this.since = scope.stack.begin(key)
    this.deadline = scope.stack.l2Deadline()
  }

  holdDistributed(release: () => Promise<void>): void {
    this.releaseDistributed = release
  }

  end(): void {
    if (this.ended) return
    this.ended = true
    this.releaseLocal()
    this.scope.stack.end(this)
    if (this.releaseDistributed) background(this.releaseDistributed(), this.scope.logger, `distributed unlock of "${this.key}"`)
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
    const settle = (value: T | typeof SOFT | typeof HARD) => {
      for (const timer of timers) clearTimeout(timer)
      // Set when the timer fires, not when the caller resumes: a failure in between is already a background one.
      if (value === SOFT || value === HARD) run.background = true
      resolve(value)
    }
    if (softMs < Infinity) timers.push(setTimeout(() => settle(SOFT), softMs))
    if (hardMs < Infinity) timers.push(setTimeout(() => settle(HARD), hardMs))
    attempt.then(settle, reject)
  })
}

/**
 * The miss path of getOrSet, top to bottom: re-read L1; wait for another caller's factory, or take the key;
 * then (ownTurn) L2, the distributed turn, the factory under the soft and hard timeouts, and the write-back.
 * Not async itself: a key nobody holds goes straight to ownTurn, without a promise hop for this frame.
 */
export function fill<T>(scope: Scope, key: string, options: GetOrSetOptions<T>, trace: OperationContext | undefined): Promise<T> {
  const call: Call<T> = { scope, key, options, o: resolveOptions(scope.defaults, options), tags: scope.tagsFor(options.tags), trace }
  return look(call, options.forceFresh === true)
}

/** One getOrSet miss: what every step of it reads. */
interface Call<T> {
  scope: Scope
  /** The full key (namespace path included); options.key is the caller's. */
  key: string
  options: GetOrSetOptions<T>
  o: ResolvedOptions
  tags: string[] | undefined
  trace: OperationContext | undefined
}

function look<T>(call: Call<T>, forceFresh: boolean): Promise<T> {
  const { scope, key, options, o, trace } = call
  const { stack } = scope
  const now = Date.now()
  const code = stack.lookup(key, now)
  const entry = code < 0 ? undefined : stack.entryAt(code)
  if (entry && isFresh(code) && !forceFresh) {
    scope.hit(options.key, false, 'l1', trace)
    return Promise.resolve(stack.valueOf(entry) as T)
  }
  const stale = entry && code >= STALE && scope.staleUsable(entry, options.grace, now) ? entry : undefined
  if (stale && stale.backoffUntil > now) return Promise.resolve(scope.graced<T>(options.key, stale, 'l1', trace))
  if (!stack.locks.isHeld(key)) return ownTurn(call, stale, forceFresh)
  if (stale && o.timeout === 0) return Promise.resolve(scope.graced<T>(options.key, stale, 'l1', trace))
  return waitTurn(call, stale)
}

/** Another caller is filling the key: wait for it (bounded by lockTimeout, or the soft timeout with a stale value), then look again. */
async function waitTurn<T>(call: Call<T>, stale: Entry | undefined): Promise<T> {
  const { scope, key, options, o, trace } = call
  const wait = stale ? Math.min(o.timeout, o.lockTimeout) : o.lockTimeout
  if (!(await scope.stack.locks.wait(key, wait))) {
    if (stale) return scope.graced(options.key, stale, 'l1', trace)
    throw new LockTimeoutError(scope.stack.showKey(options.key), o.lockTimeout)
  }
  const { stack } = scope
  if (!stack.l1 && stack.l2) {
    // L2-only: no L1 to re-read. Every waiter reads L2 at once (the drivers send one tick's reads as one
    // command) instead of taking the key one after another for a read each.
    const ticket = stack.ticket(key)
    try {
      const remote = await stack.readL2(key, Date.now(), ticket, scope.defaults.grace)
      if (remote?.fresh) {
        scope.hit(options.key, false, 'l2', trace)
        return remote.value as T
      }
    } finally {
      stack.end(ticket)
    }
  }
  // What the holder wrote is as fresh as what our own factory would make.
  return look(call, false)
}

/** The key is ours: L2 (read once for the whole stampede), the distributed turn, then the factory. */
async function ownTurn<T>(call: Call<T>, stale: Entry | undefined, forceFresh: boolean): Promise<T> {
  const { scope, key, options, o, tags, trace } = call
  const { stack } = scope
  const turn = new Turn(scope, key)
  let handedOff = false
  try {
    let candidate = stale
    let from: Tier = 'l1'
    if (stack.l2 && !forceFresh) {
      const remote = await stack.readL2(key, Date.now(), turn, scope.defaults.grace)
      if (remote?.fresh) {
        scope.hit(options.key, false, 'l2', trace)
        return remote.value as T
      }
      // L2's stale value beats L1's: another instance may have refreshed it since.
      if (remote?.entry && scope.staleUsable(remote.entry, options.grace, Date.now())) {
        candidate = remote.entry
        from = 'l2'
      } else if (remote?.gone && candidate && stack.outdated(candidate)) candidate = undefined
    }
    // L2-only: a failed refresh's backoff cannot live on an L1 entry; the stack keeps it by key.
    if (candidate && !stack.l1 && stack.backoffUntil(key, Date.now()) > 0) return scope.graced(options.key, candidate, from, trace)
    if (o.distributedLock && stack.l2?.locks) {
      const distributed = await distributedTurn(scope, turn, o, forceFresh)
      if (distributed.kind === 'value') {
        scope.hit(options.key, false, 'l2', trace)
        return distributed.value as T
      }
      if (distributed.kind === 'timeout') {
        if (candidate) return scope.graced(options.key, candidate, from, trace)
        throw new LockTimeoutError(scope.stack.showKey(options.key), o.lockTimeout)
      }
    }
    // One outcome per call: a miss is counted once it is known the stale value will not be the answer.
    if (trace !== undefined) trace.factory = true
    handedOff = true
    const run: Run = { background: candidate !== undefined && o.timeout === 0 }
    const result = produce(scope, turn, options.key, options.factory, o, tags, candidate, run)
    if (run.background) return scope.graced(options.key, candidate!, from, trace)
    const outcome = await race(result, candidate ? o.timeout : Infinity, o.hardTimeout, run)
    if (outcome === SOFT) {
      stack.counters.softTimeouts++
      const err = new FactorySoftTimeoutError(stack.showKey(options.key), o.timeout)
      scope.logger.warn({ key: options.key, op: 'getOrSet', err }, 'factory ran past its soft timeout: answering stale')
      return scope.graced(options.key, candidate!, from, trace)
    }
    if (outcome === HARD) {
      stack.counters.hardTimeouts++
      scope.logger.warn({ key: options.key, op: 'getOrSet', hardTimeout: o.hardTimeout }, 'factory ran past its hard timeout')
      if (candidate) return scope.graced(options.key, candidate, from, trace)
      scope.miss(options.key, trace)
      throw new FactoryHardTimeoutError(stack.showKey(options.key), o.hardTimeout)
    }
    if (outcome.ok) {
      scope.miss(options.key, trace)
      return outcome.value as T
    }
    if (candidate) return scope.graced(options.key, candidate, from, trace)
    scope.miss(options.key, trace)
    throw outcome.error
  } finally {
    // Before the factory starts the turn is this frame's; from then on, the factory run's (it may outlive us).
    if (!handedOff) turn.end()
  }
}

/**
 * Takes the key's lock across instances, or waits for the instance holding it to put a fresh value in L2.
 * 'owner': the turn holds the lock, run the factory; 'value': another instance made it; 'local': L2 cannot lock
 * right now, so the factory runs under the local lock only; 'timeout': waited lockTimeout.
 */
async function distributedTurn(
  scope: Scope,
  turn: Turn,
  o: ResolvedOptions,
  forceFresh: boolean,
): Promise<{ kind: 'owner' | 'local' | 'timeout' } | { kind: 'value'; value: unknown }> {
  const { stack } = scope
  const key = turn.key
  const locks = stack.l2!.locks!
  const token = `${scope.coherence.id}:${Math.random().toString(36).slice(2)}`
  const deadline = Date.now() + o.lockTimeout
  for (;;) {
    const acquired = await stack.l2Call('lock', key, (l2) => l2.locks!.acquire(key, token, o.distributedLockTtl), turn.deadline)
    if (acquired === undefined) return { kind: 'local' }
    if (acquired) {
      turn.holdDistributed(async () => {
        await stack.l2Call('unlock', key, () => locks.release(key, token))
      })
      // The previous owner may have finished between our L2 read and our lock (unless we must run anyway).
      const remote = forceFresh ? undefined : await stack.readL2(key, Date.now(), turn, scope.defaults.grace)
      return remote?.fresh ? { kind: 'value', value: remote.value } : { kind: 'owner' }
    }
    // Another instance runs the factory: wait for its value, or for its lock to go (finished, or owner died).
    for (;;) {
      if (Date.now() > deadline) return { kind: 'timeout' }
      await new Promise((resolve) => setTimeout(resolve, 25))
      // Waiting on another instance: each poll gets a budget of its own (lockTimeout bounds the wait).
      turn.deadline = stack.l2Deadline()
      const remote = await stack.readL2(key, Date.now(), turn, scope.defaults.grace)
      if (remote?.fresh) return { kind: 'value', value: remote.value }
      const held = await stack.l2Call('lockHeld', key, () => locks.held(key), turn.deadline)
      if (held === undefined) return { kind: 'local' }
      if (!held) break
    }
  }
}

/** A hit past earlyExpiration: refresh once in the background unless a factory already runs for the key. */
export function refreshEarly<T>(scope: Scope, key: string, options: GetOrSetOptions<T>, entry: Entry, now: number): void {
  if (scope.stack.locks.isHeld(key) || entry.backoffUntil > now) return
  let o: ResolvedOptions
  let tags: string[] | undefined
  try {
    o = resolveOptions(scope.defaults, options)
    tags = scope.tagsFor(options.tags)
  } catch (error) {
    scope.logger.error({ key: options.key, err: error }, 'early refresh skipped: invalid options')
    return
  }
  background(produce(scope, new Turn(scope, key), options.key, options.factory, o, tags, entry, { background: true }), scope.logger, 'early refresh')
}

/**
 * Runs a factory and stores its value, then ends the turn. Never rejects: the outcome says how it went, and
 * failures are counted, logged, reported to onFactoryError and start the stale entry's backoff here, so a
 * background run is handled exactly like a foreground one.
 */
async function produce<T>(
  scope: Scope,
  turn: Turn,
  userKey: string,
  factory: GetOrSetOptions<T>['factory'],
  o: ResolvedOptions,
  tags: readonly string[] | undefined,
  stale: Entry | undefined,
  run: Run,
): Promise<Outcome<T>> {
  const started = Date.now()
  const shownKey = scope.stack.showKey(userKey)
  const write: WriteOptions = { ttl: jittered(o.ttl, o), grace: o.grace, tags }
  let skipL2 = false
  let skipBus = false
  let skipped = false
  let failed: FactoryError | undefined
  const ctx: FactoryContext<T> = {
    // A getter: the copy l1.clone makes is paid only by a factory that reads it.
    gracedEntry: stale
      ? {
          get value() {
            return scope.stack.valueOf(stale) as T
          },
        }
      : undefined,
    skip: () => {
      skipped = true
      return SKIP as never
    },
    fail: (message) => {
      throw (failed = new FactoryError(shownKey, message, undefined, run.background))
    },
    setOptions: (given) => {
      if (typeof given !== 'object' || given === null) throw new FactoryError(shownKey, 'ctx.setOptions needs an object')
      if (given.ttl !== undefined) write.ttl = jittered(toMs(given.ttl, 'ttl'), o)
      if (given.grace !== undefined) write.grace = given.grace === false ? 0 : toMs(given.grace, 'grace')
      if (given.tags !== undefined) write.tags = scope.tagsFor(given.tags)
      if (given.skipL2Write !== undefined) skipL2 = given.skipL2Write === true
      if (given.skipBusNotify !== undefined) skipBus = given.skipBusNotify === true
    },
  }
  scope.stack.counters.factoryCalls++
  try {
    const probe = scope.stack.probe
    const value = await (probe.any ? probe.factory(scope.namespaceName, userKey, run.background, async () => factory(ctx)) : factory(ctx))
    turn.deadline += Date.now() - started
    if (skipped || (value as unknown) === SKIP) return { ok: true, value: undefined }
    await scope.writeThrough(turn.key, userKey, value, write, skipL2, skipBus, turn)
    scope.logger.debug({ key: userKey, op: 'factory', duration: Date.now() - started }, 'factory value cached')
    return { ok: true, value }
  } catch (error) {
    const failure =
      error instanceof RustoCacheError
        ? error
        : new FactoryError(shownKey, `factory for ${keyText(shownKey)} failed: ${shown(error)}`, error, run.background)
    // onFactoryError always hears a FactoryError of this key: a RustoCacheError the factory let through (say,
    // another key's, from a nested cache call) is its cause, never handed on as this key's failure.
    const report = failure === error && failure !== failed ? new FactoryError(shownKey, `factory for ${keyText(shownKey)} failed: ${failure.message}`, failure, run.background) : (failure as FactoryError)
    scope.stack.counters.factoryErrors++
    if (stale) {
      stale.backoffUntil = Date.now() + o.graceBackoff
      if (!scope.stack.l1) scope.stack.backOff(turn.key, stale.backoffUntil)
    }
    scope.logger.error({ key: userKey, op: 'factory', err: failure, duration: Date.now() - started }, 'factory failed')
    if (o.onFactoryError) {
      try {
        o.onFactoryError(report)
      } catch (listenerError) {
        scope.logger.error({ key: userKey, err: listenerError }, 'onFactoryError threw')
      }
    }
    return { ok: false, error: failure }
  } finally {
    turn.end()
  }
}
