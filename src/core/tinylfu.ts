// W-TinyLFU for JsCore: assembly/policy.ts step for step (its header has the design), over JsCore's own link
// arrays, so both cores keep the same lists, the same sketch bytes and the same climber, and evict alike.

import { MiniSims } from './minis.js'

const NIL = -1
export const WINDOW = 0
export const PROBATION = 1
export const PROTECTED = 2
/** Counters per entry of capacity (as assembly/layout.ts SKETCH_COUNTERS). */
const SKETCH_COUNTERS = 16
/** Keys iterate the lists in this order (assembly/policy.ts firstSlot): the last key is the next victim. */
const ORDER: readonly number[] = [WINDOW, PROTECTED, PROBATION]
const ROWS = [0x9e3779b1 | 0, 0x85ebca77 | 0, 0xc2b2ae3d | 0, 0x27d4eb2f | 0] as const
/** The sketch halves its counters every AGE_EVERY x capacity additions (assembly/policy.ts AGE_EVERY). */
const AGE_EVERY = 20
/** Under mini-simulations the window is set every SIM_PERIOD x maxItems requests (assembly/minis.ts). */
const SIM_PERIOD = 5
/** assembly/policy.ts WARM and PINNED: a warm candidate losing to a pinned victim is admitted 1 time in 128. */
const WARM = 6
const PINNED = 14

/** The links the lists are made of: JsCore's arrays, which it replaces when it grows; sizes under a byte limit. */
export interface Links {
  prev: Int32Array
  next: Int32Array
  readonly entrySizes: Uint32Array | undefined
}

function mixed(h: number): number {
  let x = h ^ 0x5bd1e995
  x ^= x >>> 16
  x = Math.imul(x, 0x7feb352d)
  x ^= x >>> 15
  x = Math.imul(x, 0x846ca68b | 0)
  return (x ^ (x >>> 16)) >>> 0
}

const firstStep = (capacity: number): number => 0.0625 * capacity

export class TinyLfu {
  readonly heads = new Int32Array([NIL, NIL, NIL])
  readonly tails = new Int32Array([NIL, NIL, NIL])
  readonly sizes = new Int32Array(3)
  /** The weight each list holds (assembly/policy.ts WEIGHTS). */
  private readonly weights = new Float64Array(3)
  region = new Uint8Array(0)
  windowMax = 1
  private protectedMax = 0
  private requests = 0
  private hits = 0
  private previousRate = 0
  private step: number
  private sketch = new Uint8Array(0)
  private blocks = 0
  private additions = 0
  private cap = 0
  private rng = 0
  /** The window's sizing by mini-simulations (assembly/minis.ts); undefined under a byte limit (hill climbing). */
  private readonly sims: MiniSims | undefined

  /** What the regions share, in weight: maxBytes under a byte limit, else maxItems (assembly/policy.ts capacity). */
  private readonly capacity: number

  constructor(
    private readonly links: Links,
    private readonly maxItems: number,
    maxBytes = Infinity,
    /** The core's hash key: seeds the admission draws (assembly/policy.ts admitWarm). */
    private readonly seed: readonly [number, number] = [0, 0],
  ) {
    this.capacity = maxBytes < Infinity ? maxBytes : maxItems
    this.setWindowMax(Math.max(1, Math.floor((this.capacity + 50) / 100)))
    this.step = -firstStep(this.capacity)
    this.sims = maxBytes < Infinity ? undefined : new MiniSims(maxItems, (h) => this.estimate(h))
  }

  /** An entry's weight: its byte size under a byte limit, else 1. */
  private weightOf(s: number): number {
    const sizes = this.links.entrySizes
    return sizes ? sizes[s]! : 1
  }

  /** An entry's size changes in place: its list's weight follows (call before the size is stored). */
  reweigh(s: number, delta: number): void {
    const r = this.region[s]!
    this.weights[r] = this.weights[r]! + delta
  }

