import { afterEach, describe, expect, it, vi } from 'vitest'

// A runtime without WebAssembly: `auto` falls back to JsCore, `wasm` fails with a typed error.
describe('a runtime without WebAssembly', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.resetModules()
  })

  it('gets a JsCore from auto and E_WASM_UNAVAILABLE from wasm', async () => {
    vi.resetModules()
    vi.stubGlobal('WebAssembly', undefined)
    const lib = await import('../src/index.js')
    expect(lib.wasmSupported()).toBe(false)
    expect(lib.createCore().kind).toBe('js')
    let caught: unknown
    try {
      lib.createCore({ kind: 'wasm' })
    } catch (error) {
      caught = error
    }
    expect((caught as InstanceType<typeof lib.RustoCacheError>).code).toBe('E_WASM_UNAVAILABLE')
    await expect(lib.loadWasm()).rejects.toMatchObject({ code: 'E_WASM_UNAVAILABLE' })
  })
})
