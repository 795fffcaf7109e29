// W-TinyLFU's window sizing for JsCore: assembly/minis.ts step for step (its header has the design), so both
// cores size the window alike and evict alike.

/** The window shares the mini-simulations try, as fractions of capacity (assembly/minis.ts SHARES). */
export const SHARES: readonly number[] = [0.01, 0.03, 0.1, 0.25, 0.5, 0.8, 1]
const M = SHARES.length
const NIL = -1
const WIN = 0
const PROB = 1
const PROT = 2
/** Each mini holds at least this many entries (fewer only when the cache itself is smaller). */
const MINI_MIN = 512
/** Caches this large or larger sample at least one key in two (assembly/minis.ts SAMPLE_FROM). */
const SAMPLE_FROM = 256
/** Scores decay by this much at every decision, so the last periods weigh most. */
const DECAY = 0.9
/** Sampled requests wait here until the next decision or until it is full (assembly/minis.ts RING). */
const RING = 64

function sampleMix(h: number): number {
  let x = (h ^ 0x5f3759df) >>> 0
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b | 0)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35 | 0)
  return (x ^ (x >>> 16)) >>> 0
}

/**
 * One key in `rate` reaches the minis: the largest power of two with capacity / rate >= MINI_MIN, and at least
 * 2 from SAMPLE_FROM entries on (assembly/minis.ts sampleRate).
 */
export function sampleRate(capacity: number): number {
  let rate = 1
  while (rate * 2 * MINI_MIN <= capacity) rate *= 2
  return rate === 1 && capacity >= SAMPLE_FROM ? 2 : rate
}

export class MiniSims {
  private readonly rate: number
  private readonly mc: number
  private readonly hash: Uint32Array
  private readonly prev: Int32Array
  private readonly next: Int32Array
  private readonly region: Uint8Array
  private readonly heads = new Int32Array(M * 3).fill(NIL)
  private readonly tails = new Int32Array(M * 3).fill(NIL)
  private readonly sizes = new Int32Array(M * 3)
  private readonly wmax = new Int32Array(M)
  private readonly pmax = new Int32Array(M)
  private readonly used = new Int32Array(M)
  private readonly free: Int32Array
  private readonly freeTop = new Int32Array(M)
  private readonly buckets: number
  private readonly index: Int32Array
  private readonly scores = new Float64Array(M)
  private readonly ring = new Uint32Array(RING)
  private ringLength = 0

  constructor(
    capacity: number,
    /** The main cache's sketch: a key's frequency is the stream's, so the minis share it. */
    private readonly estimate: (h: number) => number,
  ) {
    this.rate = sampleRate(capacity)
    const mc = Math.max(1, Math.floor((capacity + (this.rate >>> 1)) / this.rate))
    this.mc = mc
    const slots = M * (mc + 1)
    this.hash = new Uint32Array(slots)
    this.prev = new Int32Array(slots)
    this.next = new Int32Array(slots)
    this.region = new Uint8Array(slots)
    this.free = new Int32Array(slots)
    for (let k = 0; k < M; k++) {
      this.wmax[k] = Math.floor(mc * SHARES[k]! + 0.5)
      this.pmax[k] = Math.floor(((mc - this.wmax[k]!) * 4) / 5)
    }
    let buckets = 1
    while (buckets < 2 * (mc + 1)) buckets *= 2
    this.buckets = buckets
    this.index = new Int32Array(M * buckets)
  }

  memoryBytes(): number {
    return this.hash.byteLength * 4 + this.region.byteLength + this.index.byteLength
  }

  /** Queues one request for key hash `h` if its key is in the sample. */
  record(h: number): void {
    if ((sampleMix(h) & (this.rate - 1)) !== 0) return
    if (this.ringLength === RING) this.drain()
    this.ring[this.ringLength++] = h
  }

  /** The share of the mini with the most hits, decayed over past decisions (the first of equals). */
  best(): number {
    this.drain()
    const scores = this.scores
    let b = 0
    for (let k = 1; k < M; k++) if (scores[k]! > scores[b]!) b = k
    for (let k = 0; k < M; k++) scores[k] = scores[k]! * DECAY
    return SHARES[b]!
  }

  private drain(): void {
    for (let i = 0; i < this.ringLength; i++) {
      const h = this.ring[i]!
      for (let k = 0; k < M; k++) this.scores[k] = this.scores[k]! + this.step(k, h)
    }
    this.ringLength = 0
  }

  private home(h: number): number {
    return (Math.imul(h, 0x9e3779b1 | 0) >>> 0) & (this.buckets - 1)
  }

