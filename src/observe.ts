// How a cache is watched: the diagnostics_channel TracingChannel every public call is published on (Node, and
// runtimes with Node's diagnostics_channel), and observers (rustocache/otel, rustocache/prometheus, your own)
// that wrap calls, L2 commands and factory runs. Runtime-neutral: no `node:` import; the channel is found at
// run time through process.getBuiltinModule, and where there is none nothing is published.

/** The public calls, as named on the TracingChannel and in spans. */
export type CacheOperation =
  | 'getOrSet'
  | 'getOrSetForever'
  | 'get'
  | 'getMany'
  | 'set'
  | 'setForever'
  | 'setMany'
  | 'has'
  | 'missing'
  | 'pull'
  | 'delete'
  | 'deleteMany'
  | 'expire'
  | 'deleteByTag'
  | 'expireByTag'
  | 'clear'
  | 'prune'

/** Which tier answered a read. */
export type Tier = 'l1' | 'l2'

/**
 * The context of one public call: what the TracingChannel's start/end/asyncStart/asyncEnd/error messages carry
 * and what observers' `operation` wrappers get. Filled in as the call goes; read it at asyncEnd.
 */
export interface OperationContext {
  operation: CacheOperation
  /** The cache's `prefix`. */
  cache: string
  /** The namespace path ('users:admins'), absent at the root. */
  namespace?: string
  /** The key as the caller gave it, only with `traceKeys` (true, or through its sanitizer). */
  key?: string
  /** The keys of a batch call (getMany, setMany, deleteMany), only with `traceKeys`. */
  keys?: string[]
  /** Reads: whether the call was answered with a value (fresh or graced). Batch reads: true when every key was. */
  hit?: boolean
  /** Reads: the tier that answered (absent for a miss and for a value the factory made). */
  tier?: Tier
  /** Reads: answered with a stale value within grace. */
  graced?: boolean
  /** getOrSet: this call ran the factory (a caller that waited for another's factory did not). */
  factory?: boolean
  /** Batch reads: how many keys were answered (fresh or graced). */
  hits?: number
  /** Set by TracingChannel: the call's error, or its result (the value, for reads). */
  error?: unknown
  result?: unknown
}

/** One L2 command (a call may make several: a read, a tag check, a write). */
export interface L2CommandContext {
  cache: string
  /** get, getMany, set, setMany, delete, deleteMany, expire, clear, deleteByTag, expireByTag, tagStamps, lock... */
  command: string
  /** The driver's kind ('redis', 'postgres'...). */
  driver: string
  /** The full key (namespace path included), only with `traceKeys`. */
  key?: string
}

/** One factory run, in the foreground or the background. */
export interface FactoryRunContext {
  cache: string
  namespace?: string
  /** Only with `traceKeys`. */
  key?: string
  /** No caller waits for it (an early refresh, stale-while-revalidate). */
  background: boolean
}

/**
 * Watches a cache: pass it to `observe(cache, observer)`. Every method is optional. The wrappers must call `run`
 * once and return (a promise of) what it returns; what they throw is logged and the call goes on unwatched.
 */
export interface CacheObserver {
  /** Around each public call. */
  operation?<T>(context: OperationContext, run: () => Promise<T>): Promise<T>
  /** Around each L2 command (its rejection is the driver's error, before suppressL2Errors applies). */
  l2?<T>(context: L2CommandContext, run: () => Promise<T>): Promise<T>
  /** Around each factory run (its rejection is what the factory threw). */
  factory?<T>(context: FactoryRunContext, run: () => Promise<T>): Promise<T>
  /** Every answer a read gave, one per key: a hit (fresh), a graced hit (stale within grace), or a miss. */
  request?(result: 'hit' | 'graced' | 'miss', tier: Tier | undefined, cache: string, namespace: string | undefined): void
  /** Every bus message this instance sent or heard from another. */
  bus?(direction: 'published' | 'received', type: string, cache: string): void
}

/** The subset of Node's TracingChannel used here. */
interface Tracing {
  readonly hasSubscribers: boolean
  tracePromise<T>(fn: () => Promise<T>, context: object): Promise<T>
}

/** A key as it may leave the process: itself, redacted, or undefined (see keyShower in cache/stack.ts). */
export type KeyPolicy = (key: string) => string | undefined

/** The name of the TracingChannel every public call is published on. */
export const TRACING_CHANNEL = 'rustocache.cache.operation'

function attempt<T>(run: () => Promise<T>): Promise<T> {
  try {
    return run()
  } catch (error) {
    return Promise.reject(error)
  }
}

function findChannel(): Tracing | undefined {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    if (typeof proc?.getBuiltinModule !== 'function') return undefined
    const dc = proc.getBuiltinModule('node:diagnostics_channel') as { tracingChannel?: (name: string) => Tracing } | undefined
    const channel = dc?.tracingChannel?.(TRACING_CHANNEL)
    // Node before 20.13 has tracing channels without hasSubscribers: publishing there would cost every call.
    return channel !== undefined && typeof channel.hasSubscribers === 'boolean' ? channel : undefined
  } catch {
    return undefined
  }
}

const channel = findChannel()

/** Whether this runtime publishes on the TracingChannel (Node >= 20.16, Deno, Bun, workerd with nodejs_compat). */
export const tracingChannelAvailable = channel !== undefined

