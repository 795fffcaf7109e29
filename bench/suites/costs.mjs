// Where a lookup's time goes: the parts a hit is made of, each timed on its own over the same key stream, so a
// missed target can be explained by figures rather than guesses. Every column includes getting the key (an
// array read for reused keys, a template string for fresh ones), which the first column times alone.
import { LRUCache as MnemonistLRU } from 'mnemonist'
import { hashKey, WasmCore } from '../../dist/index.js'
import { specialize } from '../lib/harness.mjs'
import { keyOf, uniformIndices } from '../lib/workload.mjs'

const N = 100_000
const STREAM = 1 << 16
const OPS = 1024

export const baseline = 'get the key'
export const columns = ['get the key', '+ JS hashKey', '+ Map.get', '+ an empty WASM call', '+ WasmCore get', '+ mnemonist get']

const LOOP = (body) => `let p = 0; let sink = 0
  return function run() { for (let i = 0; i < OPS; i++) { const k = KEY; ${body}; p = (p + 1) & MASK } return sink }`

export function scenarios() {
  const idx = uniformIndices(N, STREAM)
  const now = Date.now()
  const short = (i) => keyOf('user:', i)
  const long = (i) => `tenant:acme:${keyOf('user:', i)}:profile`
  const rows = [
    { name: '12-char keys, reused strings', key: 'ks[idx[p]]', ks: Array.from({ length: N }, (_, i) => short(i)), make: short },
    { name: '12-char keys, built per call', key: 'make(idx[p])', make: short },
    { name: '32-char keys, built per call', key: 'make(idx[p])', make: long },
  ]
  return rows.map((row) => {
    const ks = row.ks ?? Array.from({ length: N }, (_, i) => row.make(i))
    const env = (extra) => ({ OPS, MASK: STREAM - 1, idx, ks, make: row.make, now, ...extra })
    const src = (body) => LOOP(body).replace('KEY', row.key)
    const filled = () => {
      const c = new WasmCore({ maxItems: N })
      for (let i = 0; i < N; i++) c.set(ks[i], i, now, 600_000)
      return c
    }
    return {
      name: row.name,
      opsPerCall: OPS,
      contenders: {
        'get the key': () => specialize(src('sink ^= k.length'), env({})),
        '+ JS hashKey': () => specialize(src('sink ^= hashKey(k)'), env({ hashKey })),
        '+ Map.get': () => specialize(src('if (m.get(k) !== undefined) sink++'), env({ m: new Map(ks.map((k, i) => [k, i])) })),
        // The cost of crossing into WASM and back, with no work on the other side.
        '+ an empty WASM call': () => specialize(src('sink ^= k.length + ex.size()'), env({ ex: filled().ex })),
        '+ WasmCore get': () => specialize(src('if (c.get(k, now) !== undefined) sink++'), env({ c: filled() })),
        '+ mnemonist get': () => {
          const m = new MnemonistLRU(N)
          for (let i = 0; i < N; i++) m.set(ks[i], i)
          return specialize(src('if (m.get(k) !== undefined) sink++'), env({ m }))
        },
      },
    }
  })
}
