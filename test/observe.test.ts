// Watching a cache: the diagnostics_channel TracingChannel every public call is published on, and observers.
import { tracingChannel } from 'node:diagnostics_channel'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCodes, memoryBus, observe, RustoCache, TRACING_CHANNEL, tracingChannelAvailable, type OperationContext, type RustoCacheOptions } from '../src/index.js'
import { recordingLogger, type LogLine } from './helpers/cache.js'
import { memoryL2 } from './helpers/memory-l2.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const channel = tracingChannel<string, OperationContext>(TRACING_CHANNEL)

type Seen = { event: string; context: OperationContext }
/** Subscribes to every event of the channel; returns what it saw and the unsubscribe. */
function listen(): { seen: Seen[]; stop: () => void } {
  const seen: Seen[] = []
  const handlers = {
    start: (context: OperationContext) => seen.push({ event: 'start', context }),
    end: (context: OperationContext) => seen.push({ event: 'end', context }),
    asyncStart: (context: OperationContext) => seen.push({ event: 'asyncStart', context }),
    asyncEnd: (context: OperationContext) => seen.push({ event: 'asyncEnd', context }),
    error: (context: OperationContext) => seen.push({ event: 'error', context }),
  }
  channel.subscribe(handlers)
  return { seen, stop: () => channel.unsubscribe(handlers) }
}
const finished = (seen: Seen[]) => seen.filter((s) => s.event === 'asyncEnd').map((s) => s.context)

const stops: Array<() => void> = []
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})

