// The core entry: runs in Node, browsers and edge runtimes, so it imports nothing from Node.
export { createCore, type CreateCoreOptions } from './core/create-core.js'
export { JsCore } from './core/js-core.js'
export { WasmCore } from './core/wasm-core.js'
export { loadWasm, useWasmModule, wasmSupported } from './core/wasm-module.js'
export { hashKey } from './core/hash.js'
export {
  MAX_ITEMS,
  MAX_KEY_LENGTH,
  MISS,
  SLOT_MASK,
  STALE,
  type Core,
  type CoreKind,
  type CoreOptions,
  type EvictionReason,
} from './core/types.js'
export {
  ErrorCodes,
  InvalidKeyError,
  InvalidOptionError,
  InvalidSizeError,
  InvalidTtlError,
  RustoCacheError,
  WasmUnavailableError,
  type ErrorCode,
} from './errors.js'
