import { background } from '../background.js'
import { decodeMessage, encodeMessage, type BusFactory, type BusMessage, type BusTransport } from '../bus/types.js'
import { MISS, SLOT_MASK } from '../core/types.js'
import { InvalidOptionError, RustoCacheError } from '../errors.js'
import type { BusEvent } from '../events.js'
import { toMs } from '../ttl.js'
import type { CacheStack } from './stack.js'

type Change = Omit<BusMessage, 'from'>

/** A change that fails for its own reasons (its value cannot be encoded, Redis refuses the command) and will again. */
function failsForItself(error: unknown): boolean {
  return error instanceof RustoCacheError || (error instanceof Error && error.name === 'ReplyError')
}

function busEvent(message: BusMessage): BusEvent {
  return { type: message.type, keys: message.keys, tags: message.tags, path: message.path }
}

function isTagChange(message: BusMessage): boolean {
  return message.type === 'delete-tags' || message.type === 'expire-tags'
}

/**
 * Keeps instances coherent: after a local change, tells the others on the bus, but only once its L2 side went
 * through. A change whose L2 write or whose publish failed waits in a bounded retry queue; every retryInterval
 * (and on reconnect) the queue re-applies each change to L2 from what this instance holds now, then publishes
 * it, in order. So after an outage neither L2 nor another instance's L1 keeps a value replaced or deleted during
 * it for longer than one retry interval. A change that fails for its own reasons is dropped, so it never holds
 * up the ones behind it.
 */
export class Coherence {
  readonly id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
  private readonly queue: BusMessage[] = []
  private readonly transport: BusTransport | undefined
  private readonly maxSize: number
  private readonly retryMs: number
  private timer: ReturnType<typeof setInterval> | undefined
  private flushing = false
  private closed = false

  constructor(
    private readonly stack: CacheStack,
    factory: BusFactory | undefined,
    channel: string,
  ) {
    if (factory !== undefined && (typeof factory !== 'object' || factory === null || typeof factory.create !== 'function')) {
      throw new InvalidOptionError("bus must be a bus factory such as redisBus({ connection }) from 'rustocache/redis'")
    }
    const retry = factory?.retryQueue ?? {}
    this.maxSize = retry.maxSize ?? 1000
    if (!(Number.isInteger(this.maxSize) && this.maxSize > 0)) throw new InvalidOptionError('retryQueue.maxSize must be a whole number > 0')
    this.retryMs = toMs(retry.retryInterval ?? '1s', 'retryQueue.retryInterval')
    this.transport = factory?.create({ channel, logger: stack.logger })
    if (this.transport) {
      this.transport.onReconnect(() => this.flushSoon())
      this.transport.onResubscribe?.(() => {
        stack.distrustL1()
        this.flushSoon()
      })
      background(this.transport.subscribe((payload) => this.receive(payload)), stack.logger, 'bus subscription')
    }
  }

  /** True when announcing a change would do nothing: no bus, and nothing to retry in L2. */
  idle(l2Done: boolean): boolean {
    return this.closed || (!this.transport && l2Done)
  }