  /** Follows JsCore's growth; the sketch grows as assembly/layout.ts spreadSketch does, losing no count. */
  resize(cap: number): void {
    const region = new Uint8Array(cap)
    region.set(this.region.subarray(0, Math.min(this.region.length, cap)))
    this.region = region
    if (cap === this.cap) return
    this.cap = cap
    const b = this.blocks
    const nb = Math.floor(((cap * 2 >= this.maxItems ? this.maxItems : cap) * SKETCH_COUNTERS + 127) / 128)
    if (nb === b) return
    const old = this.sketch
    const sketch = new Uint8Array(nb * 64)
    if (b > 0) {
      for (let j = 0; j < nb; j++) {
        const lo = Math.floor((j * b) / nb) * 64
        const hi = Math.floor(((j + 1) * b - 1) / nb) * 64
        for (let k = 0; k < 64; k++) {
          const x = old[lo + k]!
          const y = old[hi + k]!
          sketch[j * 64 + k] = Math.max(x & 0xf0, y & 0xf0) | Math.max(x & 15, y & 15)
        }
      }
    }
    this.blocks = nb
    this.sketch = sketch
  }

  memoryBytes(): number {
    return this.region.byteLength + this.sketch.byteLength + (this.sims?.memoryBytes() ?? 0)
  }

  resetLists(): void {
    this.heads.fill(NIL)
    this.tails.fill(NIL)
    this.sizes.fill(0)
    this.weights.fill(0)
  }

  private setWindowMax(w: number): void {
    this.windowMax = w
    const main = this.capacity > w ? this.capacity - w : 0
    this.protectedMax = Math.floor((main * 4) / 5)
  }

  unlinkIn(s: number): void {
    const { prev, next } = this.links
    const r = this.region[s]!
    const p = prev[s]!
    const n = next[s]!
    if (p === NIL) this.heads[r] = n
    else next[p] = n
    if (n === NIL) this.tails[r] = p
    else prev[n] = p
    this.sizes[r] = this.sizes[r]! - 1
    this.weights[r] = this.weights[r]! - this.weightOf(s)
  }

  pushFrontIn(r: number, s: number): void {
    const { prev, next } = this.links
    const h = this.heads[r]!
    prev[s] = NIL
    next[s] = h
    if (h === NIL) this.tails[r] = s
    else prev[h] = s
    this.heads[r] = s
    this.region[s] = r
    this.sizes[r] = this.sizes[r]! + 1
    this.weights[r] = this.weights[r]! + this.weightOf(s)
  }

  /** Moves list `from`'s least recent entry to the front of list `to`; returns it (`from` must not be empty). */
  private moveTail(from: number, to: number): number {
    const s = this.tails[from]!
    this.unlinkIn(s)
    this.pushFrontIn(to, s)
    return s
  }

  /** The first entry of list `r` or of a list after it, in key order: window, protected, probation. */
  private headFrom(r: number): number {
    for (let i = ORDER.indexOf(r); i < ORDER.length; i++) if (this.heads[ORDER[i]!] !== NIL) return this.heads[ORDER[i]!]!
    return NIL
  }

  firstSlot(): number {
    return this.headFrom(WINDOW)
  }

  followingSlot(s: number): number {
    const n = this.links.next[s]!
    if (n !== NIL) return n
    const r = this.region[s]!
    return r === PROBATION ? NIL : this.headFrom(ORDER[ORDER.indexOf(r) + 1]!)
  }

  private blockOf(x: number): number {
    return Math.floor((x * this.blocks) / 4294967296) * 64
  }

  estimate(h: number): number {
    const x = mixed(h)
    const b = this.blockOf(x)
    let m = 15
    for (let r = 0; r < 4; r++) {
      const idx = Math.imul(x, ROWS[r]!) >>> 27
      const c = (this.sketch[b + 16 * r + (idx >>> 1)]! >>> ((idx & 1) << 2)) & 15
      if (c < m) m = c
    }
    return m
  }

  increment(h: number): void {
    const x = mixed(h)
    const b = this.blockOf(x)
    const sketch = this.sketch
    for (let r = 0; r < 4; r++) {
      const idx = Math.imul(x, ROWS[r]!) >>> 27
      const p = b + 16 * r + (idx >>> 1)
      const shift = (idx & 1) << 2
      const v = sketch[p]!
      if (((v >>> shift) & 15) !== 15) sketch[p] = v + (1 << shift)
    }
    this.additions++
  }