  private find(k: number, h: number): number {
    const base = k * this.buckets
    const mask = this.buckets - 1
    for (let b = this.home(h); ; b = (b + 1) & mask) {
      const v = this.index[base + b]!
      if (v === 0) return NIL
      if (this.hash[v - 1] === h) return v - 1
    }
  }

  private indexAdd(k: number, s: number): void {
    const base = k * this.buckets
    const mask = this.buckets - 1
    let b = this.home(this.hash[s]!)
    while (this.index[base + b] !== 0) b = (b + 1) & mask
    this.index[base + b] = s + 1
  }

  /** Backward-shift deletion: later entries of the cluster move into the hole unless that passes their home. */
  private indexRemove(k: number, s: number): void {
    const base = k * this.buckets
    const mask = this.buckets - 1
    let hole = this.home(this.hash[s]!)
    while (this.index[base + hole] !== s + 1) hole = (hole + 1) & mask
    for (let j = (hole + 1) & mask; this.index[base + j] !== 0; j = (j + 1) & mask) {
      const v = this.index[base + j]!
      const home = this.home(this.hash[v - 1]!)
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        this.index[base + hole] = v
        hole = j
      }
    }
    this.index[base + hole] = 0
  }

  private unlink(k: number, s: number): void {
    const r = k * 3 + this.region[s]!
    const p = this.prev[s]!
    const n = this.next[s]!
    if (p === NIL) this.heads[r] = n
    else this.next[p] = n
    if (n === NIL) this.tails[r] = p
    else this.prev[n] = p
    this.sizes[r] = this.sizes[r]! - 1
  }

  private push(k: number, list: number, s: number): void {
    const r = k * 3 + list
    const h = this.heads[r]!
    this.prev[s] = NIL
    this.next[s] = h
    if (h === NIL) this.tails[r] = s
    else this.prev[h] = s
    this.heads[r] = s
    this.region[s] = list
    this.sizes[r] = this.sizes[r]! + 1
  }

  /** Takes a slot that is on no list out of the index and frees it. */
  private forget(k: number, s: number): void {
    this.indexRemove(k, s)
    this.free[k * (this.mc + 1) + this.freeTop[k]!] = s
    this.freeTop[k] = this.freeTop[k]! + 1
  }

  private total(k: number): number {
    return this.sizes[k * 3]! + this.sizes[k * 3 + 1]! + this.sizes[k * 3 + 2]!
  }

  /** One request in mini k: 1 for a hit, 0 for a miss (the key then enters its window, or is judged out). */
  private step(k: number, h: number): number {
    const s = this.find(k, h)
    if (s !== NIL) {
      const r = this.region[s]!
      this.unlink(k, s)
      if (r === PROB) {
        this.push(k, PROT, s)
        if (this.sizes[k * 3 + PROT]! > this.pmax[k]!) {
          const x = this.tails[k * 3 + PROT]!
          this.unlink(k, x)
          this.push(k, PROB, x)
        }
      } else this.push(k, r, s)
      return 1
    }
    let n: number
    if (this.freeTop[k]! > 0) {
      this.freeTop[k] = this.freeTop[k]! - 1
      n = this.free[k * (this.mc + 1) + this.freeTop[k]!]!
    } else {
      n = k * (this.mc + 1) + this.used[k]!
      this.used[k] = this.used[k]! + 1
    }
    this.hash[n] = h
    this.indexAdd(k, n)
    this.push(k, WIN, n)
    while (this.sizes[k * 3 + WIN]! > this.wmax[k]!) {
      const c = this.tails[k * 3 + WIN]!
      this.unlink(k, c)
      if (this.total(k) < this.mc) {
        this.push(k, PROB, c)
        continue
      }
      const v = this.tails[k * 3 + (this.sizes[k * 3 + PROB]! > 0 ? PROB : PROT)]!
      // The mini whose window is all of it has an empty main: its candidate just goes.
      if (v !== NIL && this.estimate(this.hash[c]!) > this.estimate(this.hash[v]!)) {
        this.unlink(k, v)
        this.forget(k, v)
        this.push(k, PROB, c)
      } else this.forget(k, c)
    }
    while (this.total(k) > this.mc) {
      const from = this.sizes[k * 3 + PROB]! > 0 ? PROB : this.sizes[k * 3 + PROT]! > 0 ? PROT : WIN
      const v = this.tails[k * 3 + from]!
      this.unlink(k, v)
      this.forget(k, v)
    }
    return 0
  }
}