describe.each(['wasm', 'js'] as const)('tracing and observers on the %s core', (core) => {
  const make = (options: RustoCacheOptions = {}) => new RustoCache({ ...options, l1: { core, ...(options.l1 || {}) } })

  describe('the TracingChannel rustocache.cache.operation', () => {
    it('is available on this Node', () => {
      expect(tracingChannelAvailable).toBe(true)
    })

    it('publishes start, end, asyncStart and asyncEnd for each call, with what answered it', async () => {
      const l2 = memoryL2()
      const writer = make({ l2, prefix: 'app' })
      const cache = make({ l2, prefix: 'app', grace: '1h' })
      await writer.set({ key: 'remote', value: 'from l2' })
      const { seen, stop } = listen()
      stops.push(stop)
      expect(await cache.getOrSet({ key: 'k', factory: () => 'made' })).toBe('made')
      expect(await cache.getOrSet({ key: 'k', factory: () => 'other' })).toBe('made')
      expect(await cache.get({ key: 'remote' })).toBe('from l2')
      expect(await cache.get({ key: 'nothing' })).toBeUndefined()
      await cache.namespace('users').set({ key: 'u', value: 1 })
      expect(await cache.getMany({ keys: ['k', 'nope', 'remote'] })).toEqual(['made', undefined, 'from l2'])
      const events = seen.map((s) => `${s.context.operation}:${s.event}`)
      expect(events.slice(0, 4)).toEqual(['getOrSet:start', 'getOrSet:end', 'getOrSet:asyncStart', 'getOrSet:asyncEnd'])
      const done = finished(seen)
      expect(done.map((c) => c.operation)).toEqual(['getOrSet', 'getOrSet', 'get', 'get', 'set', 'getMany'])
      expect(done[0]).toMatchObject({ cache: 'app', hit: false, factory: true, result: 'made' })
      expect(done[0]!.tier).toBeUndefined()
      expect(done[1]).toMatchObject({ hit: true, tier: 'l1', graced: false, result: 'made' })
      expect(done[1]!.factory).toBeUndefined()
      expect(done[2]).toMatchObject({ hit: true, tier: 'l2', result: 'from l2' })
      expect(done[3]).toMatchObject({ hit: false })
      expect(done[4]).toMatchObject({ operation: 'set', namespace: 'users' })
      expect(done[5]).toMatchObject({ hits: 2, hit: false })
      // Keys stay out of contexts unless traceKeys says otherwise.
      expect(done.some((c) => 'key' in c || 'keys' in c)).toBe(false)
    })

    it('publishes a graced answer, and an error for a call that rejects', async () => {
      const cache = make({ ttl: 10, grace: '1h' })
      await cache.set({ key: 'k', value: 'old' })
      await sleep(20)
      const { seen, stop } = listen()
      stops.push(stop)
      expect(await cache.getOrSet({ key: 'k', timeout: 0, factory: () => sleep(5).then(() => 'new') })).toBe('old')
      expect(await cache.get({ key: 'bad key'.repeat(10_000) }).catch((e: { code: string }) => e.code)).toBe(ErrorCodes.E_INVALID_KEY)
      await sleep(10)
      const done = finished(seen)
      expect(done[0]).toMatchObject({ operation: 'getOrSet', hit: true, graced: true, tier: 'l1', factory: true })
      const error = seen.find((s) => s.event === 'error')!
      expect(error.context.operation).toBe('get')
      expect((error.context.error as { code: string }).code).toBe(ErrorCodes.E_INVALID_KEY)
    })

    it('shows keys only with traceKeys, through its redaction', async () => {
      const cache = make({ traceKeys: (key) => key.split(':')[0]! })
      const raw = make({ traceKeys: true })
      const { seen, stop } = listen()
      stops.push(stop)
      await cache.set({ key: 'user:42', value: 1 })
      await raw.getMany({ keys: ['a', 'b'] })
      await raw.setMany({ items: [{ key: 'c', value: 1 }] })
      const done = finished(seen)
      expect(done[0]!.key).toBe('user')
      expect(done[1]!.keys).toEqual(['a', 'b'])
      expect(done[2]!.keys).toEqual(['c'])
      expect(() => make({ traceKeys: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    })

    it('publishes nothing once unsubscribed', async () => {
      const cache = make()
      const { seen, stop } = listen()
      await cache.set({ key: 'k', value: 1 })
      stop()
      const before = seen.length
      await cache.get({ key: 'k' })
      await cache.getOrSet({ key: 'k', factory: () => 2 })
      expect(seen.length).toBe(before)
    })

    it('gives each call its own context, whatever runs concurrently or calls back into the cache (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c'), delay: fc.nat(3), op: fc.constantFrom('getOrSet', 'get', 'delete') }), { minLength: 1, maxLength: 12 }),
          async (calls) => {
            const cache = make({ traceKeys: true })
            // start fires synchronously inside the call: the n-th start of a test call is the n-th call made.
            const started: OperationContext[] = []
            const order: number[] = []
            const handlers = {
              start: (context: OperationContext) => void (context.key !== 'callback' && started.push(context)),
              end: () => undefined,
              asyncStart: () => undefined,
              // A subscriber that calls back into the cache while a call is being traced.
              asyncEnd: (context: OperationContext) =>
                void (context.key !== 'callback' && cache.getOrSet({ key: 'callback', forceFresh: true, factory: () => 'x' }).catch(() => undefined)),
              error: () => undefined,
            }
            channel.subscribe(handlers)
            try {
              const ran = new Set<number>()
              const results = await Promise.all(
                calls.map(async (call, id) => {
                  await sleep(call.delay)
                  order.push(id)
                  if (call.op === 'getOrSet') return cache.getOrSet({ key: call.key, factory: async () => (ran.add(id), await sleep(call.delay), `${call.key}#${id}`) })
                  if (call.op === 'get') return cache.get({ key: call.key })
                  return cache.delete({ key: call.key })
                }),
              )
              expect(started).toHaveLength(calls.length)
              order.forEach((id, n) => {
                const call = calls[id]!
                const context = started[n]!
                expect(context.operation).toBe(call.op)
                expect(context.key).toBe(call.key)
                expect(context.result).toBe(results[id])
                if (call.op === 'getOrSet') {
                  expect(context.factory === true).toBe(ran.has(id))
                  expect(context.hit === true).toBe(!ran.has(id))
                  if (ran.has(id)) expect(results[id]).toBe(`${call.key}#${id}`)
                }
                if (call.op === 'get') expect(context.hit).toBe(results[id] !== undefined)
              })
            } finally {
              channel.unsubscribe(handlers)
            }
          },
        ),
        { numRuns: 60 },
      )
    })
  })

  describe('observe(cache, observer)', () => {
    it('wraps calls, L2 commands and factory runs, and hears each answer and bus message', async () => {
      const l2 = memoryL2()
      const bus = memoryBus()
      const other = make({ l2, bus })
      // Refreshed early from 20 ms, expired at 2 s: the 30 ms sleep below lands in that window however slow the
      // machine (with ttl 40 ms and half of it early, a loaded CI overshot the 20 ms window and saw a miss).
      const cache = make({ l2, bus, ttl: 2_000, earlyExpiration: 0.01, traceKeys: true })
      const log: string[] = []
      const stop = observe(cache, {
        async operation(context, run) {
          log.push(`op ${context.operation} ${context.key ?? ''}`)
          return run()
        },
        async l2(context, run) {
          log.push(`l2 ${context.command} ${context.driver} ${context.key ?? ''}`)
          return run()
        },
        async factory(context, run) {
          log.push(`factory ${context.key} background=${context.background}`)
          return run()
        },
        request: (result, tier) => log.push(`request ${result} ${tier ?? '-'}`),
        bus: (direction, type) => log.push(`bus ${direction} ${type}`),
      })
      await sleep(20)
      await cache.getOrSet({ key: 'k', factory: () => 1 })
      await cache.getMany({ keys: ['k', 'x'] })
      await other.set({ key: 'o', value: 2 })
      await sleep(30)
      await cache.getOrSet({ key: 'k', factory: () => 3 })
      await sleep(20)
      stop()
      await cache.get({ key: 'k' })
      expect(log).toEqual(
        expect.arrayContaining([
          'op getOrSet k',
          'l2 get memory-test k',
          'factory k background=false',
          'l2 set memory-test k',
          'request miss -',
          'bus published set',
          'op getMany ',
          'l2 getMany memory-test ',
          'request hit l1',
          'bus received set',
          'factory k background=true',
        ]),
      )
      expect(log.filter((l) => l === 'request miss -')).toHaveLength(2)
      expect(log.filter((l) => l.startsWith('op get '))).toHaveLength(0)
      await Promise.all([cache.disconnect(), other.disconnect()])
    })

    it('also watches the L2 commands the retry queue replays after an L2 failure', async () => {
      const l2 = memoryL2()
      const cache = make({ l2, bus: memoryBus({ retryQueue: { retryInterval: 20 } }), traceKeys: true })
      const commands: string[] = []
      observe(cache, {
        l2: (context, run) => {
          commands.push(`${context.command} ${context.key ?? ''}`)
          return run()
        },
      })
      l2.fail.add('set')
      await cache.set({ key: 'k', value: 1 })
      l2.fail.delete('set')
      await sleep(150)
      // The failed write, then its replay from the queue once L2 answers again.
      expect(commands.filter((c) => c === 'set k').length).toBeGreaterThanOrEqual(2)
      expect(l2.store.has('k')).toBe(true)
      await cache.disconnect()
    })

    it('never lets an observer break a call: throws and wrappers that forget run are logged, the call goes on', async () => {
      const lines: LogLine[] = []
      const cache = make({ logger: recordingLogger(lines) })
      observe(cache, {
        operation: () => {
          throw new Error('observer bug')
        },
        factory: () => Promise.reject(new Error('forgot run')),
        request: () => {
          throw new Error('request bug')
        },
      })
      expect(await cache.getOrSet({ key: 'k', factory: () => 'v' })).toBe('v')
      expect(await cache.get({ key: 'k' })).toBe('v')
      const failing = await cache.getOrSet({ key: 'f', factory: () => Promise.reject(new Error('no')) }).catch((e: { code: string }) => e.code)
      expect(failing).toBe(ErrorCodes.E_FACTORY_ERROR)
      const wheres = lines.filter((l) => l.msg?.startsWith('a cache observer threw')).map((l) => l.fields.where)
      expect(wheres).toEqual(expect.arrayContaining(['operation', 'factory', 'request']))
    })

    it('refuses what is not an observer with E_INVALID_OPTION', () => {
      const cache = make()
      for (const bad of [null, 5, { operation: 5 }, { bus: 'x' }]) {
        expect(() => observe(cache, bad as never)).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
      }
      expect(() => observe({} as RustoCache, {})).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    })
  })
})
