import { background } from '../background.js'
import type { LazySigner as Signer } from '../bus/signing-options.js'
import { decodeMessage, encodeMessage, type BusMessage, type BusTransport } from '../bus/types.js'
import { instanceId, tagHow, type BusRoom } from './bus-room.js'
import type { Logger } from '../logger.js'
import type { L1 } from './l1.js'
import type { BusSettings } from './options.js'
import type { Recorder } from './recorder.js'
import type { Common } from './rooms.js'
import { nowMs } from '../now.js'

/** Most senders whose sequence numbers an instance keeps. */
const MAX_SENDERS = 4096
/**
 * Per sender, which of the last REPLAY_WINDOW numbers were heard: a late one is applied once, a copy refused. Wider
 * than a flush's batch (64): a batch published again after a partial failure arrives behind its own later part.
 */
const REPLAY_WINDOW = 1024

/**
 * The bus, both directions. Out: numbers, signs and publishes what the retry queue hands it (RetryQueue decides
 * when), and a heartbeat. In: checks each message (signature, version, sequence number: a gap revalidates L1)
 * and applies it to L1 through L1's own functions. With a secret, messages are signed and only signed ones are
 * heard.
 */
export class Coherence implements BusRoom {
  private readonly transport: BusTransport | undefined
  private readonly signer: Signer | undefined
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
  private readonly reconnected: Array<() => void> = []
  /** True when nothing waits to be sent (a heartbeat would announce a number still to come). */
  private quiet: () => boolean = () => true

  private readonly recorder: Recorder
  private readonly logger: Logger

  constructor(
    settings: BusSettings,
    common: Common,
    private readonly l1: L1,
    /** With an L2, a key another instance wrote turns stale here (L2 has the new value); without one it goes. */
    private readonly hasL2: boolean,
    /** This instance's name on the bus. */
    readonly id: string = instanceId(),
  ) {
    const { recorder, logger } = common
    this.recorder = recorder
    this.logger = logger
    this.signer = settings.signer
    this.transport = settings.factory?.create({ channel: settings.channel, logger })
    if (!this.transport) return
    this.transport.onReconnect(() => this.tellReconnected())
    this.transport.onResubscribe?.(() => {
      l1.distrust()
      this.tellReconnected()
    })
    background(this.transport.subscribe((payload) => this.receive(payload)), logger, 'bus subscription')
    // A message lost on the way is noticed at the sender's next message; the heartbeat makes "next" come within
    // one retry interval even when the sender has nothing more to say.
    this.heartbeat = setInterval(() => this.beat(), settings.retryMs)
    ;(this.heartbeat as { unref?: () => void }).unref?.()
  }

  /** True when there is a bus to publish on. */
  get connected(): boolean {
    return this.transport !== undefined && !this.closed
  }

  /** Calls `listener` whenever publishing works again (a reconnect, a restored subscription). */
  onReconnect(listener: () => void): void {
    this.reconnected.push(listener)
  }

  /** Heartbeats wait while `quiet` says something is still to be sent. */
  whenQuiet(quiet: () => boolean): void {
    this.quiet = quiet
  }

  private tellReconnected(): void {
    for (const listener of this.reconnected) listener()
  }

  /**
   * Numbers, signs and publishes changes in order (one connection keeps it); rejects when the transport fails.
   * Then call published(): unsigned, this is the transport's own promise, with no hop of its own.
   */
  publish(messages: BusMessage[]): Promise<unknown> {
    const transport = this.transport
    if (!transport) return Promise.resolve()
    const signer = this.signer
    for (const message of messages) message.seq ??= ++this.seq
    const payloads = messages.map((message) => encodeMessage(message))
    if (!signer) return Promise.all(payloads.map((p) => transport.publish(p)))
    return Promise.all(payloads.map((p) => signer.sign(p))).then((signed) => Promise.all(signed.map((p) => transport.publish(p))))
  }

  /** Records changes publish() sent. */
  published(messages: BusMessage[]): void {
    if (this.transport) for (const message of messages) this.recorder.bus('published', message)
  }

  /** A change was dropped unsent (a full retry queue): the others see a gap in this sender's numbers. */
  skip(): void {
    this.seq++
  }

