// The policy lab's runner (see policy-lab.mjs): every trace of the hit-ratio suite at its sizes, each variant of
// V against LRU, ARC, Belady and the core's own W-TinyLFU. Reference columns are cached in build/lab-ref.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { arcTrace, distinctIds, lirsTrace, loopTrace, recencyTrace, scanMixTrace, zipfTrace } from '../lib/traces.mjs'
import { replayArc, replayBelady, replayCore, replayReferenceLru } from '../lib/simulate.mjs'
import { wtlfu } from './policy-lab.mjs'

function all({ big }) {
  const t = []
  const add = (name, stream, sizes) => t.push({ name, stream, sizes })
  for (const n of ['loop', 'multi2', 'sprite', 'web12']) {
    const s = lirsTrace(n)
    const d = distinctIds(s)
    add(n, s, [Math.round(d * 0.1), Math.round(d * 0.3)])
  }
  add('OLTP', arcTrace('OLTP'), [1000, 2000])
  if (big) add('P6', arcTrace('P6'), [32768])
  const length = 2_000_000
  const items = 100_000
  for (const s of [0.7, 0.9, 1.1]) add(`zipf ${s}`, zipfTrace(items, length, s), [1000, 10000])
  add('zipf+scans', scanMixTrace(items, length, 5000), [1000, 10000])
  add('loop 11k', loopTrace(11000, length), [10000])
  add('recency', recencyTrace(length, 5000), [1000])
  return t
}
const lru = replayReferenceLru
const arc = replayArc
const big = process.env.BIG === '1'
const only = process.env.ONLY ? new RegExp(process.env.ONLY) : undefined
const variants = JSON.parse(process.env.V ?? '{"base":{}}')
mkdirSync(new URL('../../build/', import.meta.url), { recursive: true })
const cacheFile = new URL(`../../build/lab-ref${big ? '-big' : ''}.json`, import.meta.url)
const ref = existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, 'utf8')) : {}
const pct = (h, n) => (100 * h) / n
const rows = []
for (const t of all({ big })) {
  if (only && !only.test(t.name)) continue
  for (const size of t.sizes) {
    const key = `${t.name}@${size}`
    if (!ref[key]) ref[key] = { lru: pct(lru(t.stream, size), t.stream.length), arc: pct(arc(t.stream, size), t.stream.length), opt: pct(replayBelady(t.stream, size), t.stream.length), core: pct(replayCore(t.stream, size, { policy: 'tinylfu' }), t.stream.length) }
    const r = { key, ...ref[key] }
    for (const [name, k] of Object.entries(variants)) r[name] = pct(wtlfu(t.stream, size, k), t.stream.length)
    rows.push(r)
  }
}
writeFileSync(cacheFile, JSON.stringify(ref))
const names = Object.keys(variants)
console.log(['trace@size', 'LRU', 'ARC', 'OPT', 'core', ...names].map((x) => x.padStart(12)).join(''))
const worst = Object.fromEntries(names.map((n) => [n, { lru: Infinity, arc: Infinity, opt: 0 }]))
for (const r of rows) {
  console.log([r.key.padStart(12), ...[r.lru, r.arc, r.opt, r.core, ...names.map((n) => r[n])].map((x) => x.toFixed(2).padStart(12))].join(''))
  for (const n of names) { worst[n].lru = Math.min(worst[n].lru, r[n] - r.lru); worst[n].arc = Math.min(worst[n].arc, r[n] - r.arc); worst[n].opt += r[n] / r.opt }
}
for (const n of names) console.log(n.padStart(12), 'worst vs LRU', worst[n].lru.toFixed(2), 'worst vs ARC', worst[n].arc.toFixed(2), 'mean share of OPT', (100 * worst[n].opt / rows.length).toFixed(1) + '%')
