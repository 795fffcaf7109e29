// The browser flavour's coherence-ref.ts: Coherence (the bus room, 6 KB) is fetched only for a cache with a bus.
// Until it is there the room is a LazyBus, which keeps what the retry queue registers and hands it over; the
// cache's calls wait for the load (busLoading), as they wait for the L1 core.
import { instanceId, type BusRoom } from './bus-room.js'
import type { BusMessage } from '../bus/types.js'
import type { L1 } from './l1.js'
import type { BusSettings } from './options.js'
import type { Common } from './rooms.js'

class LazyBus implements BusRoom {
  readonly id = instanceId()
  private inner: BusRoom | undefined
  private closed = false
  private readonly reconnected: Array<() => void> = []
  private quiet: (() => boolean) | undefined
  readonly ready: Promise<void>

  constructor(settings: BusSettings, common: Common, l1: L1, hasL2: boolean) {
    this.ready = import('./coherence.js').then(({ Coherence }) => {
      if (this.closed) return
      const inner = new Coherence(settings, common, l1, hasL2, this.id)
      for (const listener of this.reconnected) inner.onReconnect(listener)
      if (this.quiet) inner.whenQuiet(this.quiet)
      this.inner = inner
    })
    // A failed load is each waiting call's error; the room itself stays without a bus.
    this.ready.catch((error: unknown) => common.logger.error({ err: error, tier: 'bus' }, 'the bus room could not be loaded'))
  }

  /** Coherence is there (from then on every call goes to it). */
  get loaded(): boolean {
    return this.inner !== undefined
  }

  /** True from the start: changes queue for the bus while it loads. */
  get connected(): boolean {
    return this.inner ? this.inner.connected : !this.closed
  }

  onReconnect(listener: () => void): void {
    if (this.inner) this.inner.onReconnect(listener)
    else this.reconnected.push(listener)
  }

  whenQuiet(quiet: () => boolean): void {
    if (this.inner) this.inner.whenQuiet(quiet)
    else this.quiet = quiet
  }

  async publish(messages: BusMessage[]): Promise<unknown> {
    if (!this.inner) await this.ready
    return this.inner?.publish(messages)
  }

  published(messages: BusMessage[]): void {
    this.inner?.published(messages)
  }

  skip(): void {
    this.inner?.skip()
  }

  async close(): Promise<void> {
    this.closed = true
    await this.ready.catch(() => undefined)
    await this.inner?.close()
  }
}

export function makeCoherence(settings: BusSettings, common: Common, l1: L1, hasL2: boolean): BusRoom {
  return new LazyBus(settings, common, l1, hasL2)
}

/** The load of the bus room, while it is in flight. */
export function busLoading(bus: BusRoom): Promise<void> | undefined {
  return bus instanceof LazyBus && !bus.loaded ? bus.ready : undefined
}
