import type { OperationContext, Tier } from '../observe.js'
import type { Duration } from '../ttl.js'
import { isFresh, type Entry, type L1 } from './l1.js'
import type { L2Found } from './l2.js'
import { callGrace, options, withinGrace, type CallGrace, type GetOptions, type KeyOptions } from './options.js'
import type { Rooms } from './rooms.js'
import type { Scope } from './scope.js'
import { recentMs } from '../now.js'

/** A stale entry a read may fall back on, and the tier it came from (entry undefined: none). */
export interface Fallback {
  entry: Entry | undefined
  tier: Tier
}

/** The stale L1 entry behind a lookup code, when the call's grace lets it answer. */
export function staleIn(l1: L1, code: number, grace: CallGrace, now: number): Entry | undefined {
  if (code < 0 || isFresh(code)) return undefined
  const entry = l1.entryAt(code)
  return withinGrace(entry, grace, now) ? entry : undefined
}

/**
 * The one judgement of a key's read once L2 answered without a fresh value (single reads, batches and
 * getOrSet alike): L2's stale value within grace beats L1's (another instance may have refreshed it since);
 * L2's answer that it holds nothing takes away an L1 copy known to be replaced; no answer keeps L1's.
 */
export function fallbackAfter(l1: L1, remote: L2Found | undefined, fallback: Fallback, grace: CallGrace, now: number): Fallback {
  if (remote?.entry && withinGrace(remote.entry, grace, now)) return { entry: remote.entry, tier: 'l2' }
  if (remote?.gone && fallback.entry && l1.outdated(fallback.entry)) return { entry: undefined, tier: fallback.tier }
  return fallback
}

/** One L2 read of `key` under its own ticket (undefined: nothing usable, L2 down, or its breaker open). */
export async function readOnce(rooms: Rooms, key: string, now: number): Promise<L2Found | undefined> {
  const ticket = rooms.flights.ticket(key, rooms.l2.deadline())
  try {
    return await rooms.l2.read(key, now, ticket, rooms.defaults.grace)
  } finally {
    rooms.flights.end(ticket)
  }
}

/** Answers with a stale value: counted as a graced hit, logged, and told to listeners. */
export function serveStale<T>(rooms: Rooms, scope: Scope, userKey: string, stale: Fallback, trace: OperationContext | undefined, op = 'getOrSet'): T {
  const value = rooms.l1.valueOf(stale.entry!) as T
  recordStale(rooms, scope, userKey, stale.tier, trace, op)
  return value
}

function recordStale(rooms: Rooms, scope: Scope, userKey: string, tier: Tier, trace: OperationContext | undefined, op: string): void {
  rooms.recorder.hit(userKey, true, tier, scope.namespaceName, trace)
  scope.logger.warn({ key: userKey, op, tier, graced: true }, 'answered with a stale value within grace')
}

/**
 * L1, then L2 when L1 has no fresh value; a stale value within grace; else defaultValue. Not async: a fresh L1
 * hit resolves without this frame's promise (bad input still rejects).
 */
export function get<T>(rooms: Rooms, scope: Scope, given: GetOptions<T>, trace: OperationContext | undefined): Promise<T | undefined> {
  try {
    const { l1 } = rooms
    const key = scope.lookupKey(options(given, 'get').key)
    const grace = callGrace(given.grace)
    const now = recentMs()
    const code = l1.lookup(key, now)
    if (!isFresh(code)) {
      // Past a fresh hit, the key is checked in full (lookupKey checked only what the core needs).
      scope.keyFor(given.key)
      return getStale(rooms, scope, given, trace, { key, code, grace, now })
    }
    // The value before the event: a listener that writes the key cannot change this answer.
    const value = l1.valueOf(l1.entryAt(code)) as T
    rooms.recorder.hit(given.key, false, 'l1', scope.namespaceName, trace)
    return Promise.resolve(value)
  } catch (error) {
    return Promise.reject(error)
  }
}

/** get() past a fresh L1 hit: L2, then a stale value within grace, else defaultValue. */
async function getStale<T>(rooms: Rooms, scope: Scope, given: GetOptions<T>, trace: OperationContext | undefined, at: { key: string; code: number; grace: CallGrace; now: number }): Promise<T | undefined> {
  const { l1, recorder } = rooms
  const { key, grace, now } = at
  let fallback: Fallback = { entry: staleIn(l1, at.code, grace, now), tier: 'l1' }
  if (rooms.l2.present) {
    const remote = await readOnce(rooms, key, now)
    if (remote?.fresh) {
      recorder.hit(given.key, false, 'l2', scope.namespaceName, trace)
      return remote.value as T
    }
    fallback = fallbackAfter(l1, remote, fallback, grace, now)
  }
  if (fallback.entry) return serveStale(rooms, scope, given.key, fallback, trace, 'get')
  recorder.miss(given.key, scope.namespaceName, trace)
  const missing = given.defaultValue
  return typeof missing === 'function' ? (missing as () => T)() : missing
}

/**
 * Values in key order, undefined for a miss: one crossing into the L1 core for the whole batch, one L2 read
 * for what L1 could not answer. Every answer is settled before the first event is emitted, so a listener that
 * calls back into the cache cannot change what this call returns. Per key, parallel arrays (no object per key).
 */
