// Hit ratios: each trace replayed at several cache sizes through the public core API with policy 'lru' and
// policy 'tinylfu', through lru-cache (the JS reference), and Belady's optimal policy (offline, with bypass:
// the bound no policy passes).
// The ARC traces must be cited wherever they are used: Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead
// Replacement Cache", FAST 03 (bench/traces/README.md).
import { arcTrace, loopTrace, PUBLISHED, recencyTrace, scanMixTrace, zipfTrace } from '../lib/traces.mjs'
import { replayBelady, replayCore, replayLruCache } from '../lib/simulate.mjs'

function traces(quick) {
  const length = quick ? 200_000 : 2_000_000
  const items = 100_000
  const list = [
    { name: 'OLTP (ARC paper)', stream: () => arcTrace('OLTP'), sizes: quick ? [1000] : [1000, 2000], published: PUBLISHED.OLTP },
    ...(quick ? [] : [{ name: 'P6 (ARC paper)', stream: () => arcTrace('P6'), sizes: [32768], published: PUBLISHED.P6 }]),
    ...[0.7, 0.9, 1.1].map((s) => ({ name: `zipf ${s}, 100k items`, stream: () => zipfTrace(items, length, s), sizes: [1000, 10_000] })),
    { name: 'zipf 0.9 with scans, 100k items', stream: () => scanMixTrace(items, length, 5_000), sizes: [1000, 10_000] },
    { name: 'loop of 11k items', stream: () => loopTrace(11_000, length), sizes: [10_000] },
    { name: 'recency-heavy', stream: () => recencyTrace(length, 5_000), sizes: [1000] },
  ]
  return list
}

export const traceCount = (quick) => traces(quick).length

const pct = (hits, n) => (100 * hits) / n

/** Every trace at every size; `log` hears one line per trace. Returns rows for the table and the json. */
export function run({ quick = false, log } = {}) {
  const rows = []
  for (const t of traces(quick)) {
    const started = Date.now()
    const stream = t.stream()
    for (const size of t.sizes) {
      const published = t.published?.[size]
      rows.push({
        trace: t.name,
        requests: stream.length,
        size,
        lru: pct(replayCore(stream, size, { policy: 'lru' }), stream.length),
        tinyLfu: pct(replayCore(stream, size, { policy: 'tinylfu' }), stream.length),
        lruCache: pct(replayLruCache(stream, size), stream.length),
        belady: pct(replayBelady(stream, size), stream.length),
        publishedLru: published?.lru,
        publishedArc: published?.arc,
      })
    }
    log?.(`  [hit ratio] ${t.name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
  return rows
}

export function table(rows) {
  const f = (x) => (x === undefined ? '' : x.toFixed(2))
  return rows.map((r) => ({
    trace: r.trace,
    'cache size': r.size.toLocaleString('en'),
    "policy 'lru'": f(r.lru),
    "policy 'tinylfu'": f(r.tinyLfu),
    'tinylfu - lru': (r.tinyLfu - r.lru >= 0 ? '+' : '') + f(r.tinyLfu - r.lru),
    'lru-cache': f(r.lruCache),
    'Belady (optimal)': f(r.belady),
    'published LRU': f(r.publishedLru),
    'published ARC': f(r.publishedArc),
  }))
}
