import { background } from '../background.js'
import { Signer } from '../bus/signing.js'
import { decodeMessage, encodeMessage, type BusFactory, type BusMessage, type BusTransport } from '../bus/types.js'
import { MISS, SLOT_MASK } from '../core/types.js'
import { InvalidOptionError, RustoCacheError } from '../errors.js'
import type { BusEvent } from '../events.js'
import { toMs } from '../ttl.js'
import type { CacheStack } from './stack.js'
import type { L2Driver } from '../l2/types.js'

type Change = Omit<BusMessage, 'from'>

/** Most senders whose sequence numbers an instance keeps. */
const MAX_SENDERS = 4096
/**
 * Per sender, which of the last REPLAY_WINDOW numbers were heard: a late one is applied once, a copy refused. Wider
 * than a flush's batch (64): a batch published again after a partial failure arrives behind its own later part.
 */
const REPLAY_WINDOW = 1024

/**
 * A change that fails for its own reasons and will again: its value cannot be encoded, or the driver classes
 * the error as permanent (the server refused the command). Without a classification, an error is transient.
 */
function failsForItself(error: unknown, l2: L2Driver | undefined): boolean {
  if (error instanceof RustoCacheError) return true
  try {
    return l2?.isPermanent?.(error) === true
  } catch {
    return false
  }
}

function busEvent(message: BusMessage): BusEvent {
  return { type: message.type, keys: message.keys, tags: message.tags, path: message.path }
}

function isTagChange(message: BusMessage): boolean {
  return message.type === 'delete-tags' || message.type === 'expire-tags'
}

/** A change waiting to go out: `l2Done` is false while its L2 side still has to be (re-)applied. */
interface Outgoing {
  message: BusMessage
  l2Done: boolean
  /** A tag change L2 does not know yet: this instance's tag stamps must stay until it does. */
  pinned: boolean
  /** In the batch a flush is sending: no longer merged with newer changes. */
  sending: boolean
}

/** Longest wait between retries, in retry intervals (the backoff doubles up to it). */
const MAX_BACKOFF_STEPS = 4

/**
 * Keeps instances coherent: after a local change, tells the others on the bus, but only once its L2 side went
 * through. Changes go out in order through one queue, sent in the background: a call does not wait for the bus
 * (the queue owns the publish and its failure). A change whose L2 write or whose publish failed stays queued
 * (bounded: the oldest is dropped past maxSize); every retryInterval (and on reconnect) the queue re-applies the
 * L2 side of each change from what this instance holds now, then publishes it. So after an outage neither L2 nor
 * another instance's L1 keeps a value replaced or deleted during it for longer than one retry interval. A change
 * that fails for its own reasons is dropped, so it never holds up the ones behind it. With a secret, messages
 * are signed and only signed ones are heard.
 */
