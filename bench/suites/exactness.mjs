// What each way of keeping lookups exact costs per key, measured beside the hash every lookup pays anyway:
// the JS check the core does (`kv[2s] === key`) against the copy of the key into WASM memory that comparing
// key bytes in WASM would need on every lookup (before any compare).
import { hashKey } from '../../dist/index.js'
import { keys, zipfIndices } from '../lib/workload.mjs'

const OPS = 1024

export const baseline = 'hash the key (paid by both)'

export function scenarios() {
  const ks = keys(100_000)
  const idx = zipfIndices(100_000, 1 << 16)
  const kv = ks.flatMap((k, i) => [k, i])
  const memory = new WebAssembly.Memory({ initial: 1 })
  const u16 = new Uint16Array(memory.buffer)
  const u8 = new Uint8Array(memory.buffer)
  const encoder = new TextEncoder()
  const loop = (step) => {
    let p = 0
    let sink = 0
    return () => {
      for (let i = 0; i < OPS; i++) {
        sink += step(idx[p])
        p = (p + 1) & 0xffff
      }
      return sink
    }
  }
  return [
    {
      name: 'exactness, per lookup of a 12-char key',
      opsPerCall: OPS,
      contenders: {
        [baseline]: () => loop((i) => hashKey(ks[i]) & 1),
        'check in JS: kv[2s] === key': () => loop((i) => (kv[2 * i] === ks[i] ? 1 : 0)),
        'copy into WASM: charCodeAt loop': () =>
          loop((i) => {
            const k = ks[i]
            for (let j = 0; j < k.length; j++) u16[j] = k.charCodeAt(j)
            return k.length
          }),
        'copy into WASM: encodeInto': () => loop((i) => encoder.encodeInto(ks[i], u8).written),
      },
    },
  ]
}
