// What watching a cache costs, and what l1.clone costs: the getOrSet and get hits of one cache (WASM core, N
// entries) with nobody watching (the baseline), with a subscriber on the TracingChannel, with an observer, and
// with l1.clone. BENCH_BASE_DIST=<an older build's dist/> adds that build, to hold the unwatched hit against the
// code before tracing existed (the 3% rule).
import { tracingChannel } from 'node:diagnostics_channel'
import { observe, RustoCache, TRACING_CHANNEL } from '../../dist/index.js'
import { specialize } from '../lib/harness.mjs'
import { keys, zipfIndices } from '../lib/workload.mjs'
import { quick } from '../lib/mode.mjs'

const Base = process.env.BENCH_BASE_DIST ? (await import(`${process.env.BENCH_BASE_DIST}/index.js`)).RustoCache : undefined
const N = quick ? 20_000 : 100_000
const OPS = 256
const channel = tracingChannel(TRACING_CHANNEL)
// What a light subscriber does: count the answers.
let answered = 0
const subscriber = { start() {}, end() {}, asyncStart() {}, asyncEnd(context) { if (context.hit) answered++ }, error() {} }

export const baseline = 'unwatched'

// With a base build, only the two unwatched caches run: the watched variants would make the shared code paths
// polymorphic (an observer, a subscriber, clone on) and slow the unwatched cache beside them, not the base's.
const variants = Base
  ? { unwatched: { make: () => new RustoCache(options()) }, 'before tracing (base build)': { make: () => new Base(options()) } }
  : watchedVariants()

function watchedVariants() {
  return {
  unwatched: { make: () => new RustoCache(options()) },
  // The channel is process-wide: subscribed only while this contender runs, per call of OPS operations.
  'TracingChannel subscriber': { make: () => new RustoCache(options()), subscribe: true },
  'observer (request counter)': {
    make: () => {
      const cache = new RustoCache(options())
      observe(cache, { request: () => void answered++ })
      return cache
    },
  },
  'l1.clone': { make: () => new RustoCache(options({ clone: true })) },
  }
}

export const columns = Object.keys(variants)

function options(l1 = {}) {
  return { ttl: '10m', l1: { core: 'wasm', maxItems: N, ...l1 } }
}

export function scenarios() {
  const ks = keys(N)
  const idx = zipfIndices(N, 1 << 16)
  const factory = () => ({ id: 0 })
  const filled = async (make) => {
    const c = make()
    // Small objects, as an application caches them: what l1.clone has to copy.
    for (let i = 0; i < N; i++) await c.set({ key: ks[i], value: { id: i, name: ks[i], tags: ['a', 'b'] } })
    return c
  }
  const env = { OPS, MASK: 0xffff, factory, channel, subscriber, ks, idx }
  const body = (call, subscribe) => `let p = 0; let sink = 0
    return async function run() {
      ${subscribe ? 'channel.subscribe(subscriber)' : ''}
      for (let i = 0; i < OPS; i++) { if ((await ${call}) !== undefined) sink++; p = (p + 1) & MASK }
      ${subscribe ? 'channel.unsubscribe(subscriber)' : ''}
      return sink
    }`
  const each = (call) =>
    Object.fromEntries(Object.entries(variants).map(([name, v]) => [name, () => filled(v.make).then((c) => specialize(body(call, v.subscribe), { ...env, c }))]))
  return [
    { name: 'getOrSet hit (zipf)', opsPerCall: OPS, contenders: each('c.getOrSet({ key: ks[idx[p]], factory })') },
    { name: 'get hit (zipf)', opsPerCall: OPS, contenders: each('c.get({ key: ks[idx[p]] })') },
  ]
}
