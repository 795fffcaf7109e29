import { InvalidOptionError, shown, WasmUnavailableError } from '../errors.js'
import { refuseUnknown } from '../known-options.js'
import { SeedUnavailable } from './hash.js'
import { jsCore, loadJsCore } from './js-core-ref.js'
import type { Core, CoreKind } from './types.js'
import { checkSimdOption, checkStringsOption, WasmCore, type WasmCoreOptions } from './wasm-core.js'
import { loadWasm, wasmPending, wasmSupported } from './wasm-module.js'

/**
 * The browser flavour loads its cores asynchronously (the WASM build fetched, the TypeScript core a chunk of its
 * own): createCore throws this until they are there. `load` fetches what the asked-for core needs; a RustoCache
 * calls it by itself and makes its first call wait.
 */
export class CoreNotLoaded extends WasmUnavailableError {
  constructor(
    what: string,
    readonly load: () => Promise<void>,
  ) {
    super(`${what} is not loaded yet in the browser build: call await loadWasm() before createCore (a RustoCache waits for it by itself)`)
  }
}

/** loadWasm, else (no WebAssembly here, or its file cannot be fetched) the TypeScript core. */
async function loadAuto(): Promise<void> {
  try {
    await loadWasm()
  } catch {
    await loadJsCore()
  }
}

function newJsCore<V>(options: CreateCoreOptions<V>): Core<V> {
  const Js = jsCore()
  if (!Js) throw new CoreNotLoaded('the TypeScript core', loadJsCore)
  return new Js<V>(options)
}

/** Options of createCore(): the core's kind and everything WasmCoreOptions and CoreOptions take. */
export interface CreateCoreOptions<V> extends WasmCoreOptions<V> {
  /**
   * `wasm` requires WebAssembly and throws E_WASM_UNAVAILABLE without it; `js` never uses WASM; `auto` takes
   * WASM where it runs (the SIMD build where WebAssembly SIMD validates, else the scalar build), else JS.
   * `simd` and `strings` pick the WASM build (see WasmCoreOptions).
   * @default 'auto'
   */
  kind?: 'auto' | CoreKind
}

const CORE_OPTIONS = ['kind', 'maxItems', 'maxBytes', 'initialCapacity', 'policy', 'onEvict', 'hashSeed', 'simd', 'strings'] as const

/** Makes an L1 core. Both kinds have the same behaviour; `core.kind` says which one you got. */
export function createCore<V = unknown>(options: CreateCoreOptions<V> = {}): Core<V> {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`createCore options must be an object, got ${shown(options)}`)
  refuseUnknown(options, CORE_OPTIONS, 'createCore')
  const kind = options.kind ?? 'auto'
  // Checked whichever core is made, so a typo fails on every runtime, not only where WASM runs.
  checkSimdOption(options.simd)
  checkStringsOption(options.strings, options.simd)
  if (kind === 'js') return newJsCore(options)
  if (kind === 'wasm') {
    if (wasmPending()) throw new CoreNotLoaded('the WebAssembly core', loadWasm)
    return new WasmCore<V>(options)
  }
  if (kind !== 'auto') throw new InvalidOptionError(`core kind must be 'auto', 'wasm' or 'js', got ${shown(kind)}`)
  if (wasmPending() && !jsCore()) throw new CoreNotLoaded('the WebAssembly core', loadAuto)
  if (!wasmSupported()) return newJsCore(options)
  try {
    return new WasmCore<V>(options)
  } catch (error) {
    // Option errors are the caller's, and no hash key yet is for later (see SeedUnavailable); anything else
    // means this runtime cannot run the module.
    if (error instanceof InvalidOptionError || error instanceof SeedUnavailable) throw error
    return newJsCore(options)
  }
}
