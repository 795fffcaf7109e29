// `npm run bench`: runs every suite in one process and writes bench/results/<suite>.json.
// BENCH_ROUNDS (default 7) and BENCH_TIME (ms per task per round, default 100) trade time for steadiness;
// BENCH_ONLY=<text> runs only the core scenarios whose name contains it; BENCH_ONLY=cache the cache suite,
// BENCH_ONLY=bookkeeping only its on/off comparison, BENCH_ONLY=l2 the Redis tier, BENCH_ONLY=costs the parts of a hit, BENCH_ONLY=hitratio the hit-ratio suite, BENCH_ONLY=policy what W-TinyLFU costs against LRU, BENCH_ONLY=observe what tracing, observers and l1.clone cost, BENCH_ONLY=service an HTTP service in front of a slow database (requests/s and database reads). BENCH_BASE_DIST=<dir> adds an
// older build's cache to the cache suite (see bench/suites/cache.mjs).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import os from 'node:os'
import { printTable, ratioTable, runRounds } from './lib/harness.mjs'
import { quick } from './lib/mode.mjs'
import { chart, runtimeMatrix, summarize, summaryTable } from './lib/report.mjs'
import * as core from './suites/core.mjs'
import * as exactness from './suites/exactness.mjs'
import * as costs from './suites/costs.mjs'
import * as hitratio from './suites/hitratio.mjs'
import * as policy from './suites/policy.mjs'
import * as cache from './suites/cache.mjs'
import * as observeSuite from './suites/observe.mjs'
import * as l2 from './suites/l2.mjs'
import * as simd from './suites/simd.mjs'
import * as service from './suites/service.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.env.BENCH_ONLY
// Three modes. The default is the summary (about 2 minutes): every workload of the summary table and its chart
// (the core, the cache API, the Redis tier), RustoCache on each core against each peer, in fewer and shorter
// rounds. `--full` (or BENCH_ONLY) runs every suite as the docs quote them (about 12 minutes); `--quick`
// checks that everything runs (about a minute; CI).
const full = process.argv.includes('--full') || only !== undefined
const summaryOnly = !full && !quick
const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 2 : full ? 7 : 3))
const time = Number(process.env.BENCH_TIME ?? (quick ? 15 : full ? 100 : 30))
// A gc() before each task steadies the full run's figures; the summary and --quick skip it for time.
const gcEach = full

const machine = { node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length, date: new Date().toISOString() }
console.log(`rustocache bench${quick ? ' (--quick: for checking, not quoting)' : summaryOnly ? ' (the summary; --full for every suite)' : ''}: ${rounds} rounds x ${time} ms per task, contenders rotated each round; ${machine.node}, ${machine.cores} x ${machine.cpu}`)
const startedAt = Date.now()

let scenarios = core.scenarios()
if (only) scenarios = scenarios.filter((s) => s.name.includes(only))

// The whole run's rows, counted up front, so every progress line can say how long the run has left.
const SUMMARY_SUITES = ['cache', 'l2']
const runs = (suite) => (only ? only === suite : !summaryOnly || SUMMARY_SUITES.includes(suite))
const all = !only && !summaryOnly
const planned =
  scenarios.length +
  (all ? 2 : 0) + // memory, exactness
  (runs('costs') ? 3 : 0) +
  (runs('hitratio') ? hitratio.traceCount(quick) : 0) +
  (runs('policy') ? policy.scenarios().length + 2 : 0) +
  (runs('simd') ? simd.scenarios({ quick: rounds < 3 }).length : 0) +
  (runs('cache') ? cache.scenarios().length : 0) +
  (runs('bookkeeping') || (all || only === 'cache') ? 1 : 0) +
  (runs('observe') ? observeSuite.scenarios().length : 0) +
  (runs('l2') ? 5 : 0) +
  (runs('service') ? 4 : 0)
