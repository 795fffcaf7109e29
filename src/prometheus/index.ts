// rustocache/prometheus: Prometheus metrics for a cache, with prom-client (a peer dependency).
import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client'
import { cacheName, observe, RustoCache } from '../cache/rusto-cache.js'
import { InvalidOptionError } from '../errors.js'

/** Options of collect(): the registry (the global one by default), the metrics' name prefix and histogram buckets. */
export interface CollectOptions {
  /** @default prom-client's global registry */
  registry?: Registry
  /** Before every metric name. @default 'rustocache_' */
  prefix?: string
  /** Histogram buckets, in seconds, for factory and L2 durations. @default prom-client's defaults (5 ms to 10 s) */
  buckets?: number[]
}

/** One metric per name and registry: a second cache on the same registry shares it, told apart by `cache`. */
function shared<M>(registry: Registry, name: string, make: () => M): M {
  const existing = registry.getSingleMetric(name)
  return existing === undefined ? make() : (existing as unknown as M)
}

/** The counters of stats() that are not already counted by the observer, as gauges read at scrape time. */
const STATS = ['evictions', 'oversized', 'discarded', 'l2Rejected', 'busDropped', 'busRejected', 'busGaps', 'busQueued', 'softTimeouts', 'hardTimeouts'] as const

/** `run`, timed into `duration` and counted in `errors` when it fails (the rejection passes on). */
function timed<T>(run: () => Promise<T>, duration: Histogram, errors: Counter, labels: Record<string, string>): Promise<T> {
  const end = duration.startTimer(labels)
  return run().then(
    (value) => (end(), value),
    (error: unknown) => {
      end()
      errors.inc(labels)
      throw error
    },
  )
}

const statsByRegistry = new WeakMap<Registry, Map<string, Map<string, RustoCache>>>()

/**
 * The caches whose stats() the `<prefix>stats` gauge of `registry` reads at scrape time (by cache name): one
 * gauge per registry and prefix, however many caches join it.
 */
function statsSources(registry: Registry, prefix: string): Map<string, RustoCache> {
  let byPrefix = statsByRegistry.get(registry)
  if (!byPrefix) statsByRegistry.set(registry, (byPrefix = new Map()))
  let caches = byPrefix.get(prefix)
  if (caches) return caches
  const these = (caches = new Map<string, RustoCache>())
  byPrefix.set(prefix, these)
  if (registry.getSingleMetric(`${prefix}stats`) === undefined) {
    new Gauge({
      name: `${prefix}stats`,
      help: 'Counters from stats() not counted elsewhere (evictions, discarded, busQueued...), read at scrape time',
      labelNames: ['cache', 'stat'],
      registers: [registry],
      collect() {
        this.reset()
        for (const [label, c] of these) {
          const stats = c.stats()
          for (const stat of STATS) this.set({ cache: label, stat }, stats[stat])
        }
      },
    })
  }
  return caches
}

/**
 * Registers (or joins) these metrics, labelled with the cache's `prefix` as `cache`:
 * `rustocache_requests_total{result="hit|miss|graced", tier="l1|l2|none", namespace}`,
 * `rustocache_factory_calls_total{background}`, `rustocache_factory_errors_total{background}`,
 * `rustocache_factory_duration_seconds` (histogram), `rustocache_l2_errors_total{command}`,
 * `rustocache_l2_duration_seconds{command}` (histogram), `rustocache_bus_messages_total{direction}`, and
 * `rustocache_stats{stat}` (evictions, discarded, busQueued... from stats(), read at scrape time). Returns the
 * function that stops counting (the metrics stay registered).
 */
export function collect(cache: RustoCache, options: CollectOptions = {}): () => void {
  if (!(cache instanceof RustoCache)) throw new InvalidOptionError('collect needs a RustoCache')
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('collect options must be { registry?, prefix?, buckets? }')
  const registry = options.registry ?? globalRegistry
  if (typeof registry?.getSingleMetric !== 'function') throw new InvalidOptionError('registry must be a prom-client Registry')
  const prefix = options.prefix ?? 'rustocache_'
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) throw new InvalidOptionError(`prefix must be a Prometheus metric name prefix, got ${String(prefix)}`)
  const buckets = options.buckets
  if (buckets !== undefined && (!Array.isArray(buckets) || !buckets.every((b) => typeof b === 'number' && b > 0))) {
    throw new InvalidOptionError('buckets must be an array of positive numbers (seconds)')
  }
  const registers = [registry]
  const counter = (name: string, help: string, labelNames: string[]) =>
    shared(registry, prefix + name, () => new Counter({ name: prefix + name, help, labelNames, registers }))
  const histogram = (name: string, help: string, labelNames: string[]) =>
    shared(registry, prefix + name, () => new Histogram({ name: prefix + name, help, labelNames, registers, ...(buckets ? { buckets } : {}) }))

  const requests = counter('requests_total', 'Reads answered, one per key: hit (fresh), graced (stale within grace) or miss', ['cache', 'namespace', 'result', 'tier'])
  const factoryCalls = counter('factory_calls_total', 'Factory runs', ['cache', 'background'])
  const factoryErrors = counter('factory_errors_total', 'Factory runs that failed', ['cache', 'background'])
  const factoryDuration = histogram('factory_duration_seconds', 'How long factory runs took', ['cache', 'background'])
  const l2Errors = counter('l2_errors_total', 'L2 commands that failed', ['cache', 'command'])
  const l2Duration = histogram('l2_duration_seconds', 'How long L2 commands took', ['cache', 'command'])
  const bus = counter('bus_messages_total', 'Bus messages sent and heard', ['cache', 'direction'])

  const name = cacheName(cache)
  const sources = statsSources(registry, prefix)
  sources.set(name, cache)

  const stop = observe(cache, {
    request(result, tier, label, namespace) {
      requests.inc({ cache: label, namespace: namespace ?? '', result, tier: tier ?? 'none' })
    },
    bus(direction, _type, label) {
      bus.inc({ cache: label, direction })
    },
    l2: (context, run) => timed(run, l2Duration, l2Errors, { cache: context.cache, command: context.command }),
    factory(context, run) {
      const labels = { cache: context.cache, background: String(context.background) }
      factoryCalls.inc(labels)
      return timed(run, factoryDuration, factoryErrors, labels)
    },
  })
  return () => {
    stop()
    if (sources.get(name) === cache) sources.delete(name)
  }
}
