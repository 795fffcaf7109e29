import { background } from '../background.js'
import type { BusMessage } from '../bus/types.js'
import { RustoCacheError } from '../errors.js'
import type { Logger } from '../logger.js'
import { isTagChange, tagHow, type BusRoom } from './bus-room.js'
import type { Flights } from './flights.js'
import type { L1 } from './l1.js'
import type { L2 } from './l2.js'
import type { BusSettings } from './options.js'
import type { Recorder } from './recorder.js'
import type { Common } from './rooms.js'
import { nowMs } from '../now.js'

/** A change made here, to be told to the other instances (the sender's id and number are added on the way). */
export type Change = Omit<BusMessage, 'from'>

/** A change waiting to go out: `l2Done` is false while its L2 side still has to be (re-)applied. */
interface Outgoing {
  message: BusMessage
  l2Done: boolean
  /** A tag change L2 does not know yet: this instance's tag stamps must stay until it does. */
  pinned: boolean
  /** In the batch a flush is sending: no longer merged with newer changes. */
  sending: boolean
  /** Ends the hold on its keys (Flights.hold) that a keyed change keeps while its L2 side waits here. */
  release: (() => void) | undefined
}

/** Changes whose L2 side names every key it touches. */
function keyed(message: BusMessage): boolean {
  return message.type === 'set' || message.type === 'delete' || message.type === 'expire'
}

/** Longest wait between retries, in retry intervals (the backoff doubles up to it). */
const MAX_BACKOFF_STEPS = 4

/**
 * The L2 and bus retry queue. After a local change, the others are told on the bus, but only once its L2 side
 * went through. Changes go out in order through this queue, sent in the background: a call does not wait for
 * the bus (the queue owns the publish and its failure). A change whose L2 write or whose publish failed stays
 * queued (one per key, bounded: the oldest is dropped past maxSize); after a backoff (and at once on reconnect)
 * the queue re-applies the L2 side of each change from what this instance holds now, then publishes it. So
 * after an outage neither L2 nor another instance's L1 keeps a value replaced or deleted during it for longer
 * than the backoff. A change that fails for its own reasons is dropped, so it never holds up the ones behind it.
 */
export class RetryQueue {
  private readonly queue: Outgoing[] = []
  private readonly maxSize: number
  private readonly retryMs: number
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Failed flushes in a row (the backoff's exponent). */
  private failures = 0
  /** The flush running now, if any: one at a time keeps the order. */
  private flushing: Promise<void> | undefined
  private closed = false

  private readonly flights: Flights
  private readonly recorder: Recorder
  private readonly logger: Logger

  constructor(
    settings: BusSettings,
    common: Common,
    private readonly bus: BusRoom,
    private readonly l1: L1,
    private readonly l2: L2,
  ) {
    ;({ flights: this.flights, recorder: this.recorder, logger: this.logger } = common)
    this.maxSize = settings.maxSize
    this.retryMs = settings.retryMs
    // L2 answers again, or the bus reconnected: what waits goes now, whatever the backoff had planned.
    l2.onReachable(() => {
      if (this.queue.length > 0) this.flushOnReconnect()
    })
    bus.onReconnect(() => this.flushOnReconnect())
    bus.whenQuiet(() => this.queue.length === 0)
  }

  /**
   * After a local change; `l2Done` is false when its L2 side failed (it is then re-applied before publishing).
   * Returns at once: the queue sends it, in order, in the background.
   */
  announce(change: Change, l2Done: boolean): void {
    // Nothing to do: no bus, and nothing to retry in L2.
    if (this.closed || (!this.bus.connected && l2Done)) return
    // Numbered when published (see drain): changes merged or dropped here leave no gap but a deliberate one.
    const message: BusMessage = { ...change, from: this.bus.id }
    this.supersede(message)
    const pinned = !l2Done && isTagChange(message)
    // Until its L2 side lands, L2's older values of its keys are neither answered nor kept here.
    const release = !l2Done && this.l2.present && keyed(message) ? this.flights.hold(message.keys, true) : undefined
    this.queue.push({ message, l2Done, pinned, sending: false, release })
    if (pinned) this.l1.pin()
    if (this.queue.length > this.maxSize) this.overflow()
    this.recorder.queued(this.queue.length)
    this.flushSoon()
  }

  /**
   * At most one pending change per key: a newer set or delete of a key replaces what older changes waiting in
   * the queue would do to it (its L2 side is re-applied from what this instance holds then, and every change
   * tells receivers the same: drop or revalidate the key), an expire replaces an older expire, and a clear
   * replaces every change under its path before it. So an outage queues one change per key touched, not one per
   * call. Tag changes are kept as they are (they cover keys nobody listed).
   */
  private supersede(message: BusMessage): void {
    if (this.queue.length === 0) return
    const keyed = message.type === 'set' || message.type === 'delete'
    if (!keyed && message.type !== 'expire' && message.type !== 'clear') return
    const covered = message.type === 'clear' ? undefined : new Set(message.keys)
    const path = message.path ?? ''
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const out = this.queue[i]!
      const old = out.message
      if (out.sending || isTagChange(old) || old.type === 'clear') continue
      // An expire only replaces an expire: a set still has to bring its value to L2 before it goes stale there.
      if (message.type === 'expire' && old.type !== 'expire') continue
      const left = old.keys.filter((k) => (covered ? !covered.has(k) : !k.startsWith(path)))
      if (left.length === old.keys.length) continue
      if (left.length > 0) out.message = { ...old, keys: left }
      else {
        this.queue.splice(i, 1)
        this.finished(out)
      }
    }
  }

