import type { BusMessage } from '../bus/types.js'
import type { CoreKind } from '../core/types.js'
import { Emitter, type BusEvent, type CacheEventName, type CacheEvents } from '../events.js'
import type { Logger } from '../logger.js'
import { Probe, type CacheObserver, type CacheOperation, type KeyPolicy, type OperationContext, type Tier } from '../observe.js'
import { newStats, type CacheStats } from '../stats.js'

/** The counters that only ever go up (all of CacheStats but the queue length and the core's kind). */
export type Counter = Exclude<keyof CacheStats, 'busQueued' | 'core'>

function busEvent(message: BusMessage): BusEvent {
  return { type: message.type, keys: message.keys, tags: message.tags, path: message.path }
}

/**
 * What the cache tells the outside about itself, in one place: stats() counters, events for listeners, and
 * observers (the TracingChannel, OpenTelemetry, Prometheus). A hit, a miss, a write or a bus message is
 * recorded by one call here, which counts it, emits it and tells observers, so the three never disagree.
 */
export class Recorder {
  private readonly counters: CacheStats
  private readonly emitter: Emitter
  /** Observers and the TracingChannel: see observe.ts. */
  private readonly probe: Probe

  constructor(core: CoreKind | 'none', prefix: string, keyPolicy: KeyPolicy | undefined, logger: Logger) {
    this.counters = newStats(core)
    this.probe = new Probe(prefix, keyPolicy, (error, where) => logger.error({ err: error, where }, 'a cache observer threw: the call went on unwatched'))
    this.emitter = new Emitter((error, event) => logger.error({ err: error, event }, 'a cache event listener threw'))
  }

  /** The L2 driver's kind, what a hit from L2 names as its store. */
  l2Kind = 'l2'

  /** Which L1 core the cache runs on (known once the core is made, after the recorder that counts its evictions). */
  setCore(core: CoreKind | 'none'): void {
    this.counters.core = core
  }

  /** The name observers and metrics know the cache by (its prefix). */
  get name(): string {
    return this.probe.cache
  }

  on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    return this.emitter.on(event, listener)
  }

  once<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    return this.emitter.once(event, listener)
  }

  off<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): void {
    this.emitter.off(event, listener)
  }

  /** Adds an observer; returns the function that removes it. */
  observe(observer: CacheObserver): () => void {
    return this.probe.add(observer)
  }

  /** True when a call must build a trace context (an observer, or a TracingChannel subscriber). */
  tracing(): boolean {
    return this.probe.active()
  }

  /** Runs a public call inside the observers' wrappers and on the TracingChannel, with its context. */
  trace<R>(operation: CacheOperation, namespace: string | undefined, key: unknown, keys: unknown, run: (trace: OperationContext) => Promise<R>): Promise<R> {
    const trace = this.probe.context(operation, namespace, key, keys)
    return this.probe.operation(trace, () => run(trace))
  }

  /** An L2 command, watched by observers when there are any. */
  l2<T>(command: string, driver: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    return this.probe.any ? this.probe.l2(command, driver, key, run) : run()
  }

  /** A factory run, watched by observers when there are any; unwatched, what `run` returns, as it returns it. */
  factory<T>(namespace: string | undefined, key: string, background: boolean, run: () => T | Promise<T>): T | Promise<T> {
    return this.probe.any ? this.probe.factory(namespace, key, background, async () => run()) : run()
  }

  /** A copy of the counters (stats()). */
  stats(): CacheStats {
    return { ...this.counters }
  }

  count(counter: Counter, n = 1): void {
    this.counters[counter] += n
  }

  /** Changes waiting in the retry queue now. */
  queued(length: number): void {
    this.counters.busQueued = length
  }

  /** A read answered from `tier` (graced: with a stale value within grace). */
  hit(key: string, graced: boolean, tier: Tier, namespace: string | undefined, trace: OperationContext | undefined): void {
    this.counters.hits++
    if (graced) this.counters.gracedHits++
    if (this.emitter.has('cache:hit')) this.emitter.emit('cache:hit', { key, store: tier === 'l1' ? 'memory' : this.l2Kind, tier, graced, namespace })
    if (trace !== undefined) {
      trace.hit = true
      trace.tier = tier
      trace.graced = graced
    }
    if (this.probe.any) this.probe.request(graced ? 'graced' : 'hit', tier, namespace)
  }

  /** True when no listener or observer hears hits and misses: a batch may count them in one go (tally). */
  quiet(): boolean {
    return !this.probe.any && !this.emitter.has('cache:hit') && !this.emitter.has('cache:miss')
  }

  /** Fresh hits and misses of a batch nobody hears (see quiet). */
  tally(hits: number, misses: number): void {
    this.counters.hits += hits
    this.counters.misses += misses
  }

  miss(key: string, namespace: string | undefined, trace: OperationContext | undefined): void {
    this.counters.misses++
    if (this.emitter.has('cache:miss')) this.emitter.emit('cache:miss', { key, store: 'memory', namespace })
    if (trace !== undefined) trace.hit = false
    if (this.probe.any) this.probe.request('miss', undefined, namespace)
  }

  /** A key written, deleted or expired by a call (deletes are counted here too). */
  changed(event: 'cache:written' | 'cache:deleted' | 'cache:expired', key: string, namespace: string | undefined): void {
    if (event === 'cache:deleted') this.counters.deletes++
    if (this.emitter.has(event)) this.emitter.emit(event, { key, store: 'memory', namespace })
  }

  cleared(namespace: string | undefined): void {
    if (this.emitter.has('cache:cleared')) this.emitter.emit('cache:cleared', { store: 'memory', namespace })
  }

  /** A bus message this instance published, or applied from another. */
  bus(direction: 'published' | 'received', message: BusMessage): void {
    this.counters[direction === 'published' ? 'busPublished' : 'busReceived']++
    if (this.probe.any) this.probe.bus(direction, message.type)
    const event: CacheEventName = direction === 'published' ? 'bus:message:published' : 'bus:message:received'
    if (this.emitter.has(event)) this.emitter.emit(event, busEvent(message) as CacheEvents[typeof event])
  }
}
