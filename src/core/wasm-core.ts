import { BaseCore, checkKey, checkKeys, checkNow, freshValue } from './base-core.js'
import { hashWith } from './hash.js'
import { MISS, SLOT_MASK, type CoreOptions } from './types.js'
import { InvalidOptionError, shown } from '../errors.js'
import { bestBuild, instantiateCore, type Build, type CoreExports, type StringsExports } from './wasm-module.js'
import type { JsCore } from './js-core.js'

/** Options of the WASM core: which build (SIMD, scalar, strings) on top of CoreOptions. */
export interface WasmCoreOptions<V> extends CoreOptions<V> {
  /**
   * `true` requires the SIMD build (E_WASM_UNAVAILABLE without WebAssembly SIMD); `false` takes the scalar build
   * (the same table and behaviour, batch hashing one key at a time). By default SIMD where it runs, else scalar.
   */
  simd?: boolean
  /**
   * `true` requires the build that reads keys in WASM through the js-string builtins (E_WASM_UNAVAILABLE where the
   * runtime lacks them); `false` hashes keys in JS. By default the builtins where the runtime has them. That build
   * has SIMD, so it does not go with `simd: false`.
   */
  strings?: boolean
}

/** The `simd` option; createCore checks it too, so a bad value fails on runtimes that never make a WasmCore. */
export function checkSimdOption(simd: unknown): asserts simd is boolean | undefined {
  if (simd !== undefined && typeof simd !== 'boolean') throw new InvalidOptionError(`simd must be true or false, got ${shown(simd)}`)
}

/** The `strings` option, checked the same way, and with `simd`. */
export function checkStringsOption(strings: unknown, simd: boolean | undefined): asserts strings is boolean | undefined {
  if (strings !== undefined && typeof strings !== 'boolean') throw new InvalidOptionError(`strings must be true or false, got ${shown(strings)}`)
  if (strings === true && simd === false) throw new InvalidOptionError('strings: true needs the SIMD build: it does not go with simd: false')
}

function chooseBuild(simd: boolean | undefined, strings: boolean | undefined): Build | undefined {
  if (strings === true) return 'strings'
  if (simd === false) return 'scalar'
  const best = bestBuild()
  if (strings === false && best === 'strings') return 'simd'
  if (simd === true && best === 'scalar') return 'simd' // fails with SIMD named as what is missing
  return best
}

/**
 * The L1 core on WebAssembly: the hash index, LRU links, deadlines and sizes live in linear memory
 * (assembly/layout.ts has the map); keys and values stay in JS arrays indexed by slot. A lookup hashes the key in
 * JS, lets WASM find the candidate slot, and verifies `kv[2 * slot] === key`, so a lookup is exact and WASM
 * holds no key bytes. A hit is one call into WASM.
 */
export class WasmCore<V = unknown> extends BaseCore<V> {
  readonly kind = 'wasm' as const
  /** Whether this core runs the SIMD build (v128 batch hashing) or the scalar one. */
  readonly simd: boolean
  /** Whether WASM reads and hashes keys itself (the js-string builtins), or JS hashes them. */
  readonly strings: boolean
  private readonly ex: CoreExports
  /** The same instance as `ex` when `strings`, typed with its extra entry points. */
  private readonly sx: StringsExports
  private u32: Uint32Array = new Uint32Array(0)
  private i32: Int32Array = new Int32Array(0)
  private laneWords: Uint32Array = new Uint32Array(16)
  private hashes: Int32Array = new Int32Array(64)
  private lastKey = ''
  private lastHash = 0
  /** The key hash's key, in fields: read on every JS-hashed lookup. */
  private readonly k0: number
  private readonly k1: number
  /** All ones, except in tests that force collisions (maskHashes). */
  private hashMask = -1

  constructor(options: WasmCoreOptions<V> = {}) {
    super(options)
    const { simd, strings } = options
    checkSimdOption(simd)
    checkStringsOption(strings, simd)
    const build = chooseBuild(simd, strings)
    this.ex = instantiateCore((slot, reason) => this.dropped(slot, reason), build)
    this.sx = this.ex as StringsExports
    this.simd = build !== 'scalar'
    this.strings = build === 'strings'
    this.ex.configure(this.maxItems, this.maxBytes, this.initialCapacity, this.hasEvictionListener, this.policy === 'tinylfu' ? 1 : 0)
    this.k0 = this.seed[0]
    this.k1 = this.seed[1]
    this.ex.setHashSeed(this.k0, this.k1)
    this.lastHash = hashWith('', this.k0, this.k1)
  }

  get size(): number {
    return this.ex.size()
  }

  get bytes(): number {
    return this.ex.bytes()
  }

  get capacity(): number {
    return this.ex.capacity()
  }