  /** Tells the others this instance's latest sequence number, if it sent anything since the last beat. */
  private beat(): void {
    if (this.closed || !this.transport || !this.quiet() || this.seq === this.beatSeq) return
    const seq = this.seq
    const now = nowMs()
    for (const [from, h] of this.heard) if (now - h.at > 3_600_000) this.heard.delete(from)
    const payload = encodeMessage({ from: this.id, type: 'sync', keys: [], seq })
    // Announced only once it went out: a beat lost in an outage is sent again at the next interval, or a
    // change whose own message was lost would stay unnoticed until this instance changes something else.
    const send = async () => {
      await this.transport!.publish(this.signer ? await this.signer.sign(payload) : payload)
      if (seq > this.beatSeq) this.beatSeq = seq
    }
    background(send(), this.logger, 'bus heartbeat')
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
      (error: unknown) => this.logger.error({ err: error, tier: 'bus' }, 'checking a bus message signature failed'),
    )
  }

  private handle(payload: unknown): void {
    try {
      this.apply(payload)
    } catch (error) {
      this.logger.error({ err: error, tier: 'bus' }, 'handling a bus message failed')
    }
  }

  /**
   * A refused message is counted and logged. One that was authentic (signed with our secret, for our channel:
   * sent outside the time window by a clock that is off) carried a change this instance now misses: a gap, so
   * L1 is revalidated, never left stale. The skew is logged once.
   */
  private refuse(reason: string, authentic = false, skewMs?: number): void {
    this.recorder.count('busRejected')
    this.logger.warn({ tier: 'bus', reason }, 'bus message refused')
    if (!authentic) return
    this.recorder.count('busGaps')
    if (skewMs !== undefined && !this.skewLogged) {
      this.skewLogged = true
      this.logger.error({ tier: 'bus', skewMs }, "a signed bus message came from a clock this far off ours: fix the clocks (NTP); until then each such message revalidates this instance's L1")
    }
    this.l1.distrust()
  }

  private apply(payload: unknown): void {
    const message = decodeMessage(payload)
    // A message of a newer format (a later version during a rolling deploy) is refused and counted, never
    // misread; signed with our secret for our channel, it carried a change we now miss: a gap.
    if (typeof message === 'string') return this.refuse(message, this.signer !== undefined && message.startsWith('unknown version'))
    if (message.from === this.id) return
    if (message.seq !== undefined && !this.sequence(message.from, message.seq, message.type === 'sync')) return this.refuse('replayed (sequence number already heard)')
    if (message.type === 'sync') return
    this.applyRemote(message)
    this.recorder.bus('received', message)
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
      this.recorder.count('busGaps', missed)
      this.logger.warn({ tier: 'bus', from, missed }, 'bus messages were lost: L1 entries are revalidated')
      this.l1.distrust()
    }
    if (last === undefined || seq > last.seq) {
      const window = last?.window ?? new Set<number>()
      // A heartbeat's number is the sender's last change: heard already, or part of the gap just counted.
      if (!sync) window.add(seq)
      if (window.size > 2 * REPLAY_WINDOW) for (const n of window) if (n <= seq - REPLAY_WINDOW) window.delete(n)
      // Re-inserted, so the Map's order is by last heard: past MAX_SENDERS the longest silent goes (forged
      // senders on an unsigned bus must not grow it without bound). A forgotten sender's next gap goes unseen.
      this.heard.delete(from)
      this.heard.set(from, { seq, at: nowMs(), window })
      if (this.heard.size > MAX_SENDERS) this.heard.delete(this.heard.keys().next().value!)
    }
    return true
  }

  /**
   * Another instance changed something. With an L2, a key it wrote is marked stale here, so the next read fetches
   * the new value from L2 and this copy stays a fallback; without an L2 there is nowhere to fetch from: drop it.
   */
  private applyRemote(message: BusMessage): void {
    const now = nowMs()
    switch (message.type) {
      case 'set':
        for (const key of message.keys) {
          if (this.hasL2) this.l1.replaced(key, now)
          else this.l1.remove(key)
        }
        return
      case 'expire':
        for (const key of message.keys) this.l1.expire(key, now)
        return
      case 'delete':
        for (const key of message.keys) this.l1.remove(key)
        return
      case 'clear':
        this.l1.clear(message.path ?? '')
        return
      case 'delete-tags':
      case 'expire-tags':
        // Stamped on arrival (no stamp given), by this instance's clock: every entry that entered this L1 before it is covered,
        // whatever the skew between the sender's clock and ours. The sender's stamp judges entries read from L2
        // (made by the writers' clocks), as L2's own record of it does.
        this.l1.invalidateTags(message.tags ?? [], tagHow(message.type), undefined, message.stamp)
        return
    }
  }

  /** Lets a message being applied finish, then disconnects. */
  async close(): Promise<void> {
    this.closed = true
    if (this.heartbeat) clearInterval(this.heartbeat)
    await this.inbox
    await this.transport?.disconnect()
  }
}
