// rustocache/otel with the real OpenTelemetry SDK: spans (with their parents) and metrics, read from in-memory
// exporters.
import { context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCodes, memoryBus, RustoCache, type RustoCacheOptions } from '../src/index.js'
import { instrument } from '../src/otel/index.js'
import { memoryL2 } from './helpers/memory-l2.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

const contextManager = new AsyncLocalStorageContextManager()
beforeAll(() => {
  contextManager.enable()
  context.setGlobalContextManager(contextManager)
})
afterAll(() => {
  context.disable()
})

function sdk() {
  const exporter = new InMemorySpanExporter()
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test')
  const reader = new TestReader()
  const meter = new MeterProvider({ readers: [reader] }).getMeter('test')
  /** Every data point of a metric, with its attributes. */
  const points = async (name: string): Promise<DataPoint<number | Histogram>[]> => {
    const { resourceMetrics } = await reader.collect()
    const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name)
    return (metric?.dataPoints ?? []) as DataPoint<number | Histogram>[]
  }
  const sum = async (name: string, where: Record<string, unknown> = {}) =>
    (await points(name)).filter((p) => Object.entries(where).every(([k, v]) => p.attributes[k] === v)).reduce((n, p) => n + (typeof p.value === 'number' ? p.value : p.value.count), 0)
  return { exporter, tracer, meter, points, sum }
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

