import { Cluster, type Redis } from 'ioredis'
import type { BusFactory, BusTransport, RetryQueueOptions } from '../bus/types.js'
import type { Logger } from '../logger.js'
import { connect, whenReady, type RedisConnection } from './driver.js'
import { InvalidOptionError } from '../errors.js'
import { type Duration } from '../ttl.js'
import { signingOf } from '../bus/signing-options.js'
import { Watchdog } from '../watchdog.js'
import { refuseUnknown } from '../known-options.js'

/** Options of redisBus(): the connection, the retry queue, the publish timeout and signing. */
export interface RedisBusOptions {
  /** ioredis options, a redis:// URL, or a Redis / Cluster instance (publishing uses it; subscribing a duplicate). */
  connection: RedisConnection
  retryQueue?: RetryQueueOptions
  /** Longest a publish may wait for its connection. @default 500 */
  commandTimeout?: number
  /**
   * Sign every message with HMAC-SHA256 (Web Crypto) and hear only messages signed with the same secret, sent
   * within `signatureWindow` of this instance's clock, and not heard before. A client that can publish to Redis
   * but lacks the secret can then neither evict nor poison this instance's L1. At least 16 characters.
   */
  secret?: string
  /** How far a signed message's send time may be from the receiver's clock. @default '30s' */
  signatureWindow?: Duration
}

class RedisBusTransport implements BusTransport {
  private readonly pub: Redis | Cluster
  private readonly sub: Redis | Cluster
  private readonly ownsPub: boolean

  constructor(
    options: RedisBusOptions,
    private readonly channel: string,
    private readonly logger: Logger,
  ) {
    this.commandTimeout = options.commandTimeout ?? 500
    this.watchdog = new Watchdog(this.commandTimeout)
    const { redis, owned } = connect(options.connection, logger)
    this.pub = redis
    this.ownsPub = owned
    // A subscribed connection can do nothing else: always a connection of our own. ioredis resubscribes on reconnect.
    this.sub = redis instanceof Cluster ? redis.duplicate() : redis.duplicate({ enableOfflineQueue: true })
    this.sub.on('error', (error: Error) => logger.debug({ err: error, tier: 'bus' }, 'redis subscriber error'))
  }

  private readonly commandTimeout: number

  private readonly watchdog: Watchdog

  async publish(payload: string): Promise<void> {
    await whenReady(this.pub, this.commandTimeout)
    await this.watchdog.guard(this.pub.publish(this.channel, payload))
  }

  async subscribe(onMessage: (payload: string) => void): Promise<void> {
    this.sub.on('message', (channel: string, payload: string) => {
      if (channel === this.channel) onMessage(payload)
    })
    await this.sub.subscribe(this.channel)
  }

  onReconnect(listener: () => void): void {
    afterFirstReady(this.pub, listener)
  }

  onResubscribe(listener: () => void): void {
    afterFirstReady(this.sub, listener)
  }

  async disconnect(): Promise<void> {
    this.watchdog.stop()
    const quit = async (r: Redis | Cluster) => {
      try {
        await r.quit()
      } catch {
        r.disconnect()
      }
    }
    await quit(this.sub)
    if (this.ownsPub) await quit(this.pub)
    this.logger.debug({ tier: 'bus', channel: this.channel }, 'bus disconnected')
  }
}

/** Calls `listener` on every 'ready' after the first: each one is a reconnection. */
function afterFirstReady(redis: Redis | Cluster, listener: () => void): void {
  let seen = redis.status === 'ready'
  redis.on('ready', () => {
    if (seen) listener()
    seen = true
  })
}

/** The bus over Redis pub/sub, one channel per cache prefix: `new RustoCache({ bus: redisBus({ connection }) })`. */
export function redisBus(options: RedisBusOptions): BusFactory {
  if (typeof options !== 'object' || options === null || options.connection === undefined) throw new InvalidOptionError('redisBus needs { connection }')
  refuseUnknown(options, ['connection', 'retryQueue', 'commandTimeout', 'secret', 'signatureWindow'], 'redisBus')
  return {
    kind: 'redis',
    retryQueue: options.retryQueue ?? {},
    signing: signingOf(options),
    create: ({ channel, logger }) => new RedisBusTransport(options, channel, logger),
  }
}