  ageIfDue(): void {
    if (this.additions < this.cap * AGE_EVERY) return
    const words = new Uint32Array(this.sketch.buffer)
    for (let i = 0; i < words.length; i++) words[i] = (words[i]! >>> 1) & 0x77777777
    this.additions >>>= 1
  }

  access(s: number): void {
    const r = this.region[s]!
    if (r === PROBATION) {
      this.unlinkIn(s)
      this.pushFrontIn(PROTECTED, s)
      if (this.weights[PROTECTED]! > this.protectedMax) this.moveTail(PROTECTED, PROBATION)
    } else if (this.heads[r] !== s) {
      this.unlinkIn(s)
      this.pushFrontIn(r, s)
    }
  }

  /** assembly/policy.ts admitWarm: a warm candidate that lost to a pinned victim is let in 1 time in 128. */
  admitWarm(freq: number, victimFreq: number): boolean {
    if (freq < WARM || victimFreq < PINNED) return false
    let x = this.rng
    if (x === 0) x = (this.seed[0] ^ Math.imul(this.seed[1], 0x9e3779b9 | 0)) | 1
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.rng = x
    return (x & 127) === 0
  }

  hit(s: number, h: number): void {
    this.requests++
    this.hits++
    this.increment(h)
    this.sims?.record(h)
    this.access(s)
  }

  /** A new entry's key: counted in the sketch and, as a request, by the mini-simulations. */
  inserted(h: number): void {
    this.ageIfDue()
    this.increment(h)
    this.sims?.record(h)
  }

  miss(): void {
    this.requests++
  }

  private resizeWindow(target: number): void {
    if (target > this.windowMax) {
      let quota = target - this.windowMax
      this.setWindowMax(target)
      while (quota > 0 && this.weights[WINDOW]! < this.windowMax) {
        let moved: number
        if (this.sizes[PROBATION]! > 0) moved = this.moveTail(PROBATION, WINDOW)
        else if (this.sizes[PROTECTED]! > 0) moved = this.moveTail(PROTECTED, WINDOW)
        else break
        quota -= this.weightOf(moved)
      }
    } else {
      this.setWindowMax(target)
      while (this.weights[WINDOW]! > this.windowMax && this.sizes[WINDOW]! > 0) this.moveTail(WINDOW, PROBATION)
    }
    while (this.weights[PROTECTED]! > this.protectedMax && this.sizes[PROTECTED]! > 0) this.moveTail(PROTECTED, PROBATION)
  }

  climbIfDue(): void {
    const sims = this.sims
    if (this.requests < this.maxItems * (sims ? SIM_PERIOD : 10)) return
    let target: number
    if (sims) target = Math.floor(this.capacity * sims.best() + 0.5)
    else {
      const rate = this.hits / this.requests
      const change = rate - this.previousRate
      const amount = change >= 0 ? this.step : -this.step
      this.step = Math.abs(change) >= 0.05 ? firstStep(this.capacity) * (amount >= 0 ? 1 : -1) : 0.98 * amount
      this.previousRate = rate
      target = this.windowMax + Math.trunc(amount)
    }
    const most = this.capacity > 1 ? Math.floor(this.capacity) - 1 : 1
    target = Math.min(most, Math.max(1, target))
    if (target !== this.windowMax) this.resizeWindow(target)
    this.requests = 0
    this.hits = 0
  }

  victim(keep: number): number {
    let v = this.tails[PROBATION]!
    if (v !== NIL && v !== keep) return v
    v = this.tails[PROTECTED]!
    if (v !== NIL && v !== keep) return v
    return this.tails[WINDOW]!
  }

  /** Before an insert of `weight`: window LRU entries move to probation until it fits (the last is the candidate). */
  makeWindowRoom(weight: number): number {
    let candidate = NIL
    while (this.weights[WINDOW]! + weight > this.windowMax && this.sizes[WINDOW]! > 0) candidate = this.moveTail(WINDOW, PROBATION)
    return candidate
  }
}
