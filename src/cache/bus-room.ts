// What the rest of the cache asks of the bus room (Coherence), and the room of a cache without a bus. Apart from
// coherence.ts so that a cache without a bus never loads it: the browser flavour fetches it only for a bus
// (coherence-ref.web.ts).
import type { BusMessage } from '../bus/types.js'

export interface BusRoom {
  /** This instance's name on the bus (also in lock tokens). */
  readonly id: string
  /** True when there is a bus to publish on. */
  readonly connected: boolean
  /** Calls `listener` whenever publishing works again (a reconnect, a restored subscription). */
  onReconnect(listener: () => void): void
  /** Heartbeats wait while `quiet` says something is still to be sent. */
  whenQuiet(quiet: () => boolean): void
  /** Numbers, signs and publishes changes in order; rejects when the transport fails. Then call published(). */
  publish(messages: BusMessage[]): Promise<unknown>
  /** Records changes publish() sent. */
  published(messages: BusMessage[]): void
  /** A change was dropped unsent (a full retry queue): the others see a gap in this sender's numbers. */
  skip(): void
  /** Lets a message being applied finish, then disconnects. */
  close(): Promise<void>
}

export function instanceId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
}

/** The bus room of a cache without a bus: nothing to publish, nothing to hear. */
export class NoBus implements BusRoom {
  readonly id = instanceId()
  readonly connected = false
  onReconnect(): void {}
  whenQuiet(): void {}
  publish(): Promise<unknown> {
    return Promise.resolve()
  }
  published(): void {}
  skip(): void {}
  async close(): Promise<void> {}
}

/** The bus message of a tag invalidation, and back: the one mapping between the two. */
export function tagMessage(how: 'delete' | 'expire'): 'delete-tags' | 'expire-tags' {
  return how === 'delete' ? 'delete-tags' : 'expire-tags'
}

export function tagHow(type: 'delete-tags' | 'expire-tags'): 'delete' | 'expire' {
  return type === 'delete-tags' ? 'delete' : 'expire'
}

export function isTagChange(message: BusMessage): message is BusMessage & { type: 'delete-tags' | 'expire-tags' } {
  return message.type === 'delete-tags' || message.type === 'expire-tags'
}
