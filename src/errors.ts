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
  /** `core: 'wasm'` was asked for where WebAssembly with SIMD cannot be compiled. */
  E_WASM_UNAVAILABLE: 'E_WASM_UNAVAILABLE',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** The root of every error RustoCache raises; `code` says which, `cause` keeps the underlying error. */
export class RustoCacheError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

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

export class WasmUnavailableError extends RustoCacheError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.E_WASM_UNAVAILABLE, message, { cause })
  }
}
