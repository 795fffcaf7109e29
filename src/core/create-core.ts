import { InvalidOptionError, shown } from '../errors.js'
import { SeedUnavailable } from './hash.js'
import { JsCore } from './js-core.js'
import type { Core, CoreKind } from './types.js'
import { checkSimdOption, checkStringsOption, WasmCore, type WasmCoreOptions } from './wasm-core.js'
import { wasmSupported } from './wasm-module.js'

export interface CreateCoreOptions<V> extends WasmCoreOptions<V> {
  /**
   * `wasm` requires WebAssembly and throws E_WASM_UNAVAILABLE without it; `js` never uses WASM; `auto` takes
   * WASM where it runs (the SIMD build where WebAssembly SIMD validates, else the scalar build), else JS.
   * `simd` and `strings` pick the WASM build (see WasmCoreOptions).
   * @default 'auto'
   */
  kind?: 'auto' | CoreKind
}

/** Makes an L1 core. Both kinds have the same behaviour; `core.kind` says which one you got. */
export function createCore<V = unknown>(options: CreateCoreOptions<V> = {}): Core<V> {
  const kind = options.kind ?? 'auto'
  // Checked whichever core is made, so a typo fails on every runtime, not only where WASM runs.
  checkSimdOption(options.simd)
  checkStringsOption(options.strings, options.simd)
  if (kind === 'js') return new JsCore<V>(options)
  if (kind === 'wasm') return new WasmCore<V>(options)
  if (kind !== 'auto') throw new InvalidOptionError(`core kind must be 'auto', 'wasm' or 'js', got ${shown(kind)}`)
  if (!wasmSupported()) return new JsCore<V>(options)
  try {
    return new WasmCore<V>(options)
  } catch (error) {
    // Option errors are the caller's, and no hash key yet is for later (see SeedUnavailable); anything else
    // means this runtime cannot run the module.
    if (error instanceof InvalidOptionError || error instanceof SeedUnavailable) throw error
    return new JsCore<V>(options)
  }
}