export class Coherence {
  readonly id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
  private readonly queue: Outgoing[] = []
  private readonly transport: BusTransport | undefined
  private readonly signer: Signer | undefined
  private readonly maxSize: number
  private readonly retryMs: number
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Failed flushes in a row (the backoff's exponent). */
  private failures = 0
  /** The flush running now, if any: one at a time keeps the order. */
  private flushing: Promise<void> | undefined
  /** Received messages are opened (signature checks are async) and applied one after another, in order. */
  private inbox: Promise<void> = Promise.resolve()
  private closed = false
  private skewLogged = false
  /** This instance's last sequence number given out, and the last one a heartbeat announced. */
  private seq = 0
  private beatSeq = 0
  private readonly heartbeat: ReturnType<typeof setInterval> | undefined
  /** Per sender: the highest sequence number heard, and when (senders gone for an hour are forgotten). */
  private readonly heard = new Map<string, { seq: number; at: number; window: Set<number> }>()

  /**
   * Checks a bus factory and its options, creating nothing: the cache calls it before it opens anything (an L2
   * connection), so options it refuses never leave a connection open.
   */
  static check(factory: BusFactory | undefined, channel: string): { maxSize: number; retryMs: number; signer: Signer | undefined } {
    if (factory !== undefined && (typeof factory !== 'object' || factory === null || typeof factory.create !== 'function')) {
      throw new InvalidOptionError("bus must be a bus factory such as redisBus({ connection }) from 'rustocache/redis'")
    }
    const retry = factory?.retryQueue ?? {}
    const maxSize = retry.maxSize ?? 1000
    if (!(Number.isInteger(maxSize) && maxSize > 0)) throw new InvalidOptionError('retryQueue.maxSize must be a whole number > 0')
    const retryMs = toMs(retry.retryInterval ?? '1s', 'retryQueue.retryInterval')
    const signer = factory?.signing ? new Signer(factory.signing, channel) : undefined
    return { maxSize, retryMs, signer }
  }

  constructor(
    private readonly stack: CacheStack,
    factory: BusFactory | undefined,
    channel: string,
    checked = Coherence.check(factory, channel),
  ) {
    this.maxSize = checked.maxSize
    this.retryMs = checked.retryMs
    this.signer = checked.signer
    // L2 answers again: what waits in the queue goes now, whatever the backoff had planned.
    stack.onReachable = () => {
      if (this.queue.length > 0) this.flushOnReconnect()
    }
    this.transport = factory?.create({ channel, logger: stack.logger })
    if (this.transport) {
      this.transport.onReconnect(() => this.flushOnReconnect())
      this.transport.onResubscribe?.(() => {
        stack.distrustL1()
        this.flushOnReconnect()
      })
      background(this.transport.subscribe((payload) => this.receive(payload)), stack.logger, 'bus subscription')
      // A message lost on the way is noticed at the sender's next message; the heartbeat makes "next" come within
      // one retry interval even when the sender has nothing more to say.
      this.heartbeat = setInterval(() => this.beat(), this.retryMs)
      ;(this.heartbeat as { unref?: () => void }).unref?.()
    }
  }

  /** True when announcing a change would do nothing: no bus, and nothing to retry in L2. */
  idle(l2Done: boolean): boolean {
    return this.closed || (!this.transport && l2Done)
  }

  /**
   * After a local change; `l2Done` is false when its L2 side failed (it is then re-applied before publishing).
   * Returns at once: the queue sends it, in order, in the background.
   */
  announce(change: Change, l2Done: boolean): void {
    if (this.idle(l2Done)) return
    // Numbered when published (see drain): changes merged or dropped here leave no gap but a deliberate one.
    const message: BusMessage = { ...change, from: this.id }
    this.supersede(message)
    const pinned = !l2Done && isTagChange(message)
    this.queue.push({ message, l2Done, pinned, sending: false })
    if (pinned) this.stack.tagsPinned++
    if (this.queue.length > this.maxSize) this.overflow()
    this.stack.counters.busQueued = this.queue.length
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
        this.settle(out)
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
    this.seq++
    if (!this.stack.l2 || out.l2Done) return
    if (out.message.type === 'clear' || isTagChange(out.message)) this.stack.distrustL1()
    else for (const key of out.message.keys) this.stack.outdate(key)
  }

  /** Tells the others this instance's latest sequence number, if it sent anything since the last beat. */
  private beat(): void {
    if (this.closed || !this.transport || this.queue.length > 0 || this.seq === this.beatSeq) return
    this.beatSeq = this.seq
    const now = Date.now()
    for (const [from, h] of this.heard) if (now - h.at > 3_600_000) this.heard.delete(from)
    const payload = encodeMessage({ from: this.id, type: 'sync', keys: [], seq: this.seq })
    const send = async () => this.transport!.publish(this.signer ? await this.signer.sign(payload) : payload)
    background(send(), this.stack.logger, 'bus heartbeat')
  }

  /** Stops the retries, lets a publish on the wire finish (bounded by the transport's timeout), then disconnects. */
  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    if (this.heartbeat) clearInterval(this.heartbeat)
    this.timer = undefined
    if (this.flushing) {
      // The flush stops before its next change; wait for the one on the wire, but not for ever (a namespace
      // clear re-applied to a hung driver has no timeout of its own).
      let timer: ReturnType<typeof setTimeout> | undefined
      const bound = Math.min(this.stack.l2TimeoutMs, 10_000)
      await Promise.race([this.flushing, new Promise((resolve) => (timer = setTimeout(resolve, bound)))])
      clearTimeout(timer)
    }
    if (this.queue.length > 0) {
      this.stack.logger.warn({ tier: 'bus', queued: this.queue.length }, 'disconnect: changes still queued for the bus were not sent')
    }
    await this.inbox
    await this.transport?.disconnect()
  }

