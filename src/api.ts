// The core entry's API, every flavour's (src/index.ts adds JsCore; the browser flavour loads it lazily). It runs
// in Node, browsers and edge runtimes, so it imports nothing from Node.
export { createCore, type CreateCoreOptions } from './core/create-core.js'
export { WasmCore, type WasmCoreOptions } from './core/wasm-core.js'
export { loadWasm, useWasmModule, wasmSimdSupported, wasmStringsSupported, wasmSupported, type WasmFlavour } from './core/wasm-module.js'
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
  type EvictionPolicy,
  type EvictionReason,
} from './core/types.js'
export {
  ErrorCodes,
  InvalidKeyError,
  InvalidOptionError,
  InvalidSizeError,
  InvalidTimeError,
  InvalidTtlError,
  RustoCacheError,
  WasmUnavailableError,
  type ErrorCode,
} from './errors.js'
export {
  FactoryError,
  FactoryHardTimeoutError,
  FactorySoftTimeoutError,
  LockTimeoutError,
  UncloneableValueError,
  UndefinedValueError,
  UnserializableValueError,
  L2LimitError,
} from './errors.js'
export {
  RustoCache,
  type Factory,
  type FactoryContext,
  type GetOptions,
  type GetOrSetOptions,
  type KeyOptions,
  type SetManyOptions,
  type SetOptions,
} from './cache/rusto-cache.js'
export type { EntryOptions, L1Options, RustoCacheOptions } from './cache/options.js'
export { observe } from './cache/rusto-cache.js'
export { caches, type Caches, type CachesOptions, type StoreOptions } from './cache/stores.js'
export {
  TRACING_CHANNEL,
  tracingChannelAvailable,
  type CacheObserver,
  type CacheOperation,
  type FactoryRunContext,
  type L2CommandContext,
  type OperationContext,
  type Tier,
} from './observe.js'
export type { BusEvent, CacheEventName, CacheEvents } from './events.js'
export type { Logger } from './logger.js'
export type { CacheStats } from './stats.js'
export { toBytes, toMs, type Duration } from './ttl.js'
export { memoryBus } from './bus/memory-bus.js'
export type { BusFactory, BusMessage, BusMessageType, BusTransport, RetryQueueOptions } from './bus/types.js'
export type { SigningOptions } from './bus/signing-options.js'
export type { L2Driver, L2DriverContext, L2DriverFactory, L2Entry, L2Payload, Serializer } from './l2/types.js'
export { L2CacheError, L2UnreachableError } from './errors.js'