describe.each(['wasm', 'js'] as const)('rustocache/otel on the %s core', (core) => {
  const make = (options: RustoCacheOptions = {}) => new RustoCache({ prefix: 'users-cache', ...options, l1: { core, ...(options.l1 || {}) } })

  it('makes a span per call, with the L2 round trip and the factory as its children, and the factory spans under the factory', async () => {
    const { exporter, tracer, meter } = sdk()
    const cache = make({ l2: memoryL2(), traceKeys: true })
    instrument(cache, { tracer, meter })
    const value = await cache.getOrSet({
      key: 'user:1',
      factory: async () => {
        // A span the application makes inside its factory.
        const span = tracer.startSpan('db.query')
        span.end()
        return 'Ada'
      },
    })
    expect(value).toBe('Ada')
    expect(await cache.getOrSet({ key: 'user:1', factory: () => 'other' })).toBe('Ada')
    const spans = exporter.getFinishedSpans()
    const byName = (name: string) => spans.filter((s) => s.name === name)
    const [miss, hit] = byName('rustocache.getOrSet')
    expect(miss!.attributes).toMatchObject({ 'cache.name': 'users-cache', 'cache.operation': 'getOrSet', 'cache.key': 'user:1', 'cache.usage': 'miss', 'cache.factory': true })
    expect(hit!.attributes).toMatchObject({ 'cache.usage': 'hit', 'cache.tier': 'l1', 'cache.graced': false })
    const [l2Get] = byName('rustocache.l2.get')
    const [l2Set] = byName('rustocache.l2.set')
    const [factory] = byName('rustocache.factory')
    expect(parentOf(l2Get!)).toBe(miss!.spanContext().spanId)
    expect(parentOf(factory!)).toBe(miss!.spanContext().spanId)
    expect(factory!.attributes).toMatchObject({ 'cache.factory.background': false, 'cache.key': 'user:1' })
    // The write-back happens inside the factory run's span: it is the factory's L2 command.
    expect([miss!.spanContext().spanId, factory!.spanContext().spanId]).toContain(parentOf(l2Set!))
    expect(parentOf(byName('db.query')[0]!)).toBe(factory!.spanContext().spanId)
    expect(l2Get!.attributes).toMatchObject({ 'cache.l2.command': 'get', 'cache.l2.driver': 'memory-test' })
  })

  it('leaves keys out of spans without traceKeys, and marks a failed call as an error', async () => {
    const { exporter, tracer } = sdk()
    const cache = make()
    instrument(cache, { tracer, metrics: false })
    await cache.set({ key: 'secret-user-id', value: 1 })
    await expect(cache.getOrSet({ key: 'k', factory: () => Promise.reject(new Error('db down')) })).rejects.toMatchObject({ code: ErrorCodes.E_FACTORY_ERROR })
    const spans = exporter.getFinishedSpans()
    expect(spans.some((s) => JSON.stringify(s.attributes).includes('secret-user-id'))).toBe(false)
    const failed = spans.find((s) => s.name === 'rustocache.getOrSet')!
    expect(failed.status.code).toBe(2) // SpanStatusCode.ERROR
    expect(failed.events.some((e) => e.name === 'exception')).toBe(true)
    const factory = spans.find((s) => s.name === 'rustocache.factory')!
    expect(factory.status.code).toBe(2)
  })

  it('counts requests by usage and tier, graced hits, factory calls, errors and durations, L2 errors and bus messages', async () => {
    const { tracer, meter, sum, points } = sdk()
    const l2 = memoryL2()
    const bus = memoryBus()
    const other = make({ l2, bus })
    const cache = make({ l2, bus, ttl: 20, grace: '1h' })
    instrument(cache, { tracer, meter })
    await sleep(10)
    await cache.getOrSet({ key: 'a', factory: () => 1 }) // miss (factory), L1 then L2 miss
    await cache.get({ key: 'a' }) // hit l1
    await other.set({ key: 'b', value: 2 }) // a bus message heard
    await cache.get({ key: 'b' }) // hit l2
    await sleep(30)
    expect(await cache.getOrSet({ key: 'a', timeout: 0, factory: () => Promise.reject(new Error('down')) })).toBe(1) // graced
    l2.fail.add('get')
    await cache.get({ key: 'zz' }) // L2 error, miss
    l2.fail.delete('get')
    await sleep(10)
    expect(await sum('cache.requests')).toBe(5)
    expect(await sum('cache.requests', { 'cache.usage': 'hit', 'cache.tier': 'l1', 'cache.graced': false })).toBe(1)
    expect(await sum('cache.requests', { 'cache.usage': 'hit', 'cache.tier': 'l2', 'cache.graced': false })).toBe(1)
    expect(await sum('cache.requests', { 'cache.usage': 'miss' })).toBe(2)
    expect(await sum('cache.requests', { 'cache.usage': 'hit', 'cache.tier': 'l2', 'cache.graced': true })).toBe(1)
    expect(await sum('cache.hits')).toBe(3)
    expect(await sum('cache.misses')).toBe(2)
    expect(await sum('cache.graced_hits', { 'cache.name': 'users-cache' })).toBe(1)
    expect(await sum('cache.factory.calls')).toBe(2)
    expect(await sum('cache.factory.calls', { 'cache.factory.background': true })).toBe(1)
    expect(await sum('cache.factory.errors')).toBe(1)
    expect(await sum('cache.factory.duration')).toBe(2)
    expect(await sum('cache.l2.errors', { 'cache.l2.command': 'get' })).toBe(1)
    expect((await points('cache.l2.duration')).length).toBeGreaterThan(0)
    expect(await sum('cache.bus.messages', { 'cache.bus.direction': 'received', 'cache.bus.type': 'set' })).toBe(1)
    expect(await sum('cache.bus.messages', { 'cache.bus.direction': 'published' })).toBeGreaterThanOrEqual(1)
    await Promise.all([cache.disconnect(), other.disconnect()])
  })

  it('stops when told, and refuses what is not a tracer, meter or cache', async () => {
    const { exporter, tracer, meter } = sdk()
    const cache = make()
    const stop = instrument(cache, { tracer, meter })
    await cache.set({ key: 'k', value: 1 })
    stop()
    await cache.get({ key: 'k' })
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['rustocache.set'])
    expect(() => instrument({} as RustoCache)).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    expect(() => instrument(cache, { tracer: {} as never })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    expect(() => instrument(cache, { meter: {} as never, spans: false })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
  })
})
