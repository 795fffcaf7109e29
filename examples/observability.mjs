// Watching a cache: the diagnostics_channel TracingChannel, OpenTelemetry spans and metrics, Prometheus.
import { tracingChannel } from 'node:diagnostics_channel'
import { context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { Registry } from 'prom-client'
import { RustoCache, TRACING_CHANNEL } from 'rustocache'
import { instrument } from 'rustocache/otel'
import { collect } from 'rustocache/prometheus'

// traceKeys: keys appear in traces only when asked, here redacted to their first segment.
const cache = new RustoCache({ prefix: 'users', traceKeys: (key) => key.split(':')[0] })

// 1. The TracingChannel: nothing is built for it until someone subscribes (APMs such as dd-trace do).
const channel = tracingChannel(TRACING_CHANNEL)
const onEnd = { asyncEnd: (c) => console.log(`channel: ${c.operation} key=${c.key} hit=${c.hit} tier=${c.tier ?? '-'} factory=${c.factory ?? false}`) }
channel.subscribe(onEnd)
await cache.getOrSet({ key: 'user:1', factory: () => ({ name: 'Ada' }) })
await cache.getOrSet({ key: 'user:1', factory: () => ({ name: 'Ada' }) })
channel.unsubscribe(onEnd)

// 2. OpenTelemetry: a span per call, the factory (and what it does) as a child.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
const exporter = new InMemorySpanExporter()
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('app')
instrument(cache, { tracer, metrics: false })
await cache.getOrSet({ key: 'user:2', factory: async () => (tracer.startSpan('db.query').end(), { name: 'Linus' }) })
const spans = exporter.getFinishedSpans()
const name = (id) => spans.find((s) => s.spanContext().spanId === id)?.name ?? 'root'
console.log('spans:', spans.map((s) => `${s.name} <- ${name(s.parentSpanContext?.spanId)}`).join(', '))

// 3. Prometheus: counters and histograms on a registry, as /metrics would serve them.
const registry = new Registry()
collect(cache, { registry })
await cache.get({ key: 'user:1' })
await cache.get({ key: 'user:404' })
const text = await registry.metrics()
console.log(text.split('\n').filter((l) => l.startsWith('rustocache_requests_total')).join('\n'))
