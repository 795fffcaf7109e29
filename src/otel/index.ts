// rustocache/otel: OpenTelemetry spans and metrics for a cache, on @opentelemetry/api (a peer dependency). Runs
// wherever the API does (Node, browsers, edge): it is built on observe(), not on diagnostics_channel.
import { metrics, SpanKind, SpanStatusCode, trace, type Attributes, type Counter, type Histogram, type Meter, type Span, type Tracer } from '@opentelemetry/api'
import { observe, RustoCache } from '../cache/rusto-cache.js'
import { InvalidOptionError } from '../errors.js'
import type { CacheObserver, OperationContext } from '../observe.js'

/**
 * Options of instrument(): the tracer and meter (the global ones by default), and whether to make spans and
 * metrics.
 */
export interface InstrumentOptions {
  /** Spans come from it. @default trace.getTracer('rustocache') (the global provider's) */
  tracer?: Tracer
  /** Metrics come from it. @default metrics.getMeter('rustocache') (the global provider's) */
  meter?: Meter
  /** Turn spans or metrics off. @default both true */
  spans?: boolean
  metrics?: boolean
}

/** Attribute names: OpenTelemetry has no cache conventions yet; these follow its proposals (cache.name...). */
export const ATTR = {
  name: 'cache.name',
  namespace: 'cache.namespace',
  operation: 'cache.operation',
  key: 'cache.key',
  usage: 'cache.usage',
  tier: 'cache.tier',
  graced: 'cache.graced',
  factory: 'cache.factory',
  hits: 'cache.hits',
  background: 'cache.factory.background',
  command: 'cache.l2.command',
  driver: 'cache.l2.driver',
  direction: 'cache.bus.direction',
  messageType: 'cache.bus.type',
} as const

const seconds = (started: number) => (performance.now() - started) / 1000

/** `run`, with its duration recorded and a failure counted (the rejection passes on). */
function measured<T>(run: () => Promise<T>, duration: Histogram | undefined, errors: Counter | undefined, attributes: Attributes): () => Promise<T> {
  return () => {
    const started = performance.now()
    return run().then(
      (value) => {
        duration?.record(seconds(started), attributes)
        return value
      },
      (error: unknown) => {
        duration?.record(seconds(started), attributes)
        errors?.add(1, attributes)
        throw error
      },
    )
  }
}

function ended<T>(span: Span, run: () => Promise<T>, onDone?: (span: Span) => void): Promise<T> {
  return run().then(
    (value) => {
      onDone?.(span)
      span.end()
      return value
    },
    (error: unknown) => {
      onDone?.(span)
      span.recordException(error instanceof Error ? error : String(error))
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) })
      span.end()
      throw error
    },
  )
}

/** What the call's context says once it is done, as span attributes. */
function outcome(span: Span, context: OperationContext): void {
  const attributes: Attributes = {}
  if (context.hit !== undefined) attributes[ATTR.usage] = context.hit ? 'hit' : 'miss'
  if (context.tier !== undefined) attributes[ATTR.tier] = context.tier
  if (context.graced !== undefined) attributes[ATTR.graced] = context.graced
  if (context.factory !== undefined) attributes[ATTR.factory] = context.factory
  if (context.hits !== undefined) attributes[ATTR.hits] = context.hits
  span.setAttributes(attributes)
}

/**
 * Spans and metrics for `cache` and all its namespaces. Spans: one per public call (`rustocache.getOrSet`...),
 * with each L2 command (`rustocache.l2.get`...) and each factory run (`rustocache.factory`) as its children;
 * spans the factory makes are children of the factory's. Metrics: cache.requests (cache.usage hit or miss,
 * cache.tier, cache.graced), cache.hits, cache.misses, cache.graced_hits, cache.factory.calls,
 * cache.factory.errors, cache.factory.duration (s), cache.l2.errors, cache.l2.duration (s), cache.bus.messages.
 * Keys appear (as cache.key) only with the cache's traceKeys. Returns the function that stops it.
 */
