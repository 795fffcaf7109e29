// A cache of the browser flavour made before its core and its bus room are loaded (see web-flavour.test.ts): its
// own module graph, where nothing is loaded yet.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startWasmServer } from './helpers/wasm-server.js'

vi.mock('../src/core/js-core-ref.js', () => import('../src/core/js-core-ref.web.js'))
vi.mock('../src/core/wasm-bytes.generated.js', () => import('../src/core/wasm-bytes.none.js'))
vi.mock('../src/cache/coherence-ref.js', () => import('../src/cache/coherence-ref.web.js'))

const { fetchWasmFrom, wasmPending } = await import('../src/core/wasm-module.js')
const { memoryBus, RustoCache } = await import('../src/index.js')

let server: Awaited<ReturnType<typeof startWasmServer>>
beforeAll(async () => {
  server = await startWasmServer()
  fetchWasmFrom(server.urls)
})
afterAll(() => server.close())

describe('a cache whose core is still loading', () => {
  it('makes every kind of call wait, and a bus message before the load finds nothing to break', async () => {
    expect(wasmPending()).toBe(true)
    const bus = memoryBus()
    const other = new RustoCache({ bus, l1: { core: 'js' } })
    const cache = new RustoCache({ bus })
    // Heard while loading: nothing is there to drop.
    await other.set({ key: 'k', value: 'from other' })
    const calls = await Promise.all([
      cache.set({ key: 'a', value: 1 }),
      cache.has({ key: 'a' }),
      cache.getMany({ keys: ['a'] }),
      cache.get({ key: 'k' }),
      cache.deleteByTag({ tags: ['t'] }),
      cache.clear(),
    ])
    expect(calls).toEqual([true, true, [1], undefined, undefined, undefined])
    expect(cache.stats().core).toBe('wasm')
    expect(other.stats().core).toBe('js')
    expect(await cache.getOrSet({ key: 'b', factory: () => 2 })).toBe(2)
    expect(server.fetched).toHaveLength(1)
    // The bus room was loaded too (a chunk of its own in the browser flavour): a write in one reaches the other.
    await cache.set({ key: 'shared', value: 1 })
    await other.set({ key: 'shared', value: 2 })
    await new Promise((r) => setTimeout(r, 20))
    expect(await cache.get({ key: 'shared' })).toBeUndefined()
    expect(cache.stats().busReceived).toBeGreaterThanOrEqual(1)
    await Promise.all([cache.disconnect(), other.disconnect()])
  })
})