  /**
   * The queue is full even one change per key: the oldest change goes. Its keys may hold in this L1 what L2 never
   * got, so they are marked stale and replaced here (served only while L2 cannot answer, then read again), and
   * the other instances, who will never hear of it, see a gap in this instance's sequence numbers and revalidate.
   * A dropped tag change or clear cannot be narrowed to keys: then all of this L1 is revalidated.
   */
  private overflow(): void {
    const at = this.queue.findIndex((out) => !out.sending)
    if (at < 0) return
    const [out] = this.queue.splice(at, 1) as [Outgoing]
    this.drop(out)
    this.bus.skip()
    if (!this.l2.present || out.l2Done) return
    if (out.message.type === 'clear' || isTagChange(out.message)) this.l1.distrust()
    else for (const key of out.message.keys) this.l1.outdate(key)
  }


  /** Stops the retries and lets a flush on the wire finish, but not for longer than `bound` ms. */
  async close(bound: number): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.flushing) {
      // The flush stops before its next change; wait for the one on the wire, but not for ever (a namespace
      // clear re-applied to a hung driver has no timeout of its own).
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([this.flushing, new Promise((resolve) => (timer = setTimeout(resolve, bound)))])
      clearTimeout(timer)
    }
    if (this.queue.length > 0) this.logger.warn({ tier: 'bus', queued: this.queue.length }, 'disconnect: changes still queued for the bus were not sent')
  }

  /**
   * A change that fails for its own reasons and will again: its value cannot be encoded, or the driver classes
   * the error as permanent (the server refused the command). Without a classification, an error is transient.
   */
  private failsForItself(error: unknown): boolean {
    return error instanceof RustoCacheError || this.l2.isPermanent(error)
  }

  /** Takes a change out of the queue (sent, or given up). */
  private finished(out: Outgoing): void {
    this.unpin(out)
    out.release?.()
    this.recorder.queued(this.queue.length)
  }

  private unpin(out: Outgoing): void {
    if (!out.pinned) return
    out.pinned = false
    this.l1.unpin()
  }

  private drop(out: Outgoing): void {
    this.recorder.count('busDropped')
    this.finished(out)
  }

  /**
   * Starts a flush unless one runs. While a failed flush's backoff is pending, a new change only probes: one try
   * of the change at the head, which ends the backoff if it goes through and otherwise costs one fast failure
   * (retrying the whole batch for every new change made an outage's error storm).
   */
  private flushSoon(): void {
    if (this.flushing || this.queue.length === 0) return
    background(this.flush(this.timer !== undefined), this.logger, 'bus queue flush')
  }

  /** Sends queued changes in order, re-applying the L2 side where it failed; stops at the first transport failure. */
  private flush(probe: boolean): Promise<void> {
    if (this.flushing) return this.flushing
    const run = this.drain(probe).finally(() => {
      this.flushing = undefined
      if (this.queue.length === 0 && this.timer) {
        clearTimeout(this.timer)
        this.timer = undefined
      }
      // A change queued after the drain's last look (announce saw a flush running and left it to it) and no
      // failure pending: go again, or it would wait for a retry timer that nothing started.
      if (this.queue.length > 0 && !this.timer && !this.closed) this.flushSoon()
    })
    this.flushing = run
    return run
  }

  /**
   * Sends the queue in batches of up to 64 changes: their L2 sides are re-applied side by side (each from what
   * this instance holds now, so they commute), then their messages are published together (one connection keeps
   * their order). One at a time, a queue behind an L2 with 0-200 ms of latency drained ten changes a second. A
   * clear is sent alone: a write re-applied beside it could land before or after it.
   */
  private async drain(probe: boolean): Promise<void> {
    try {
      // After close(), nothing new starts: what is on the wire is the last.
      while (this.queue.length > 0 && !this.closed) {
        const batch = probe ? [this.queue[0]!] : this.nextBatch()
        for (const out of batch) out.sending = true
        const applied = await Promise.allSettled(batch.map((out) => (out.l2Done ? undefined : probe ? this.reapply(out.message) : this.reapplyTrying(out.message))))
        const sendable: Outgoing[] = []
        let stuck: unknown
        for (let i = 0; i < batch.length && stuck === undefined; i++) {
          const out = batch[i]!
          const result = applied[i]!
          if (result.status === 'fulfilled') {
            this.unpin(out)
            out.release?.()
            out.l2Done = true
            sendable.push(out)
          } else if (this.failsForItself(result.reason)) {
            this.take(out)
            this.drop(out)
            this.logger.error({ err: result.reason, tier: 'bus', type: out.message.type, keys: out.message.keys }, 'bus queue: a change that cannot be applied was dropped')
          } else stuck = result.reason
        }
        if (sendable.length > 0) {
          const messages = sendable.map((out) => out.message)
          await this.bus.publish(messages)
          this.bus.published(messages)
        }
        for (const out of sendable) if (this.take(out)) this.finished(out)
        for (const out of batch) out.sending = false
        // The changes behind one whose L2 side still fails wait for the next round, in order.
        if (stuck !== undefined) throw stuck
        this.failures = 0
        if (probe) {
          // The probe went through: the backoff is over, and the rest goes in batches now.
          probe = false
          clearTimeout(this.timer)
          this.timer = undefined
        }
      }
    } catch (error) {
      for (const out of this.queue) out.sending = false
      // A probe that failed leaves the backoff as it was planned.
      if (probe) return
      this.failures++
      this.logger.debug({ err: error, tier: 'bus', queued: this.queue.length, failures: this.failures }, 'bus queue: still failing, retrying with backoff')
      this.retryLater()
    }
  }

  /**
   * The next try after a failed flush: retryInterval doubled per failure in a row, up to MAX_BACKOFF_STEPS
   * intervals, each wait drawn between half and all of it (jitter), so a fleet that lost Redis together does not
   * retry in step. A reconnect flushes sooner (see flushOnReconnect).
   */
  private retryLater(): void {
    if (this.timer || this.closed) return
    const step = Math.min(2 ** (this.failures - 1), MAX_BACKOFF_STEPS) * this.retryMs
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flushSoon()
    }, step / 2 + Math.random() * (step / 2))
    // A pending retry must not keep a process alive that has nothing else to do.
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  /**
   * Publishing works again (the bus reconnected, or L2 answers again): flush within a short random delay (a fleet
   * reconnects together), at most retryInterval / 4.
   */
  private flushOnReconnect(): void {
    if (this.timer) clearTimeout(this.timer)
    this.failures = 0
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flushSoon()
    }, Math.random() * Math.min(this.retryMs / 4, 100))
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  /** The next changes to send together: up to 64, and a clear only on its own. */
  private nextBatch(): Outgoing[] {
    if (this.queue[0]!.message.type === 'clear') return [this.queue[0]!]
    const batch: Outgoing[] = []
    for (const out of this.queue) {
      if (batch.length === 64 || out.message.type === 'clear') break
      batch.push(out)
    }
    return batch
  }

  /** Removes a change from the queue; false when the queue dropped it already (full) while it was on the wire. */
  private take(out: Outgoing): boolean {
    const at = this.queue.indexOf(out)
    if (at < 0) return false
    this.queue.splice(at, 1)
    return true
  }

  /**
   * reapply, tried up to three times in a row: a flaky L2 (one command in three failing) would otherwise stop the
   * whole queue for a retry interval at every failure while new changes pile up behind it. A down L2 fails
   * fast, so the extra tries cost little.
   */
  private async reapplyTrying(message: BusMessage): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.reapply(message)
      } catch (error) {
        if (attempt >= 3 || this.failsForItself(error) || this.closed) throw error
      }
    }
  }

  /** Brings L2 in line with this instance for one change (throws when L2 still fails). */
  private async reapply(message: BusMessage): Promise<void> {
    if (!this.l2.present) return
    const now = nowMs()
    switch (message.type) {
      case 'set':
        for (const key of message.keys) {
          const entry = this.l1.entryOf(key, now)
          if (entry === undefined) {
            await this.l2.guard('delete', key, (driver) => driver.delete(key, this.flights.stamp(now)))
            continue
          }
          const remote = this.l2.remoteOf(entry, now)
          await this.l2.guard('set', key, async (driver) => driver.set(key, this.l2.encode(key, remote.entry), remote.ttlMs))
        }
        return
      case 'delete':
        // The delete's own stamp: a write made after it (elsewhere) is not undone by this late re-apply.
        await this.l2.guard('deleteMany', undefined, (driver) => driver.deleteMany(message.keys, message.stamp ?? this.flights.stamp(now)))
        return
      case 'expire':
        for (const key of message.keys) await this.l2.guard('expire', key, (driver) => driver.expire(key, now))
        return
      case 'clear':
        // A namespace clear walks the keyspace: the driver's own timeouts bound its commands, not l2Timeout.
        await this.l2.unguarded((driver) => driver.clear(message.path ?? ''))
        return
      case 'delete-tags':
      case 'expire-tags': {
        const how = tagHow(message.type)
        await this.l2.guard(`${how}ByTag`, undefined, (driver) => driver.invalidateTags(message.tags ?? [], how, message.stamp ?? now))
        return
      }
    }
  }
}
