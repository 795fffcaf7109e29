/** Every error RustoCache throws or rejects with carries one of these codes. */
export const ErrorCodes = {
  /** A key that is not a string, or longer than MAX_KEY_LENGTH code units. */
  E_INVALID_KEY: 'E_INVALID_KEY',
  /** A constructor option that is out of range or of the wrong type. */
  E_INVALID_OPTION: 'E_INVALID_OPTION',
  /** A ttl or grace that is negative, NaN or not a number. */
  E_INVALID_TTL: 'E_INVALID_TTL',
  /** An entry size that is not a whole number of bytes between 0 and 2^32 - 1. */
  E_INVALID_SIZE: 'E_INVALID_SIZE',
  /** A time (`now`) given to a core call that is not a finite number of ms. */
  E_INVALID_TIME: 'E_INVALID_TIME',
  /** A value the L2 serializer cannot encode (a BigInt or a cycle with JSON): refused before anything is written. */
  E_UNSERIALIZABLE_VALUE: 'E_UNSERIALIZABLE_VALUE',
  /** A value `l1: { clone: true }` cannot copy with structuredClone (a function, a class instance with private state...). */
  E_UNCLONEABLE_VALUE: 'E_UNCLONEABLE_VALUE',
  /** `core: 'wasm'` was asked for where WebAssembly with SIMD cannot be compiled. */
  E_WASM_UNAVAILABLE: 'E_WASM_UNAVAILABLE',
  /** `undefined` was given as a value to store (store `null` instead), or a factory returned it. */
  E_UNDEFINED_VALUE: 'E_UNDEFINED_VALUE',
  /** A factory threw or rejected (the original error is `cause`), or called `ctx.fail()`. */
  E_FACTORY_ERROR: 'E_FACTORY_ERROR',
  /** A factory ran past `hardTimeout`; its late result is still cached when it arrives. */
  E_FACTORY_HARD_TIMEOUT: 'E_FACTORY_HARD_TIMEOUT',
  /** A factory ran past the soft `timeout` (only surfaces in logs and stats: a stale value is served instead). */
  E_FACTORY_SOFT_TIMEOUT: 'E_FACTORY_SOFT_TIMEOUT',
  /** Waiting for another caller's factory on the same key took longer than `lockTimeout`, with nothing stale to serve. */
  E_LOCK_TIMEOUT: 'E_LOCK_TIMEOUT',
  /** An L2 (Redis) command failed and `suppressL2Errors` is false; the original error is `cause`. */
  E_L2_CACHE_ERROR: 'E_L2_CACHE_ERROR',
  /** `connect()` could not reach L2 within l2Timeout (the message names the server; the driver's error is `cause`). */
  E_L2_UNREACHABLE: 'E_L2_UNREACHABLE',
  /** A value the L2 store cannot hold by its own limits (Workers KV: 25 MiB): refused before anything is written. */
  E_L2_LIMIT: 'E_L2_LIMIT',
} as const

/** One of ErrorCodes' values: what `error.code` holds. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/**
 * Any value as a short text for an error message, never throwing (String() throws for a null-prototype object
 * or a Symbol in a template): bad input must end in the error meant for it.
 */
export function shown(value: unknown): string {
  try {
    if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
    if (value instanceof Error) return value.message
    if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object'
    if (typeof value === 'function') return 'a function'
    return String(value)
  } catch {
    return typeof value
  }
}

/**
 * A key as an error message shows it: quoted, or, when the cache does not show keys (traceKeys off, or a
 * redaction that failed), as "a key". Errors leave the process in logs and error trackers: keys often carry
 * user ids.
 */
export function keyText(key: string | undefined): string {
  return key === undefined ? 'a key (not shown: see traceKeys)' : `key "${key}"`
}

/** Marks this package's errors and caches in every copy of it (ESM and CJS, an edge bundle's chunks). */
const ERROR_BRAND = Symbol.for('rustocache.error')

/**
 * `instanceof` asks the brand, not the prototype chain, so an error from another copy of the package (the CJS
 * build beside the ESM one, another bundle's chunk) is still a RustoCacheError, and an InvalidKeyError one of
 * the same name.
 */
function brandedInstance(ctor: abstract new (...args: never[]) => unknown, brand: symbol, root: unknown, x: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(ctor, x)) return true
  if (typeof x !== 'object' || x === null || (x as Record<symbol, unknown>)[brand] !== true) return false
  return ctor === root || (x as { name?: unknown }).name === ctor.name
}

/** The root of every error RustoCache raises; `code` says which, `cause` keeps the underlying error. */
export class RustoCacheError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }

  /** True for this package's errors of this class from any copy of the package (see brandedInstance). */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return brandedInstance(this, ERROR_BRAND, RustoCacheError, x)
  }
}
Object.defineProperty(RustoCacheError.prototype, ERROR_BRAND, { value: true })

