// The bus contract: how instances tell each other what changed, so each keeps its L1 coherent.
// Runtime-neutral: the Redis transport lives behind rustocache/redis.
import type { Logger } from '../logger.js'

export type BusMessageType = 'set' | 'delete' | 'expire' | 'clear' | 'delete-tags' | 'expire-tags'

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
}

/** Moves encoded messages between instances. publish rejects when it cannot send (the cache queues and retries). */
export interface BusTransport {
  publish(payload: string): Promise<void>
  subscribe(onMessage: (payload: string) => void): Promise<void>
  /** Called whenever publishing works again after the connection was lost (the retry queue flushes then). */
  onReconnect(listener: () => void): void
  /**
   * Called when the subscription is back after a disconnection: messages sent meanwhile are lost, so the cache
   * stops trusting its L1 copies. Transports that cannot lose messages never call it.
   */
  onResubscribe?(listener: () => void): void
  disconnect(): Promise<void>
}

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

export interface BusFactory {
  readonly kind: string
  readonly retryQueue: RetryQueueOptions
  create(context: { channel: string; logger: Logger }): BusTransport
}

const TYPES: readonly BusMessageType[] = ['set', 'delete', 'expire', 'clear', 'delete-tags', 'expire-tags']

/** Compact JSON: [version, from, type index, keys, path, tags, stamp]. */
export function encodeMessage(m: BusMessage): string {
  return JSON.stringify([1, m.from, TYPES.indexOf(m.type), m.keys, m.path ?? null, m.tags ?? null, m.stamp ?? null])
}

export function decodeMessage(payload: string): BusMessage | undefined {
  try {
    const a = JSON.parse(payload) as unknown[]
    if (!Array.isArray(a) || a[0] !== 1 || typeof a[1] !== 'string' || !Array.isArray(a[3])) return undefined
    const type = TYPES[a[2] as number]
    if (!type) return undefined
    return {
      from: a[1],
      type,
      keys: a[3] as string[],
      path: (a[4] as string | null) ?? undefined,
      tags: (a[5] as string[] | null) ?? undefined,
      stamp: (a[6] as number | null) ?? undefined,
    }
  } catch {
    return undefined
  }
}
