// rustocache/chaos: fault injection for the L2 and the bus, for tests. Runtime-neutral (timers and a seeded
// random source only), so the same faults run in Node, browsers and edge runtimes.
import type { BusFactory, BusTransport } from '../bus/types.js'
import { InvalidOptionError, shown } from '../errors.js'
import type { L2Driver, L2DriverFactory } from '../l2/types.js'

/** A small seeded generator (mulberry32): the same seed gives the same faults, run after run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The error a chaos wrapper throws for an injected failure. */
export class ChaosError extends Error {
  constructor(what: string) {
    super(`chaos: injected failure of ${what}`)
    this.name = 'ChaosError'
  }
}

/** Faults a chaos driver injects into L2 commands: errors and hangs at their rates, latency with jitter. */
export interface ChaosFaults {
  /** Share of calls that fail with a ChaosError (0 to 1). @default 0 */
  errorRate?: number
  /** Share of calls that never settle (0 to 1). @default 0 */
  hangRate?: number
  /** Added to every call, in ms. @default 0 */
  latency?: number
  /** Up to this much more, uniformly random, in ms. @default 0 */
  jitter?: number
}

/**
 * Faults a chaos bus injects: dropped, duplicated, reordered and delayed messages, and failing publishes.
 */
export interface ChaosBusFaults extends ChaosFaults {
  /** Share of received messages never delivered. @default 0 */
  dropRate?: number
  /** Share of received messages delivered twice. @default 0 */
  duplicateRate?: number
  /** Delivery delay of each received message, in ms, plus up to `deliveryJitter` more (which reorders them). @default 0 */
  deliveryDelay?: number
  deliveryJitter?: number
  /** Share of received messages held back and delivered after the next one. @default 0 */
  reorderRate?: number
}

/** What a wrapper has injected so far. */
export interface ChaosStats {
  calls: number
  errors: number
  hangs: number
  delayed: number
  dropped: number
  duplicated: number
  reordered: number
}

/** A fault source: faults can change while it runs (`set`), so a test opens a failure and heals it. */
export interface Chaos<F> {
  /** Replaces the faults given (others keep their value); `set({ errorRate: 0 })` heals errors. */
  set(faults: F): void
  /** Turns every fault off. */
  heal(): void
  /** What was injected so far. */
  stats(): ChaosStats
}

function checkRates(faults: ChaosBusFaults): void {
  for (const [name, value] of Object.entries(faults)) {
    if (value === undefined) continue
    const rate = name.endsWith('Rate')
    if (typeof value !== 'number' || !(value >= 0) || (rate && value > 1) || value === Infinity) {
      throw new InvalidOptionError(`chaos: ${name} must be ${rate ? 'a share from 0 to 1' : 'a number of ms >= 0'}, got ${shown(value)}`)
    }
  }
}

class Faults<F extends ChaosBusFaults> implements Chaos<F> {
  current: F
  readonly counts: ChaosStats = { calls: 0, errors: 0, hangs: 0, delayed: 0, dropped: 0, duplicated: 0, reordered: 0 }
  readonly random: () => number

  constructor(faults: F, seed: number) {
    checkRates(faults)
    this.current = { ...faults }
    this.random = seededRandom(seed)
  }

  set(faults: F): void {
    checkRates(faults)
    this.current = { ...this.current, ...faults }
  }

  heal(): void {
    this.current = {} as F
  }

  stats(): ChaosStats {
    return { ...this.counts }
  }

  chance(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.random() < rate
  }

  delay(base: number | undefined, jitter: number | undefined): number {
    return (base ?? 0) + (jitter ? this.random() * jitter : 0)
  }

  /** Runs one call through the faults: wait, then perhaps hang or fail, else call through. */
  async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    this.counts.calls++
    const f = this.current
    const wait = this.delay(f.latency, f.jitter)
    if (wait > 0) {
      this.counts.delayed++
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
    if (this.chance(f.hangRate)) {
      this.counts.hangs++
      return new Promise<T>(() => {})
    }
    if (this.chance(f.errorRate)) {
      this.counts.errors++
      throw new ChaosError(what)
    }
    return run()
  }
}

/**
 * Wraps any L2 driver factory: every call of every driver it makes goes through the faults (errors, latency,
 * hangs). `encode` is not faulted (it is the caller's, and synchronous).
 */
