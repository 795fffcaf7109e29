import { BaseCore, checkKey, checkKeys, checkNow, freshValue } from './base-core.js'
import { Clock, encodeDeadline, NEVER, shiftDeadline, tickOf } from './clock.js'
import { hashWith } from './hash.js'
import { TinyLfu, WINDOW } from './tinylfu.js'
import { MISS, STALE, type CoreOptions } from './types.js'

// Links are Int32Array so every value V8 reads back is a small integer.
const NIL = -1
const FREE = -2
const EVICT = 0
const EXPIRE = 1
const REJECT = 2

/**
 * The L1 core in plain TypeScript, lru-cache's layout: a Map from key to slot, typed arrays for the LRU links and
 * deadlines, no object per entry. It mirrors assembly/ step for step (slot reuse, growth, rounding), so both
 * cores evict the same entries in the same order.
 */
export class JsCore<V = unknown> extends BaseCore<V> {
  readonly kind = 'js' as const
  private readonly index = new Map<string, number>()
  private readonly clock = new Clock()
  private readonly trackSizes: boolean
  private cap = 0
  /** @internal Read by the W-TinyLFU lists. */
  prev: Int32Array = new Int32Array(0)
  /** @internal */
  next: Int32Array = new Int32Array(0)
  /** W-TinyLFU's lists and sketch, under policy 'tinylfu'; undefined for LRU. */
  private readonly lfu: TinyLfu | undefined
  /** Each slot's key hash (the sketch counts hashes, as in WASM); only under 'tinylfu'. */
  private hashes: Uint32Array | undefined
  /** All ones, except in tests that force collisions (maskHashes). */
  private hashMask = -1
  private exp: Uint32Array = new Uint32Array(0)
  private phys: Uint32Array | undefined
  private sizes: Uint32Array | undefined

  /** Entry sizes, under a byte limit: W-TinyLFU weighs its regions with them. */
  get entrySizes(): Uint32Array | undefined {
    return this.sizes
  }
  private head = NIL
  private tail = NIL
  private freeHead = NIL
  private hiwater = 0
  private totalBytes = 0
  private readonly rebase = (by: number): void => {
    const { exp, phys } = this
    for (let s = 0; s < this.hiwater; s++) {
      if (this.prev[s] === FREE) continue
      exp[s] = shiftDeadline(exp[s]!, by)
      if (phys) phys[s] = shiftDeadline(phys[s]!, by)
    }
  }

  constructor(options: CoreOptions<V> = {}) {
    super(options)
    this.trackSizes = this.maxBytes < Infinity
    this.lfu = this.policy === 'tinylfu' ? new TinyLfu(this, this.maxItems, this.maxBytes, this.seed) : undefined
    this.resize(this.initialCapacity, false)
  }

  get size(): number {
    return this.index.size
  }

  get bytes(): number {
    return this.totalBytes
  }

  get capacity(): number {
    return this.cap
  }

  /** {@inheritDoc Core.get} */
  get(key: string, now: number): V | undefined {
    return freshValue<V>(this.kv, this.lookup(key, now))
  }

  /** {@inheritDoc Core.lookup} */
  lookup(key: string, now: number): number {
    checkKey(key)
    checkNow(now)
    // Every timed call reads the clock, found key or not: a read may rebase it (see clock.ts).
    const t = tickOf(this.clock.relative(now, this.rebase))
    const s = this.index.get(key)
    if (s === undefined) {
      this.lfu?.miss()
      return MISS
    }
    const code = this.touch(s, t)
    this.flush()
    return code
  }

  /** {@inheritDoc Core.peek} */
  peek(key: string, now: number): number {
    checkKey(key)
    checkNow(now)
    const t = tickOf(this.clock.relative(now, this.rebase))
    const s = this.index.get(key)
    return s === undefined ? MISS : this.state(s, t)
  }

  /** {@inheritDoc Core.delete} */
  delete(key: string): boolean {
    checkKey(key)
    const s = this.index.get(key)
    if (s === undefined) return false
    this.remove(s, -1)
    return true
  }

  /** {@inheritDoc Core.expire} */
  expire(key: string, now: number): boolean {
    checkKey(key)
    checkNow(now)
    const t = tickOf(this.clock.relative(now, this.rebase))
    const s = this.index.get(key)
    if (s === undefined) return false
    if (this.state(s, t) === MISS) return false
    const exp = this.exp[s]!
    if (exp > t) {
      this.exp[s] = t
      if (this.phys && this.phys[s] === exp) this.phys[s] = t
    }
    return true
  }

