// A reference W-TinyLFU for the hit-ratio suite (issue 10): the policy as the cores will run it, written plainly
// in JS over integer ids, so its parameters can be chosen on the traces before it goes into both cores.
// After Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission Policy" (2017), and
// Caffeine's design: an LRU admission window, a main SLRU (probation + protected), a count-min sketch of 4-bit
// counters halved every 10 x size additions, an optional doorkeeper Bloom filter, and (optionally) the window
// resized by hill climbing on the hit rate.

const mix = (x, seed) => {
  let h = Math.imul(x ^ seed, 0x9e3779b1)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** Count-min sketch of 4-bit counters (4 rows), with a doorkeeper and periodic halving. */
class Sketch {
  constructor(size, { widthFactor = 1, doorkeeper = true } = {}) {
    const width = (1 << Math.max(4, Math.ceil(Math.log2(Math.max(16, size))))) * widthFactor
    this.doorkeeper = doorkeeper
    this.mask = width - 1
    this.rows = [0, 1, 2, 3].map(() => new Uint8Array(width))
    this.door = new Uint8Array(width * 2)
    this.doorMask = width * 2 - 1
    this.sample = 10 * Math.max(1, size)
    this.additions = 0
  }

  estimate(id) {
    let min = 15
    for (let r = 0; r < 4; r++) min = Math.min(min, this.rows[r][mix(id, r + 1) & this.mask])
    return min + (this.inDoor(id) ? 1 : 0)
  }

  inDoor(id) {
    if (!this.doorkeeper) return false
    return this.door[mix(id, 11) & this.doorMask] === 1 && this.door[mix(id, 12) & this.doorMask] === 1
  }

  increment(id) {
    // The doorkeeper takes the first sighting, so one-hit wonders never reach the counters.
    if (this.doorkeeper && !this.inDoor(id)) {
      this.door[mix(id, 11) & this.doorMask] = 1
      this.door[mix(id, 12) & this.doorMask] = 1
    } else {
      for (let r = 0; r < 4; r++) {
        const i = mix(id, r + 1) & this.mask
        if (this.rows[r][i] < 15) this.rows[r][i]++
      }
    }
    if (++this.additions >= this.sample) this.halve()
  }

  halve() {
    for (const row of this.rows) for (let i = 0; i < row.length; i++) row[i] >>= 1
    this.door.fill(0)
    this.additions = this.additions >>> 1
  }
}

const NIL = -1

/**
 * Three LRU lists (window, probation, protected) over one pool of slots: a Map from id to slot, and prev/next
 * links in typed arrays (a Map used as an LRU slows down as deletions leave holes at its front).
 */
class Lists {
  constructor(capacity) {
    this.slotOf = new Map()
    this.ids = new Float64Array(capacity)
    this.prev = new Int32Array(capacity)
    this.next = new Int32Array(capacity)
    this.list = new Int8Array(capacity)
    this.free = []
    for (let s = capacity - 1; s >= 0; s--) this.free.push(s)
    this.head = [NIL, NIL, NIL] // least recent
    this.tail = [NIL, NIL, NIL] // most recent
    this.sizes = [0, 0, 0]
  }
  /** The list holding `id`, or -1. */
  where(id) {
    const s = this.slotOf.get(id)
    return s === undefined ? -1 : this.list[s]
  }
  unlink(s) {
    const l = this.list[s]
    const p = this.prev[s]
    const n = this.next[s]
    if (p === NIL) this.head[l] = n
    else this.next[p] = n
    if (n === NIL) this.tail[l] = p
    else this.prev[n] = p
    this.sizes[l]--
  }
  append(l, s) {
    this.list[s] = l
    this.prev[s] = this.tail[l]
    this.next[s] = NIL
    if (this.tail[l] === NIL) this.head[l] = s
    else this.next[this.tail[l]] = s
    this.tail[l] = s
    this.sizes[l]++
  }
  /** Moves `id` (present) to the most recent end of list `l`. */
  move(id, l) {
    const s = this.slotOf.get(id)
    this.unlink(s)
    this.append(l, s)
  }
  add(id, l) {
    const s = this.free.pop()
    this.ids[s] = id
    this.slotOf.set(id, s)
    this.append(l, s)
  }
  remove(id) {
    const s = this.slotOf.get(id)
    this.unlink(s)
    this.slotOf.delete(id)
    this.free.push(s)
  }
  oldest(l) {
    return this.head[l] === NIL ? undefined : this.ids[this.head[l]]
  }
}

const WINDOW = 0
const PROBATION = 1
const PROTECTED = 2

/**
 * Replays `stream` through W-TinyLFU of `size` entries; returns the hit count. `window`: the initial share of
 * the admission window (Caffeine: 1%); `adaptive`: hill-climb the window size on the hit rate.
 */
// Defaults chosen on the suite's traces (the README has the figures): 4 x the next
// power of two counters per row (16 per entry in all, 8 bytes, as Caffeine), no doorkeeper (it gained 3.7
// points on P6 but lost 2.3 on OLTP at 2,000 and 0.6 on Zipf 0.9), climber steps of 10% of the cache decaying
// by 0.98 per period of 10 x size requests, back to 10% when the hit rate moves by more than 5 points
// (Caffeine's restart threshold; without it the climber wandered on P6: 20.13).
export function replayTinyLfu(stream, size, { window = 0.01, adaptive = true, period: periodFactor = 10, step: stepShare = 0.1, decay = 0.98, restart = 0.05, widthFactor = 4, doorkeeper = false } = {}) {
  const sketch = new Sketch(size, { widthFactor, doorkeeper })
  const lists = new Lists(size + 2)
  let windowMax = Math.max(1, Math.round(size * window))
  const mainMax = () => size - windowMax
  const protectedMax = () => Math.floor(mainMax() * 0.8)

  // Hill climbing (Caffeine): every `period` requests compare the hit rate with the last period's; keep moving
  // the window the same way while it improves, turn round when it does not, with a step that decays.
  const period = periodFactor * size
  let periodHits = 0
  let periodRequests = 0
  let previousRate = 0
  let step = Math.max(1, Math.round(size * stepShare))
  let direction = 1

  const demoteProtected = () => {
    while (lists.sizes[PROTECTED] > protectedMax()) lists.move(lists.oldest(PROTECTED), PROBATION)
  }

  /** Main is over capacity: the window's candidate against probation's victim, by estimated frequency. */
  const evictMain = (candidate) => {
    while (lists.sizes[PROBATION] + lists.sizes[PROTECTED] > mainMax()) {
      const victim = lists.sizes[PROBATION] > 0 ? lists.oldest(PROBATION) : lists.oldest(PROTECTED)
      if (victim === candidate || candidate === undefined) {
        lists.remove(victim)
        if (victim === candidate) candidate = undefined
      } else if (sketch.estimate(candidate) <= sketch.estimate(victim)) {
        lists.remove(candidate) // rejected
        candidate = undefined
      } else lists.remove(victim)
    }
  }

  const shrinkWindow = () => {
    while (lists.sizes[WINDOW] > windowMax) {
      const candidate = lists.oldest(WINDOW)
      lists.move(candidate, PROBATION)
      evictMain(candidate)
    }
  }

  let hits = 0
  for (let i = 0; i < stream.length; i++) {
    const id = stream[i]
    sketch.increment(id)
    const at = lists.where(id)
    const hit = at >= 0
    if (at === WINDOW || at === PROTECTED) lists.move(id, at)
    else if (at === PROBATION) {
      lists.move(id, PROTECTED)
      demoteProtected()
    } else {
      lists.add(id, WINDOW)
      shrinkWindow()
    }
    if (hit) hits++

    if (adaptive) {
      if (hit) periodHits++
      if (++periodRequests === period) {
        const rate = periodHits / periodRequests
        if (rate < previousRate) direction = -direction
        // A large change in the hit rate means the workload changed: start again with the first step.
        if (Math.abs(rate - previousRate) > restart) step = Math.max(1, Math.round(size * stepShare))
        previousRate = rate
        const next = Math.min(size - 1, Math.max(1, windowMax + direction * step))
        windowMax = next
        shrinkWindow()
        evictMain(undefined)
        demoteProtected()
        step = Math.max(1, Math.round(step * decay))
        periodHits = 0
        periodRequests = 0
      }
    }
  }
  return hits
}
