// After `vitest run --coverage`: lines and branches covered per folder of src/, from the json-summary report,
// and whether src/ as a whole meets issue 18's gate (95% of lines, 90% of branches). Prints; exits 0 either way
// (the gate is reported, not yet enforced: the code is still being moved).
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'

const summary = JSON.parse(readFileSync('build/coverage/coverage-summary.json', 'utf8'))
const folders = new Map()
for (const [file, m] of Object.entries(summary)) {
  if (file === 'total') continue
  const rel = relative(process.cwd(), file)
  const folder = rel.split('/').slice(0, 2).join('/').replace(/\.ts$/, '') || rel
  const key = rel.split('/').length > 2 ? folder : 'src (top level)'
  const f = folders.get(key) ?? { lines: [0, 0], branches: [0, 0] }
  f.lines[0] += m.lines.covered
  f.lines[1] += m.lines.total
  f.branches[0] += m.branches.covered
  f.branches[1] += m.branches.total
  folders.set(key, f)
}
const pct = ([c, t]) => (t === 0 ? '100.0' : ((100 * c) / t).toFixed(1))
console.log('\n| folder | lines | branches |\n|---|---|---|')
for (const [name, f] of [...folders].sort()) console.log(`| ${name} | ${pct(f.lines)}% (${f.lines[0]}/${f.lines[1]}) | ${pct(f.branches)}% (${f.branches[0]}/${f.branches[1]}) |`)
const t = summary.total
console.log(`| **src/** | **${t.lines.pct}%** (${t.lines.covered}/${t.lines.total}) | **${t.branches.pct}%** (${t.branches.covered}/${t.branches.total}) |`)
console.log(`\ncoverage gate (issue 18: lines >= 95%, branches >= 90%): lines ${t.lines.pct >= 95 ? 'met' : 'not met'}, branches ${t.branches.pct >= 90 ? 'met' : 'not met'}`)
