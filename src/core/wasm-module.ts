import { WasmUnavailableError } from '../errors.js'
import { WASM_BASE64 } from './wasm-bytes.generated.js'

/** The raw exports of assembly/index.ts: numbers in, numbers out. */
export interface CoreExports {
  memory: WebAssembly.Memory
  configure(maxItems: number, maxBytes: number, initialCapacity: number, notifyEvictions: boolean): void
  find(hash: number): number
  findNext(hash: number): number
  lookup(hash: number, now: number): number
  undoLookup(): void
  dropExpired(slot: number): void
  touch(slot: number, now: number): number
  peek(slot: number, now: number): number
  set(hash: number, now: number, ttl: number, grace: number, size: number): number
  write(slot: number, hash: number, now: number, ttl: number, grace: number, size: number): number
  remove(slot: number): void
  expire(slot: number, now: number): void
  clear(): void
  ensureScratch(bytes: number): number
  hashBatch(n4: number): void
  /** The same hashes with scalar operations (the SIMD baseline in the bench). */
  hashBatchScalar(n4: number): void
  /** Test hook: ANDed into every batch hash (see maskHashes). */
  setHashMask(mask: number): void
  lookupBatch(n: number, n4: number): void
  touchBatch(n: number, n4: number, now: number): void
  size(): number
  bytes(): number
  capacity(): number
  headSlot(): number
  nextSlot(slot: number): number
}

let bytes: Uint8Array | undefined
let compiled: WebAssembly.Module | undefined
let supported: boolean | undefined

function wasmBytes(): Uint8Array {
  if (!bytes) {
    const text = atob(WASM_BASE64)
    bytes = new Uint8Array(text.length)
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
  }
  return bytes
}

/** True where this runtime can compile the core: WebAssembly present and its SIMD validates. */
export function wasmSupported(): boolean {
  if (supported === undefined) {
    supported = compiled !== undefined || (typeof WebAssembly === 'object' && WebAssembly.validate(wasmBytes() as BufferSource))
  }
  return supported
}

/**
 * Compiles the core asynchronously. Call it once at start-up where synchronous compilation is refused (a
 * browser's main thread limits it); afterwards every core is created synchronously from the compiled module.
 */
export async function loadWasm(): Promise<void> {
  if (compiled) return
  if (!wasmSupported()) throw new WasmUnavailableError('WebAssembly with SIMD is not available in this runtime')
  compiled = await WebAssembly.compile(wasmBytes() as BufferSource)
}

/** Supplies a compiled module, for runtimes that refuse to compile from bytes (workerd, Vercel Edge). */
export function useWasmModule(module: WebAssembly.Module): void {
  compiled = module
  supported = true
}

export function instantiateCore(evicted: (slot: number, reason: number) => void): CoreExports {
  if (!wasmSupported()) throw new WasmUnavailableError('WebAssembly with SIMD is not available in this runtime')
  try {
    compiled ??= new WebAssembly.Module(wasmBytes() as BufferSource)
    return new WebAssembly.Instance(compiled, { env: { evicted } }).exports as unknown as CoreExports
  } catch (error) {
    throw new WasmUnavailableError(`the WebAssembly core could not be compiled here: ${String(error)}`, error)
  }
}