let rowsDone = 0
const log = (s) => {
  const elapsed = (Date.now() - startedAt) / 1000
  const row = /^\s*\[(\d+\/\d+|hit ratio|service)\]/.test(s) || s.includes('memory WasmCore:')
  if (row) rowsDone++
  const left = rowsDone > 0 ? ` of ~${((elapsed / rowsDone) * planned).toFixed(0)} s (row ${rowsDone}/${planned})` : ''
  console.error(`${s} (${elapsed.toFixed(0)} s elapsed${left})`)
}
const coreRows = scenarios.length > 0
const results = await runRounds(scenarios, { rounds, time, gcEach, baseline: core.baseline, log })
if (coreRows) {
  printTable(ratioTable(results, core.columns), `L1 core: median ns/op over ${rounds} rounds (median per-round ratio vs lru-cache with ttl)`)
  printTable(
    core.versusBestRows(results),
    'L1 core against the fastest JS contender of each row (lru-cache with and without ttl, mnemonist, JsCore): median of per-round ratios',
  )
}

const memory = !all ? {} : await core.memory(log, quick ? 100_000 : 1_000_000)
if (all) {
  const base = memory[core.baseline].bytesPerEntry
  printTable(
    Object.entries(memory).map(([name, m]) => ({ contender: name, 'bytes/entry': m.bytesPerEntry.toFixed(1), 'vs lru-cache': (m.bytesPerEntry / base).toFixed(2) + 'x' })),
    `${quick ? '100k' : '1M'} entries: cache structure bytes per entry (JS heap + array buffers + WASM memory, after gc; keys and values excluded)`,
  )
}

let exact = {}
if (all) {
  exact = await runRounds(exactness.scenarios(), { rounds, time, gcEach, baseline: exactness.baseline, log })
  const names = Object.keys(Object.values(exact)[0])
  printTable(ratioTable(exact, names), 'Exact lookups: what checking the key costs (median ns per key, ratio vs hashing it)')
}

let parts = {}
if (runs('costs')) {
  parts = await runRounds(costs.scenarios(), { rounds, time, gcEach, baseline: costs.baseline, log })
  printTable(ratioTable(parts, costs.columns), 'Where a hit\'s time goes: each column includes getting the key (median ns per operation; ratio vs getting the key alone)')
}

let hashes = {}
if (runs('simd')) {
  hashes = await runRounds(simd.scenarios({ quick: rounds < 3 }), { rounds, time, gcEach, baseline: simd.baseline, log })
  printTable(ratioTable(hashes, simd.columns), 'Batch key hash: v128 against scalar WASM and JS (median ns per key, ratio vs JS hashKey)')
}

let ratios = []
if (runs('hitratio')) {
  ratios = hitratio.run({ quick, log })
  printTable(hitratio.table(ratios), 'Hit ratio (%): each trace replayed at each cache size (traces: ARC paper, Megiddo and Modha, FAST 03; LIRS paper, Jiang and Zhang, SIGMETRICS 02; cache2k.org)')
  const sum = hitratio.summary(ratios)
  console.log(`W-TinyLFU against issue 20's targets: worst against LRU ${sum.worstVsLru.toFixed(2)} points (target >= -0.5), worst against ARC ${sum.worstVsArc.toFixed(2)} (>= -0.5), mean share of the optimum over the published traces ${(100 * sum.meanShareOfOptimal).toFixed(1)}% (>= 90%; LRU ${(100 * sum.lruMeanShareOfOptimal).toFixed(1)}%, ARC ${(100 * sum.arcMeanShareOfOptimal).toFixed(1)}%)`)
}

let costOfPolicy = {}
let sketch = {}
let policyMemory = []
if (runs('policy')) {
  costOfPolicy = await runRounds(policy.scenarios(), { rounds, time, gcEach, baseline: policy.baseline, log })
  printTable(ratioTable(costOfPolicy, policy.columns), "W-TinyLFU's cost: the same operations under each policy (median ns/op, ratio vs policy 'lru')")
  sketch = await runRounds(policy.sketchScenarios(), { rounds, time, gcEach, baseline: policy.sketchBaseline, log })
  printTable(ratioTable(sketch, policy.sketchColumns), 'Frequency sketch: four counter positions from one v128 computation vs four scalar ones (median ns per key)')
  policyMemory = policy.memory()
  log(`  memory WasmCore: policy rows done`)
  printTable(
    policyMemory.map((r) => ({ core: r.core, entries: r.entries.toLocaleString('en'), "policy 'lru' B/entry": r.lru.toFixed(1), "policy 'tinylfu' B/entry": r.tinylfu.toFixed(1), extra: `+${r.extra.toFixed(1)}` })),
    'Memory per entry of each policy (core structures, full; keys and values excluded)',
  )
}

