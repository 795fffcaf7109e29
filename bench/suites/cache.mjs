// The cache API against BentoCache 1.6 (memory driver, serialize: false), cache-manager 7 (its default
// in-memory Keyv store) and `await lruCache.get` (the floor of any async API), all in one process and rounds.
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { createCache } from 'cache-manager'
import { LRUCache } from 'lru-cache'
import { RustoCache } from '../../dist/index.js'
import { specialize } from '../lib/harness.mjs'
import { keys, zipfIndices } from '../lib/workload.mjs'
import { quick } from '../lib/mode.mjs'

// BENCH_BASE_DIST=<an older build's dist/>: adds that build's WASM-core cache as a contender, so a change is
// measured against the code before it in the same process and rounds.
const Base = process.env.BENCH_BASE_DIST ? (await import(`${process.env.BENCH_BASE_DIST}/index.js`)).RustoCache : undefined

const N = quick ? 20_000 : 100_000
const OPS = 256
const STAMPEDE = 10_000

/** Each contender: getOrSet / get / set / getMany over one cache of N entries, ttl 10 minutes. */
// BENCH_CACHE_CORE=wasm (or js): RustoCache on that core only, as an application's process runs it; with both,
// the code they share sees two core classes and V8 inlines less.
const oneCore = process.env.BENCH_CACHE_CORE
const contenders = {
  ...(oneCore !== 'js' ? { 'RustoCache (wasm)': () => rusto('wasm') } : {}),
  ...(Base ? { 'RustoCache (wasm, base)': () => rusto('wasm', {}, Base) } : {}),
  ...(oneCore !== 'wasm' ? { 'RustoCache (js)': () => rusto('js') } : {}),
  BentoCache: () => {
    const c = new BentoCache({ default: 'm', ttl: '10m', stores: { m: bentostore().useL1Layer(memoryDriver({ maxItems: N, serialize: false })) } })
    return {
      getOrSet: (key, factory) => c.getOrSet({ key, factory }),
      get: (key) => c.get({ key }),
      set: (key, value) => c.set({ key, value }),
      // BentoCache has no batch read (its issue #78): one get per key
      getMany: (ks) => Promise.all(ks.map((key) => c.get({ key }))),
    }
  },
  'cache-manager': () => {
    const c = createCache({ ttl: 600_000 })
    return {
      getOrSet: (key, factory) => c.wrap(key, factory),
      get: (key) => c.get(key),
      set: (key, value) => c.set(key, value),
      getMany: (ks) => c.mget(ks),
    }
  },
  'await lru-cache': () => {
    const c = new LRUCache({ max: N, ttl: 600_000 })
    return {
      getOrSet: async (key, factory) => {
        const v = c.get(key)
        if (v !== undefined) return v
        const fresh = await factory()
        c.set(key, fresh)
        return fresh
      },
      get: async (key) => c.get(key),
      set: async (key, value) => c.set(key, value),
      getMany: async (ks) => ks.map((k) => c.get(k)),
    }
  },
}

// Policy 'lru' against the LRU caches, like for like (and as the published rows were measured); what the
// default, 'tinylfu', adds is BENCH_ONLY=policy's table (a getOrSet hit 1.00-1.15x).
function rusto(core, options = {}, Cache = RustoCache) {
  const c = new Cache({ ttl: '10m', l1: { core, maxItems: N, policy: 'lru' }, ...options })
  return {
    getOrSet: (key, factory) => c.getOrSet({ key, factory }),
    get: (key) => c.get({ key }),
    set: (key, value) => c.set({ key, value }),
    getMany: (ks) => c.getMany({ keys: ks }),
  }
}

export const baseline = 'await lru-cache'
export const columns = Object.keys(contenders)


const factory = () => 1

export function scenarios() {
  const ks = keys(N)
  const zipf = zipfIndices(N, 1 << 16)
  const batches = Array.from({ length: 1024 }, (_, b) => Array.from({ length: 64 }, (_, j) => ks[zipf[(b * 64 + j) & 0xffff]]))
  const env = { OPS, MASK: 0xffff, factory }
  const filled = async (make) => {
    const c = make()
    for (let i = 0; i < N; i++) await c.set(ks[i], i)
    return c
  }
  const each = (build) => Object.fromEntries(Object.entries(contenders).map(([name, make]) => [name, () => build(make)]))
  const loop = (body) => `let p = 0; let sink = 0
    return async function run() { for (let i = 0; i < OPS; i++) { ${body}; p = (p + 1) & MASK } return sink }`
  let fresh = 0

  return [
    {
      name: 'getOrSet hit (zipf)',
      opsPerCall: OPS,
      contenders: each((make) => filled(make).then((c) => specialize(loop('if ((await c.getOrSet(ks[idx[p]], factory)) !== undefined) sink++'), { ...env, c, ks, idx: zipf }))),
    },
    {
      name: 'get hit (zipf)',
      opsPerCall: OPS,
      contenders: each((make) => filled(make).then((c) => specialize(loop('if ((await c.get(ks[idx[p]])) !== undefined) sink++'), { ...env, c, ks, idx: zipf }))),
    },
    {
      name: 'set (overwrite, zipf)',
      opsPerCall: OPS,
      contenders: each((make) => filled(make).then((c) => specialize(loop('await c.set(ks[idx[p]], p)'), { ...env, c, ks, idx: zipf }))),
    },
    {
      name: 'getOrSet miss, sync factory',
      opsPerCall: OPS,
      contenders: each((make) => {
        const c = make()
        return specialize(loop('await c.getOrSet(`miss:${next()}`, factory)'), { ...env, c, next: () => fresh++ })
      }),
    },
    {
      name: `${STAMPEDE.toLocaleString('en')} concurrent getOrSet, one cold key (per call)`,
      opsPerCall: STAMPEDE,
      iterations: 5,
      contenders: each((make) => {
        const c = make()
        return async () => {
          const key = `cold:${fresh++}`
          const slow = () => new Promise((resolve) => setTimeout(() => resolve(1), 0))
          const calls = new Array(STAMPEDE)
          for (let i = 0; i < STAMPEDE; i++) calls[i] = c.getOrSet(key, slow)
          await Promise.all(calls)
        }
      }),
    },
    {
      name: 'getMany of 64 keys (per key)',
      opsPerCall: 64 * 16,
      contenders: each((make) =>
        filled(make).then((c) => {
          let b = 0
          return async () => {
            for (let i = 0; i < 16; i++) {
              await c.getMany(batches[b])
              b = (b + 1) & 1023
            }
          }
        }),
      ),
    },
  ]
}

/** The getOrSet hit path with grace, early refresh and lock timeouts configured, against the defaults. */
export function bookkeeping() {
  const ks = keys(N)
  const zipf = zipfIndices(N, 1 << 16)
  const env = { OPS, MASK: 0xffff, factory, ks, idx: zipf }
  const body = `let p = 0; let sink = 0
    return async function run() { for (let i = 0; i < OPS; i++) { if ((await c.getOrSet(ks[idx[p]], factory)) !== undefined) sink++; p = (p + 1) & MASK } return sink }`
  const build = async (options) => {
    const c = rusto('wasm', options)
    for (let i = 0; i < N; i++) await c.set(ks[i], i)
    return specialize(body, { ...env, c })
  }
  return [
    {
      name: 'getOrSet hit: grace, early refresh and lock timeout on vs off',
      opsPerCall: OPS,
      contenders: {
        off: () => build({}),
        on: () => build({ grace: '6h', graceBackoff: '30s', earlyExpiration: 0.9, lockTimeout: '1s', timeout: '50ms' }),
      },
    },
  ]
}
