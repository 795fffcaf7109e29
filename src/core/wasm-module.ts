import { WasmUnavailableError } from '../errors.js'
import { WASM_BASE64, WASM_SCALAR_BASE64, WASM_STRINGS_BASE64 } from './wasm-bytes.generated.js'

/** The raw exports of assembly/index.ts: numbers in, numbers out. */
export interface CoreExports {
  memory: WebAssembly.Memory
  /** `policy`: 0 LRU, 1 W-TinyLFU. */
  configure(maxItems: number, maxBytes: number, initialCapacity: number, notifyEvictions: boolean, policy: number): void
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
  /** The key of the key hash (HalfSipHash-1-3): this instance's, set once after configure. */
  setHashSeed(k0: number, k1: number): void
  /** Test hook: the longest distance of an entry from its home bucket. */
  longestProbe(): number
  /** Test hook: ANDed into every batch hash (see maskHashes). */
  setHashMask(mask: number): void
  lookupBatch(n: number, n4: number): void
  touchBatch(n: number, n4: number, now: number): void
  /** Reads the clock at `now` (it may rebase) and returns the tick. */
  tick(now: number): number
  size(): number
  bytes(): number
  capacity(): number
  headSlot(): number
  nextSlot(slot: number): number
  /** Bench hooks of the W-TinyLFU sketch (assembly/policy.ts). */
  setSimdPositions(on: boolean): void
  sketchLoop(n: number, hash: number, step: number): number
}

/** The strings build (assembly/strings.ts) adds entry points that take the key itself and hash it in WASM. */
export interface StringsExports extends CoreExports {
  hashKey(key: string): number
  lastHash(): number
  lookupKey(key: string, now: number): number
  setKey(key: string, now: number, ttl: number, grace: number, size: number): number
}

/** `simd`: the build with v128 batch hashing; `scalar`: the same core without SIMD, for runtimes that lack it. */
export type WasmFlavour = 'simd' | 'scalar'
/** The builds a core can run: `strings` is the SIMD build that also reads keys itself (js-string builtins). */
export type Build = WasmFlavour | 'strings'

interface Compiled {
  base64: string
  /** Where the build is fetched from instead (the browser flavour: a file of its own, fetched by loadWasm). */
  url?: URL
  bytes?: Uint8Array
  compiled?: WebAssembly.Module
  valid?: boolean
}

const builds: Record<Build, Compiled> = {
  simd: { base64: WASM_BASE64 },
  scalar: { base64: WASM_SCALAR_BASE64 },
  strings: { base64: WASM_STRINGS_BASE64 },
}

// The compile option that lets `wasm:js-string` imports be the engine's own string functions. A runtime that
// does not know it ignores it, and then nothing satisfies those imports: instantiation fails, which is the test.
const STRING_BUILTINS = { builtins: ['js-string'] }
type ModuleWithOptions = new (bytes: BufferSource, options: object) => WebAssembly.Module

function compileSync(build: Build): WebAssembly.Module {
  const bytes = bytesOf(builds[build]) as BufferSource
  return build === 'strings' ? new (WebAssembly.Module as unknown as ModuleWithOptions)(bytes, STRING_BUILTINS) : new WebAssembly.Module(bytes)
}

const noEvictions = { env: { evicted() {} } }

function bytesOf(build: Compiled): Uint8Array {
  if (!build.bytes) {
    const text = atob(build.base64)
    const bytes = new Uint8Array(text.length)
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
    build.bytes = bytes
  }
  return build.bytes
}

function runs(flavour: Build): boolean {
  const build = builds[flavour]
  if (build.valid !== undefined) return build.valid
  // Fetched, not inlined: it runs once loadWasm() has compiled it (not known before, so not remembered).
  if (build.base64 === '' && build.url !== undefined) return false
  if (flavour !== 'strings') {
    build.valid = build.compiled !== undefined || (typeof WebAssembly === 'object' && WebAssembly.validate(bytesOf(build) as BufferSource))
    return build.valid
  }
  // Feature detection, never the version: the builtins are there when the module links without them supplied.
  try {
    build.compiled ??= compileSync('strings')
    new WebAssembly.Instance(build.compiled, noEvictions)
    build.valid = true
  } catch {
    build.compiled = undefined
    build.valid = false
  }
  return build.valid
}

/** True where this runtime has the js-string builtins, so the WASM core reads and hashes keys itself. */
export function wasmStringsSupported(): boolean {
  return typeof WebAssembly === 'object' && runs('strings')
}

/** True where this runtime can run the WASM core, with SIMD or without. */
export function wasmSupported(): boolean {
  return builds.strings.valid === true || runs('simd') || runs('scalar')
}

/** True where the SIMD build validates (WebAssembly SIMD, v128); the strings build is a SIMD build too. */
export function wasmSimdSupported(): boolean {
  return builds.strings.valid === true || runs('simd')
}

/** The build a core gets when it does not ask: the strings build where it runs, else SIMD, else scalar. */
export function bestBuild(): Build | undefined {
  // Known to run already (compiled, or the only build the browser flavour fetched).
  if (builds.strings.valid === true) return 'strings'
  if (!runs('simd')) return runs('scalar') ? 'scalar' : undefined
  return runs('strings') ? 'strings' : 'simd'
}