  private published(message: BusMessage): void {
    this.stack.counters.busPublished++
    if (this.stack.probe.any) this.stack.probe.bus('published', message.type)
    if (this.stack.emitter.has('bus:message:published')) this.stack.emit('bus:message:published', busEvent(message))
  }

  /** Called by the transport for every message: never throws back into it, whatever the message or a listener does. */
  private receive(payload: unknown): void {
    if (this.closed) return
    if (!this.signer) {
      this.handle(payload)
      return
    }
    const signer = this.signer
    const opened = typeof payload === 'string' ? signer.open(payload) : Promise.resolve({ refused: 'not text', authentic: false })
    this.inbox = this.inbox.then(() => opened).then(
      (result) => ('refused' in result ? this.refuse(result.refused, result.authentic, result.skewMs) : this.handle(result.message)),
      (error: unknown) => this.stack.logger.error({ err: error, tier: 'bus' }, 'checking a bus message signature failed'),
    )
  }

  private handle(payload: unknown): void {
    try {
      this.apply(payload)
    } catch (error) {
      this.stack.logger.error({ err: error, tier: 'bus' }, 'handling a bus message failed')
    }
  }

  /**
   * A refused message is counted and logged. One that was authentic (signed with our secret, for our channel:
   * sent outside the time window by a clock that is off) carried a change this instance now misses: a gap, so
   * L1 is revalidated, never left stale. The skew is logged once.
   */
  private refuse(reason: string, authentic = false, skewMs?: number): void {
    this.stack.counters.busRejected++
    this.stack.logger.warn({ tier: 'bus', reason }, 'bus message refused')
    if (!authentic) return
    this.stack.counters.busGaps++
    if (skewMs !== undefined && !this.skewLogged) {
      this.skewLogged = true
      this.stack.logger.error({ tier: 'bus', skewMs }, "a signed bus message came from a clock this far off ours: fix the clocks (NTP); until then each such message revalidates this instance's L1")
    }
    this.stack.distrustL1()
  }

  private apply(payload: unknown): void {
    const message = decodeMessage(payload)
    // A message of a newer format (a later version during a rolling deploy) is refused and counted, never
    // misread; signed with our secret for our channel, it carried a change we now miss: a gap.
    if (typeof message === 'string') return this.refuse(message, this.signer !== undefined && message.startsWith('unknown version'))
    if (message.from === this.id) return
    if (message.seq !== undefined && !this.sequence(message.from, message.seq, message.type === 'sync')) return this.refuse('replayed (sequence number already heard)')
    if (message.type === 'sync') return
    this.stack.counters.busReceived++
    if (this.stack.probe.any) this.stack.probe.bus('received', message.type)
    this.stack.applyRemote(message)
    if (this.stack.emitter.has('bus:message:received')) this.stack.emit('bus:message:received', busEvent(message))
  }

  /**
   * A sequence number skipped means a change from that sender never arrived (pub/sub dropped it, or the
   * sender's queue overflowed): L1 is revalidated against L2. A late or repeated number changes nothing (the
   * changes themselves are idempotent).
   */
  private sequence(from: string, seq: number, sync: boolean): boolean {
    const last = this.heard.get(from)
    if (last !== undefined && !sync && seq <= last.seq) {
      // Not above the highest number heard: a change that arrived late (part of a batch published again after a
      // partial failure: its gap was counted when a later one came) is applied once; one heard already is a
      // copy played again, refused. Numbers older than the window are refused too (their gap was counted).
      if (seq <= last.seq - REPLAY_WINDOW || last.window.has(seq)) return false
      last.window.add(seq)
      return true
    }
    // A change carries its own number; a heartbeat, the number of the sender's last change.
    const missed = last === undefined ? 0 : seq - last.seq - (sync ? 0 : 1)
    if (missed > 0) {
      this.stack.counters.busGaps += missed
      this.stack.logger.warn({ tier: 'bus', from, missed }, 'bus messages were lost: L1 entries are revalidated')
      this.stack.distrustL1()
    }
    if (last === undefined || seq > last.seq) {
      const window = last?.window ?? new Set<number>()
      // A heartbeat's number is the sender's last change: heard already, or part of the gap just counted.
      if (!sync) window.add(seq)
      if (window.size > 2 * REPLAY_WINDOW) for (const n of window) if (n <= seq - REPLAY_WINDOW) window.delete(n)
      // Re-inserted, so the Map's order is by last heard: past MAX_SENDERS the longest silent goes (forged
      // senders on an unsigned bus must not grow it without bound). A forgotten sender's next gap goes unseen.
      this.heard.delete(from)
      this.heard.set(from, { seq, at: Date.now(), window })
      if (this.heard.size > MAX_SENDERS) this.heard.delete(this.heard.keys().next().value!)
    }
    return true
  }

