import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hashKey, WasmCore, wasmStringsSupported } from '../src/index.js'

class HashProbe extends WasmCore {
  simdHashes(keys: string[]): number[] {
    return Array.from(this.hashMany(keys)!.subarray(0, keys.length))
  }

  /** The scalar WASM batch hash over the same staged layout. */
  scalarHashes(keys: string[]): number[] {
    const self = this as unknown as { stage(k: string[]): { n4: number; base: number }; ex: { hashBatchScalar(n4: number): void; memory: WebAssembly.Memory } }
    if (keys.length === 0) return []
    const { n4, base } = self.stage(keys)
    self.ex.hashBatchScalar(n4)
    return Array.from(new Int32Array(self.ex.memory.buffer, base + n4 * 4, keys.length))
  }
}

describe('key hash', () => {
  it('is the same in JS, in the v128 batch and in the scalar WASM batch for any keys and batch shapes', () => {
    const probe = new HashProbe()
    const scalarBuild = new HashProbe({ simd: false })
    expect([probe.simd, scalarBuild.simd]).toEqual([true, false])
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 70 }), { maxLength: 23 }), (keys) => {
        expect(probe.simdHashes(keys)).toEqual(keys.map(hashKey))
        expect(probe.scalarHashes(keys)).toEqual(keys.map(hashKey))
        // The build without SIMD: its hashBatch is the scalar loop.
        expect(scalarBuild.simdHashes(keys)).toEqual(keys.map(hashKey))
      }),
      { numRuns: 1_000 },
    )
  })

  it('is the same hashed in WASM from the key itself (the js-string builtins), where the runtime has them', () => {
    // On a runtime without them (Node 20) there is no such build to compare: test/core.test.ts checks that the
    // detection agrees with a probe of its own, so this cannot be skipped where the builtins exist.
    if (!wasmStringsSupported()) return
    const core = new WasmCore({ strings: true }) as unknown as { ex: { hashKey(key: string): number; setHashMask(m: number): void } }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 70 }), (key) => {
        expect(core.ex.hashKey(key)).toBe(hashKey(key))
      }),
      { numRuns: 2_000 },
    )
    // Ropes and slices, which V8 stores unflattened: the builtins read them the same.
    const long = 'tenant:acme:' + 'user:'.repeat(3) + String(Math.random())
    expect(core.ex.hashKey(long.slice(3))).toBe(hashKey(long.slice(3)))
    expect(core.ex.hashKey(long + long)).toBe(hashKey(long + long))
  })

  it('gives pinned values for known keys', () => {
    // Pinned values: a change of the hash changes every slot layout, so it must be deliberate.
    expect(['', 'a', 'user:1', 'ключ'].map(hashKey)).toEqual([3954623016 | 0, 1202304772, 1846874275, 1657342374])
  })
})
