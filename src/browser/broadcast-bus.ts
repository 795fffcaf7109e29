// The bus over BroadcastChannel: every context of one origin (browser tabs, workers) or of one Node process
// (worker_threads) that opens a channel of the same name hears what the others post. Delivery is in order and
// in memory: nothing is lost while both ends are open, so the transport never reconnects or resubscribes.
import type { BusFactory, BusTransport, RetryQueueOptions } from '../bus/types.js'
import { InvalidOptionError, shown } from '../errors.js'
import type { Logger } from '../logger.js'
import { signingOf } from '../bus/signing-options.js'
import type { Duration } from '../ttl.js'
import { refuseUnknown } from '../known-options.js'

/** Options of broadcastBus(): the channel name, the retry queue, and signing with a shared secret. */
export interface BroadcastBusOptions {
  /**
   * Prefix of the BroadcastChannel's name: caches hear each other when they share it and their `prefix`
   * (the channel is `<channel>:<the cache's bus channel>`).
   * @default 'rustocache'
   */
  channel?: string
  retryQueue?: RetryQueueOptions
  /** Sign every message and hear only signed ones (see RedisBusOptions.secret). At least 16 characters. */
  secret?: string
  /** How far a signed message's send time may be from the receiver's clock. @default '30s' */
  signatureWindow?: Duration
}

/** The platform's BroadcastChannel, as much of it as the bus uses (Node's adds unref). */
interface Channel {
  postMessage(message: unknown): void
  close(): void
  onmessage: ((event: { data: unknown }) => void) | null
  onmessageerror: ((event: unknown) => void) | null
  unref?: () => void
}

type ChannelConstructor = new (name: string) => Channel

class BroadcastTransport implements BusTransport {
  private readonly port: Channel
  private closed = false

  constructor(
    Ctor: ChannelConstructor,
    private readonly name: string,
    private readonly logger: Logger,
  ) {
    this.port = new Ctor(name)
    // Node keeps a process alive while a channel is open; a cache must not (the Redis bus's sockets are the
    // caller's to close, a channel is not worth waiting for).
    this.port.unref?.()
    this.port.onmessageerror = () => logger.debug({ tier: 'bus', channel: name }, 'bus message could not be read')
  }

  async publish(payload: string): Promise<void> {
    if (this.closed) throw new Error(`broadcast bus ${this.name} is closed`)
    this.port.postMessage(payload)
  }

  async subscribe(onMessage: (payload: string) => void): Promise<void> {
    // Anything may post on a channel of this name: the cache refuses what is not one of its messages.
    this.port.onmessage = (event) => onMessage(event.data as string)
  }

  onReconnect(): void {}

  async disconnect(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.port.onmessage = null
    this.port.close()
    this.logger.debug({ tier: 'bus', channel: this.name }, 'bus disconnected')
  }
}

/**
 * The bus over BroadcastChannel, for caches in the tabs and workers of one origin, or in the worker_threads of
 * one Node process: `new RustoCache({ bus: broadcastBus() })`. Throws E_INVALID_OPTION where the runtime has no
 * BroadcastChannel.
 */
export function broadcastBus(options: BroadcastBusOptions = {}): BusFactory {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`broadcastBus options must be an object, got ${shown(options)}`)
  refuseUnknown(options, ['channel', 'retryQueue', 'secret', 'signatureWindow'], 'broadcastBus')
  const prefix = options.channel ?? 'rustocache'
  if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidOptionError(`broadcastBus channel must be a non-empty string, got ${shown(options.channel)}`)
  const Ctor = (globalThis as { BroadcastChannel?: ChannelConstructor }).BroadcastChannel
  if (typeof Ctor !== 'function') throw new InvalidOptionError('broadcastBus needs BroadcastChannel, which this runtime does not have')
  return {
    kind: 'broadcast',
    retryQueue: options.retryQueue ?? {},
    signing: signingOf(options),
    create: ({ channel, logger }) => new BroadcastTransport(Ctor, `${prefix}:${channel}`, logger),
  }
}