/**
 * One cache's observers and key policy. Hot paths ask `active()` (or `any`) first and build nothing when it is
 * false: no observer and nobody subscribed to the channel.
 */
export class Probe {
  private observers: CacheObserver[] = []
  /** At least one observer (not counting the channel): cheap to test on every hit. */
  any = false
  private wraps = { operation: false, l2: false, factory: false }

  constructor(
    readonly cache: string,
    /** How a key leaves the process (keyShower, from traceKeys); undefined: keys never leave in a context. */
    private readonly keyPolicy: KeyPolicy | undefined,
    private readonly onObserverError: (error: unknown, where: string) => void,
  ) {}

  /** True when a call must build a context: an observer, or a subscriber on the channel. */
  active(): boolean {
    return this.any || (channel !== undefined && channel.hasSubscribers)
  }

  add(observer: CacheObserver): () => void {
    this.observers = [...this.observers, observer]
    this.refresh()
    return () => {
      this.observers = this.observers.filter((o) => o !== observer)
      this.refresh()
    }
  }

  private refresh(): void {
    this.any = this.observers.length > 0
    this.wraps = {
      operation: this.observers.some((o) => o.operation),
      l2: this.observers.some((o) => o.l2),
      factory: this.observers.some((o) => o.factory),
    }
  }

  /** A key as contexts may show it, or undefined (the default: keys are not traced). */
  key(key: unknown): string | undefined {
    return this.keyPolicy === undefined || typeof key !== 'string' ? undefined : this.keyPolicy(key)
  }

  keys(keys: unknown): string[] | undefined {
    if (this.keyPolicy === undefined || !Array.isArray(keys)) return undefined
    return keys.map((k) => this.key(k) ?? '')
  }

  context(operation: CacheOperation, namespace: string | undefined, key?: unknown, keys?: unknown): OperationContext {
    const context: OperationContext = { operation, cache: this.cache }
    if (namespace !== undefined) context.namespace = namespace
    const shown = this.key(key)
    if (shown !== undefined) context.key = shown
    const many = this.keys(keys)
    if (many !== undefined) context.keys = many
    return context
  }

  /** Runs a public call inside every observer's wrapper, then on the channel (outermost). */
  operation<T>(context: OperationContext, run: () => Promise<T>): Promise<T> {
    let call = run
    if (this.wraps.operation) for (const o of this.observers) if (o.operation) call = this.wrap(o, 'operation', context, call)
    if (channel !== undefined && channel.hasSubscribers) {
      const inner = call
      call = () => channel.tracePromise(inner, context)
    }
    return call()
  }

  l2<T>(command: string, driver: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    if (!this.wraps.l2) return run()
    const context: L2CommandContext = { cache: this.cache, command, driver }
    const shown = this.key(key)
    if (shown !== undefined) context.key = shown
    let call = run
    for (const o of this.observers) if (o.l2) call = this.wrap(o, 'l2', context, call)
    return call()
  }

  factory<T>(namespace: string | undefined, key: string, background: boolean, run: () => Promise<T>): Promise<T> {
    if (!this.wraps.factory) return run()
    const context: FactoryRunContext = { cache: this.cache, background }
    if (namespace !== undefined) context.namespace = namespace
    const shown = this.key(key)
    if (shown !== undefined) context.key = shown
    let call = run
    for (const o of this.observers) if (o.factory) call = this.wrap(o, 'factory', context, call)
    return call()
  }

  request(result: 'hit' | 'graced' | 'miss', tier: Tier | undefined, namespace: string | undefined): void {
    for (const o of this.observers) {
      if (!o.request) continue
      try {
        o.request(result, tier, this.cache, namespace)
      } catch (error) {
        this.onObserverError(error, 'request')
      }
    }
  }

  bus(direction: 'published' | 'received', type: string): void {
    for (const o of this.observers) {
      if (!o.bus) continue
      try {
        o.bus(direction, type, this.cache)
      } catch (error) {
        this.onObserverError(error, 'bus')
      }
    }
  }

  /**
   * An observer's wrapper around `inner`. A wrapper that throws before it calls `run` must not lose the call:
   * then `inner` runs unwatched. One that calls `run` and fails after passes on what `run` gave.
   */
  private wrap<C, T>(observer: CacheObserver, where: 'operation' | 'l2' | 'factory', context: C, inner: () => Promise<T>): () => Promise<T> {
    return () => {
      let ran: Promise<T> | undefined
      // What the call throws at once is its rejection, never the observer's error.
      const run = () => (ran = attempt(inner))
      let wrapped: Promise<T>
      try {
        wrapped = Promise.resolve((observer[where] as (c: C, r: () => Promise<T>) => Promise<T>).call(observer, context, run))
      } catch (error) {
        this.onObserverError(error, where)
        return ran ?? inner()
      }
      if (ran === undefined) {
        // What the wrapper returned instead is dropped, and its rejection owned here.
        wrapped.catch(() => undefined)
        this.onObserverError(new Error(`the observer's ${where} wrapper did not call run`), where)
        return inner()
      }
      const settled: Promise<T> = ran
      // The call's own outcome wins over anything the wrapper adds to it.
      return wrapped.then(
        () => settled,
        (error: unknown) =>
          settled.then((value) => {
            this.onObserverError(error, where)
            return value
          }),
      )
    }
  }
}
