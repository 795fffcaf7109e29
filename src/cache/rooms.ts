import type { Logger } from '../logger.js'
import type { KeyPolicy } from '../observe.js'
import { NoBus, type BusRoom } from './bus-room.js'
import { makeCoherence } from './coherence-ref.js'
import { Flights } from './flights.js'
import { L1 } from './l1.js'
import { L2 } from './l2.js'
import { hideKeys, type CacheSettings, type ResolvedOptions } from './options.js'
import { Recorder } from './recorder.js'
import { RetryQueue } from './retry-queue.js'
import { TagStamps } from './tags.js'

/**
 * What one cache and all its namespaces share: one of each room, built once from the checked settings. The
 * read, write and invalidate paths and getOrSet take it and call each room's own functions; no room reaches
 * into another's state.
 */
export interface Rooms {
  readonly logger: Logger
  /** A key as it may leave the process (errors, logs): itself, redacted, or undefined (traceKeys). */
  readonly showKey: KeyPolicy
  readonly defaults: ResolvedOptions
  readonly recorder: Recorder
  readonly tags: TagStamps
  readonly flights: Flights
  readonly l1: L1
  readonly l2: L2
  readonly bus: BusRoom
  readonly queue: RetryQueue
}

/** What every room is built with: the logger, the key rule, the records, the tag stamps and the clock. */
export type Common = Pick<Rooms, 'logger' | 'showKey' | 'recorder' | 'tags' | 'flights'>

/**
 * Builds the rooms. L1 (whose core checks its own limits) comes before the L2 driver connects; if the bus
 * transport cannot be made, the L2 connection already open is closed before the error goes on.
 */
export function buildRooms(settings: CacheSettings): Rooms {
  const { logger, prefix } = settings
  const showKey = settings.keyPolicy ?? hideKeys
  const hasL2 = settings.l2.factory !== undefined
  const recorder = new Recorder(settings.l1.keeps ? 'js' : 'none', prefix, settings.keyPolicy, logger)
  if (hasL2) recorder.l2Kind = settings.l2.factory!.kind
  const tags = new TagStamps()
  const flights = new Flights(tags)
  const common: Common = { logger, showKey, recorder, tags, flights }
  const l1 = new L1(settings.l1, common, hasL2)
  const l2 = new L2(settings.l2, prefix, common, l1, settings.loud)
  let bus: BusRoom
  try {
    bus = settings.bus.factory ? makeCoherence(settings.bus, common, l1, hasL2) : new NoBus()
  } catch (error) {
    l2.abandon()
    throw error
  }
  const queue = new RetryQueue(settings.bus, common, bus, l1, l2)
  return { logger, showKey, defaults: settings.defaults, recorder, tags, flights, l1, l2, bus, queue }
}