  /** {@inheritDoc Core.get} */
  get(key: string, now: number): V | undefined {
    return freshValue<V>(this.kv, this.lookup(key, now))
  }

  /** {@inheritDoc Core.lookup} */
  lookup(key: string, now: number): number {
    checkKey(key)
    checkNow(now)
    const ex = this.ex
    const strings = this.strings
    // Hashed unconditionally: comparing with the remembered key would cost a string compare on every call.
    // With the builtins WASM hashes the key itself, and JS asks for the hash only on the rare paths below.
    const hash = strings ? 0 : hashWith(key, this.k0, this.k1) & this.hashMask
    let code = strings ? this.sx.lookupKey(key, now) : ex.lookup(hash, now)
    if (code === MISS) {
      // A set of this key usually follows a miss (read-through): let it skip hashing again.
      this.lastKey = key
      this.lastHash = strings ? this.sx.lastHash() : hash
      return MISS
    }
    const s = code < MISS ? MISS - 1 - code : code & SLOT_MASK
    if (this.kv[2 * s] !== key) {
      const h = strings ? this.sx.lastHash() : hash
      ex.undoLookup()
      let t = ex.findNext(h)
      while (t >= 0 && this.kv[2 * t] !== key) t = ex.findNext(h)
      // touch(-1) still counts the lookup for W-TinyLFU's climber: a miss.
      code = ex.touch(t, now)
    } else if (code < MISS) {
      ex.dropExpired(s)
      code = MISS
    }
    this.flush()
    return code
  }

  /** {@inheritDoc Core.peek} */
  peek(key: string, now: number): number {
    checkKey(key)
    checkNow(now)
    const s = this.locate(key, this.hashOne(key))
    if (s < 0) {
      // Every timed call reads the clock, found key or not, as JsCore does: a read may rebase it.
      this.ex.tick(now)
      return MISS
    }
    return this.ex.peek(s, now)
  }

  /** {@inheritDoc Core.delete} */
  delete(key: string): boolean {
    checkKey(key)
    const s = this.locate(key, this.hashOne(key))
    if (s < 0) return false
    this.ex.remove(s)
    this.release(s)
    return true
  }

  /** {@inheritDoc Core.expire} */
  expire(key: string, now: number): boolean {
    checkKey(key)
    checkNow(now)
    const s = this.locate(key, this.hashOne(key))
    if (s < 0) {
      this.ex.tick(now)
      return false
    }
    if (this.ex.peek(s, now) === MISS) return false
    this.ex.expire(s, now)
    return true
  }

  /** {@inheritDoc Core.lookupMany} */
  lookupMany(keys: readonly string[], now: number): Int32Array {
    checkKeys(keys)
    checkNow(now)
    const n = keys.length
    if (n === 0) {
      this.ex.tick(now)
      return new Int32Array(0)
    }
    // Batches keep the v128 hash over staged code units on every build: probing key by key through the
    // builtins (one findKey call each) measured 1.2-1.5x slower per key for 64 fresh keys on Node 24 and 26.
    const { n4, base } = this.stage(keys)
    this.ex.lookupBatch(n, n4)
    this.views()
    const slots = (base >>> 2) + 2 * n4
    const hashes = (base >>> 2) + n4
    const i32 = this.i32
    for (let i = 0; i < n; i++) {
      const s = i32[slots + i]!
      // A 32-bit hash match on another key: walk on along the probe chain from JS.
      if (s >= 0 && this.kv[2 * s] !== keys[i]) i32[slots + i] = this.locate(keys[i]!, i32[hashes + i]!)
    }
    this.ex.touchBatch(n, n4, now)
    this.views()
    const codes = this.i32.slice(slots, slots + n)
    this.flush()
    return codes
  }

  /** {@inheritDoc Core.memoryBytes} */
  memoryBytes(): number {
    return this.ex.memory.buffer.byteLength
  }

  /** Remembers the last key hashed: read-through hashes the same key for its get and then its set. */
  protected hashOne(key: string): number {
    if (key !== this.lastKey) {
      this.lastKey = key
      this.lastHash = this.strings ? this.sx.hashKey(key) : hashWith(key, this.k0, this.k1) & this.hashMask
    }
    return this.lastHash
  }

  protected hashMany(keys: readonly string[]): Int32Array {
    const n = keys.length
    if (this.hashes.length < n) this.hashes = new Int32Array(Math.max(n, this.hashes.length * 2))
    if (n === 0) return this.hashes
    const { n4, base } = this.stage(keys)
    this.ex.hashBatch(n4)
    this.views()
    const at = (base >>> 2) + n4
    this.hashes.set(this.i32.subarray(at, at + n))
    return this.hashes
  }

  protected writeEntry(key: string, hash: number, value: V, now: number, ttl: number, grace: number, size: number): number {
    return this.written(this.ex.set(hash, now, ttl, grace, size), key, hash, value, now, ttl, grace, size)
  }

