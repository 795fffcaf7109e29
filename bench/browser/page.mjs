// The core and SIMD suites in a browser: the same scenarios as `npm run bench` (bench/suites/core.mjs and
// simd.mjs), the SIMD, scalar-WASM and JS cores beside lru-cache and mnemonist. Open it by hand (any static
// server that sends the two cross-origin isolation headers: performance.now is coarse without them) or through
// `npm run bench:browser`, which bundles it, runs it in headless Chromium and prints the same tables.
// Query: ?quick (2 rounds x 15 ms), ?rounds=N&time=MS.
import { ratioTable, runRounds } from '../lib/harness.mjs'
import * as core from '../suites/core.mjs'
import * as simd from '../suites/simd.mjs'
import { loadWasm, wasmSimdSupported } from '../../dist/index.js'

const params = new URLSearchParams(location.search)
const quick = params.has('quick')
const rounds = Number(params.get('rounds') ?? (quick ? 2 : 7))
const time = Number(params.get('time') ?? (quick ? 15 : 100))

/** To the Node driver when there is one (exposed by playwright), and always to the page. */
function report(kind, data) {
  globalThis.__report?.(kind, JSON.stringify(data))
}

/**
 * Whether this engine has the `wasm:js-string` builtins (WebAssembly JS String Builtins): a module that imports
 * only `wasm:js-string` `length` instantiates with no imports given when the engine supplies it.
 */
function jsStringBuiltins() {
  const name = (s) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))]
  const imports = [1, ...name('wasm:js-string'), ...name('length'), 0, 0]
  const exports = [1, ...name('length'), 0, 0]
  const bytes = new Uint8Array([
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    1, 6, 1, 0x60, 1, 0x6f, 1, 0x7f, // type 0: (externref) -> i32
    2, imports.length, ...imports,
    7, exports.length, ...exports,
  ])
  try {
    const module = new WebAssembly.Module(bytes, { builtins: ['js-string'] })
    return new WebAssembly.Instance(module, {}).exports.length('four') === 4
  } catch {
    return false
  }
}

function table(title) {
  const section = document.createElement('section')
  const h = document.createElement('h2')
  h.textContent = title
  const t = document.createElement('table')
  section.append(h, t)
  document.body.append(section)
  return {
    set(all) {
      t.replaceChildren()
      if (all.length === 0) return
      const cols = [...new Set(all.flatMap((r) => Object.keys(r)))]
      const head = t.insertRow()
      for (const c of cols) head.append(Object.assign(document.createElement('th'), { textContent: c }))
      for (const r of all) {
        const tr = t.insertRow()
        for (const c of cols) tr.insertCell().textContent = r[c] ?? ''
      }
    },
  }
}

/**
 * Browsers coarsen performance.now (5 us when cross-origin isolated, 100 us otherwise), and tinybench times one
 * call per sample: repeat each contender's call until one sample lasts about 1 ms, and count the repeats in
 * opsPerCall, so short calls (a batch hash of 16 keys) are not read as 0 ns.
 */
function coarseTimerSafe(scenario) {
  const contenders = {}
  let repeat = 0
  for (const [name, make] of Object.entries(scenario.contenders)) {
    contenders[name] = async () => {
      const fn = await make()
      // One repeat count per scenario, from its first contender, so every contender does the same work per sample.
      if (repeat === 0) {
        // Warm the call up first: counted cold, before the JIT optimizes it, it would look many times slower.
        for (let until = performance.now() + 5; performance.now() < until; ) fn()
        const until = performance.now() + 2
        let calls = 0
        while (performance.now() < until) {
          fn()
          calls++
        }
        // ~1 ms per sample for this contender, so one 10x faster still spans 20 timer ticks.
        repeat = Math.max(1, Math.ceil(calls / 2))
      }
      const r = repeat
      return () => {
        for (let i = 0; i < r; i++) fn()
      }
    }
  }
  return {
    ...scenario,
    contenders,
    get opsPerCall() {
      return scenario.opsPerCall * repeat
    },
  }
}

const status = document.getElementById('status')
const features = {
  userAgent: navigator.userAgent,
  simd: undefined,
  jsStringBuiltins: jsStringBuiltins(),
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  gc: typeof globalThis.gc === 'function',
  rounds,
  time,
  quick,
}
try {
  await loadWasm()
  features.simd = wasmSimdSupported()
  document.getElementById('features').textContent = JSON.stringify(features, null, 1)
  report('start', features)

  const coreScenarios = core.scenarios().map(coarseTimerSafe)
  const simdScenarios = simd.scenarios({ quick: rounds < 3 }).map(coarseTimerSafe)
  const total = coreScenarios.length + simdScenarios.length
  const started = performance.now()
  let done = 0
  const progress = (name) => {
    done++
    const elapsed = (performance.now() - started) / 1000
    const line = `[${done}/${total}] ${name}: done (${elapsed.toFixed(0)} s elapsed, ~${((elapsed / done) * (total - done)).toFixed(0)} s to go)`
    status.textContent = line
    report('progress', line)
  }

  /** Runs one suite, redrawing its tables from the results so far after each row. */
  const runSuite = async (scenarios, baseline, show) => {
    const results = {}
    const onResult = (name, by) => {
      results[name] = by
      show(results)
      progress(name)
    }
    await runRounds(scenarios, { rounds, time, baseline, onResult })
    return results
  }

  const coreTable = table(`L1 core: median ns/op over ${rounds} rounds (median per-round ratio vs lru-cache with ttl)`)
  const bestTable = table('L1 core against the fastest JS contender of each row: median of per-round ratios')
  const coreResults = await runSuite(coreScenarios, core.baseline, (results) => {
    coreTable.set(ratioTable(results, core.columns))
    bestTable.set(core.versusBestRows(results))
  })
  const simdTable = table('Batch key hash: v128 against scalar WASM and JS (median ns per key, ratio vs JS hashKey)')
  const simdResults = await runSuite(simdScenarios, simd.baseline, (results) => simdTable.set(ratioTable(results, simd.columns)))
  status.textContent = `finished in ${((performance.now() - started) / 1000).toFixed(0)} s`
  report('done', { features, core: coreResults, simd: simdResults })
} catch (error) {
  status.textContent = `failed: ${error?.stack ?? error}`
  report('error', String(error?.stack ?? error))
}
