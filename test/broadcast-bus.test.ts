import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { broadcastBus } from '../src/browser/index.js'
import { ErrorCodes, RustoCache, RustoCacheError } from '../src/index.js'

// The bus over BroadcastChannel (rustocache/browser). Node has BroadcastChannel too: caches in one thread, and
// in worker_threads, hear each other. test/browser.test.ts runs it between pages in Chromium.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let channels = 0
const fresh = () => `test-${process.pid}-${++channels}`
const open: RustoCache[] = []
function cache(channel: string, options: { secret?: string } = {}) {
  const c = new RustoCache({ bus: broadcastBus({ channel, ...options }) })
  open.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.disconnect()))
})

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return error instanceof RustoCacheError ? error.code : 'not a RustoCacheError'
  }
  return undefined
}

describe('broadcastBus', () => {
  it("drops another cache's copy on set, delete and tag deletion, within one thread", async () => {
    const channel = fresh()
    const a = cache(channel)
    const b = cache(channel)
    await b.getOrSet({ key: 'k', factory: () => 'b', tags: ['t'] })
    await a.set({ key: 'k', value: 'a' })
    await sleep(20)
    expect(await b.get({ key: 'k' })).toBeUndefined()
    await b.getOrSet({ key: 'k', factory: () => 'b2', tags: ['t'] })
    await a.deleteByTag({ tags: ['t'] })
    await sleep(20)
    expect(await b.get({ key: 'k' })).toBeUndefined()
    expect(b.stats().busReceived).toBeGreaterThanOrEqual(2)
    expect(a.stats().busPublished).toBeGreaterThanOrEqual(2)
  })

  it('keeps caches of other channel prefixes apart', async () => {
    const a = cache(fresh())
    const b = cache(fresh())
    await b.set({ key: 'k', value: 'b' })
    await a.set({ key: 'k', value: 'a' })
    await sleep(20)
    expect(await b.get({ key: 'k' })).toBe('b')
    expect(b.stats().busReceived).toBe(0)
  })

  it('refuses and counts what is not one of its messages, and unsigned messages when it signs', async () => {
    const channel = fresh()
    const signed = cache(channel, { secret: 'a secret of sixteen+' })
    await signed.set({ key: 'k', value: 'kept' })
    const unsigned = cache(channel)
    await unsigned.set({ key: 'k', value: 'evil' })
    await unsigned.delete({ key: 'k' })
    // Anything on the channel: the cache's bus channel for the default prefix is 'rustocache:bus'.
    const stranger = new BroadcastChannel(`${channel}:rustocache:bus`)
    stranger.postMessage({ not: 'a message' })
    stranger.postMessage('[1,"x",0,["k"]]')
    stranger.close()
    await sleep(20)
    expect(await signed.get({ key: 'k' })).toBe('kept')
    expect(signed.stats().busRejected).toBeGreaterThanOrEqual(4)
    expect(signed.stats().busReceived).toBe(0)
  })

  it('keeps caches in worker_threads coherent', async () => {
    const channel = fresh()
    const main = cache(channel)
    const worker = new Worker(new URL('./fixtures/broadcast-worker.mjs', import.meta.url), { workerData: { channel } })
    const ask = async (m: object) => {
      worker.postMessage(m)
      const [answer] = await once(worker, 'message')
      return answer
    }
    try {
      expect((await once(worker, 'message'))[0]).toBe('ready')
      expect(await ask({ op: 'getOrSet', key: 'user', value: 'from the worker' })).toBe('from the worker')
      await main.set({ key: 'user', value: 'from main' })
      await sleep(50)
      // No L2: the worker's copy is gone, not stale (there is nowhere to read the new value from).
      expect(await ask({ op: 'get', key: 'user' })).toBeNull()
      await main.getOrSet({ key: 'other', factory: () => 'main copy' })
      await ask({ op: 'set', key: 'other', value: 'worker wrote' })
      await sleep(50)
      expect(await main.get({ key: 'other' })).toBeUndefined()
      expect(main.stats().busReceived).toBeGreaterThanOrEqual(1)
      expect(await ask({ op: 'close' })).toBe('closed')
    } finally {
      await worker.terminate()
    }
  })

  it('does not keep a Node process alive', () => {
    const script = `import('${new URL('../dist/index.js', import.meta.url).href}').then(async ({ RustoCache }) => {
      const { broadcastBus } = await import('${new URL('../dist/browser.js', import.meta.url).href}')
      const cache = new RustoCache({ bus: broadcastBus() })
      await cache.set({ key: 'k', value: 1 })
      console.log('set')
    })`
    expect(execFileSync(process.execPath, ['-e', script], { timeout: 20_000, encoding: 'utf8' }).trim()).toBe('set')
  })

  it('rejects bad options with E_INVALID_OPTION, and a runtime without BroadcastChannel', () => {
    expect(codeOf(() => broadcastBus({ channel: '' }))).toBe(ErrorCodes.E_INVALID_OPTION)
    expect(codeOf(() => broadcastBus(null as never))).toBe(ErrorCodes.E_INVALID_OPTION)
    expect(codeOf(() => broadcastBus({ secret: 'short' }))).toBe(undefined) // checked by the cache, as for redisBus
    const saved = globalThis.BroadcastChannel
    try {
      ;(globalThis as { BroadcastChannel?: unknown }).BroadcastChannel = undefined
      expect(codeOf(() => broadcastBus())).toBe(ErrorCodes.E_INVALID_OPTION)
    } finally {
      globalThis.BroadcastChannel = saved
    }
  })

  it('rejects a publish after disconnect, which the cache queues', async () => {
    const transport = broadcastBus({ channel: fresh() }).create({ channel: 'c', logger: console as never })
    await transport.disconnect()
    await expect(transport.publish('x')).rejects.toThrow(/closed/)
    await transport.disconnect()
  })
})
