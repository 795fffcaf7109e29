// Hit ratios: each trace replayed at several cache sizes through the public core API with policy 'lru' and
// policy 'tinylfu', through lru-cache (the JS reference), ARC, and Belady's optimal policy (offline, with
// bypass: the bound no policy passes), with each policy's share of the optimum.
// Cite the traces wherever they are used (bench/traces/README.md): the ARC paper (Megiddo and Modha, "ARC: A
// Self-Tuning, Low Overhead Replacement Cache", FAST 03) for OLTP and P6; the LIRS paper (Jiang and Zhang,
// SIGMETRICS 02) for loop, multi2 and sprite; cache2k.org for web12.
import { arcTrace, distinctIds, lirsTrace, loopTrace, PUBLISHED, recencyTrace, scanMixTrace, zipfTrace } from '../lib/traces.mjs'
import { replayArc, replayBelady, replayCore, replayLruCache } from '../lib/simulate.mjs'

/** A LIRS or cache2k trace at 10% and 30% of its distinct keys (the sizes issue 20 names). */
function lirs(name) {
  const stream = lirsTrace(name)
  const distinct = distinctIds(stream)
  return { name: `${name} (${name === 'web12' ? 'cache2k' : 'LIRS'})`, stream: () => stream, sizes: [Math.round(distinct * 0.1), Math.round(distinct * 0.3)], shared: true }
}

function traces(quick) {
  const length = quick ? 200_000 : 2_000_000
  const items = 100_000
  const list = [
    { name: 'OLTP (ARC paper)', stream: () => arcTrace('OLTP'), sizes: quick ? [1000] : [1000, 2000], published: PUBLISHED.OLTP, shared: true },
    ...(quick ? [] : [{ name: 'P6 (ARC paper)', stream: () => arcTrace('P6'), sizes: [32768], published: PUBLISHED.P6, shared: true }]),
    ...['loop', 'multi2', 'sprite', 'web12'].map(lirs),
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
        arc: pct(replayArc(stream, size), stream.length),
        belady: pct(replayBelady(stream, size), stream.length),
        shared: t.shared === true,
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
    ARC: f(r.arc),
    'tinylfu - ARC': (r.tinyLfu - r.arc >= 0 ? '+' : '') + f(r.tinyLfu - r.arc),
    'Belady (optimal)': f(r.belady),
    'tinylfu share of optimal': `${((100 * r.tinyLfu) / r.belady).toFixed(1)}%`,
    'published LRU': f(r.publishedLru),
    'published ARC': f(r.publishedArc),
  }))
}

/** Issue 20's summary: the worst gap to LRU and to ARC over every row, and the mean share of the optimum. */
export function summary(rows) {
  const shared = rows.filter((r) => r.shared)
  const mean = (list, f) => list.reduce((a, r) => a + f(r), 0) / list.length
  return {
    worstVsLru: Math.min(...rows.map((r) => r.tinyLfu - r.lru)),
    worstVsArc: Math.min(...rows.map((r) => r.tinyLfu - r.arc)),
    meanShareOfOptimal: mean(shared, (r) => r.tinyLfu / r.belady),
    lruMeanShareOfOptimal: mean(shared, (r) => r.lru / r.belady),
    arcMeanShareOfOptimal: mean(shared, (r) => r.arc / r.belady),
  }
}
