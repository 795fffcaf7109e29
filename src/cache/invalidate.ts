import { InvalidOptionError } from '../errors.js'
import { tagMessage } from './bus-room.js'
import type { KeyOptions } from './options.js'
import type { Rooms } from './rooms.js'
import type { Scope } from './scope.js'
import { nowMs } from '../now.js'

// Every invalidation runs the same three steps: L1 (a change: work in flight for the key is overtaken), then
// L2 (awaited), then the retry queue, which tells the other instances once the L2 side is done. While the L2
// side of a delete or an expire is on its way, it counts as a write in flight (Flights.writing): a read of
// the key that overlaps it answers but keeps nothing in L1, since L2 may still hold the value it removes.

/** Runs an invalidation's L2 command with its keys marked as written to until it lands. */
function landing<T>(rooms: Rooms, keys: readonly string[], run: () => Promise<T>): Promise<T> {
  return rooms.l2.present ? rooms.flights.writing(keys, run) : run()
}

export async function deleteKey(rooms: Rooms, scope: Scope, given: KeyOptions): Promise<boolean> {
  const { l1, l2, flights } = rooms
  const key = scope.keyFor(given.key)
  const inL1 = l1.remove(key)
  // Stamped: a conditional driver keeps it as a tombstone that refuses writes made before it.
  const stamp = flights.stamp(nowMs())
  const inL2 = await landing(rooms, [key], () => l2.call('delete', key, (driver) => driver.delete(key, stamp)))
  rooms.queue.announce({ type: 'delete', keys: [key], stamp }, inL2 !== undefined || !l2.present)
  const deleted = inL1 || inL2 === true
  if (deleted) rooms.recorder.changed('cache:deleted', given.key, scope.namespaceName)
  return deleted
}

export async function deleteMany(rooms: Rooms, scope: Scope, userKeys: readonly unknown[]): Promise<number> {
  const { l1, l2, flights } = rooms
  const keys = userKeys.map((k) => scope.keyFor(k))
  const deleted = keys.map((key) => l1.remove(key))
  // One UNLINK for the batch; its count covers keys that were only in L2.
  const stamp = flights.stamp(nowMs())
  const inL2 = await landing(rooms, keys, () => l2.call('deleteMany', undefined, (driver) => driver.deleteMany(keys, stamp)))
  rooms.queue.announce({ type: 'delete', keys, stamp }, inL2 !== undefined || !l2.present)
  let n = 0
  deleted.forEach((yes, i) => {
    if (!yes) return
    n++
    rooms.recorder.changed('cache:deleted', userKeys[i] as string, scope.namespaceName)
  })
  return Math.max(n, inL2 ?? 0)
}

/** Marks the entry stale now: get() and getOrSet() may still serve it within its grace. */
export async function expire(rooms: Rooms, scope: Scope, given: KeyOptions): Promise<boolean> {
  const { l1, l2 } = rooms
  const key = scope.keyFor(given.key)
  const now = nowMs()
  const inL1 = l1.expire(key, now)
  const inL2 = await landing(rooms, [key], () => l2.call('expire', key, (driver) => driver.expire(key, now)))
  rooms.queue.announce({ type: 'expire', keys: [key] }, inL2 !== undefined || !l2.present)
  const expired = inL1 || inL2 === true
  if (expired) rooms.recorder.changed('cache:expired', given.key, scope.namespaceName)
  return expired
}

/** deleteByTag ('delete': no read brings the entries back) and expireByTag ('expire': grace still serves them). */
export async function invalidateTags(rooms: Rooms, scope: Scope, given: unknown, how: 'delete' | 'expire'): Promise<void> {
  const { l1, l2, flights } = rooms
  if (given === undefined) throw new InvalidOptionError(`${how}ByTag needs tags: string[]`)
  const tags = scope.tagsFor(given) ?? []
  const stamp = flights.stamp(nowMs())
  l1.invalidateTags(tags, how, stamp)
  const done = await l2.call(`${how}ByTag`, undefined, (driver) => driver.invalidateTags(tags, how, stamp).then(() => true))
  rooms.queue.announce({ type: tagMessage(how), keys: [], tags, stamp }, done === true || !l2.present)
}

/** Removes every entry under the scope's path ('' for the whole cache). */
export async function clear(rooms: Rooms, scope: Scope): Promise<void> {
  const { l1, l2 } = rooms
  l1.clear(scope.path)
  const done = await l2.call('clear', undefined, (driver) => driver.clear(scope.path).then(() => true))
  rooms.queue.announce({ type: 'clear', keys: [], path: scope.path }, done === true || !l2.present)
  rooms.recorder.cleared(scope.namespaceName)
}
