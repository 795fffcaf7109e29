// The bus contract: how instances tell each other what changed, so each keeps its L1 coherent.
// Runtime-neutral: the Redis transport lives behind rustocache/redis.
import type { Logger } from '../logger.js'
import type { SigningOptions } from './signing-options.js'

/** `sync` carries no change: a sender's latest sequence number, so receivers notice a message they missed. */
export type BusMessageType = 'set' | 'delete' | 'expire' | 'clear' | 'delete-tags' | 'expire-tags' | 'sync'

/**
 * A change told to the other instances: its type, the keys or tags, the sender and its sequence number.
 */
export interface BusMessage {
  /** The publishing instance (an instance ignores its own messages). */
  from: string
  type: BusMessageType
  /** Full keys (namespace path included) for set / delete / expire. */
  keys: readonly string[]
  /** The namespace path cleared ('' for everything). */
  path?: string
  /** Full tag names and the invalidation stamp, for the tag messages. */
  tags?: readonly string[]
  stamp?: number
  /** The sender's sequence number (1, 2, 3...): a receiver that sees one skipped knows it missed a change. */
  seq?: number
}

/** Moves encoded messages between instances. publish rejects when it cannot send (the cache queues and retries). */
export interface BusTransport {
  /** Sends a payload to every subscriber of the channel; rejects when it cannot. */
  publish(payload: string): Promise<void>
  /** Delivers every payload published on the channel (by any instance, this one included) to `onMessage`. */
  subscribe(onMessage: (payload: string) => void): Promise<void>
  /** Called whenever publishing works again after the connection was lost (the retry queue flushes then). */
  onReconnect(listener: () => void): void
  /**
   * Called when the subscription is back after a disconnection: messages sent meanwhile are lost, so the cache
   * stops trusting its L1 copies. Transports that cannot lose messages never call it.
   */
  onResubscribe?(listener: () => void): void
  /** Stops delivering and closes what the transport opened. */
  disconnect(): Promise<void>
}

/**
 * The retry queue: changes that could not reach L2 or the bus wait there and are re-applied with backoff.
 */
export interface RetryQueueOptions {
  /**
   * Most messages kept while the bus cannot publish; past it the oldest is dropped (counted in stats()).
   * @default 1000
   */
  maxSize?: number
  /**
   * How often queued messages are tried again (also at once when the transport reconnects).
   * @default '1s'
   */
  retryInterval?: number | string
}

/**
 * What `bus:` takes: made once per cache with its channel; carries the retry queue's and signing options.
 */
export interface BusFactory {
  readonly kind: string
  readonly retryQueue: RetryQueueOptions
  /** Sign every message (HMAC-SHA256) and hear only signed ones: see SigningOptions. */
  readonly signing?: SigningOptions
  /** Makes the transport for one cache's channel. */
  create(context: { channel: string; logger: Logger }): BusTransport
}

const TYPES: readonly BusMessageType[] = ['set', 'delete', 'expire', 'clear', 'delete-tags', 'expire-tags', 'sync']

/** Limits on what a message may carry: anything beyond is refused (counted in stats().busRejected). */
export const BUS_LIMITS = {
  /** Longest encoded message, in UTF-16 code units. */
  payload: 1 << 20,
  /** Most keys or tags in one message. */
  items: 10_000,
  /** Longest key, tag or namespace path (MAX_KEY_LENGTH). */
  text: 16_384,
  /** Longest sender id. */
  from: 128,
} as const

/** Compact JSON: [version, from, type index, keys, path, tags, stamp, seq]. */
export function encodeMessage(m: BusMessage): string {
  return JSON.stringify([1, m.from, TYPES.indexOf(m.type), m.keys, m.path ?? null, m.tags ?? null, m.stamp ?? null, m.seq ?? null])
}

function texts(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= BUS_LIMITS.items && value.every((v) => typeof v === 'string' && v.length <= BUS_LIMITS.text)
}

/** The message, or why it is refused. Every field is checked for type and size: the channel is not trusted. */
export function decodeMessage(payload: unknown): BusMessage | string {
  if (typeof payload !== 'string') return 'not text'
  if (payload.length > BUS_LIMITS.payload) return `larger than ${BUS_LIMITS.payload} characters`
  let a: unknown
  try {
    a = JSON.parse(payload)
  } catch {
    return 'not JSON'
  }
  if (!Array.isArray(a)) return 'not a message'
  // The version first: a later format may have other fields (refused and counted, never misread).
  if (a[0] !== 1) return `unknown version ${JSON.stringify(a[0])?.slice(0, 16)}`
  // Seven fields: a sender from before sequence numbers.
  if (a.length !== 7 && a.length !== 8) return 'not a message'
  const [, from, typeIndex, keys, path, tags, stamp, seq] = a as unknown[]
  if (typeof from !== 'string' || from.length === 0 || from.length > BUS_LIMITS.from) return 'bad sender'
  const type = Number.isInteger(typeIndex) ? TYPES[typeIndex as number] : undefined
  if (!type) return 'unknown type'
  if (!texts(keys)) return 'bad keys'
  if (path !== null && (typeof path !== 'string' || path.length > BUS_LIMITS.text)) return 'bad path'
  if (tags !== null && !texts(tags)) return 'bad tags'
  if (stamp !== null && (typeof stamp !== 'number' || !Number.isFinite(stamp))) return 'bad stamp'
  if ((type === 'delete-tags' || type === 'expire-tags') && (tags === null || stamp === null)) return 'tag message without tags and stamp'
  if (seq !== undefined && seq !== null && !(Number.isSafeInteger(seq) && (seq as number) > 0)) return 'bad sequence number'
  return { from, type, keys, path: path ?? undefined, tags: tags ?? undefined, stamp: stamp ?? undefined, seq: (seq as number | null | undefined) ?? undefined }
}
