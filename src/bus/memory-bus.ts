import { InvalidOptionError } from '../errors.js'
import { refuseUnknown } from '../known-options.js'
import type { BusFactory, BusTransport, RetryQueueOptions } from './types.js'

/**
 * A bus between caches of one process (tests, or several caches in one browser tab). Messages are delivered
 * asynchronously, as over a network. `memoryBus()` returns one shared channel set; pass the same factory to
 * every cache that should hear the others.
 */
export function memoryBus(options: { retryQueue?: RetryQueueOptions; secret?: string } = {}): BusFactory & {
  /**
   * Simulates an outage (tests): while offline, publish rejects; going online tells reconnect listeners unless
   * `announce` is false.
   */
  setOnline(online: boolean, announce?: boolean): void
} {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('memoryBus options must be an object')
  refuseUnknown(options, ['retryQueue', 'secret'], 'memoryBus')
  const channels = new Map<string, Set<(payload: string) => void>>()
  const reconnects = new Set<() => void>()
  let online = true
  return {
    kind: 'memory',
    retryQueue: options.retryQueue ?? {},
    signing: options.secret === undefined ? undefined : { secret: options.secret },
    /** Simulates an outage: while offline, publish rejects; going online fires reconnect listeners (unless told not to). */
    setOnline(value: boolean, announce = true) {
      const back = value && !online
      online = value
      if (back && announce) for (const listener of reconnects) listener()
    },
    create({ channel }): BusTransport {
      const mine = new Set<(payload: string) => void>()
      let listeners = channels.get(channel)
      if (!listeners) channels.set(channel, (listeners = new Set()))
      const all = listeners
      return {
        async publish(payload) {
          if (!online) throw new Error('memory bus is offline')
          for (const listener of all) queueMicrotask(() => listener(payload))
        },
        async subscribe(onMessage) {
          mine.add(onMessage)
          all.add(onMessage)
        },
        onReconnect(listener) {
          reconnects.add(listener)
        },
        async disconnect() {
          for (const listener of mine) all.delete(listener)
        },
      }
    },
  }
}
