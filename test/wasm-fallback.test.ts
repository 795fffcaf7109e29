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

// A runtime with WebAssembly but without its SIMD (Safari before 16.4, some embedded engines): the SIMD build
// does not validate or compile there, and the core must stay in WASM on the scalar build.
describe('a runtime with WebAssembly but no SIMD', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.resetModules()
  })

  it('runs the scalar WASM build: auto and wasm give a WasmCore without SIMD, simd: true fails typed', async () => {
    vi.resetModules()
    const { WASM_BASE64 } = await import('../src/core/wasm-bytes.generated.js')
    const simdBytes = Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0))
    const isSimd = (bytes: BufferSource) => {
      const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes as ArrayBuffer)
      return b.length === simdBytes.length && b.every((x, i) => x === simdBytes[i])
    }
    const real = WebAssembly
    const refused = () => new real.CompileError('SIMD unsupported')
    vi.stubGlobal('WebAssembly', {
      ...real,
      Memory: real.Memory,
      Instance: real.Instance,
      CompileError: real.CompileError,
      validate: (bytes: BufferSource) => !isSimd(bytes) && real.validate(bytes),
      Module: function Module(bytes: BufferSource) {
        if (isSimd(bytes)) throw refused()
        return new real.Module(bytes)
      },
      compile: async (bytes: BufferSource) => {
        if (isSimd(bytes)) throw refused()
        return real.compile(bytes)
      },
    })
    const lib = await import('../src/index.js')
    expect(lib.wasmSupported()).toBe(true)
    expect(lib.wasmSimdSupported()).toBe(false)
    await lib.loadWasm()
    const core = lib.createCore<number>()
    expect(core.kind).toBe('wasm')
    expect((core as InstanceType<typeof lib.WasmCore>).simd).toBe(false)
    expect(lib.createCore({ kind: 'wasm' }).kind).toBe('wasm')
    expect(() => lib.createCore({ kind: 'wasm', simd: true })).toThrow(expect.objectContaining({ code: 'E_WASM_UNAVAILABLE' }))
    expect(() => new lib.WasmCore({ simd: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'E_INVALID_OPTION' }))

    // The batch paths hash on the scalar loop and still find every key.
    const now = 1_764_000_000_000
    const keys = Array.from({ length: 37 }, (_, i) => `user:${i}`)
    core.setMany(keys, keys.map((_, i) => i), now, 60_000)
    expect(core.getMany([...keys, 'absent'], now)).toEqual([...keys.map((_, i) => i), undefined])

    const cache = new lib.RustoCache({ l1: { maxItems: 100 } })
    expect(cache.stats().core).toBe('wasm')
    expect(await cache.getOrSet({ key: 'k', factory: () => 7 })).toBe(7)
    await cache.disconnect()
  })
})
