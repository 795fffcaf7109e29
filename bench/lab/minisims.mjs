// Mini-simulations in the shape the cores will take (typed arrays, no Map, no allocation per request), for the
// window sizing measured in policy-lab.mjs ('minisim'): nine small W-TinyLFU caches, one per window share, fed
// a hash sample of the keys and sharing the main cache's frequency sketch (a key's frequency is the stream's,
// not the cache's). The main window takes the share of the mini with the most hits, decayed, every period.
// Keys are known by their 32-bit hash only: two keys with one hash are one key here, which a simulation
// tolerates. `node bench/lab/run.mjs` with V='{"ta":{"climber":"minisims"}}' checks it against the Map form.

export const SHARES = [0, 0.01, 0.03, 0.07, 0.15, 0.3, 0.5, 0.75, 1]
const M = SHARES.length
const NIL = -1
const WIN = 0
const PROB = 1
const PROT = 2

/** A 32-bit mix for the sample test, independent of the bits the sketch and the table use. */
function sampleMix(h) {
  let x = (h ^ 0x5f3759df) >>> 0
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}

export class MiniSims {
  /**
   * @param {number} capacity the main cache's entries
   * @param {(h: number) => number} estimate the main sketch's estimate of a key hash
   * @param {{ miniMin?: number, protectedShare?: number, decay?: number }} [o]
   */
  constructor(capacity, estimate, o = {}) {
    this.estimate = estimate
    this.decay = o.decay ?? 0.7
    // Sample 1 key in `rate` (a power of two), so each mini holds at least miniMin entries.
    this.rate = Math.max(1, 2 ** Math.floor(Math.log2(Math.max(1, capacity / (o.miniMin ?? 512)))))
    const mc = Math.max(1, Math.round(capacity / this.rate))
    this.mc = mc
    // mc + 1 slots per mini: a new key is in before the window's overflow decides who goes.
    const slots = M * (mc + 1)
    this.hash = new Uint32Array(slots)
    this.prev = new Int32Array(slots)
    this.next = new Int32Array(slots)
    this.region = new Uint8Array(slots)
    this.heads = new Int32Array(M * 3).fill(NIL)
    this.tails = new Int32Array(M * 3).fill(NIL)
    this.sizes = new Int32Array(M * 3)
    this.wmax = new Int32Array(M)
    this.pmax = new Int32Array(M)
    for (let k = 0; k < M; k++) {
      this.wmax[k] = Math.round(mc * SHARES[k])
      this.pmax[k] = Math.floor((mc - this.wmax[k]) * (o.protectedShare ?? 0.8))
    }
    // Never-used slots are taken in order; freed ones go on a stack per mini.
    this.used = new Int32Array(M)
    this.free = new Int32Array(slots)
    this.freeTop = new Int32Array(M)
    // One open-addressing index per mini: slot + 1 (0 empty), linear probing, backward-shift deletion.
    let buckets = 1
    while (buckets < 2 * (mc + 1)) buckets <<= 1
    this.buckets = buckets
    this.index = new Int32Array(M * buckets)
    this.scores = new Float64Array(M)
  }

  /** The sample test: only a key passing it reaches the minis. */
  sampled(h) {
    return (sampleMix(h) & (this.rate - 1)) === 0
  }

  /** One request for key hash `h` (a hit or a miss of the main cache), for every mini. */
  access(h) {
    if (!this.sampled(h)) return
    for (let k = 0; k < M; k++) this.scores[k] += this.step(k, h)
  }

  /** The share of the best mini since the last decision (the first of equals), then every score decays. */
  best() {
    let b = 0
    for (let k = 1; k < M; k++) if (this.scores[k] > this.scores[b]) b = k
    for (let k = 0; k < M; k++) this.scores[k] *= this.decay
    return SHARES[b]
  }

  home(h) {
    return (Math.imul(h, 0x9e3779b1) >>> 0) & (this.buckets - 1)
  }