let api = {}
let bookkeeping = {}
if (runs('cache')) {
  api = await runRounds(cache.scenarios(), { rounds, time, gcEach, baseline: cache.baseline, log })
  printTable(ratioTable(api, cache.columns), `Cache API: median ns/op over ${rounds} rounds (median per-round ratio vs await lru-cache.get)`)
}
if (all || only === 'cache' || only === 'bookkeeping') {
  bookkeeping = await runRounds(cache.bookkeeping(), { rounds, time, gcEach, baseline: 'off', log })
  printTable(ratioTable(bookkeeping, ['off', 'on']), 'RustoCache getOrSet hit: bookkeeping on vs off (ratio vs off)')
}

let watching = {}
if (runs('observe')) {
  watching = await runRounds(observeSuite.scenarios(), { rounds, time, gcEach, baseline: observeSuite.baseline, log })
  printTable(ratioTable(watching, observeSuite.columns), 'Watching a cache, and l1.clone: the same hits unwatched, with a TracingChannel subscriber, an observer, l1.clone (ratio vs unwatched)')
}

let tiers = {}
if (runs('l2')) {
  const url = await l2.reachable()
  if (!url) {
    console.log('\nRedis tier: no Redis answered at REDIS_URL or redis://127.0.0.1:6379, so the L2 rows are skipped.')
  } else {
    const suite = await l2.scenarios(url, { concurrentIterations: full ? 10 : 2 })
    try {
      // Three times the rounds, each a third as long: a loopback round trip here swings between ~20 and ~85 us for
      // seconds at a time (CPU idle states), and shorter rounds put every contender of a round in the same state.
      const l2Rounds = rounds * (full ? 3 : 2)
      tiers = await runRounds(suite.list, { rounds: l2Rounds, time: Math.max(10, Math.round(time / 3)), gcEach, baseline: l2.baseline, log })
      printTable(ratioTable(tiers, suite.columns), `L2 tier (Redis at ${url}; PostgreSQL when one answered), L1 missing: median ns/op over ${l2Rounds} rounds (ratio vs raw ioredis on Redis)`)
    } finally {
      for (const close of suite.closers) await close()
    }
  }
}

let services = []
if (runs('service')) {
  const redisUrl = await l2.reachable()
  const seconds = Number(process.env.BENCH_SERVICE_SECONDS ?? (quick ? 1 : 6))
  services = await service.run({ redisUrl, seconds, log })
  printTable(
    service.table(services),
    `HTTP service, ${seconds} s per row: 64 connections, zipf over 10,000 items, ttl 500 ms and grace 1 h, a 2 ms database read behind getOrSet${redisUrl ? '' : ' (no Redis answered: L1 rows only)'}`,
  )
}

// One summary of everything that ran: RustoCache on each core against every peer that applies.
const summary = summarize([
  { suite: 'core', results, ours: { wasm: 'WasmCore', js: 'JsCore' }, peers: ['lru-cache', 'lru-cache (no ttl)', 'mnemonist'] },
  { suite: 'cache', results: api, ours: { wasm: 'RustoCache (wasm)', js: 'RustoCache (js)' }, peers: ['BentoCache', 'cache-manager', 'await lru-cache'] },
  { suite: 'redis', results: tiers, ours: { wasm: 'RustoCache (wasm)' }, peers: ['BentoCache', l2.baseline] },
])
if (summary.length > 0) {
  printTable(summaryTable(summary), 'Summary: RustoCache against the fastest peer of each workload (ratio of time per operation; below 1x RustoCache is faster)')
  if (coreRows) {
    const matrix = runtimeMatrix([{ label: `${machine.node}, ${machine.cpu} (this run)`, results }, ...savedRuntimes()], core.jsPeers)
    printTable(matrix, 'WasmCore against the fastest JS contender of each core row, on every runtime with results (this run, then saved runs, each with its date)')
  }
}
console.log(`\nbench finished in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`)