  /** After a local change; `l2Done` is false when its L2 side failed (it is then retried before publishing). */
  async announce(change: Change, l2Done: boolean): Promise<void> {
    if (this.idle(l2Done)) return
    const message: BusMessage = { ...change, from: this.id }
    // Behind queued messages, a new one waits its turn: instances must see changes in order.
    if (!l2Done || this.queue.length > 0 || !this.transport) return this.enqueue(message)
    try {
      await this.transport.publish(encodeMessage(message))
      this.published(message)
    } catch (error) {
      this.stack.logger.warn({ err: error, tier: 'bus', type: message.type }, 'bus publish failed: queued for retry')
      this.enqueue(message)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.transport?.disconnect()
  }

  private published(message: BusMessage): void {
    this.stack.counters.busPublished++
    if (this.stack.emitter.has('bus:message:published')) this.stack.emit('bus:message:published', busEvent(message))
  }

  /** Called by the transport for every message: never throws back into it, whatever the message or a listener does. */
  private receive(payload: unknown): void {
    try {
      this.apply(payload)
    } catch (error) {
      this.stack.logger.error({ err: error, tier: 'bus' }, 'handling a bus message failed')
    }
  }

  private apply(payload: unknown): void {
    const message = decodeMessage(payload)
    if (typeof message === 'string') {
      this.stack.counters.busRejected++
      this.stack.logger.warn({ tier: 'bus', reason: message }, 'bus message refused')
      return
    }
    if (message.from === this.id) return
    this.stack.counters.busReceived++
    this.stack.applyRemote(message)
    if (this.stack.emitter.has('bus:message:received')) this.stack.emit('bus:message:received', busEvent(message))
  }

  private enqueue(message: BusMessage): void {
    this.queue.push(message)
    if (isTagChange(message)) this.stack.tagsPinned++
    if (this.queue.length > this.maxSize) this.drop(this.queue.shift()!)
    this.stack.counters.busQueued = this.queue.length
    if (!this.timer && !this.closed) {
      this.timer = setInterval(() => this.flushSoon(), this.retryMs)
      // A pending retry must not keep a process alive that has nothing else to do.
      ;(this.timer as { unref?: () => void }).unref?.()
    }
  }

  /** Takes a message out of the queue (sent, or given up). */
  private settle(message: BusMessage): void {
    if (isTagChange(message)) this.stack.tagsPinned--
    this.stack.counters.busQueued = this.queue.length
  }

  private drop(message: BusMessage): void {
    this.stack.counters.busDropped++
    this.settle(message)
  }

  private flushSoon(): void {
    background(this.flush(), this.stack.logger, 'retry queue flush')
  }

  /** Re-applies and publishes queued changes in order; stops at the first transport failure until the next round. */
  async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return
    this.flushing = true
    try {
      while (this.queue.length > 0) {
        const message = this.queue[0]!
        try {
          await this.reapply(message)
        } catch (error) {
          if (!failsForItself(error)) throw error
          this.queue.shift()
          this.drop(message)
          this.stack.logger.error({ err: error, tier: 'bus', type: message.type, keys: message.keys }, 'retry queue: a change that cannot be applied was dropped')
          continue
        }
        if (this.transport) {
          await this.transport.publish(encodeMessage(message))
          this.published(message)
        }
        this.queue.shift()
        this.settle(message)
      }
    } catch (error) {
      this.stack.logger.debug({ err: error, tier: 'bus', queued: this.queue.length }, 'retry queue: still failing')
    } finally {
      this.flushing = false
      if (this.queue.length === 0 && this.timer) {
        clearInterval(this.timer)
        this.timer = undefined
      }
    }
  }

  /** Brings L2 in line with this instance for one change (throws when L2 still fails). */
  private async reapply(message: BusMessage): Promise<void> {
    const l2 = this.stack.l2
    if (!l2) return
    const now = Date.now()
    switch (message.type) {
      case 'set':
        for (const key of message.keys) {
          const code = this.stack.core.peek(key, now)
          if (code === MISS) {
            await l2.delete(key)
            continue
          }
          const entry = this.stack.core.valueAt(code & SLOT_MASK)
          const remote = this.stack.toRemote(entry.value, entry, entry.stamp, now)
          await l2.set(key, this.stack.encode(key, remote.entry), remote.ttlMs)
        }
        return
      case 'delete':
        await l2.deleteMany(message.keys)
        return
      case 'expire':
        for (const key of message.keys) await l2.expire(key, now)
        return
      case 'clear':
        await l2.clear(message.path ?? '')
        return
      case 'delete-tags':
      case 'expire-tags':
        await l2.invalidateTags(message.tags ?? [], message.type === 'delete-tags' ? 'delete' : 'expire', message.stamp ?? now)
        return
    }
  }
}