  /** {@inheritDoc Core.lookupMany} */
  lookupMany(keys: readonly string[], now: number): Int32Array {
    checkKeys(keys)
    checkNow(now)
    const codes = new Int32Array(keys.length)
    const t = tickOf(this.clock.relative(now, this.rebase))
    for (let i = 0; i < keys.length; i++) {
      const s = this.index.get(keys[i]!)
      if (s !== undefined) codes[i] = this.touch(s, t)
      else {
        codes[i] = MISS
        this.lfu?.miss()
      }
    }
    this.flush()
    return codes
  }

  /** {@inheritDoc Core.memoryBytes} */
  memoryBytes(): number {
    return (
      this.prev.byteLength +
      this.next.byteLength +
      this.exp.byteLength +
      (this.phys?.byteLength ?? 0) +
      (this.sizes?.byteLength ?? 0) +
      (this.hashes?.byteLength ?? 0) +
      (this.lfu?.memoryBytes() ?? 0)
    )
  }

  /** Only W-TinyLFU needs hashes (its sketch counts them); LRU never computes one. */
  protected hashOne(key: string): number {
    return this.lfu ? hashWith(key, this.seed[0], this.seed[1]) & this.hashMask : 0
  }

  protected hashMany(keys: readonly string[]): Int32Array | undefined {
    if (!this.lfu) return undefined
    const out = new Int32Array(keys.length)
    for (let i = 0; i < keys.length; i++) out[i] = hashWith(keys[i]!, this.seed[0], this.seed[1]) & this.hashMask
    return out
  }

  protected writeEntry(key: string, hash: number, value: V, now: number, ttl: number, grace: number, size: number): number {
    const rel = this.clock.relative(now, this.rebase)
    const found = this.index.get(key)
    const s = found === undefined ? this.insert(key, hash, rel, ttl, grace, size) : this.update(found, rel, ttl, grace, size)
    if (s >= 0) this.store(s, key, value)
    return s
  }

  protected clearEntries(): void {
    this.index.clear()
    this.lfu?.resetLists()
    this.head = this.tail = this.freeHead = NIL
    this.hiwater = 0
    this.totalBytes = 0
  }

  protected headSlot(): number {
    return this.lfu ? this.lfu.firstSlot() : this.head
  }

  protected nextSlot(s: number): number {
    return this.lfu ? this.lfu.followingSlot(s) : this.next[s]!
  }

  private state(s: number, t: number): number {
    const physical = this.phys ? this.phys[s]! : this.exp[s]!
    return physical <= t ? MISS : this.exp[s]! <= t ? s | STALE : s
  }

  /** `t`: the tick of the call's `now`, read once at its start. */
  private touch(s: number, t: number): number {
    if (s >= this.hiwater || this.prev[s] === FREE) return MISS
    const code = this.state(s, t)
    const lfu = this.lfu
    if (code === MISS) {
      this.remove(s, EXPIRE)
      lfu?.miss()
    } else if (lfu) lfu.hit(s, this.hashes![s]!)
    else if (this.head !== s) {
      this.unlink(s)
      this.pushFront(s)
    }
    return code
  }

  private insert(key: string, hash: number, rel: number, ttl: number, grace: number, size: number): number {
    if (this.trackSizes && size > this.maxBytes) return MISS
    const lfu = this.lfu
    if (lfu) this.admit(lfu, size, tickOf(rel))
    else this.makeRoom(size, 1)
    const s = this.allocate()
    this.index.set(key, s)
    // Sized before it joins a list: the policy weighs it there.
    if (this.sizes) this.sizes[s] = size
    if (this.trackSizes) this.totalBytes += size
    if (lfu) {
      this.hashes![s] = hash
      lfu.inserted(hash)
      lfu.pushFrontIn(WINDOW, s)
    } else this.pushFront(s)
    this.writeDeadlines(s, rel, ttl, grace)
    return s
  }

  private update(s: number, rel: number, ttl: number, grace: number, size: number): number {
    if (this.sizes) {
      if (size > this.maxBytes) {
        this.remove(s, -1)
        return MISS
      }
      this.totalBytes += size - this.sizes[s]!
      this.lfu?.reweigh(s, size - this.sizes[s]!)
      this.sizes[s] = size
    }
    const lfu = this.lfu
    if (lfu) {
      lfu.ageIfDue()
      lfu.increment(this.hashes![s]!)
      lfu.access(s)
      this.writeDeadlines(s, rel, ttl, grace)
      const t = tickOf(rel)
      let candidate = NIL
      while (this.totalBytes > this.maxBytes) candidate = this.evictOne(lfu, candidate, s, t)
      return s
    }
    if (this.head !== s) {
      this.unlink(s)
      this.pushFront(s)
    }
    this.writeDeadlines(s, rel, ttl, grace)
    this.makeRoom(0, 0)
    return s
  }