// Only the suites that ran overwrite their results.
mkdirSync(join(here, 'results'), { recursive: true })
// Runs on another Node major than the machine's (20) save apart (core-node24.json, cache-wasm-node26.json, ...),
// each stamped with the run that made it, so the majors can be set side by side.
const nodeMajor = process.versions.node.split('.')[0]
const nodeTag = nodeMajor === '20' ? '' : `-node${nodeMajor}`
/** Saved core results of the other runtimes: other Node majors (core-node<major>.json) and Chromium (browser.json). */
function savedRuntimes() {
  const out = []
  const read = (file) => JSON.parse(readFileSync(join(here, 'results', file), 'utf8'))
  const files = readdirSync(join(here, 'results')).filter((f) => /^core(-node\d+)?\.json$/.test(f)).sort()
  for (const file of files) {
    const saved = read(file)
    if (saved.machine.node.split('.')[0] === machine.node.split('.')[0]) continue
    out.push({ label: `${saved.machine.node}, ${saved.machine.cpu} (${saved.machine.date.slice(0, 10)})`, results: saved.results })
  }
  if (existsSync(join(here, 'results', 'browser.json'))) {
    const browser = read('browser.json')
    out.push({ label: `${browser.browser} (${browser.date.slice(0, 10)})`, results: browser.core })
  }
  return out
}

const save = (name, data) => {
  // A quick run checks that the bench runs; its figures do not replace a full run's. A summary run writes only
  // the summary and its chart: the suites' files hold the full runs the docs quote.
  if (quick || (summaryOnly && name !== 'latest')) return
  writeFileSync(join(here, 'results', `${name}${nodeTag}.json`), JSON.stringify({ machine, rounds, time, ...data }, null, 2))
  console.log(`wrote bench/results/${name}${nodeTag}.json`)
}
if (Object.keys(results).length > 0) save('core', { baseline: core.baseline, results, memory, exactness: exact })
if (Object.keys(parts).length > 0) save('costs', { baseline: costs.baseline, results: parts })
if (ratios.length > 0) save('hitratio', { rows: ratios })
if (Object.keys(costOfPolicy).length > 0) save('policy', { baseline: policy.baseline, results: costOfPolicy, sketch, memory: policyMemory })
if (Object.keys(hashes).length > 0) save('simd', { baseline: simd.baseline, results: hashes })
// A one-core run (BENCH_CACHE_CORE) is kept apart from the usual two-core results.
const cacheFile = process.env.BENCH_CACHE_CORE ? `cache-${process.env.BENCH_CACHE_CORE}` : 'cache'
if (Object.keys(api).length > 0 || Object.keys(bookkeeping).length > 0) save(cacheFile, { baseline: cache.baseline, results: api, bookkeeping })
// Against a base build (BENCH_BASE_DIST) the rows are another comparison: kept apart.
if (Object.keys(watching).length > 0) save(process.env.BENCH_BASE_DIST ? 'observe-base' : 'observe', { baseline: observeSuite.baseline, results: watching })
if (Object.keys(tiers).length > 0) save('l2', { baseline: l2.baseline, results: tiers })
if (services.length > 0) save('service', { rows: services })
// The summary and its chart only from a complete run, so they always describe one run of one code.
if (!only && !quick && summary.length > 0) {
  save('latest', { rows: summary })
  writeFileSync(join(here, 'results', `latest${nodeTag}.svg`), chart(summary, { title: `RustoCache vs the fastest peer, ${machine.date.slice(0, 10)}, ${machine.node}, ${machine.cores} x ${machine.cpu}` }))
  console.log(`wrote bench/results/latest${nodeTag}.svg`)
}
