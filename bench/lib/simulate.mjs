// Replays a request stream (Uint32Array of ids) through a cache of `size` entries and counts hits: through the
// public core API, through lru-cache, and offline with Belady's optimal policy (the bound no policy passes).
import { LRUCache } from 'lru-cache'
import { createCore } from '../../dist/index.js'

/** The core as an application uses it: get, and set on a miss. Keys are the ids as strings. */
// W-TinyLFU's sketch counts by the keyed hash, whose key is random per process: replays fix it, so a trace gives
// the same hit ratio every run.
const REPLAY_SEED = [0x52757374, 0x6f436163]

export function replayCore(stream, size, options = {}) {
  const core = createCore({ hashSeed: REPLAY_SEED, ...options, maxItems: size })
  let hits = 0
  for (let i = 0; i < stream.length; i++) {
    const key = String(stream[i])
    if (core.get(key, 0) !== undefined) hits++
    else core.set(key, 1, 0)
  }
  return hits
}

export function replayLruCache(stream, size) {
  const cache = new LRUCache({ max: size })
  let hits = 0
  for (let i = 0; i < stream.length; i++) {
    const key = String(stream[i])
    if (cache.get(key) !== undefined) hits++
    else cache.set(key, 1)
  }
  return hits
}

/** A plain LRU in a dozen lines (Map insertion order), the reference the others are checked against. */
export function replayReferenceLru(stream, size) {
  const map = new Map()
  let hits = 0
  for (let i = 0; i < stream.length; i++) {
    const id = stream[i]
    if (map.has(id)) {
      hits++
      map.delete(id)
    } else if (map.size === size) map.delete(map.keys().next().value)
    map.set(id, true)
  }
  return hits
}

/**
 * ARC (Megiddo and Modha, FAST 03, its Fig. 4): T1 and T2 cached, B1 and B2 their ghosts, p the target size of
 * T1, adapted by ghost hits. Checked against the paper's OLTP and P6 figures (test/hitratio.test.ts).
 */
export function replayArc(stream, c) {
  const T1 = new Map()
  const T2 = new Map()
  const B1 = new Map()
  const B2 = new Map()
  let p = 0
  let hits = 0
  const oldest = (m) => m.keys().next().value
  const replace = (inB2) => {
    if (T1.size > 0 && (T1.size > p || (inB2 && T1.size === p))) {
      const x = oldest(T1)
      T1.delete(x)
      B1.set(x, true)
    } else {
      const x = oldest(T2)
      T2.delete(x)
      B2.set(x, true)
    }
  }
  for (let i = 0; i < stream.length; i++) {
    const x = stream[i]
    if (T1.has(x)) {
      hits++
      T1.delete(x)
      T2.set(x, true)
    } else if (T2.has(x)) {
      hits++
      T2.delete(x)
      T2.set(x, true)
    } else if (B1.has(x)) {
      p = Math.min(c, p + Math.max(B2.size / B1.size, 1))
      replace(false)
      B1.delete(x)
      T2.set(x, true)
    } else if (B2.has(x)) {
      p = Math.max(0, p - Math.max(B1.size / B2.size, 1))
      replace(true)
      B2.delete(x)
      T2.set(x, true)
    } else {
      const l1 = T1.size + B1.size
      const all = l1 + T2.size + B2.size
      if (l1 === c) {
        if (T1.size < c) {
          B1.delete(oldest(B1))
          replace(false)
        } else T1.delete(oldest(T1))
      } else if (l1 < c && all >= c) {
        if (all === 2 * c) B2.delete(oldest(B2))
        replace(false)
      }
      T1.set(x, true)
    }
  }
  return hits
}

/**
 * Belady's optimal policy with bypass: on a miss, evict the cached id used again furthest in the future, or do
 * not cache the new id at all if it is used again later than all of them (admission policies may refuse too,
 * so this is their bound). Offline: next uses come from one backward pass; a max-heap with lazy deletion.
 */
export function replayBelady(stream, size) {
  const n = stream.length
  const nextUse = new Float64Array(n)
  const seen = new Map()
  for (let i = n - 1; i >= 0; i--) {
    const id = stream[i]
    const next = seen.get(id)
    nextUse[i] = next === undefined ? Infinity : next
    seen.set(id, i)
  }
  seen.clear()
  const cached = new Map() // id -> its next use
  // Max-heap of [next use, id]; an entry is stale when cached.get(id) no longer equals its next use.
  const keys = []
  const ids = []
  const push = (k, id) => {
    let i = keys.length
    keys.push(k)
    ids.push(id)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (keys[p] >= k) break
      keys[i] = keys[p]
      ids[i] = ids[p]
      i = p
    }
    keys[i] = k
    ids[i] = id
  }
  const pop = () => {
    const k = keys.pop()
    const id = ids.pop()
    if (keys.length === 0) return
    let i = 0
    const len = keys.length
    for (;;) {
      let c = 2 * i + 1
      if (c >= len) break
      if (c + 1 < len && keys[c + 1] > keys[c]) c++
      if (keys[c] <= k) break
      keys[i] = keys[c]
      ids[i] = ids[c]
      i = c
    }
    keys[i] = k
    ids[i] = id
  }
  /** The cached id used furthest ahead, after dropping stale heap entries. */
  const top = () => {
    while (keys.length > 0 && cached.get(ids[0]) !== keys[0]) pop()
    return keys.length > 0 ? ids[0] : undefined
  }
  let hits = 0
  for (let i = 0; i < n; i++) {
    const id = stream[i]
    const next = nextUse[i]
    if (cached.has(id)) {
      hits++
      cached.set(id, next)
      push(next, id)
      continue
    }
    if (cached.size < size) {
      cached.set(id, next)
      push(next, id)
      continue
    }
    const victim = top()
    if (victim === undefined || cached.get(victim) <= next) continue // bypass: the new id is needed last
    cached.delete(victim)
    pop()
    cached.set(id, next)
    push(next, id)
  }
  return hits
}
