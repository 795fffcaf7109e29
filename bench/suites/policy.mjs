// What W-TinyLFU costs (issue 10): the same operations with policy 'lru' and policy 'tinylfu' in the same
// process and rounds, ratio against 'lru'; the sketch's increment with its four positions from one v128
// computation against four scalar ones; and memory per entry of each policy.
import { JsCore, RustoCache, WasmCore } from '../../dist/index.js'
import { specialize } from '../lib/harness.mjs'
import { keyOf, keys, zipfIndices } from '../lib/workload.mjs'
import { quick } from '../lib/mode.mjs'

const N = quick ? 20_000 : 100_000
const OPS = 256
const factory = () => 1

export const baseline = "policy 'lru'"
export const columns = [baseline, "policy 'tinylfu'"]
const POLICIES = { [baseline]: 'lru', "policy 'tinylfu'": 'tinylfu' }

export function scenarios() {
  const ks = keys(N)
  const zipf = zipfIndices(N, 1 << 16)
  const env = { OPS, MASK: 0xffff, ks, idx: zipf, factory, now: Date.now() }
  const loop = (body, async = false) => `let p = 0; let sink = 0; let fresh = 0
    return ${async ? 'async ' : ''}function run() { for (let i = 0; i < OPS; i++) { ${body}; p = (p + 1) & MASK } return sink }`
  const each = (build) => Object.fromEntries(Object.entries(POLICIES).map(([name, policy]) => [name, () => build(policy)]))
  const filledCore = (Core, policy) => {
    const c = new Core({ maxItems: N, policy })
    for (let i = 0; i < N; i++) c.set(ks[i], i, env.now)
    return c
  }
  const rows = []
  for (const [label, Core] of [['WasmCore', WasmCore], ['JsCore', JsCore]]) {
    rows.push({
      name: `${label} get hit (zipf)`,
      opsPerCall: OPS,
      contenders: each((policy) => specialize(loop('if (c.get(ks[idx[p]], now) !== undefined) sink++'), { ...env, c: filledCore(Core, policy) })),
    })
    rows.push({
      // Every set is a new key into a full core: each one evicts (or, under tinylfu, may reject).
      name: `${label} set that evicts (new keys)`,
      opsPerCall: OPS,
      contenders: each((policy) => specialize(loop("c.set(keyOf('new:', fresh++), 1, now)"), { ...env, keyOf, c: filledCore(Core, policy) })),
    })
  }
  // A small full cache: under 1,024 entries every request runs in all eleven mini-simulations (README,
  // "Eviction policies"), which the rows above, at 1 request in 128, do not show.
  const SMALL = 1000
  const smallCore = (Core, policy) => {
    const c = new Core({ maxItems: SMALL, policy })
    for (let i = 0; i < SMALL; i++) c.set(ks[i], i, env.now)
    return c
  }
  const uniform = Uint32Array.from({ length: 1 << 16 }, (_, i) => Math.imul(i, 7919) % SMALL)
  for (const [label, Core] of [['WasmCore', WasmCore], ['JsCore', JsCore]]) {
    rows.push({
      name: `${label} get hit, ${SMALL.toLocaleString('en')} entries`,
      opsPerCall: OPS,
      contenders: each((policy) => specialize(loop('if (c.get(ks[idx[p]], now) !== undefined) sink++'), { ...env, idx: uniform, c: smallCore(Core, policy) })),
    })
    rows.push({
      name: `${label} set that evicts, ${SMALL.toLocaleString('en')} entries`,
      opsPerCall: OPS,
      contenders: each((policy) => specialize(loop("c.set(keyOf('new:', fresh++), 1, now)"), { ...env, keyOf, c: smallCore(Core, policy) })),
    })
  }
  rows.push({
    name: 'RustoCache (wasm) getOrSet hit (zipf)',
    opsPerCall: OPS,
    contenders: each(async (policy) => {
      const c = new RustoCache({ ttl: '10m', l1: { maxItems: N, core: 'wasm', policy } })
      for (let i = 0; i < N; i++) await c.set({ key: ks[i], value: i })
      return specialize(loop('if ((await c.getOrSet({ key: ks[idx[p]], factory })) !== undefined) sink++', true), { ...env, c })
    }),
  })
  return rows
}

export const sketchBaseline = 'scalar positions'
export const sketchColumns = [sketchBaseline, 'v128 positions']

/** The sketch alone, inside WASM: 1,024 increments and estimates per call over spread hashes. */
export function sketchScenarios() {
  const core = new WasmCore({ maxItems: N, policy: 'tinylfu' })
  for (let i = 0; i < N; i++) core.set(keyOf('user:', i), i, 0)
  const ex = core.ex
  const n = 1024
  let h = 1
  const run = (v128) => () => {
    ex.setSimdPositions(v128)
    ex.sketchLoop(n, h, 0x9e3779b9)
    h = (h + Math.imul(n, 0x9e3779b9)) | 0
  }
  return [
    {
      name: 'sketch increment + estimate, in WASM (per key)',
      opsPerCall: n,
      contenders: { [sketchBaseline]: () => run(false), 'v128 positions': () => run(true) },
    },
  ]
}

/** Bytes per entry of each policy's core structures, both cores full at `n` entries (keys and values excluded). */
export function memory(n = N) {
  const rows = []
  for (const [label, Core] of [['WasmCore', WasmCore], ['JsCore', JsCore]]) {
    const perEntry = {}
    for (const policy of ['lru', 'tinylfu']) {
      const c = new Core({ maxItems: n, policy })
      for (let i = 0; i < n; i++) c.set(keyOf('user:', i), i, 0)
      perEntry[policy] = c.memoryBytes() / n
    }
    rows.push({ core: label, entries: n, lru: perEntry.lru, tinylfu: perEntry.tinylfu, extra: perEntry.tinylfu - perEntry.lru })
  }
  return rows
}
