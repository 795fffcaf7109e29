// rustocache/prometheus, read back from the registry's text exposition, as Prometheus scrapes it.
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { ErrorCodes, RustoCache, type RustoCacheOptions } from '../src/index.js'
import { collect } from '../src/prometheus/index.js'
import { memoryL2 } from './helpers/memory-l2.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The value of one sample line of the exposition, or undefined when absent. */
function sample(text: string, metric: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue
    const inside = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}')).split(',')
    if (want.every((w) => inside.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return undefined
}

describe.each(['wasm', 'js'] as const)('rustocache/prometheus on the %s core', (core) => {
  const make = (options: RustoCacheOptions = {}) => new RustoCache({ ...options, l1: { core, maxItems: 2, ...(options.l1 || {}) } })

  it('counts requests by result and tier, factory runs, errors and durations, L2 errors, and stats() at scrape time', async () => {
    const registry = new Registry()
    const l2 = memoryL2()
    const cache = make({ prefix: 'users', l2, ttl: 20, grace: '1h' })
    collect(cache, { registry })
    await cache.getOrSet({ key: 'a', factory: () => 1 }) // miss
    await cache.get({ key: 'a' }) // hit l1
    await cache.namespace('admins').get({ key: 'x' }) // miss in a namespace
    await sleep(30)
    await cache.getOrSet({ key: 'a', timeout: 0, factory: () => Promise.reject(new Error('down')) }) // graced
    l2.fail.add('get')
    await cache.get({ key: 'b' }) // L2 error
    l2.fail.delete('get')
    for (const key of ['c', 'd', 'e']) await cache.set({ key, value: key }) // evictions (maxItems 2)
    await sleep(10)
    const text = await registry.metrics()
    expect(sample(text, 'rustocache_requests_total', { cache: 'users', result: 'miss', tier: 'none', namespace: '' })).toBe(2)
    expect(sample(text, 'rustocache_requests_total', { cache: 'users', result: 'miss', namespace: 'admins' })).toBe(1)
    expect(sample(text, 'rustocache_requests_total', { cache: 'users', result: 'hit', tier: 'l1' })).toBe(1)
    expect(sample(text, 'rustocache_requests_total', { cache: 'users', result: 'graced' })).toBe(1)
    expect(sample(text, 'rustocache_factory_calls_total', { cache: 'users', background: 'false' })).toBe(1)
    expect(sample(text, 'rustocache_factory_calls_total', { cache: 'users', background: 'true' })).toBe(1)
    expect(sample(text, 'rustocache_factory_errors_total', { cache: 'users', background: 'true' })).toBe(1)
    expect(sample(text, 'rustocache_factory_duration_seconds_count', { cache: 'users', background: 'false' })).toBe(1)
    expect(sample(text, 'rustocache_l2_errors_total', { cache: 'users', command: 'get' })).toBe(1)
    expect(sample(text, 'rustocache_l2_duration_seconds_count', { cache: 'users', command: 'set' })).toBeGreaterThanOrEqual(4)
    expect(sample(text, 'rustocache_stats', { cache: 'users', stat: 'evictions' })).toBe(cache.stats().evictions)
    expect(cache.stats().evictions).toBeGreaterThan(0)
    expect(text).toMatch(/# TYPE rustocache_requests_total counter/)
    expect(text).toMatch(/# TYPE rustocache_factory_duration_seconds histogram/)
  })

  it('shares one set of metrics between caches on one registry, told apart by their prefix, and stops when told', async () => {
    const registry = new Registry()
    const a = make({ prefix: 'a' })
    const b = make({ prefix: 'b' })
    collect(a, { registry })
    const stopB = collect(b, { registry })
    await a.get({ key: 'k' })
    await b.get({ key: 'k' })
    stopB()
    await b.get({ key: 'k' })
    const text = await registry.metrics()
    expect(sample(text, 'rustocache_requests_total', { cache: 'a', result: 'miss' })).toBe(1)
    expect(sample(text, 'rustocache_requests_total', { cache: 'b', result: 'miss' })).toBe(1)
    expect(sample(text, 'rustocache_stats', { cache: 'b', stat: 'evictions' })).toBeUndefined()
    expect(sample(text, 'rustocache_stats', { cache: 'a', stat: 'evictions' })).toBe(0)
  })

  it('refuses bad options with E_INVALID_OPTION', () => {
    const cache = make()
    expect(() => collect({} as RustoCache)).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    expect(() => collect(cache, { registry: {} as Registry })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    expect(() => collect(cache, { registry: new Registry(), prefix: 'bad prefix' })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    expect(() => collect(cache, { registry: new Registry(), buckets: [0] })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
  })
})
