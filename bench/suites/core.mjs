// The L1 core against the best in-process JS caches: single gets, misses, sets, read-through under eviction,
// 64-key batches, and the memory of 1M entries.
import { LRUCache } from 'lru-cache'
import { LRUCache as MnemonistLRU } from 'mnemonist'
import { JsCore, WasmCore } from '../../dist/index.js'
import { specialize } from '../lib/harness.mjs'
import { versusBest } from '../lib/report.mjs'
import { keys, uniformIndices, zipfIndices, keyOf } from '../lib/workload.mjs'

const TTL = 600_000
const N = 100_000
const STREAM = 1 << 16
const OPS = 1024
const BATCH = 64

/** Each contender: a constructor for a cache of `cap` entries with get/set/getMany and a per-call clock tick. */
const contenders = {
  Map: () => {
    const m = new Map()
    return {
      // The floor for lookups and writes: no eviction, no recency, no ttl (so it sits out the evicting rows)
      get: (k) => m.get(k),
      set: (k, v) => m.set(k, v),
      evicts: false,
      tick() {},
      raw: m,
    }
  },
  'lru-cache': (cap) => {
    const l = new LRUCache({ max: cap, ttl: TTL })
    return { get: (k) => l.get(k), set: (k, v) => l.set(k, v), tick() {}, raw: l }
  },
  'lru-cache (no ttl)': (cap) => {
    const l = new LRUCache({ max: cap })
    return { get: (k) => l.get(k), set: (k, v) => l.set(k, v), tick() {}, raw: l }
  },
  mnemonist: (cap) => {
    const l = new MnemonistLRU(cap)
    return { get: (k) => l.get(k), set: (k, v) => l.set(k, v), tick() {}, raw: l }
  },
  // Policy 'lru' against the LRU libraries, like for like (and as the published rows were measured); what the
  // default, 'tinylfu', adds is BENCH_ONLY=policy's table.
  JsCore: (cap) => coreAdapter(new JsCore({ maxItems: cap, policy: 'lru' })),
  WasmCore: (cap) => coreAdapter(new WasmCore({ maxItems: cap, policy: 'lru' })),
  // Where the js-string builtins exist WasmCore reads keys in WASM; this one hashes them in JS, as on Node 20.
  'WasmCore (JS hash)': (cap) => coreAdapter(new WasmCore({ maxItems: cap, strings: false, policy: 'lru' })),
  // The build for runtimes without WASM SIMD: single-key calls run the same code as WasmCore's, so it sits in
  // the batch rows only, where its batch hash is the scalar loop.
  'WasmCore (scalar)': (cap) => ({ ...coreAdapter(new WasmCore({ maxItems: cap, simd: false, policy: 'lru' })), batchOnly: true }),
}

function coreAdapter(core) {
  const a = {
    now: Date.now(),
    get: (k) => core.get(k, a.now),
    set: (k, v) => core.set(k, v, a.now, TTL),
    getMany: (ks) => core.getMany(ks, a.now),
    tick() {
      a.now = Date.now()
    },
    raw: core,
  }
  return a
}

export const baseline = 'lru-cache'
/** The JS contenders a row's best is taken from (Map does not count: no eviction, no recency, no ttl). */
export const jsPeers = ['lru-cache', 'lru-cache (no ttl)', 'mnemonist', 'JsCore']
export const columns = Object.keys(contenders)
/** RustoCache's cores, each set against the fastest of jsPeers in the "vs best JS" table. */
export const ours = ['WasmCore', 'WasmCore (JS hash)', 'WasmCore (scalar)', 'JsCore']

/** The "vs best JS" table: per row, each of ours against the fastest JS peer of the same round. */
export function versusBestRows(results) {
  return Object.entries(results).map(([scenario, by]) => ({ scenario, ...versusBest(by, jsPeers, ours) }))
}


const GET_LOOP = `let p = 0; let sink = 0
  return function run() { c.tick(); for (let i = 0; i < OPS; i++) { if (c.get(ks[idx[p]]) !== undefined) sink++; p = (p + 1) & MASK } return sink }`
const SET_LOOP = `let p = 0
  return function run() { c.tick(); for (let i = 0; i < OPS; i++) { c.set(ks[idx[p]], p); p = (p + 1) & MASK } }`
