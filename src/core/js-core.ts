import { BaseCore, checkKey, checkKeys, checkNow, freshValue } from './base-core.js'
import { Clock, encodeDeadline, NEVER, shiftDeadline, tickOf } from './clock.js'
import { MISS, STALE, type CoreOptions } from './types.js'

// Links are Int32Array so every value V8 reads back is a small integer.
const NIL = -1
const FREE = -2
const EVICT = 0
const EXPIRE = 1

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
  private prev: Int32Array = new Int32Array(0)
  private next: Int32Array = new Int32Array(0)
  private exp: Uint32Array = new Uint32Array(0)
  private phys: Uint32Array | undefined
  private sizes: Uint32Array | undefined
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

  get(key: string, now: number): V | undefined {
    return freshValue<V>(this.kv, this.lookup(key, now))
  }

  lookup(key: string, now: number): number {
    checkKey(key)
    checkNow(now)
    // Every timed call reads the clock, found key or not: a read may rebase it (see clock.ts).
    const t = tickOf(this.clock.relative(now, this.rebase))
    const s = this.index.get(key)
    if (s === undefined) return MISS
    const code = this.touch(s, t)
    this.flush()
    return code
  }

  peek(key: string, now: number): number {
    checkKey(key)
    checkNow(now)
    const t = tickOf(this.clock.relative(now, this.rebase))
    const s = this.index.get(key)
    return s === undefined ? MISS : this.state(s, t)
  }

  delete(key: string): boolean {
    checkKey(key)
    const s = this.index.get(key)
    if (s === undefined) return false
    this.remove(s, -1)
    return true
  }

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

  lookupMany(keys: readonly string[], now: number): Int32Array {
    checkKeys(keys)
    checkNow(now)
    const codes = new Int32Array(keys.length)
    const t = tickOf(this.clock.relative(now, this.rebase))
    for (let i = 0; i < keys.length; i++) {
      const s = this.index.get(keys[i]!)
      codes[i] = s === undefined ? MISS : this.touch(s, t)
    }
    this.flush()
    return codes
  }

  memoryBytes(): number {
    return (
      this.prev.byteLength + this.next.byteLength + this.exp.byteLength + (this.phys?.byteLength ?? 0) + (this.sizes?.byteLength ?? 0)
    )
  }

  protected hashOne(): number {
    return 0
  }

  protected hashMany(): undefined {
    return undefined
  }

  protected writeEntry(key: string, _hash: number, value: V, now: number, ttl: number, grace: number, size: number): number {
    const rel = this.clock.relative(now, this.rebase)
    const found = this.index.get(key)
    const s = found === undefined ? this.insert(key, rel, ttl, grace, size) : this.update(found, rel, ttl, grace, size)
    if (s >= 0) this.store(s, key, value)
    return s
  }

  protected clearEntries(): void {
    this.index.clear()
    this.head = this.tail = this.freeHead = NIL
    this.hiwater = 0
    this.totalBytes = 0
  }

  protected headSlot(): number {
    return this.head
  }

  protected nextSlot(s: number): number {
    return this.next[s]!
  }

  private state(s: number, t: number): number {
    const physical = this.phys ? this.phys[s]! : this.exp[s]!
    return physical <= t ? MISS : this.exp[s]! <= t ? s | STALE : s
  }

  /** `t`: the tick of the call's `now`, read once at its start. */
  private touch(s: number, t: number): number {
    if (s >= this.hiwater || this.prev[s] === FREE) return MISS
    const code = this.state(s, t)
    if (code === MISS) this.remove(s, EXPIRE)
    else if (this.head !== s) {
      this.unlink(s)
      this.pushFront(s)
    }
    return code
  }

  private insert(key: string, rel: number, ttl: number, grace: number, size: number): number {
    if (this.trackSizes && size > this.maxBytes) return MISS
    this.makeRoom(size, 1)
    const s = this.allocate()
    this.index.set(key, s)
    this.pushFront(s)
    this.writeDeadlines(s, rel, ttl, grace)
    if (this.sizes) this.sizes[s] = size
    if (this.trackSizes) this.totalBytes += size
    return s
  }

  private update(s: number, rel: number, ttl: number, grace: number, size: number): number {
    if (this.sizes) {
      if (size > this.maxBytes) {
        this.remove(s, -1)
        return MISS
      }
      this.totalBytes += size - this.sizes[s]!
      this.sizes[s] = size
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
    this.unlink(s)
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
    this.cap = cap
  }
}
