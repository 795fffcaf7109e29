// The browser flavour where WebAssembly has no SIMD (see web-flavour.test.ts): loadWasm fetches the scalar build
// alone, and the cores run on it.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startWasmServer } from './helpers/wasm-server.js'

vi.mock('../src/core/js-core-ref.js', () => import('../src/core/js-core-ref.web.js'))
vi.mock('../src/core/wasm-bytes.generated.js', () => import('../src/core/wasm-bytes.none.js'))

const { fetchWasmFrom, loadWasm, wasmSimdSupported } = await import('../src/core/wasm-module.js')
const { RustoCache, createCore } = await import('../src/index.js')

let server: Awaited<ReturnType<typeof startWasmServer>>
beforeAll(async () => {
  server = await startWasmServer()
  fetchWasmFrom(server.urls)
})
afterAll(() => server.close())

describe('a browser without WebAssembly SIMD', () => {
  it('fetches only the scalar build and runs the WASM core on it', async () => {
    // No SIMD: the probe (a function returning a v128) does not validate.
    const validate = vi.spyOn(WebAssembly, 'validate').mockReturnValue(false)
    await loadWasm()
    validate.mockRestore()
    expect(server.fetched).toEqual(['/scalar.wasm'])
    expect(wasmSimdSupported()).toBe(false)
    expect((createCore() as { simd?: boolean }).simd).toBe(false)
    const cache = new RustoCache()
    expect(await cache.getOrSet({ key: 'k', factory: () => 'scalar' })).toBe('scalar')
    expect(cache.stats().core).toBe('wasm')
    expect(server.fetched).toEqual(['/scalar.wasm'])
  })
})
