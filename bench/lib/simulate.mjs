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
