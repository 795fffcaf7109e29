// Request streams for the hit-ratio suite: the ARC paper's traces (bench/traces/, cite the paper wherever they
// are used: see bench/traces/README.md) and synthetic ones generated deterministically. A stream is a
// Uint32Array of item ids; the replay turns each id into a key.
import { Buffer } from 'node:buffer'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decompress } from 'fzstd'
import { rng, zipfIndices } from './workload.mjs'

const here = dirname(fileURLToPath(import.meta.url))

/** The published LRU and ARC hit ratios (%) of the ARC paper, by trace and cache size. */
export const PUBLISHED = {
  OLTP: { 1000: { lru: 32.83, arc: 38.93 }, 2000: { lru: 42.47, arc: 46.08 } },
  P6: { 32768: { lru: 4.24, arc: 23.84 } },
}

/** Reads an ARC `.lis` trace: each line `start count ignored request` is `count` requests, start upward. */
export function arcTrace(name, limit = Infinity) {
  const text = Buffer.from(decompress(readFileSync(join(here, '..', 'traces', `${name}.lis.zst`)))).toString('latin1')
  let out = new Uint32Array(1 << 20)
  let n = 0
  let i = 0
  while (i < text.length && n < limit) {
    let end = text.indexOf('\n', i)
    if (end < 0) end = text.length
    const line = text.slice(i, end).trim()
    i = end + 1
    if (line === '') continue
    const [start, count] = line.split(/\s+/).map(Number)
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > 0xffffffff) {
      throw new Error(`${name}: bad trace line ${JSON.stringify(line)}`)
    }
    for (let b = 0; b < count && n < limit; b++) {
      if (n === out.length) {
        const grown = new Uint32Array(out.length * 2)
        grown.set(out)
        out = grown
      }
      out[n++] = start + b
    }
  }
  return out.subarray(0, n)
}

/**
 * Reads a LIRS or cache2k trace (bench/traces/<name>.trace.gz: one id per line, lines that are not a number
 * skipped). Cite the LIRS paper (loop, multi2, sprite) or cache2k (web12) wherever they are used.
 */
export function lirsTrace(name) {
  const text = gunzipSync(readFileSync(join(here, '..', 'traces', `${name}.trace.gz`))).toString('latin1')
  const out = []
  for (const line of text.split('\n')) {
    const t = line.trim()
    if (/^\d+$/.test(t)) out.push(Number(t))
  }
  return Uint32Array.from(out)
}

/** Distinct ids of a stream. */
export function distinctIds(stream) {
  return new Set(stream).size
}

/** Zipf over `items` ids with skew `s`. */
export function zipfTrace(items, length, s, seed = 1) {
  return zipfIndices(items, length, s, seed)
}

/** Zipf 0.9 with sequential scans of never-repeated ids mixed in: `scanShare` of the requests are scans. */
export function scanMixTrace(items, length, scanLength, scanShare = 0.3, seed = 2) {
  const zipf = zipfIndices(items, length, 0.9, seed)
  const r = rng(seed + 1)
  const out = new Uint32Array(length)
  let next = items // scan ids start past the zipf ids and never repeat
  let z = 0
  for (let n = 0; n < length; ) {
    if (r() < scanShare / scanLength) {
      for (let k = 0; k < scanLength && n < length; k++) out[n++] = next++
    } else out[n++] = zipf[z++]
  }
  return out
}

/** A loop over `items` ids, again and again (LRU's worst case when items exceeds the cache). */
export function loopTrace(items, length) {
  return Uint32Array.from({ length }, (_, n) => n % items)
}

/**
 * Recency-heavy: most requests go to ids seen a moment ago (a sliding working set that drifts forward), the
 * pattern LRU handles well and frequency-based admission can hurt.
 */
export function recencyTrace(length, window, seed = 3) {
  const r = rng(seed)
  const out = new Uint32Array(length)
  let head = 0
  for (let n = 0; n < length; n++) {
    if (r() < 0.2) out[n] = head++ // a new id
    else out[n] = Math.max(0, head - 1 - Math.floor(Math.pow(r(), 3) * window)) // a recent one, most likely the newest
  }
  return out
}