  find(k, h) {
    const base = k * this.buckets
    for (let b = this.home(h); ; b = (b + 1) & (this.buckets - 1)) {
      const v = this.index[base + b]
      if (v === 0) return NIL
      if (this.hash[v - 1] === h) return v - 1
    }
  }

  indexAdd(k, s) {
    const base = k * this.buckets
    let b = this.home(this.hash[s])
    while (this.index[base + b] !== 0) b = (b + 1) & (this.buckets - 1)
    this.index[base + b] = s + 1
  }

  indexRemove(k, s) {
    const base = k * this.buckets
    const mask = this.buckets - 1
    let b = this.home(this.hash[s])
    while (this.index[base + b] !== s + 1) b = (b + 1) & mask
    // Backward shift: move later entries of the cluster into the hole unless that passes their home.
    let hole = b
    for (let j = (b + 1) & mask; this.index[base + j] !== 0; j = (j + 1) & mask) {
      const home = this.home(this.hash[this.index[base + j] - 1])
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        this.index[base + hole] = this.index[base + j]
        hole = j
      }
    }
    this.index[base + hole] = 0
  }

  unlink(k, s) {
    const r = k * 3 + this.region[s]
    const p = this.prev[s]
    const n = this.next[s]
    if (p === NIL) this.heads[r] = n
    else this.next[p] = n
    if (n === NIL) this.tails[r] = p
    else this.prev[n] = p
    this.sizes[r]--
  }

  push(k, list, s) {
    const r = k * 3 + list
    const h = this.heads[r]
    this.prev[s] = NIL
    this.next[s] = h
    if (h === NIL) this.tails[r] = s
    else this.prev[h] = s
    this.heads[r] = s
    this.region[s] = list
    this.sizes[r]++
  }

  /** Takes a slot that is on no list out of the index and frees it. */
  forget(k, s) {
    this.indexRemove(k, s)
    this.free[k * (this.mc + 1) + this.freeTop[k]++] = s
  }

  drop(k, s) {
    this.unlink(k, s)
    this.forget(k, s)
  }

  total(k) {
    return this.sizes[k * 3] + this.sizes[k * 3 + 1] + this.sizes[k * 3 + 2]
  }

  /** One request in mini k: 1 for a hit, 0 for a miss (the key is then in its window, or judged out of it). */
  step(k, h) {
    const s = this.find(k, h)
    if (s !== NIL) {
      const r = this.region[s]
      this.unlink(k, s)
      if (r === PROB) {
        this.push(k, PROT, s)
        if (this.sizes[k * 3 + PROT] > this.pmax[k]) {
          const x = this.tails[k * 3 + PROT]
          this.unlink(k, x)
          this.push(k, PROB, x)
        }
      } else this.push(k, r, s)
      return 1
    }
    const n = this.freeTop[k] > 0 ? this.free[k * (this.mc + 1) + --this.freeTop[k]] : k * (this.mc + 1) + this.used[k]++
    this.hash[n] = h
    this.indexAdd(k, n)
    this.push(k, WIN, n)
    while (this.sizes[k * 3 + WIN] > this.wmax[k]) {
      const c = this.tails[k * 3 + WIN]
      this.unlink(k, c)
      if (this.total(k) < this.mc) {
        this.push(k, PROB, c)
        continue
      }
      const from = this.sizes[k * 3 + PROB] > 0 ? PROB : PROT
      const v = this.tails[k * 3 + from]
      // A full window and an empty main (the mini whose window is all of it): the candidate just goes.
      if (v !== NIL && this.estimate(this.hash[c]) > this.estimate(this.hash[v])) {
        this.drop(k, v)
        this.push(k, PROB, c)
      } else this.forget(k, c)
    }
    while (this.total(k) > this.mc) {
      const from = this.sizes[k * 3 + PROB] > 0 ? PROB : this.sizes[k * 3 + PROT] > 0 ? PROT : WIN
      this.drop(k, this.tails[k * 3 + from])
    }
    return 0
  }
}