  /** Takes a change out of the queue (sent, or given up). */
  private settle(out: Outgoing): void {
    this.unpin(out)
    this.stack.counters.busQueued = this.queue.length
  }

  private unpin(out: Outgoing): void {
    if (!out.pinned) return
    out.pinned = false
    this.stack.tagsPinned--
  }

  private drop(out: Outgoing): void {
    this.stack.counters.busDropped++
    this.settle(out)
  }

  /** Starts a flush unless one runs, or a failed one's backoff is pending (its timer flushes; new changes wait for it). */
  private flushSoon(): void {
    if (this.flushing || this.timer || this.queue.length === 0) return
    background(this.flush(), this.stack.logger, 'bus queue flush')
  }

  /** Sends queued changes in order, re-applying the L2 side where it failed; stops at the first transport failure. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing
    const run = this.drain().finally(() => {
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
  private async drain(): Promise<void> {
    try {
      // After close(), nothing new starts: what is on the wire is the last.
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.nextBatch()
        for (const out of batch) out.sending = true
        const applied = await Promise.allSettled(batch.map((out) => (out.l2Done ? undefined : this.reapplyTrying(out.message))))
        const sendable: Outgoing[] = []
        let stuck: unknown
        for (let i = 0; i < batch.length && stuck === undefined; i++) {
          const out = batch[i]!
          const result = applied[i]!
          if (result.status === 'fulfilled') {
            this.unpin(out)
            out.l2Done = true
            sendable.push(out)
          } else if (failsForItself(result.reason, this.stack.l2)) {
            this.take(out)
            this.drop(out)
            this.stack.logger.error({ err: result.reason, tier: 'bus', type: out.message.type, keys: out.message.keys }, 'bus queue: a change that cannot be applied was dropped')
          } else stuck = result.reason
        }
        if (this.transport && sendable.length > 0) {
          const signer = this.signer
          for (const out of sendable) out.message.seq ??= ++this.seq
          const payloads = sendable.map((out) => encodeMessage(out.message))
          const signed = signer ? await Promise.all(payloads.map((p) => signer.sign(p))) : payloads
          await Promise.all(signed.map((p) => this.transport!.publish(p)))
          for (const out of sendable) this.published(out.message)
        }
        for (const out of sendable) if (this.take(out)) this.settle(out)
        for (const out of batch) out.sending = false
        // The changes behind one whose L2 side still fails wait for the next round, in order.
        if (stuck !== undefined) throw stuck
        this.failures = 0
      }
    } catch (error) {
      for (const out of this.queue) out.sending = false
      this.failures++
      this.stack.logger.debug({ err: error, tier: 'bus', queued: this.queue.length, failures: this.failures }, 'bus queue: still failing, retrying with backoff')
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
        if (attempt >= 3 || failsForItself(error, this.stack.l2) || this.closed) throw error
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
            await this.stack.guardL2('delete', key, () => l2.delete(key, this.stack.stamp(now)))
            continue
          }
          const entry = this.stack.core.valueAt(code & SLOT_MASK)
          const remote = this.stack.remoteOf(entry, now)
          await this.stack.guardL2('set', key, async () => l2.set(key, this.stack.encode(key, remote.entry), remote.ttlMs))
        }
        return
      case 'delete':
        // The delete's own stamp: a write made after it (elsewhere) is not undone by this late re-apply.
        await this.stack.guardL2('deleteMany', undefined, () => l2.deleteMany(message.keys, message.stamp ?? this.stack.stamp(now)))
        return
      case 'expire':
        for (const key of message.keys) await this.stack.guardL2('expire', key, () => l2.expire(key, now))
        return
      case 'clear':
        await l2.clear(message.path ?? '')
        return
      case 'delete-tags':
      case 'expire-tags':
        await this.stack.guardL2(`${message.type === 'delete-tags' ? 'delete' : 'expire'}ByTag`, undefined, () => l2.invalidateTags(message.tags ?? [], message.type === 'delete-tags' ? 'delete' : 'expire', message.stamp ?? now))
        return
    }
  }
}
