import { describe, expect, it, vi } from 'vitest'
import { memoryBus, RustoCache, type BusFactory, type RustoCacheOptions } from '../src/index.js'
import { memoryL2 } from './helpers/memory-l2.js'

// The bus between caches of one process (memoryBus): the same coherence logic the Redis bus uses.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const tick = () => sleep(5)

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
    bus.setOnline(true) // reconnect: flush within retryInterval / 4 (jittered)
    await tick()
    await tick()
    expect(a.stats().busQueued).toBe(0)
    expect(await b.get({ key: 'k' })).toBeUndefined()
    expect(await b.get({ key: 'j' })).toBeUndefined()
  })

  it('retries with exponential backoff and jitter, and drops the oldest past maxSize, counting it', async () => {
    vi.useFakeTimers()
    const random = vi.spyOn(Math, 'random').mockReturnValue(1)
    try {
      const { bus, a } = pair()
      bus.setOnline(false)
      for (let i = 0; i < 5; i++) await a.set({ key: `k${i}`, value: i })
      expect(a.stats()).toMatchObject({ busQueued: 3, busDropped: 2 })
      bus.setOnline(true, false) // back without a reconnect event: only the retries can send them
      // Failed once so far: the next try within one interval (20 ms), and it works.
      await vi.advanceTimersByTimeAsync(21)
      expect(a.stats()).toMatchObject({ busQueued: 0, busPublished: 3 })
      // Down again: each failure in a row doubles the wait (20, 40, 80, then 80 ms: at most 4 intervals).
      bus.setOnline(false)
      await a.set({ key: 'k9', value: 9 })
      const tries = () => a.stats().busQueued
      await vi.advanceTimersByTimeAsync(20 + 40 + 80)
      expect(tries()).toBe(1)
      bus.setOnline(true, false)
      await vi.advanceTimersByTimeAsync(79)
      expect(a.stats().busQueued).toBe(1)
      await vi.advanceTimersByTimeAsync(2)
      expect(a.stats()).toMatchObject({ busQueued: 0, busPublished: 4 })
    } finally {
      random.mockRestore()
      vi.useRealTimers()
    }
  })

  it('keeps one pending change per key: a delete replaces the set before it, a clear everything before it', async () => {
    const { bus, a, b } = pair()
    bus.setOnline(false)
    await a.set({ key: 'k', value: 1 })
    await a.set({ key: 'k', value: 2 })
    await a.delete({ key: 'k' })
    await a.set({ key: 'j', value: 1 })
    expect(a.stats().busQueued).toBe(2)
    await a.clear()
    expect(a.stats().busQueued).toBe(1)
    expect(a.stats().busDropped).toBe(0)
    bus.setOnline(true)
    await tick()
    await tick()
    expect(a.stats()).toMatchObject({ busQueued: 0, busPublished: 1 })
    // Merged changes leave no gap in the sequence numbers: b heard one change and revalidated nothing.
    expect(b.stats()).toMatchObject({ busReceived: 1, busGaps: 0 })
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
    const heard = (cache as unknown as { rooms: { bus: { heard: Map<string, unknown> } } }).rooms.bus.heard
    expect(heard.size).toBeLessThanOrEqual(4096)
    await cache.disconnect()
  })
})

describe('an outage that overflows the retry queue', () => {
  it("keeps this instance's L1 trusted for the keys the outage did not touch; the others see a gap", async () => {
    const { memoryL2 } = await import('./helpers/memory-l2.js')
    const l2 = memoryL2()
    const bus = memoryBus()
    const a = new RustoCache({ l2, bus })
    const b = new RustoCache({ l2, bus })
    let calls = 0
    const product = (i: number) => a.getOrSet({ key: `product:${i}`, factory: () => (calls++, { id: i }) })
    for (let i = 0; i < 50; i++) await product(i)
    expect(calls).toBe(50)
    // Redis is down: L2 and the bus fail.
    l2.fail.add('get')
    l2.fail.add('set')
    bus.setOnline(false)
    for (let i = 0; i < 1_001; i++) await a.set({ key: `order:${i}`, value: i })
    expect(a.stats().busQueued).toBe(1_000)
    expect(a.stats().busDropped).toBe(1)
    for (let i = 0; i < 50; i++) await product(i)
    expect(calls).toBe(50)
    // Redis is back: the queue drains, and b, which never heard of order:0, notices the gap.
    l2.fail.clear()
    bus.setOnline(true)
    for (let i = 0; i < 200 && a.stats().busQueued > 0; i++) await tick()
    expect(a.stats().busQueued).toBe(0)
    expect(b.stats().busGaps).toBeGreaterThan(0)
    expect(await b.get({ key: 'order:1' })).toBe(1)
    await Promise.all([a.disconnect(), b.disconnect()])
  })
})