export async function getMany<T>(rooms: Rooms, scope: Scope, userKeys: readonly unknown[], given: { grace?: Duration | false }, trace: OperationContext | undefined): Promise<(T | undefined)[]> {
  const { l1 } = rooms
  const keys = userKeys.map((k) => scope.lookupKey(k))
  const grace = callGrace(given.grace)
  const now = recentMs()
  const codes = l1.lookupMany(keys, now)
  // Past a fresh hit, every key is checked in full (lookupKey checked only what the core needs), before any is answered.
  for (let i = 0; i < keys.length; i++) if (!isFresh(codes[i]!)) scope.keyFor(userKeys[i])
  const batch: Batch = { values: new Array<unknown>(keys.length), fresh: new Array<boolean>(keys.length), stale: new Array<Entry | undefined>(keys.length), tier: new Array<Tier>(keys.length).fill('l1') }
  const ask: number[] = []
  for (let i = 0; i < keys.length; i++) {
    const code = codes[i]!
    if (isFresh(code)) {
      batch.values[i] = l1.valueOf(l1.entryAt(code))
      batch.fresh[i] = true
      continue
    }
    batch.stale[i] = staleIn(l1, code, grace, now)
    ask.push(i)
  }
  if (ask.length > 0 && rooms.l2.present) await askL2(rooms, keys, ask, batch, grace, now)
  // A miss is an explicit undefined, not a hole.
  for (const i of ask) if (!batch.fresh[i]) batch.values[i] = batch.stale[i] === undefined ? undefined : l1.valueOf(batch.stale[i]!)
  const hits = record(rooms, scope, userKeys, batch)
  if (trace !== undefined) {
    trace.hits = hits
    trace.hit = hits === keys.length
  }
  return batch.values as (T | undefined)[]
}

/** Records a batch's answers (hits, graced hits, misses); returns how many keys were answered. */
function record(rooms: Rooms, scope: Scope, userKeys: readonly unknown[], batch: Batch): number {
  const { recorder } = rooms
  // Nobody listens to hits or misses: count the fresh hits and misses in one go (graced hits are logged each).
  const quiet = recorder.quiet()
  let hits = 0
  let fresh = 0
  let misses = 0
  for (let i = 0; i < userKeys.length; i++) {
    const userKey = userKeys[i] as string
    if (batch.fresh[i]) {
      if (quiet) fresh++
      else recorder.hit(userKey, false, batch.tier[i]!, scope.namespaceName, undefined)
      hits++
    } else if (batch.stale[i]) {
      recordStale(rooms, scope, userKey, batch.tier[i]!, undefined, 'getMany')
      hits++
    } else if (quiet) misses++
    else recorder.miss(userKey, scope.namespaceName, undefined)
  }
  if (quiet) recorder.tally(fresh, misses)
  return hits
}

/** A batch's answers so far, per key: its value, whether it is fresh, its stale fallback, and the tier of either. */
interface Batch {
  values: unknown[]
  fresh: boolean[]
  stale: Array<Entry | undefined>
  tier: Tier[]
}

/** The batch's keys L1 could not answer, in one L2 read, each judged as a single read is. */
async function askL2(rooms: Rooms, keys: readonly string[], ask: readonly number[], batch: Batch, grace: CallGrace, now: number): Promise<void> {
  const { l1, l2, flights } = rooms
  const deadline = l2.deadline()
  const tickets = ask.map((i) => flights.ticket(keys[i]!, deadline))
  try {
    const answer = await l2.call('getMany', undefined, (driver) => driver.getMany(ask.map((i) => keys[i]!)), deadline)
    // Judged side by side: a tagged entry may need its tag stamps from L2 (a promise); untagged ones are judged now.
    const judged = ask.map((i, j) => l2.admit(keys[i]!, answer === undefined ? undefined : (answer[j] ?? null), now, tickets[j]!, rooms.defaults.grace))
    if (judged.some((found) => found instanceof Promise)) await Promise.all(judged.map(async (found, j) => (judged[j] = await found)))
    ;(judged as Array<L2Found | undefined>).forEach((remote, j) => {
      const i = ask[j]!
      if (remote?.fresh) {
        batch.values[i] = remote.value
        batch.fresh[i] = true
        batch.tier[i] = 'l2'
        return
      }
      const fallback = fallbackAfter(l1, remote, { entry: batch.stale[i], tier: batch.tier[i]! }, grace, now)
      batch.stale[i] = fallback.entry
      batch.tier[i] = fallback.tier
    })
  } finally {
    for (const ticket of tickets) flights.end(ticket)
  }
}

/**
 * True when L1 holds a value get() would answer with (fresh, or stale within grace). Reads L1 only, never L2,
 * and does not touch the LRU order. In L2-only mode (`l1: false`) it asks L2 instead.
 */
export async function has(rooms: Rooms, scope: Scope, given: KeyOptions & { grace?: Duration | false }, trace: OperationContext | undefined): Promise<boolean> {
  const { l1 } = rooms
  const key = scope.keyFor(given.key)
  const grace = callGrace(given.grace)
  const now = recentMs()
  let tier: Tier = 'l1'
  let yes = false
  if (l1.keeps) {
    const code = l1.peek(key, now)
    yes = isFresh(code) || staleIn(l1, code, grace, now) !== undefined
  }
  // Any tier: L2 is asked when L1 has nothing (as BentoCache does), judged as get() would judge it.
  if (!yes && rooms.l2.present) {
    const remote = await readOnce(rooms, key, now)
    yes = remote !== undefined && (remote.fresh || (remote.entry !== undefined && withinGrace(remote.entry, grace, now)))
    tier = 'l2'
  }
  if (trace !== undefined) {
    trace.hit = yes
    if (yes) trace.tier = tier
  }
  return yes
}
