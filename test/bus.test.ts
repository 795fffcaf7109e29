import { describe, expect, it, vi } from 'vitest'
import { memoryBus, RustoCache, type RustoCacheOptions } from '../src/index.js'

// The bus between caches of one process (memoryBus): the same coherence logic the Redis bus uses.
const tick = () => new Promise((resolve) => setTimeout(resolve, 5))

function pair(options: RustoCacheOptions = {}) {
  const bus = memoryBus({ retryQueue: { retryInterval: 20, maxSize: 3 } })
  const a = new RustoCache({ bus, ...options })
  const b = new RustoCache({ bus, ...options })
  return { bus, a, b }
}

describe('bus without L2', () => {
  it('drops the other instance copy on set, delete, clear and tag deletion', async () => {
    const { a, b } = pair()
    await a.set({ key: 'k', value: 1 })
    await b.set({ key: 'k', value: 2 })
    await tick()
    expect(await a.get({ key: 'k' })).toBeUndefined() // replaced elsewhere: nowhere to fetch from, so dropped
    await a.set({ key: 'x', value: 'a' })
    await b.set({ key: 'y', value: 'b', tags: ['t'] })
    await a.getOrSet({ key: 'y', factory: () => 'a-copy', tags: ['t'] })
    await tick()
    await b.deleteByTag({ tags: ['t'] })
    await tick()
    expect(await a.get({ key: 'y' })).toBeUndefined()
    await b.delete({ key: 'x' })
    await tick()
    expect(await a.get({ key: 'x' })).toBeUndefined()
    await a.set({ key: 'z', value: 1 })
    await b.namespace('n').set({ key: '1', value: 1 })
    await a.namespace('n').set({ key: '1', value: 1 })
    await tick()
    await b.namespace('n').clear()
    await tick()
    expect(await a.namespace('n').get({ key: '1' })).toBeUndefined()
    expect(a.stats().busReceived).toBeGreaterThanOrEqual(5)
  })

  it('ignores its own messages and emits bus events', async () => {
    const { a, b } = pair()
    const received: unknown[] = []
    const published: unknown[] = []
    b.on('bus:message:received', (m) => received.push(m))
    a.on('bus:message:published', (m) => published.push(m))
    a.on('bus:message:received', () => received.push('own message heard'))
    await a.set({ key: 'k', value: 1 })
    await tick()
    expect(published).toEqual([{ type: 'set', keys: ['k'] }])
    expect(received).toEqual([{ type: 'set', keys: ['k'] }])
  })

  it('queues messages while the bus is down and sends them, in order, when it is back', async () => {
    const { bus, a, b } = pair()
    await b.set({ key: 'k', value: 'old' })
    await b.set({ key: 'j', value: 'old' })
    bus.setOnline(false)
    await a.set({ key: 'k', value: 'new' })
    await a.delete({ key: 'j' })
    expect(a.stats().busQueued).toBe(2)
    expect(await b.get({ key: 'k' })).toBe('old')
    bus.setOnline(true) // reconnect: flush at once
    await tick()
    expect(a.stats().busQueued).toBe(0)
    expect(await b.get({ key: 'k' })).toBeUndefined()
    expect(await b.get({ key: 'j' })).toBeUndefined()
  })

  it('retries every retryInterval and drops the oldest past maxSize, counting it', async () => {
    vi.useFakeTimers()
    try {
      const { bus, a } = pair()
      bus.setOnline(false)
      for (let i = 0; i < 5; i++) await a.set({ key: `k${i}`, value: i })
      expect(a.stats()).toMatchObject({ busQueued: 3, busDropped: 2 })
      await vi.advanceTimersByTimeAsync(20)
      expect(a.stats().busQueued).toBe(3)
      bus.setOnline(true, false) // back without a reconnect event: only the interval can send them
      expect(a.stats().busQueued).toBe(3)
      await vi.advanceTimersByTimeAsync(25)
      expect(a.stats()).toMatchObject({ busQueued: 0, busPublished: 3 })
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('what a receiver keeps per sender', () => {
  it('stays bounded when an unsigned bus carries messages from 60,000 forged senders', async () => {
    const bus = memoryBus()
    const cache = new RustoCache({ bus })
    const forger = bus.create({ channel: 'rustocache:bus', logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return this } } })
    for (let i = 0; i < 60_000; i++) await forger.publish(JSON.stringify([1, `forged-${i}`, 0, ['k'], null, null, null, 1]))
    await tick()
    expect(cache.stats().busReceived).toBe(60_000)
    const heard = (cache as unknown as { scope: { coherence: { heard: Map<string, unknown> } } }).scope.coherence.heard
    expect(heard.size).toBeLessThanOrEqual(4096)
    await cache.disconnect()
  })
})