export function instrument(cache: RustoCache, options: InstrumentOptions = {}): () => void {
  if (!(cache instanceof RustoCache)) throw new InvalidOptionError('instrument needs a RustoCache')
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('instrument options must be { tracer?, meter?, spans?, metrics? }')
  const tracer = options.spans === false ? undefined : (options.tracer ?? trace.getTracer('rustocache'))
  const meter = options.metrics === false ? undefined : (options.meter ?? metrics.getMeter('rustocache'))
  if (tracer !== undefined && typeof tracer.startActiveSpan !== 'function') throw new InvalidOptionError('tracer must be an OpenTelemetry Tracer')
  if (meter !== undefined && typeof meter.createCounter !== 'function') throw new InvalidOptionError('meter must be an OpenTelemetry Meter')

  const counter = (name: string, description: string, unit: string) => meter?.createCounter(name, { description, unit })
  const histogram = (name: string, description: string) => meter?.createHistogram(name, { description, unit: 's' })
  const m = {
    requests: counter('cache.requests', 'Reads answered, one per key: cache.usage hit or miss', '{request}'),
    hits: counter('cache.hits', 'Reads answered with a value (fresh or graced)', '{hit}'),
    misses: counter('cache.misses', 'Reads not answered', '{miss}'),
    graced: counter('cache.graced_hits', 'Reads answered with a stale value within grace', '{hit}'),
    factoryCalls: counter('cache.factory.calls', 'Factory runs', '{call}'),
    factoryErrors: counter('cache.factory.errors', 'Factory runs that failed', '{error}'),
    factoryDuration: histogram('cache.factory.duration', 'How long factory runs took'),
    l2Errors: counter('cache.l2.errors', 'L2 commands that failed', '{error}'),
    l2Duration: histogram('cache.l2.duration', 'How long L2 commands took'),
    bus: counter('cache.bus.messages', 'Bus messages sent and heard', '{message}'),
  }

  const observer: CacheObserver = {
    request(result, tier, name, namespace) {
      if (!meter) return
      const base: Attributes = { [ATTR.name]: name }
      if (namespace !== undefined) base[ATTR.namespace] = namespace
      const hit = result !== 'miss'
      const attributes: Attributes = { ...base, [ATTR.usage]: hit ? 'hit' : 'miss', [ATTR.graced]: result === 'graced' }
      if (tier !== undefined) attributes[ATTR.tier] = tier
      m.requests!.add(1, attributes)
      if (!hit) return m.misses!.add(1, base)
      const tiered = tier === undefined ? base : { ...base, [ATTR.tier]: tier }
      m.hits!.add(1, tiered)
      if (result === 'graced') m.graced!.add(1, tiered)
    },
    bus(direction, type, name) {
      m.bus?.add(1, { [ATTR.name]: name, [ATTR.direction]: direction, [ATTR.messageType]: type })
    },
    l2(context, run) {
      const attributes: Attributes = { [ATTR.name]: context.cache, [ATTR.command]: context.command, [ATTR.driver]: context.driver }
      const timed = measured(run, m.l2Duration, m.l2Errors, attributes)
      if (!tracer) return timed()
      const spanAttributes = context.key === undefined ? attributes : { ...attributes, [ATTR.key]: context.key }
      return tracer.startActiveSpan(`rustocache.l2.${context.command}`, { kind: SpanKind.CLIENT, attributes: spanAttributes }, (span) => ended(span, timed))
    },
    factory(context, run) {
      const attributes: Attributes = { [ATTR.name]: context.cache, [ATTR.background]: context.background }
      if (context.namespace !== undefined) attributes[ATTR.namespace] = context.namespace
      m.factoryCalls?.add(1, attributes)
      const timed = measured(run, m.factoryDuration, m.factoryErrors, attributes)
      if (!tracer) return timed()
      const spanAttributes = context.key === undefined ? attributes : { ...attributes, [ATTR.key]: context.key }
      return tracer.startActiveSpan('rustocache.factory', { attributes: spanAttributes }, (span) => ended(span, timed))
    },
  }
  if (tracer) {
    observer.operation = (context, run) => {
      const attributes: Attributes = { [ATTR.name]: context.cache, [ATTR.operation]: context.operation }
      if (context.namespace !== undefined) attributes[ATTR.namespace] = context.namespace
      if (context.key !== undefined) attributes[ATTR.key] = context.key
      return tracer.startActiveSpan(`rustocache.${context.operation}`, { kind: SpanKind.INTERNAL, attributes }, (span) => ended(span, run, (s) => outcome(s, context)))
    }
  }
  return observe(cache, observer)
}