const READ_THROUGH_LOOP = `let p = 0
  return function run() { c.tick(); for (let i = 0; i < OPS; i++) { const k = ks[idx[p]]; if (c.get(k) === undefined) c.set(k, p); p = (p + 1) & MASK } }`
const BATCH_LOOP = `let b = 0; let sink = 0
  return function run() { c.tick(); for (let i = 0; i < OPS / BATCH; i++) { const vs = c.getMany(batches[b]); if (vs[0] !== undefined) sink++; b = (b + 1) & 1023 } return sink }`
const SINGLES_AS_BATCH = `let b = 0; let sink = 0
  return function run() { c.tick(); for (let i = 0; i < OPS / BATCH; i++) { const batch = batches[b]; for (let j = 0; j < batch.length; j++) if (c.get(batch[j]) !== undefined) sink++; b = (b + 1) & 1023 } return sink }`

// The same loops with keys built for every operation, as an application does (`user:${id}`): a fresh string
// has no hash cached in it yet, so Map-based caches hash it like our core does.
const fresh = (loop) => loop.replaceAll('ks[idx[p]]', 'key(idx[p])')
const FRESH_BATCH_LOOP = `let b = 0; let sink = 0
  return function run() { c.tick(); for (let i = 0; i < OPS / BATCH; i++) { const src = batches[b]; const batch = new Array(BATCH); for (let j = 0; j < BATCH; j++) batch[j] = key(src[j]); const vs = c.getMany(batch); if (vs[0] !== undefined) sink++; b = (b + 1) & 1023 } return sink }`
const FRESH_SINGLES_AS_BATCH = `let b = 0; let sink = 0
  return function run() { c.tick(); for (let i = 0; i < OPS / BATCH; i++) { const src = batches[b]; for (let j = 0; j < BATCH; j++) if (c.get(key(src[j])) !== undefined) sink++; b = (b + 1) & 1023 } return sink }`

function filled(make, cap, ks) {
  const c = make(cap)
  for (let i = 0; i < ks.length; i++) c.set(ks[i], i)
  return c
}