  /** Same rule as assembly/table.ts: an entry has grace exactly when phys > exp. */
  private writeDeadlines(s: number, rel: number, ttl: number, grace: number): void {
    let exp = encodeDeadline(rel + ttl)
    let phys = exp
    if (grace > 0) {
      if (!this.phys) this.resize(this.cap, true)
      phys = encodeDeadline(rel + ttl + grace)
      if (phys <= exp) {
        if (exp === NEVER) exp = NEVER - 1
        phys = exp + 1
      }
    }
    this.exp[s] = exp
    if (this.phys) this.phys[s] = phys
  }

  private physical(s: number): number {
    return this.phys ? this.phys[s]! : this.exp[s]!
  }

  /** assembly/table.ts evictOne. */
  private evictOne(lfu: TinyLfu, candidate: number, keep: number, t: number): number {
    if (candidate !== NIL && this.physical(candidate) <= t) {
      this.remove(candidate, EXPIRE)
      return NIL
    }
    const v = lfu.victim(keep)
    if (this.physical(v) <= t) {
      this.remove(v, EXPIRE)
      return candidate
    }
    if (candidate === NIL || v === candidate) {
      this.remove(v, EVICT)
      return NIL
    }
    const hashes = this.hashes!
    const freq = lfu.estimate(hashes[candidate]!)
    const victimFreq = lfu.estimate(hashes[v]!)
    if (freq <= victimFreq && !lfu.admitWarm(freq, victimFreq)) {
      this.remove(candidate, REJECT)
      return NIL
    }
    this.remove(v, EVICT)
    return candidate
  }

  private admit(lfu: TinyLfu, size: number, t: number): void {
    lfu.climbIfDue()
    let candidate = lfu.makeWindowRoom(this.trackSizes ? size : 1)
    while (this.index.size + 1 > this.maxItems || (this.trackSizes && this.totalBytes + size > this.maxBytes)) {
      candidate = this.evictOne(lfu, candidate, NIL, t)
    }
  }

  private makeRoom(size: number, extra: number): void {
    while (this.index.size + extra > this.maxItems) this.remove(this.tail, EVICT)
    if (this.trackSizes) {
      while (this.totalBytes + size > this.maxBytes) this.remove(this.tail, EVICT)
    }
  }

  private allocate(): number {
    const f = this.freeHead
    if (f !== NIL) {
      this.freeHead = this.next[f]!
      return f
    }
    if (this.hiwater === this.cap) this.resize(Math.min(this.cap * 2, this.maxItems), this.phys !== undefined)
    return this.hiwater++
  }

  /** `reason` < 0: the caller removed it, nobody is told. */
  private remove(s: number, reason: number): void {
    this.index.delete(this.kv[2 * s] as string)
    if (this.lfu) this.lfu.unlinkIn(s)
    else this.unlink(s)
    if (this.sizes) this.totalBytes -= this.sizes[s]!
    this.prev[s] = FREE
    this.next[s] = this.freeHead
    this.freeHead = s
    if (reason >= 0) this.dropped(s, reason)
    else this.release(s)
  }

  private unlink(s: number): void {
    const p = this.prev[s]!
    const n = this.next[s]!
    if (p === NIL) this.head = n
    else this.next[p] = n
    if (n === NIL) this.tail = p
    else this.prev[n] = p
  }

  private pushFront(s: number): void {
    const h = this.head
    this.prev[s] = NIL
    this.next[s] = h
    if (h === NIL) this.tail = s
    else this.prev[h] = s
    this.head = s
  }

  private resize(cap: number, phys: boolean): void {
    const grow = <A extends Uint32Array | Int32Array>(old: A | undefined, make: (n: number) => A): A => {
      const a = make(cap)
      if (old) a.set(old.subarray(0, this.hiwater))
      return a
    }
    const u32 = (n: number): Uint32Array => new Uint32Array(n)
    const i32 = (n: number): Int32Array => new Int32Array(n)
    this.prev = grow(this.prev, i32)
    this.next = grow(this.next, i32)
    this.phys = phys ? grow(this.phys ?? this.exp, u32) : undefined
    this.exp = grow(this.exp, u32)
    this.sizes = this.trackSizes ? grow(this.sizes, u32) : undefined
    if (this.lfu) {
      this.hashes = grow(this.hashes, u32)
      this.lfu.resize(cap)
    }
    this.cap = cap
  }
}
