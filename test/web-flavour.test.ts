// The browser flavour's loading, in Node: the WASM builds fetched from URLs (served here) and the TypeScript core
// reached through js-core-ref.web.ts, as tsup.config.ts swaps them in for dist/web/. test/browser.test.ts runs
// the built flavour in Chromium; this file and web-flavour.loading.test.ts run each path of the load.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startWasmServer } from './helpers/wasm-server.js'

vi.mock('../src/core/js-core-ref.js', () => import('../src/core/js-core-ref.web.js'))
vi.mock('../src/core/wasm-bytes.generated.js', () => import('../src/core/wasm-bytes.none.js'))

const { createCore } = await import('../src/core/create-core.js')
const { fetchWasmFrom, wasmPending } = await import('../src/core/wasm-module.js')
const { jsCore } = await import('../src/core/js-core-ref.js')
const { ErrorCodes, RustoCache } = await import('../src/index.js')

let server: Awaited<ReturnType<typeof startWasmServer>>
const fetched = () => server.fetched

beforeAll(async () => {
  server = await startWasmServer()
  server.state.failing = true
  fetchWasmFrom(server.urls)
})
afterAll(() => server.close())

describe('the browser flavour in Node', () => {
  it('has no core before a load: createCore says to call loadWasm, with E_WASM_UNAVAILABLE', () => {
    expect(wasmPending()).toBe(true)
    expect(jsCore()).toBeUndefined()
    expect(() => createCore()).toThrow(expect.objectContaining({ code: ErrorCodes.E_WASM_UNAVAILABLE, message: expect.stringMatching(/await loadWasm\(\)/) }))
    expect(() => createCore({ kind: 'js' })).toThrow(/TypeScript core is not loaded/)
  })

  it("rejects a call of a core: 'wasm' cache while its file cannot be fetched, then loads it on a later call", async () => {
    const cache = new RustoCache({ l1: { core: 'wasm' } })
    await expect(cache.get({ key: 'k' })).rejects.toMatchObject({ code: ErrorCodes.E_WASM_UNAVAILABLE, message: expect.stringMatching(/HTTP 503/) })
    server.state.failing = false
    fetched().length = 0
    expect(await cache.getOrSet({ key: 'k', factory: () => 'v' })).toBe('v')
    expect(cache.stats().core).toBe('wasm')
    // One build, the one this Node runs best, and only it.
    expect(fetched()).toHaveLength(1)
    expect(['/simd.wasm', '/strings.wasm']).toContain(fetched()[0])
    expect(wasmPending()).toBe(false)
    // Later cores are made at once, from the compiled module.
    expect(createCore().kind).toBe('wasm')
  })

  it('makes later caches at once; the TypeScript core is loaded on demand and then made at once too', async () => {
    const cache = new RustoCache()
    expect(cache.stats().core).toBe('wasm')
    const js = new RustoCache({ l1: { core: 'js' } })
    expect(await js.getOrSet({ key: 'k', factory: () => 1 })).toBe(1)
    expect(js.stats().core).toBe('js')
    expect(jsCore()).toBeDefined()
    expect(new RustoCache({ l1: { core: 'js' } }).stats().core).toBe('js')
  })
})