describe('the retry queue in an outage', () => {
  it('waits out its backoff: a new change probes the head once instead of retrying everything queued', async () => {
    const { memoryL2 } = await import('./helpers/memory-l2.js')
    const l2 = memoryL2()
    const bus = memoryBus()
    const a = new RustoCache({ l2, bus })
    l2.fail.add('set')
    bus.setOnline(false)
    // 300 changes in an outage (default retryInterval 1 s: the first retry is due after this loop).
    for (let i = 0; i < 300; i++) await a.set({ key: `order:${i}`, value: i })
    expect(a.stats().busQueued).toBe(300)
    // Each set tries its own write once; the queue tried one batch (64 changes, 3 tries each) when the first
    // change failed, then each new change probed the head once. When every new change started a retry of the
    // batch, this made 17,421 tries (under load, an event loop blocked for hundreds of ms: the chaos run's slow
    // calls).
    expect(l2.tries.set).toBeLessThanOrEqual(2 * 300 + 3 * 64)
    // Back: the queue drains on its own.
    l2.fail.clear()
    bus.setOnline(true)
    for (let i = 0; i < 400 && a.stats().busQueued > 0; i++) await tick()
    expect(a.stats().busQueued).toBe(0)
    await a.disconnect()
  })
})

describe('sequence numbers', () => {
  it('a change that arrives late is applied once (its gap counted when the later one came); a copy is refused', async () => {
    const bus = memoryBus()
    const cache = new RustoCache({ bus })
    for (const key of ['k1', 'k2', 'k3']) await cache.set({ key, value: key })
    const sender = bus.create({ channel: 'rustocache:bus', logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return this } } })
    const del = (key: string, seq: number) => sender.publish(JSON.stringify([1, 'sender', 1, [key], null, null, null, seq]))
    await del('k1', 1)
    await del('k3', 3)
    await tick()
    expect(cache.stats()).toMatchObject({ busReceived: 2, busGaps: 1 })
    // Number 2, late (a batch published again after a partial failure): applied.
    await del('k2', 2)
    await tick()
    expect(cache.stats()).toMatchObject({ busReceived: 3, busRejected: 0 })
    // The same number again: a copy, refused.
    await del('k2', 2)
    await del('k3', 3)
    await tick()
    expect(cache.stats()).toMatchObject({ busReceived: 3, busRejected: 2 })
    await cache.disconnect()
  })
})

describe('the heartbeat', () => {
  // A bus whose receivers can lose every change message (pub/sub dropped them while the sender's publish went
  // through) and whose publishes can be made to fail: the heartbeat is then the only way the loss is noticed.
  function lossyBus() {
    const inner = memoryBus({ retryQueue: { retryInterval: 20 } })
    const state = { dropping: false, failing: false }
    const SYNC = 6 // a heartbeat's type in the encoded message
    const bus: BusFactory = {
      kind: 'lossy',
      retryQueue: inner.retryQueue,
      create(context) {
        const t = inner.create(context)
        return {
          publish: async (payload) => {
            if (state.failing) throw new Error('publish failed')
            return t.publish(payload)
          },
          subscribe: (onMessage) => t.subscribe((payload) => (state.dropping && JSON.parse(payload)[2] !== SYNC ? undefined : onMessage(payload))),
          onReconnect: (listener) => t.onReconnect(listener),
          disconnect: () => t.disconnect(),
        }
      },
    }
    return { bus, state }
  }

  it('a beat that failed is sent again: a change whose own message was lost is noticed once the bus is back', async () => {
    const { bus, state } = lossyBus()
    const l2 = memoryL2()
    const a = new RustoCache({ l2, bus })
    const b = new RustoCache({ l2, bus })
    await a.set({ key: 'k', value: 'v1' })
    await tick() // b has heard of a
    expect(await b.get({ key: 'k' })).toBe('v1') // b's L1 copy
    state.dropping = true
    await a.set({ key: 'k', value: 'v2' }) // published, and lost on the way to b
    for (let i = 0; i < 100 && a.stats().busPublished < 2; i++) await Promise.resolve()
    expect(a.stats().busPublished).toBe(2)
    // No timer ran since: the beats that announce v2's number fail (an outage), then the bus is back.
    state.failing = true
    await sleep(70)
    state.failing = false
    await sleep(70)
    expect(b.stats().busGaps).toBe(1)
    expect(await b.get({ key: 'k' })).toBe('v2')
    await a.disconnect()
    await b.disconnect()
  })
})
