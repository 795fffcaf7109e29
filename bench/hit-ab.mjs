// `BENCH_BASE_DIST=<dir> node bench/hit-ab.mjs`: getOrSet hit (zipf over 10,000 keys, all cached) on this build vs the base build, alternating rounds.
import { RustoCache as Now } from '../dist/index.js'
if (!process.env.BENCH_BASE_DIST) throw new Error('BENCH_BASE_DIST=<an older build dist/ directory> is required')
const { RustoCache: Base } = await import(`${process.env.BENCH_BASE_DIST}/index.js`)
import { zipfIndices, keys as makeKeys } from './lib/workload.mjs'
const N = 10_000
const keys = makeKeys(N)
const idx = zipfIndices(N, 1 << 16)
const make = async (C) => {
  const c = new C({ ttl: '10m', l1: { maxItems: N } })
  for (const k of keys) await c.set({ key: k, value: { k } })
  return c
}
const caches = { now: await make(Now), base: await make(Base) }
const factory = () => 1
async function round(c, n) {
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await c.getOrSet({ key: keys[idx[i & 65535]], factory })
  return Number(process.hrtime.bigint() - t) / n
}
for (let w = 0; w < 3; w++) { await round(caches.now, 200_000); await round(caches.base, 200_000) }
const ratios = []
const ns = { now: [], base: [] }
for (let r = 0; r < 30; r++) {
  const order = r % 2 === 0 ? ['now', 'base'] : ['base', 'now']
  const t = {}
  for (const name of order) t[name] = await round(caches[name], 300_000)
  ns.now.push(t.now); ns.base.push(t.base)
  ratios.push(t.now / t.base)
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
console.log(`getOrSet hit, zipf: now ${med(ns.now).toFixed(0)} ns, base ${med(ns.base).toFixed(0)} ns, median per-round ratio now/base ${med(ratios).toFixed(3)} (30 rounds)`)
