import { InvalidOptionError } from '../errors.js'
import type { Ticket } from './flights.js'
import type { WriteOptions } from './l1.js'
import { jittered, options, resolveOptions, type ResolvedOptions, type SetManyOptions, type SetOptions } from './options.js'
import type { Rooms } from './rooms.js'
import type { Scope } from './scope.js'
import type { TagStamps } from './tags.js'
import { nowMs } from '../now.js'

/**
 * Before a tagged write with an L2 is stamped: resolves once the clock is more than REMOTE_TIE_MS past every tag
 * invalidation this cache knows of (TagStamps.writableAfter), so its stamp is real and no L2 reader takes it
 * for covered by that invalidation (at most ~1 ms). Checked again after each wait: an invalidation heard
 * meanwhile may set the bar later. Undefined when there is nothing to wait for (no promise hop): every write
 * but the rare one just after a tag invalidation.
 */
export function stampable(tags: TagStamps, tagged: boolean): Promise<void> | undefined {
  if (!tagged || tags.writableAfter(nowMs()) === undefined) return undefined
  return (async () => {
    for (let after = tags.writableAfter(nowMs()); after !== undefined; after = tags.writableAfter(nowMs())) {
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(after! - nowMs()) + 1))
    }
  })()
}


/** One write through the tiers: set(), or a factory's value (with its turn's ticket). */
export interface Write {
  /** The full key, and the caller's (for events and logs). */
  key: string
  userKey: string
  value: unknown
  options: WriteOptions
  /** ctx.setOptions({ skipL2Write, skipBusNotify }) of a factory. */
  skipL2?: boolean
  skipBus?: boolean
  /** Work in flight: nothing is written if the key or its tags changed since the ticket began. */
  ticket?: Ticket
}

/** How a value given with `o` is stored: its ttl (jittered), grace, and full tags. */
export function writeOptions(scope: Scope, o: ResolvedOptions, tags: unknown): WriteOptions {
  return { ttl: jittered(o.ttl, o), grace: o.grace, tags: scope.tagsFor(tags) }
}

/**
 * The one write path of set() and of factories: the value is checked (and encoded for L2) before anything is
 * written; L1 first so this process answers at once, then L2 (awaited), then the retry queue, which publishes
 * in the background and only once the L2 side is done. True when either tier took the value.
 */
export async function writeThrough(rooms: Rooms, scope: Scope, write: Write): Promise<boolean> {
  const { l1, l2, flights, recorder } = rooms
  const { key, ticket } = write
  const toL2 = l2.present && write.skipL2 !== true
  // Only L2 readers judge by stamps across instances: an L1-only write never waits.
  const wait = stampable(rooms.tags, toL2 && write.options.tags !== undefined)
  if (wait) await wait
  const now = nowMs()
  const stamp = flights.stamp(now)
  const remote = l2.prepare(key, write.value, write.options, stamp, now, toL2)
  const kept = l1.copyIn(key, write.value)
  if (ticket && flights.overtaken(ticket, write.options.tags)) {
    recorder.count('discarded')
    scope.logger.debug({ key: write.userKey, op: 'write' }, 'the key was invalidated while its value was being made: not stored')
    return false
  }
  const inL1 = l1.write(key, kept, write.options, now, stamp)
  // An L1-only cache skips the await: it would cost a promise hop on every miss.
  let answer: boolean | undefined
  if (remote !== undefined) {
    answer = await flights.writing([key], () =>
      l2.call('set', key, (driver) => driver.set(key, remote.payload, remote.ttlMs).then((written) => written !== false), ticket?.deadline),
    )
  }
  // L2 holds something newer than this write (a conditional driver refused it): this L1 copy must not outlive
  // it. Outdated, the next read fetches L2's.
  if (answer === false) l1.outdate(key)
  if (write.skipBus !== true) rooms.queue.announce({ type: 'set', keys: [key] }, answer !== undefined || !toL2)
  if (inL1 || answer === true) recorder.changed('cache:written', write.userKey, scope.namespaceName)
  return inL1 || answer === true
}

/** Writes L1, then L2. Resolves true once written (a value too large for L1 still goes to L2). */
export async function set<T>(rooms: Rooms, scope: Scope, given: SetOptions<T>): Promise<boolean> {
  const key = scope.keyFor(given.key)
  const write = writeOptions(scope, resolveOptions(rooms.defaults, given), given.tags)
  return writeThrough(rooms, scope, { key, userKey: given.key, value: given.value, options: write })
}

/** Writes every item, checking (and encoding) them all first: one bad item writes nothing. One hashing crossing. */
export async function setMany<T>(rooms: Rooms, scope: Scope, given: SetManyOptions<T>): Promise<void> {
  const { l1, l2, flights } = rooms
  const items = given.items
  if (!Array.isArray(items)) throw new InvalidOptionError('setMany needs items: [{ key, value }]')
  const keys = items.map((item) => scope.keyFor(options(item, 'setMany item').key))
  const writes = items.map((item) => writeOptions(scope, resolveOptions(rooms.defaults, item), item.tags))
  // As writeThrough: tagged writes wait until they can be stamped past every tag invalidation known here.
  const wait = stampable(rooms.tags, l2.present && writes.some((w) => w.tags !== undefined))
  if (wait) await wait
  const now = nowMs()
  const stamps = keys.map(() => flights.stamp(now))
  const values = items.map((item, i) => l1.copyIn(keys[i]!, item.value))
  const remote = keys.map((key, i) => l2.prepare(key, values[i], writes[i]!, stamps[i]!, now, true))
  const written = l1.writeMany(keys, values, writes, now, stamps)
  let inL2 = !l2.present
  if (l2.present) {
    const batch = keys.map((key, i) => ({ key, payload: remote[i]!.payload, ttlMs: remote[i]!.ttlMs }))
    const answer = await flights.writing(keys, () => l2.call('setMany', undefined, (driver) => driver.setMany(batch).then((done) => done ?? true)))
    inL2 = answer !== undefined
    // Keys L2 kept a newer version of (a conditional driver): this L1's copies must not outlive it.
    if (Array.isArray(answer)) answer.forEach((done, i) => done || l1.outdate(keys[i]!))
    if (inL2) written.fill(true)
  }
  rooms.queue.announce({ type: 'set', keys }, inL2)
  for (let i = 0; i < items.length; i++) if (written[i]) rooms.recorder.changed('cache:written', items[i]!.key, scope.namespaceName)
}
