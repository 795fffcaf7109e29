// The summary of a whole bench run: every workload, RustoCache on each core against every peer that applies,
// as ops/s and as the median per-round ratio to the fastest peer of the row; written to
// bench/results/latest.json and drawn as bench/results/latest.svg (plain SVG, no browser needed).

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** suites: [{ suite, results, ours: { core: contender name }, peers: [names] }] -> rows */
export function summarize(suites) {
  const rows = []
  for (const { suite, results, ours, peers } of suites) {
    for (const [workload, by] of Object.entries(results)) {
      const present = peers.filter((p) => by[p])
      if (present.length === 0) continue
      const best = present.map((p) => [p, median(by[p].rounds)]).sort((a, b) => a[1] - b[1])[0][0]
      const row = { suite, workload, bestPeer: best, bestPeerOpsPerSec: 1e9 / by[best].nsPerOp, ours: {} }
      for (const [core, name] of Object.entries(ours)) {
        const r = by[name]
        if (!r) continue
        // Per round: ours against the fastest peer of that round; < 1 means ours is faster.
        const ratio = median(r.rounds.map((ns, i) => ns / Math.min(...present.map((p) => by[p].rounds[i]))))
        row.ours[core] = { opsPerSec: 1e9 / r.nsPerOp, ratioToBestPeer: ratio }
      }
      rows.push(row)
    }
  }
  return rows
}

const ops = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : n.toFixed(0))

export function summaryTable(rows) {
  return rows.map((r) => ({
    suite: r.suite,
    workload: r.workload,
    'wasm ops/s': r.ours.wasm ? ops(r.ours.wasm.opsPerSec) : '',
    'js ops/s': r.ours.js ? ops(r.ours.js.opsPerSec) : '',
    'best peer': `${r.bestPeer} (${ops(r.bestPeerOpsPerSec)}/s)`,
    'wasm vs best peer': r.ours.wasm ? `${r.ours.wasm.ratioToBestPeer.toFixed(2)}x` : '',
    'js vs best peer': r.ours.js ? `${r.ours.js.ratioToBestPeer.toFixed(2)}x` : '',
  }))
}

const escape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * One horizontal bar per workload and core: how many times the fastest peer's time ours takes (log scale,
 * 1x in the middle; left of it ours is faster).
 */
export function chart(rows, { title }) {
  const bars = rows.flatMap((r) => Object.entries(r.ours).map(([core, o]) => ({ label: `${r.suite}: ${r.workload}`, core, ratio: o.ratioToBestPeer, peer: r.bestPeer })))
  const width = 1150
  const left = 430
  const right = 190
  const row = 18
  const top = 56
  const height = top + bars.length * row + 40
  const span = width - left - right
  const min = 1 / 8
  const max = 8
  const x = (ratio) => left + (Math.log(Math.min(max, Math.max(min, ratio))) - Math.log(min)) / (Math.log(max) - Math.log(min)) * span
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="38" fill="#555">Time per operation against the fastest peer of each row (median of per-round ratios, log scale). Left of 1x: RustoCache is faster.</text>`,
  ]
  for (const tick of [0.125, 0.25, 0.5, 1, 2, 4, 8]) {
    out.push(`<line x1="${x(tick)}" y1="${top - 6}" x2="${x(tick)}" y2="${height - 30}" stroke="${tick === 1 ? '#000' : '#ddd'}"/>`)
    out.push(`<text x="${x(tick)}" y="${height - 16}" text-anchor="middle" fill="#555">${tick}x</text>`)
  }
  bars.forEach((b, i) => {
    const y = top + i * row
    const from = x(1)
    const to = x(b.ratio)
    const color = b.ratio <= 1 ? (b.core === 'wasm' ? '#2b7a3d' : '#7fbf8e') : b.core === 'wasm' ? '#b03a2e' : '#e39b93'
    out.push(`<text x="${left - 8}" y="${y + 12}" text-anchor="end">${escape(b.label)} (${b.core})</text>`)
    out.push(`<rect x="${Math.min(from, to)}" y="${y + 3}" width="${Math.max(1, Math.abs(to - from))}" height="${row - 6}" fill="${color}"/>`)
    out.push(`<text x="${Math.max(from, to) + 4}" y="${y + 12}" fill="#333">${b.ratio.toFixed(2)}x vs ${escape(b.peer)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n')
}

/** Each contender's median per-round ratio to the fastest of `peers` in the same round (itself excluded). */
export function versusBest(byContender, peers, contenders) {
  const out = {}
  for (const name of contenders) {
    const rounds = byContender[name]?.rounds
    if (!rounds) continue
    const others = peers.filter((p) => p !== name && byContender[p])
    const ratios = rounds.map((ns, r) => ns / Math.min(...others.map((p) => byContender[p].rounds[r])))
    const best = others.map((p) => [p, median(byContender[p].rounds)]).sort((a, b) => a[1] - b[1])[0]
    out[`${name} vs best JS`] = `${median(ratios).toFixed(2)}x (best: ${best[0]})`
  }
  return out
}

/**
 * The core rows on every runtime with results: this run, plus the saved results of the runtimes not run this
 * time (`core-node<major>.json`, `browser.json`), each column stamped with the run that made it. Rows
 * applications live on (fresh keys) first. Each cell: WasmCore's median per-round ratio to the fastest of
 * `peers` (below 1x it is faster).
 */
export function runtimeMatrix(runs, peers, ours = 'WasmCore') {
  const scenarios = [...new Set(runs.flatMap((r) => Object.keys(r.results)))]
  scenarios.sort((a, b) => Number(!a.includes('fresh')) - Number(!b.includes('fresh')))
  return scenarios.map((scenario) => {
    const row = { scenario }
    for (const run of runs) {
      const by = run.results[scenario]
      const rounds = by?.[ours]?.rounds
      const others = peers.filter((p) => by?.[p])
      row[run.label] = rounds && others.length > 0 ? `${median(rounds.map((ns, i) => ns / Math.min(...others.map((p) => by[p].rounds[i])))).toFixed(2)}x` : ''
    }
    return row
  })
}