export function scenarios() {
  const ks = keys(N)
  const missKeys = keys(N, 'miss:')
  const uniform = uniformIndices(N, STREAM)
  const zipf = zipfIndices(N, STREAM)
  const roundRobin = Uint32Array.from({ length: STREAM }, (_, i) => i % N)
  const batches = Array.from({ length: 1024 }, (_, b) => Array.from({ length: BATCH }, (_, j) => ks[zipf[(b * BATCH + j) & (STREAM - 1)]]))
  const batchIndices = Array.from({ length: 1024 }, (_, b) => Array.from({ length: BATCH }, (_, j) => zipf[(b * BATCH + j) & (STREAM - 1)]))
  const key = (i) => keyOf('user:', i)
  const missKey = (i) => keyOf('miss:', i)
  // Longer keys as applications build them: past 12 characters V8 makes a concatenation a rope (ConsString),
  // which every contender must flatten or walk to hash.
  const longKey = (i) => `tenant:acme:${keyOf('user:', i)}:profile`
  const longKs = Array.from({ length: N }, (_, i) => longKey(i))
  const env = { OPS, MASK: STREAM - 1, BATCH, key }
  const each = (build, evicting = false, batch = false) =>
    Object.fromEntries(
      Object.entries(contenders)
        .filter(([name]) => !evicting || contenders[name](1).evicts !== false)
        .filter(([name]) => batch || !contenders[name](1).batchOnly)
        .map(([name, make]) => [name, () => build(make, name)]),
    )

  return [
    { name: 'get hit, uniform (100k keys)', opsPerCall: OPS, contenders: each((make) => specialize(GET_LOOP, { ...env, c: filled(make, N, ks), ks, idx: uniform })) },
    { name: 'get hit, zipf (100k keys)', opsPerCall: OPS, contenders: each((make) => specialize(GET_LOOP, { ...env, c: filled(make, N, ks), ks, idx: zipf })) },
    { name: 'get miss', opsPerCall: OPS, contenders: each((make) => specialize(GET_LOOP, { ...env, c: filled(make, N, ks), ks: missKeys, idx: uniform })) },
    { name: 'set new key, evicting (cap 10k)', opsPerCall: OPS, contenders: each((make) => specialize(SET_LOOP, { ...env, c: filled(make, 10_000, ks.slice(0, 10_000)), ks, idx: roundRobin }), true) },
    { name: 'set overwrite (100k keys)', opsPerCall: OPS, contenders: each((make) => specialize(SET_LOOP, { ...env, c: filled(make, N, ks), ks, idx: uniform })) },
    { name: 'read-through, evicting (cap 10k, zipf 100k)', opsPerCall: OPS, contenders: each((make) => specialize(READ_THROUGH_LOOP, { ...env, c: make(10_000), ks, idx: zipf }), true) },
    {
      name: 'batch get of 64 keys, per key (zipf)',
      opsPerCall: OPS,
      contenders: each((make) => {
        const c = filled(make, N, ks)
        return specialize(c.getMany ? BATCH_LOOP : SINGLES_AS_BATCH, { ...env, c, batches })
      }, false, true),
    },
    { name: 'get hit, uniform, fresh keys', opsPerCall: OPS, contenders: each((make) => specialize(fresh(GET_LOOP), { ...env, c: filled(make, N, ks), idx: uniform })) },
    { name: 'get hit, zipf, fresh keys', opsPerCall: OPS, contenders: each((make) => specialize(fresh(GET_LOOP), { ...env, c: filled(make, N, ks), idx: zipf })) },
    { name: 'get miss, fresh keys', opsPerCall: OPS, contenders: each((make) => specialize(fresh(GET_LOOP), { ...env, key: missKey, c: filled(make, N, ks), idx: uniform })) },
    { name: 'set new key, evicting, fresh keys', opsPerCall: OPS, contenders: each((make) => specialize(fresh(SET_LOOP), { ...env, c: filled(make, 10_000, ks.slice(0, 10_000)), idx: roundRobin }), true) },
    { name: 'set overwrite, fresh keys', opsPerCall: OPS, contenders: each((make) => specialize(fresh(SET_LOOP), { ...env, c: filled(make, N, ks), idx: uniform })) },
    { name: 'read-through, evicting, fresh keys', opsPerCall: OPS, contenders: each((make) => specialize(fresh(READ_THROUGH_LOOP), { ...env, c: make(10_000), idx: zipf }), true) },
    { name: 'get hit, uniform, fresh 32-char keys', opsPerCall: OPS, contenders: each((make) => specialize(fresh(GET_LOOP), { ...env, key: longKey, c: filled(make, N, longKs), idx: uniform })) },
    { name: 'read-through, evicting, fresh 32-char keys', opsPerCall: OPS, contenders: each((make) => specialize(fresh(READ_THROUGH_LOOP), { ...env, key: longKey, c: make(10_000), idx: zipf }), true) },
    {
      name: 'batch get of 64 keys, per key, fresh keys',
      opsPerCall: OPS,
      contenders: each((make) => {
        const c = filled(make, N, ks)
        return specialize(c.getMany ? FRESH_BATCH_LOOP : FRESH_SINGLES_AS_BATCH, { ...env, c, batches: batchIndices })
      }, false, true),
    },
  ]
}

/** Bytes per entry of the structure alone: 1M pre-made keys, all entries share one value object. */
export async function memory(log, M = 1_000_000) {
  const gc = globalThis.gc
  if (!gc) throw new Error('run with node --expose-gc')
  const ks = Array.from({ length: M }, (_, i) => keyOf('mem:', i))
  const value = { shared: true }
  // Array buffer backing stores are freed by a background sweeper after gc: give it time before reading.
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc()
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
    return process.memoryUsage()
  }
  // Each structure lives only inside this call, so the next measurement starts without it.
  const measure = async (name, make) => {
    const before = await settle()
    const c = make(M)
    for (let i = 0; i < M; i++) c.set(ks[i], value)
    const after = await settle()
    if (c.get(ks[M - 1]) !== value) throw new Error(`${name} lost an entry`)
    const wasm = c.raw.kind === 'wasm' ? c.raw.memoryBytes() : 0
    const heap = after.heapUsed - before.heapUsed
    const arrayBuffers = after.arrayBuffers - before.arrayBuffers
    return { bytesPerEntry: (heap + arrayBuffers + wasm) / M, heap, arrayBuffers, wasm }
  }
  const out = {}
  for (const [name, make] of Object.entries(contenders)) {
    if (make(1).batchOnly) continue
    out[name] = await measure(name, make)
    log?.(`  memory ${name}: ${out[name].bytesPerEntry.toFixed(1)} B/entry`)
  }
  return out
}