  /** With the builtins a key not hashed yet goes to WASM as it is: one call hashes and writes it. */
  protected override writeOne(key: string, value: V, now: number, ttl: number, grace: number, size: number): number {
    if (!this.strings || key === this.lastKey) return this.writeEntry(key, this.hashOne(key), value, now, ttl, grace, size)
    const s = this.sx.setKey(key, now, ttl, grace, size)
    return this.written(s, key, s < MISS ? this.sx.lastHash() : 0, value, now, ttl, grace, size)
  }

  /** Finishes a write from what set() answered: a new slot, or an entry with the same hash to confirm. */
  private written(s: number, key: string, hash: number, value: V, now: number, ttl: number, grace: number, size: number): number {
    if (s < MISS) {
      // Some entry has this hash: ours, or (rarely) another key's.
      const ex = this.ex
      let found = MISS - 1 - s
      while (found >= 0 && this.kv[2 * found] !== key) found = ex.findNext(hash)
      s = ex.write(found, hash, now, ttl, grace, size)
      if (s < 0 && found >= 0) this.release(found)
    }
    if (s >= 0) this.store(s, key, value)
    return s
  }

  protected clearEntries(): void {
    this.ex.clear()
  }

  protected headSlot(): number {
    return this.ex.headSlot()
  }

  protected nextSlot(s: number): number {
    return this.ex.nextSlot(s)
  }

  /** The live slot holding `key`, or MISS. Changes nothing. */
  private locate(key: string, hash: number): number {
    const ex = this.ex
    let s = ex.find(hash)
    while (s >= 0 && this.kv[2 * s] !== key) s = ex.findNext(hash)
    return s
  }

  /** Views over WASM memory die when it grows; make new ones then. */
  private views(): void {
    if (this.u32.length === 0) {
      this.u32 = new Uint32Array(this.ex.memory.buffer)
      this.i32 = new Int32Array(this.ex.memory.buffer)
    }
  }

  /**
   * Writes a batch of keys into the scratch region in the transposed layout of assembly/batch.ts: lengths, then
   * per group of four keys their UTF-16 code units two per u32 word, word j of the four keys side by side.
   */
  private stage(keys: readonly string[]): { n4: number; base: number } {
    const n = keys.length
    const n4 = (n + 3) & ~3
    const groups = n4 >> 2
    if (this.laneWords.length < groups) this.laneWords = new Uint32Array(groups * 2)
    const laneWords = this.laneWords
    let dataWords = 0
    for (let g = 0; g < groups; g++) {
      let w = 0
      for (let i = g * 4; i < g * 4 + 4 && i < n; i++) w = Math.max(w, (keys[i]!.length + 1) >>> 1)
      laneWords[g] = w
      dataWords += w * 4
    }
    const dataAt = (n4 * 13 + 15) & ~15
    const base = this.ex.ensureScratch(dataAt + dataWords * 4)
    this.views()
    const u32 = this.u32
    const lens = base >>> 2
    const words = lens + 3 * n4
    for (let i = 0; i < n4; i++) u32[lens + i] = i < n ? keys[i]!.length : 0
    let d = (base + dataAt) >>> 2
    for (let g = 0; g < groups; g++) {
      const w = laneWords[g]!
      u32[words + g] = w
      for (let lane = 0; lane < 4; lane++) {
        const i = g * 4 + lane
        if (i >= n) break
        const key = keys[i]!
        const len = key.length
        for (let j = 0, c = 0; c < len; j++, c += 2) {
          u32[d + j * 4 + lane] = key.charCodeAt(c) | (c + 1 < len ? key.charCodeAt(c + 1) << 16 : 0)
        }
      }
      d += w * 4
    }
    return { n4, base }
  }
}

/**
 * Test hook, not exported by the package: ANDs `mask` into every hash this core computes, single and batch, so
 * a test can force 32-bit collisions (mask 0: every key collides) on a core that holds nothing yet.
 */
export function maskHashes<V>(core: WasmCore<V> | JsCore<V>, mask: number): void {
  if (core.size > 0) throw new Error('maskHashes needs an empty core')
  // JsCore hashes only for W-TinyLFU's sketch, which must count the same hashes as WASM's.
  if (!(core instanceof WasmCore)) {
    ;(core as unknown as { hashMask: number }).hashMask = mask | 0
    return
  }
  const inner = core as unknown as { hashMask: number; lastKey: string; lastHash: number; k0: number; k1: number; ex: CoreExports }
  inner.hashMask = mask | 0
  inner.lastHash = hashWith(inner.lastKey, inner.k0, inner.k1) & inner.hashMask
  inner.ex.setHashMask(mask >>> 0)
}