function unavailable(flavour: Build | undefined): WasmUnavailableError {
  return new WasmUnavailableError(
    flavour === 'strings'
      ? 'the js-string builtins of WebAssembly (wasm:js-string) are not available in this runtime'
      : flavour === 'simd'
        ? 'WebAssembly SIMD is not available in this runtime'
        : 'WebAssembly is not available in this runtime',
  )
}

// Feature probes (a few bytes each), so a runtime fetches only the build it can run: a function returning a
// v128 (SIMD), and one importing wasm:js-string's length, which links with no imports only where the engine
// supplies the builtins.
const SIMD_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]
const STRINGS_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 111, 1, 127, 2, 25, 1, 14, 119, 97, 115, 109, 58, 106, 115, 45, 115, 116, 114, 105, 110, 103, 6, 108, 101, 110, 103, 116, 104, 0, 0]

function stringBuiltins(): boolean {
  try {
    new WebAssembly.Instance(new (WebAssembly.Module as unknown as ModuleWithOptions)(new Uint8Array(STRINGS_PROBE), STRING_BUILTINS), {})
    return true
  } catch {
    return false
  }
}

/** Compiles a build fetched from its URL: streaming where the server says application/wasm, else from bytes. */
async function compileFetched(build: Build): Promise<WebAssembly.Module> {
  const options = build === 'strings' ? STRING_BUILTINS : undefined
  const response = await fetch(builds[build].url!)
  if (!response.ok) throw new Error(`fetching ${builds[build].url!.href}: HTTP ${response.status}`)
  type Streaming = (source: Response, options?: object) => Promise<WebAssembly.Module>
  type Compile = (bytes: BufferSource, options?: object) => Promise<WebAssembly.Module>
  if (typeof WebAssembly.compileStreaming === 'function' && response.headers.get('content-type')?.startsWith('application/wasm')) {
    return (WebAssembly.compileStreaming as unknown as Streaming)(response, options)
  }
  return (WebAssembly.compile as unknown as Compile)(await response.arrayBuffer(), options)
}

/** loadWasm() for builds that are files of their own: fetches the one build this runtime runs best, only it. */
async function loadFetched(): Promise<void> {
  if (typeof WebAssembly !== 'object') throw unavailable(undefined)
  const simd = WebAssembly.validate(new Uint8Array(SIMD_PROBE))
  const chosen: Build = simd ? (stringBuiltins() ? 'strings' : 'simd') : 'scalar'
  const build = builds[chosen]
  if (build.compiled) return
  try {
    build.compiled = await compileFetched(chosen)
    build.valid = true
  } catch (error) {
    throw new WasmUnavailableError(`the WebAssembly core could not be loaded: ${String(error)}`, error)
  }
}

/**
 * Compiles the core asynchronously (the SIMD build where it runs, else the scalar one). Call it once at start-up
 * where synchronous compilation is refused (a browser's main thread limits it); afterwards every core is created
 * synchronously from the compiled module. In the browser flavour of the package the builds are files of their
 * own: this fetches the one this runtime runs (compileStreaming where the server sends application/wasm).
 */
export async function loadWasm(): Promise<void> {
  if (builds.simd.base64 === '' && builds.simd.url !== undefined) return loadFetched()
  if (!runs('simd') && !runs('scalar')) throw unavailable(undefined)
  const strings = builds.strings
  if (strings.valid === undefined) {
    try {
      const compile = WebAssembly.compile as unknown as (bytes: BufferSource, options: object) => Promise<WebAssembly.Module>
      strings.compiled = await compile(bytesOf(strings) as BufferSource, STRING_BUILTINS)
      new WebAssembly.Instance(strings.compiled, noEvictions)
      strings.valid = true
    } catch {
      strings.compiled = undefined
      strings.valid = false
    }
  }
  if (strings.valid) return
  const build = builds[runs('simd') ? 'simd' : 'scalar']
  build.compiled ??= await WebAssembly.compile(bytesOf(build) as BufferSource)
}

/** The browser flavour's builds, files beside its entry (see src/web.ts). */
export function fetchWasmFrom(urls: Record<Build, URL>): void {
  for (const flavour of ['simd', 'scalar', 'strings'] as const) builds[flavour].url = urls[flavour]
}

/** True when no build can run yet but loadWasm() may make one run (the browser flavour, before it). */
export function wasmPending(): boolean {
  return builds.simd.base64 === '' && builds.simd.url !== undefined && !builds.simd.compiled && !builds.scalar.compiled && !builds.strings.compiled
}

/**
 * Supplies a compiled module, for runtimes that refuse to compile from bytes (workerd, Vercel Edge):
 * `dist/rustocache.wasm` is the SIMD build, `dist/rustocache-scalar.wasm` the scalar one.
 */
export function useWasmModule(module: WebAssembly.Module, flavour: WasmFlavour = 'simd'): void {
  const build = builds[flavour]
  build.compiled = module
  build.valid = true
}

export function instantiateCore(evicted: (slot: number, reason: number) => void, flavour: Build | undefined): CoreExports {
  if (flavour === undefined || !runs(flavour)) throw unavailable(flavour)
  const build = builds[flavour]
  try {
    build.compiled ??= compileSync(flavour)
    return new WebAssembly.Instance(build.compiled, { env: { evicted } }).exports as unknown as CoreExports
  } catch (error) {
    throw new WasmUnavailableError(`the WebAssembly core could not be compiled here: ${String(error)}`, error)
  }
}