export function chaosDriver(inner: L2DriverFactory, options: ChaosFaults & { seed?: number } = {}): L2DriverFactory & Chaos<ChaosFaults> {
  const { seed = 1, ...faults } = options
  const chaos = new Faults<ChaosFaults>(faults, seed)
  return {
    kind: `chaos(${inner.kind})`,
    set: (f) => chaos.set(f),
    heal: () => chaos.heal(),
    stats: () => chaos.stats(),
    create(context) {
      const d = inner.create(context)
      const locks = d.locks
      const driver: L2Driver = {
        get: (key) => chaos.call('get', () => d.get(key)),
        getMany: (keys) => chaos.call('getMany', () => d.getMany(keys)),
        encode: (entry) => d.encode(entry),
        set: (key, payload, ttlMs) => chaos.call('set', () => d.set(key, payload, ttlMs)),
        setMany: (items) => chaos.call('setMany', () => d.setMany(items)),
        delete: (key, stamp) => chaos.call('delete', () => d.delete(key, stamp)),
        deleteMany: (keys, stamp) => chaos.call('deleteMany', () => d.deleteMany(keys, stamp)),
        expire: (key, now) => chaos.call('expire', () => d.expire(key, now)),
        clear: (path) => chaos.call('clear', () => d.clear(path)),
        invalidateTags: (tags, how, stamp) => chaos.call('invalidateTags', () => d.invalidateTags(tags, how, stamp)),
        tagStamps: (tags) => chaos.call('tagStamps', () => d.tagStamps(tags)),
        prune: d.prune && (() => chaos.call('prune', () => d.prune!())),
        tagRetentionMs: d.tagRetentionMs,
        // What the driver says of itself passes through: its limits, its error classes, where it connects, and
        // its recoveries (the retry queue flushes on them). An injected fault is transient.
        maxKeyBytes: d.maxKeyBytes,
        maxEntryBytes: d.maxEntryBytes,
        lateWrites: d.lateWrites,
        target: d.target,
        isPermanent: d.isPermanent && ((error) => !(error instanceof ChaosError) && d.isPermanent!(error)),
        onRecover: d.onRecover && ((listener) => d.onRecover!(listener)),
        // Never faulted: the cache must be able to let go of its connections.
        disconnect: () => d.disconnect(),
        locks: locks && {
          acquire: (key, token, ttlMs) => chaos.call('lock', () => locks.acquire(key, token, ttlMs)),
          release: (key, token) => chaos.call('unlock', () => locks.release(key, token)),
          held: (key) => chaos.call('lockHeld', () => locks.held(key)),
        },
      }
      return driver
    },
  }
}

/**
 * Wraps any bus factory: publishing goes through the faults (errors, latency, hangs); every message a
 * transport receives may be dropped, duplicated, delayed (jitter reorders) or held back behind the next one.
 */
export function chaosBus(inner: BusFactory, options: ChaosBusFaults & { seed?: number } = {}): BusFactory & Chaos<ChaosBusFaults> {
  const { seed = 1, ...faults } = options
  const chaos = new Faults<ChaosBusFaults>(faults, seed)
  return {
    kind: `chaos(${inner.kind})`,
    retryQueue: inner.retryQueue,
    signing: inner.signing,
    set: (f) => chaos.set(f),
    heal: () => chaos.heal(),
    stats: () => chaos.stats(),
    create(context) {
      const t = inner.create(context)
      let held: string | undefined
      const transport: BusTransport = {
        publish: (payload) => chaos.call('publish', () => t.publish(payload)),
        subscribe: (onMessage) =>
          t.subscribe((payload) => {
            const f = chaos.current
            if (chaos.chance(f.dropRate)) {
              chaos.counts.dropped++
              return
            }
            const copies = chaos.chance(f.duplicateRate) ? 2 : 1
            if (copies === 2) chaos.counts.duplicated++
            const deliver = (p: string) => {
              const wait = chaos.delay(f.deliveryDelay, f.deliveryJitter)
              if (wait > 0) setTimeout(() => onMessage(p), wait)
              else onMessage(p)
            }
            for (let i = 0; i < copies; i++) {
              if (held === undefined && chaos.chance(f.reorderRate)) {
                chaos.counts.reordered++
                held = payload
                // Delivered after the next message, or after 50 ms if none comes: reordered, never lost.
                const mine = payload
                setTimeout(() => {
                  if (held !== mine) return
                  held = undefined
                  deliver(mine)
                }, 50)
                continue
              }
              deliver(payload)
              if (held !== undefined) {
                const late = held
                held = undefined
                deliver(late)
              }
            }
          }),
        onReconnect: (listener) => t.onReconnect(listener),
        onResubscribe: t.onResubscribe && ((listener) => t.onResubscribe!(listener)),
        disconnect: () => t.disconnect(),
      }
      return transport
    },
  }
}
