// What v128 buys: the batch key hash with SIMD (four keys per vector), the same hash scalar in WASM over the
// same staged layout, and the JS hash (charCodeAt + Math.imul) key by key, for batches of 4 to 256 keys of 8 to
// 64 characters. Staging (copying the keys' UTF-16 units into WASM memory) is paid by the first two WASM
// columns, as getMany and setMany pay it; the "hash only" columns stage once and time the hash alone.
import { hashKey, WasmCore } from '../../dist/index.js'

const SIZES = [4, 16, 64, 256]
const LENGTHS = [8, 16, 32, 64]
const CALLS = 64

export const baseline = 'JS hashKey'
export const columns = ['v128 (WASM SIMD)', 'scalar WASM', 'JS hashKey', 'v128, hash only', 'scalar WASM, hash only']

export function scenarios({ quick = false } = {}) {
  const core = new WasmCore({ maxItems: 16 })
  const list = []
  for (const size of quick ? [16, 256] : SIZES) {
    for (const length of quick ? [16, 64] : LENGTHS) {
      // Distinct batches, so nothing is cached between calls.
      const batches = Array.from({ length: CALLS }, (_, b) =>
        Array.from({ length: size }, (_, i) => `k${b}:${i}:`.padEnd(length, 'x').slice(0, length)),
      )
      let b = 0
      const next = () => batches[(b = (b + 1) % CALLS)]
      list.push({
        name: `batch of ${size}, keys of ${length} chars (per key)`,
        opsPerCall: size,
        contenders: {
          'v128 (WASM SIMD)': () => () => {
            const { n4 } = core.stage(next())
            core.ex.hashBatch(n4)
          },
          'scalar WASM': () => () => {
            const { n4 } = core.stage(next())
            core.ex.hashBatchScalar(n4)
          },
          // The hash alone, keys staged once: what the vector instructions themselves buy.
          'v128, hash only': () => {
            const { n4 } = core.stage(batches[0])
            return () => core.ex.hashBatch(n4)
          },
          'scalar WASM, hash only': () => {
            const { n4 } = core.stage(batches[0])
            return () => core.ex.hashBatchScalar(n4)
          },
          'JS hashKey': () => {
            let sink = 0
            return () => {
              const batch = next()
              for (let i = 0; i < batch.length; i++) sink ^= hashKey(batch[i])
              return sink
            }
          },
        },
      })
    }
  }
  return list
}