/** The cache's brand and its instanceof (see RustoCacheError): rusto-cache.ts uses them. */
export const CACHE_BRAND = Symbol.for('rustocache.cache')
export { brandedInstance }

export class InvalidKeyError extends RustoCacheError {
  constructor(message: string) {
    super(ErrorCodes.E_INVALID_KEY, message)
  }
}

export class InvalidOptionError extends RustoCacheError {
  constructor(message: string) {
    super(ErrorCodes.E_INVALID_OPTION, message)
  }
}

export class InvalidTtlError extends RustoCacheError {
  constructor(message: string) {
    super(ErrorCodes.E_INVALID_TTL, message)
  }
}

export class InvalidSizeError extends RustoCacheError {
  constructor(message: string) {
    super(ErrorCodes.E_INVALID_SIZE, message)
  }
}

export class InvalidTimeError extends RustoCacheError {
  constructor(now: unknown) {
    super(ErrorCodes.E_INVALID_TIME, `now must be a finite number of ms (such as Date.now()), got ${typeof now === 'number' ? now : typeof now}`)
  }
}

export class UnserializableValueError extends RustoCacheError {
  /** The key, as traceKeys shows keys (undefined when it does not). */
  readonly key: string | undefined
  constructor(key: string | undefined, cause: unknown) {
    super(ErrorCodes.E_UNSERIALIZABLE_VALUE, `the L2 serializer cannot encode the value for ${keyText(key)}: ${shown(cause)}`, { cause })
    this.key = key
  }
}

export class UncloneableValueError extends RustoCacheError {
  /** The key, as traceKeys shows keys (undefined when it does not). */
  readonly key: string | undefined
  constructor(key: string | undefined, cause: unknown) {
    super(ErrorCodes.E_UNCLONEABLE_VALUE, `l1.clone cannot copy the value for ${keyText(key)} with structuredClone: ${shown(cause)}`, { cause })
    this.key = key
  }
}

export class WasmUnavailableError extends RustoCacheError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.E_WASM_UNAVAILABLE, message, { cause })
  }
}

export class UndefinedValueError extends RustoCacheError {
  constructor(key: string | undefined) {
    super(ErrorCodes.E_UNDEFINED_VALUE, `cannot cache undefined for ${keyText(key)}: store null to cache "nothing"`)
  }
}

export class FactoryError extends RustoCacheError {
  /** The key (as the caller gave it, without namespace path) whose factory failed, as traceKeys shows keys (undefined when it does not). */
  readonly key: string | undefined
  /**
   * True when no caller was waiting for this run any more: an early refresh, a stale-while-revalidate or
   * soft-timeout run that went on after the caller got the stale value, or a run past its hard timeout.
   */
  readonly isBackgroundFactory: boolean
  constructor(key: string | undefined, message: string, cause?: unknown, isBackgroundFactory = false) {
    super(ErrorCodes.E_FACTORY_ERROR, message, { cause })
    this.key = key
    this.isBackgroundFactory = isBackgroundFactory
  }
}

export class FactoryHardTimeoutError extends RustoCacheError {
  /** The key, as traceKeys shows keys (undefined when it does not). */
  readonly key: string | undefined
  constructor(key: string | undefined, ms: number) {
    super(ErrorCodes.E_FACTORY_HARD_TIMEOUT, `factory for ${keyText(key)} ran past its hard timeout of ${ms} ms`)
    this.key = key
  }
}

export class FactorySoftTimeoutError extends RustoCacheError {
  /** The key, as traceKeys shows keys (undefined when it does not). */
  readonly key: string | undefined
  constructor(key: string | undefined, ms: number) {
    super(ErrorCodes.E_FACTORY_SOFT_TIMEOUT, `factory for ${keyText(key)} ran past its soft timeout of ${ms} ms`)
    this.key = key
  }
}

export class LockTimeoutError extends RustoCacheError {
  /** The key, as traceKeys shows keys (undefined when it does not). */
  readonly key: string | undefined
  constructor(key: string | undefined, ms: number) {
    super(ErrorCodes.E_LOCK_TIMEOUT, `waited ${ms} ms for another factory on ${keyText(key)} and had no stale value to serve`)
    this.key = key
  }
}

export class L2CacheError extends RustoCacheError {
  constructor(operation: string, cause: unknown) {
    super(ErrorCodes.E_L2_CACHE_ERROR, `L2 ${operation} failed: ${shown(cause)}`, { cause })
  }
}

export class L2UnreachableError extends RustoCacheError {
  /** Where the driver connects ('Redis at 127.0.0.1:6379'), as the driver describes it. */
  readonly target: string
  constructor(target: string, cause: unknown) {
    super(ErrorCodes.E_L2_UNREACHABLE, `cannot reach ${target} (${shown(cause)})`, { cause })
    this.target = target
  }
}

export class L2LimitError extends RustoCacheError {
  constructor(message: string) {
    super(ErrorCodes.E_L2_LIMIT, message)
  }
}
