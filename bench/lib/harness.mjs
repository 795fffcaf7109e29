// Interleaved rounds: every round runs each scenario's contenders in a rotated order. A contender's ns/op is the
// median over rounds of its per-round median sample; its ratio is the median over rounds of (its ns / the
// baseline's ns in the same round), because the machines are shared and absolute ns move with load.
import { Bench } from 'tinybench'

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * scenarios: [{ name, opsPerCall, contenders: { [name]: () => fn | Promise<fn> } }]; each contender factory builds
 * its state once and returns the function tinybench calls (doing opsPerCall operations; it may be async).
 * onResult(name, byContender) hears each scenario as it completes (the browser page fills its table from it).
 */
export async function runRounds(scenarios, { rounds, time, baseline, log, onResult, gcEach = true }) {
  const results = {}
  const started = Date.now()
  for (const [done, scenario] of scenarios.entries()) {
    const names = Object.keys(scenario.contenders)
    const fns = {}
    for (const n of names) fns[n] = await scenario.contenders[n]()
    const samples = Object.fromEntries(names.map((n) => [n, []]))
    for (let round = 0; round < rounds; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length])
      // A scenario whose one call takes long (a 10,000-caller stampede) sets fewer minimum iterations.
      const bench = new Bench({
        time,
        warmupTime: Math.min(100, time),
        iterations: scenario.iterations ?? 64,
        warmupIterations: Math.min(16, scenario.iterations ?? 16),
        // A full gc before each task keeps one contender's garbage off the next one's clock; --quick skips it.
        setup: gcEach ? () => globalThis.gc?.() : undefined,
      })
      for (const n of order) bench.add(n, fns[n])
      await bench.run()
      for (const task of bench.tasks) {
        if (task.result.state !== 'completed') throw new Error(`${scenario.name} / ${task.name}: ${task.result.error ?? task.result.state}`)
        samples[task.name].push((task.result.latency.p50 * 1e6) / scenario.opsPerCall)
      }
    }
    const ratios = (n) => (baseline in samples ? samples[n].map((x, r) => x / samples[baseline][r]) : [])
    results[scenario.name] = Object.fromEntries(
      names.map((n) => [n, { nsPerOp: median(samples[n]), ratio: baseline in samples ? median(ratios(n)) : null, rounds: samples[n] }]),
    )
    onResult?.(scenario.name, results[scenario.name])
    const elapsed = (Date.now() - started) / 1000
    log?.(`  [${done + 1}/${scenarios.length}] ${scenario.name}: done; this suite ~${((elapsed / (done + 1)) * (scenarios.length - done - 1)).toFixed(0)} s to go`)
  }
  return results
}

export function ratioTable(results, columns) {
  const rows = []
  for (const [scenario, byContender] of Object.entries(results)) {
    const row = { scenario }
    for (const c of columns) {
      const r = byContender[c]
      row[c] = r === undefined ? '' : `${fmt(r.nsPerOp)} (${r.ratio === null ? '-' : r.ratio.toFixed(2)}x)`
    }
    rows.push(row)
  }
  return rows
}

export const fmt = (ns) => (ns >= 100 ? ns.toFixed(0) : ns >= 10 ? ns.toFixed(1) : ns.toFixed(2))

/** Prints rows as a Markdown table so the output pastes into the README. */
export function printTable(rows, title) {
  // Every column any row has, in first-seen order (a contender may sit out the first rows).
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  console.log(`\n${title}\n`)
  console.log(`| ${cols.join(' | ')} |`)
  console.log(`|${cols.map(() => '---').join('|')}|`)
  for (const r of rows) console.log(`| ${cols.map((c) => r[c] ?? '').join(' | ')} |`)
}

/** A fresh function per (scenario, contender), so V8 keeps separate type feedback for each contender's loop. */
export function specialize(src, env) {
  return new Function(...Object.keys(env), src)(...Object.values(env))
}
