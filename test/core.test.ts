import { describe, expect, it } from 'vitest'
import {
  createCore,
  ErrorCodes,
  hashKey,
  JsCore,
  MAX_ITEMS,
  MAX_KEY_LENGTH,
  MISS,
  RustoCacheError,
  STALE,
  WasmCore,
  wasmStringsSupported,
  type Core,
  type CoreOptions,
} from '../src/index.js'

const T0 = 1_764_000_000_000
const DAY = 86_400_000
const kinds = [
  ['wasm', <V>(o?: CoreOptions<V>) => new WasmCore<V>(o)],
  ['wasm scalar', <V>(o?: CoreOptions<V>) => new WasmCore<V>({ ...o, simd: false })],
  // Keys hashed in JS: the strings build is the default where the builtins exist, so this keeps the other.
  ['wasm jshash', <V>(o?: CoreOptions<V>) => new WasmCore<V>({ ...o, strings: false })],
  ['js', <V>(o?: CoreOptions<V>) => new JsCore<V>(o)],
  // The default policy is 'tinylfu'; everything but eviction order holds under 'lru' as well.
  ['wasm lru', <V>(o?: CoreOptions<V>) => new WasmCore<V>({ policy: 'lru', ...o })],
  ['js lru', <V>(o?: CoreOptions<V>) => new JsCore<V>({ policy: 'lru', ...o })],
] as const

/** Two distinct keys with the same 32-bit hash, found by birthday search. */
function fullCollision(): [string, string] {
  const seen = new Map<number, string>()
  for (let i = 0; ; i++) {
    const key = `c${i}`
    const h = hashKey(key)
    const other = seen.get(h)
    if (other !== undefined) return [other, key]
    seen.set(h, key)
  }
}

function expectCode(fn: () => unknown, code: string): void {
  let caught: unknown
  try {
    fn()
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(RustoCacheError)
  expect((caught as RustoCacheError).code).toBe(code)
}

describe.each(kinds)('%s core', (kind, make) => {
  describe('exact lookups', () => {
    it('tells apart keys whose hashes agree in the low bits', () => {
      const core = make<string>({ maxItems: 10_000 })
      const byLowBits = new Map<number, string[]>()
      for (let i = 0; i < 5_000; i++) {
        const key = `low:${i}`
        const bucket = hashKey(key) & 0xff
        byLowBits.set(bucket, [...(byLowBits.get(bucket) ?? []), key])
      }
      const group = [...byLowBits.values()].find((g) => g.length >= 10)!
      group.forEach((k) => core.set(k, `v-${k}`, T0))
      group.forEach((k) => expect(core.get(k, T0)).toBe(`v-${k}`))
      core.delete(group[0]!)
      expect(core.get(group[0]!, T0)).toBeUndefined()
      group.slice(1).forEach((k) => expect(core.get(k, T0)).toBe(`v-${k}`))
    })

    it('tells apart two keys with the same 32-bit hash, single and batch', () => {
      const [a, b] = fullCollision()
      expect(hashKey(a)).toBe(hashKey(b))
      const core = make<string>()
      core.set(a, 'A', T0)
      expect(core.get(b, T0)).toBeUndefined()
      core.set(b, 'B', T0)
      expect([core.get(a, T0), core.get(b, T0)]).toEqual(['A', 'B'])
      expect(core.getMany([b, a, b], T0)).toEqual(['B', 'A', 'B'])
      expect(core.delete(a)).toBe(true)
      expect([core.get(a, T0), core.get(b, T0)]).toEqual([undefined, 'B'])
    })

    it('keeps the LRU order exact when a lookup first meets the other key of a 32-bit collision', () => {
      const [a, b] = fullCollision()
      const core = make<string>()
      core.set(a, 'A', T0, 10)
      core.set('other', 'O', T0)
      core.set(b, 'B', T0)
      expect(core.lookup(b, T0)).toBeGreaterThanOrEqual(0)
      expect([...core.keys()]).toEqual([b, 'other', a])
      expect(core.lookup('other', T0)).toBeGreaterThanOrEqual(0)
      expect([...core.keys()]).toEqual(['other', b, a])
      // a is past its deadline now: looking up b must neither drop a nor disturb the order
      expect(core.get(b, T0 + 20)).toBe('B')
      expect([...core.keys()]).toEqual([b, 'other', a])
      expect(core.size).toBe(3)
      expect(core.get(a, T0 + 20)).toBeUndefined()
      expect([...core.keys()]).toEqual([b, 'other'])
    })

    it('stores unicode, empty, lone-surrogate and 4 KB keys', () => {
      const core = make<number>()
      const keys = ['', 'ключ', '😀🎉', '\ud800', '\udfff', 'a\u0000b', 'k'.repeat(4096), 'é'.repeat(4095)]
      keys.forEach((k, i) => core.set(k, i, T0))
      keys.forEach((k, i) => expect(core.get(k, T0)).toBe(i))
      expect(core.getMany(keys, T0)).toEqual(keys.map((_, i) => i))
      expect(core.get('\ud801', T0)).toBeUndefined()
      expect(core.size).toBe(keys.length)
    })
  })

  describe('deadlines', () => {
    it('serves an entry fresh before its ttl, stale within grace, and drops it after', () => {
      const dropped: string[] = []
      const core = make<string>({ onEvict: (k, _v, r) => dropped.push(`${k}:${r}`) })
      core.set('k', 'v', T0, 1_000, 500)
      expect(core.lookup('k', T0 + 999)).toBeLessThan(STALE)
      expect(core.get('k', T0 + 999)).toBe('v')
      const stale = core.lookup('k', T0 + 1_000)
      expect(stale & STALE).toBe(STALE)
      expect(core.get('k', T0 + 1_200)).toBeUndefined()
      expect(core.valueAt(stale & ~STALE)).toBe('v')
      expect(core.lookup('k', T0 + 1_500)).toBe(MISS)
      expect(dropped).toEqual(['k:expire'])
      expect(core.size).toBe(0)
    })

    it('keeps an entry without ttl forever and one with a 30-day ttl to within a second', () => {
      const core = make<string>()
      core.set('forever', 'f', T0)
      core.set('month', 'm', T0, 30 * DAY)
      expect(core.get('month', T0 + 30 * DAY - 1)).toBe('m')
      expect(core.get('month', T0 + 30 * DAY + 1_000)).toBeUndefined()
      expect(core.get('forever', T0 + 3_650 * DAY)).toBe('f')
    })

    it('keeps ms deadlines exact across the epoch moving forward', () => {
      const core = make<string>()
      let now = T0
      core.set('long', 'l', now, 20 * DAY)
      for (let day = 1; day <= 19; day++) {
        now = T0 + day * DAY
        core.set(`d${day}`, 'x', now, 250)
        expect(core.get(`d${day}`, now + 249)).toBe('x')
        expect(core.get(`d${day}`, now + 250)).toBeUndefined()
      }
      expect(core.get('long', T0 + 20 * DAY - 1)).toBe('l')
      expect(core.get('long', T0 + 20 * DAY)).toBeUndefined()
    })

    it('keeps deadlines exact when the clock goes back, before the first time it saw and after the epoch moved', () => {
      // A clock set back (NTP, a VM resumed): an entry written then must be fresh for its ttl, not born passed.
      const core = make<string>()
      core.set('a', 'x', T0, DAY)
      core.set('b', 'y', T0 - 60_000, 1_000)
      expect(core.get('b', T0 - 60_000)).toBe('y')
      expect(core.get('b', T0 - 59_001)).toBe('y')
      expect(core.get('b', T0 - 59_000)).toBeUndefined()
      expect(core.get('a', T0 - 60_000)).toBe('x')
      expect(core.get('a', T0 + DAY - 1)).toBe('x')
      // Forward past a rebase (~12 days), then back by a day: the same rules.
      const later = T0 + 13 * DAY
      core.set('c', 'z', later, DAY)
      core.set('d', 'w', later - DAY, 500)
      expect(core.get('d', later - DAY + 499)).toBe('w')
      expect(core.get('d', later - DAY + 500)).toBeUndefined()
      expect(core.get('c', later - DAY)).toBe('z')
      expect(core.get('c', later + DAY)).toBeUndefined()
    })

    it('makes an expired entry stale but keeps it for its grace; without grace it goes', () => {
      const core = make<string>()
      core.set('graced', 'g', T0, 10_000, 5_000)
      core.set('plain', 'p', T0, 10_000)
      expect(core.expire('graced', T0 + 1)).toBe(true)
      expect(core.expire('plain', T0 + 1)).toBe(true)
      expect(core.lookup('graced', T0 + 2) & STALE).toBe(STALE)
      expect(core.lookup('plain', T0 + 2)).toBe(MISS)
      expect(core.lookup('graced', T0 + 15_000)).toBe(MISS)
      expect(core.expire('missing', T0)).toBe(false)
    })
  })

  describe('LRU order and limits', () => {
    // Policy 'lru' (the default is 'tinylfu', core.tinylfu.test.ts).
    const lru = <V,>(o: CoreOptions<V> = {}) => make<V>({ policy: 'lru', ...o })
    it('evicts the least recently used entry; lookups promote, peeks do not', () => {
      const evicted: string[] = []
      const core = lru<number>({ maxItems: 3, onEvict: (k) => evicted.push(k) })
      core.setMany(['a', 'b', 'c'], [1, 2, 3], T0)
      expect([...core.keys()]).toEqual(['c', 'b', 'a'])
      core.lookup('a', T0)
      core.peek('b', T0)
      expect([...core.keys()]).toEqual(['a', 'c', 'b'])
      core.set('d', 4, T0)
      expect(evicted).toEqual(['b'])
      core.lookupMany(['c', 'a'], T0)
      core.set('e', 5, T0)
      expect(evicted).toEqual(['b', 'd'])
      expect([...core.keys()]).toEqual(['e', 'a', 'c'])
    })

    it('evicts as many entries as maxBytes needs, and refuses an entry larger than maxBytes', () => {
      const evicted: string[] = []
      const core = lru<string>({ maxBytes: 100, onEvict: (k) => evicted.push(k) })
      for (let i = 0; i < 10; i++) core.set(`s${i}`, 'v', T0, Infinity, 0, 10)
      expect(core.bytes).toBe(100)
      core.set('big', 'B', T0, Infinity, 0, 35)
      expect(evicted).toEqual(['s0', 's1', 's2', 's3'])
      expect(core.bytes).toBe(95)
      expect(core.set('huge', 'H', T0, Infinity, 0, 101)).toBe(MISS)
      expect(core.get('huge', T0)).toBeUndefined()
      expect(core.set('big', 'B2', T0, Infinity, 0, 101)).toBe(MISS)
      expect(core.get('big', T0)).toBeUndefined()
      expect(core.bytes).toBe(60)
      core.set('s9', 'grown', T0, Infinity, 0, 50)
      expect(core.bytes).toBe(100)
      expect(core.get('s9', T0)).toBe('grown')
    })

    it('reuses the slots of deleted entries instead of growing', () => {
      const core = lru<number>({ maxItems: 1_000, initialCapacity: 16 })
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 16; i++) core.set(`r${round}:${i}`, i, T0)
        for (let i = 0; i < 16; i++) expect(core.delete(`r${round}:${i}`)).toBe(true)
      }
      expect(core.capacity).toBe(16)
      expect(core.size).toBe(0)
      core.set('after', 1, T0)
      expect(core.get('after', T0)).toBe(1)
    })

    it('grows from 16 slots to 1,000,000 entries without losing one', () => {
      const core = lru<number>({ maxItems: 1_000_000 })
      expect(core.capacity).toBe(16)
      const keys = Array.from({ length: 1_000_000 }, (_, i) => `user:${i}`)
      for (let i = 0; i < keys.length; i++) core.set(keys[i]!, i, T0, 60_000)
      expect(core.size).toBe(1_000_000)
      expect(core.capacity).toBe(1_000_000)
      let found = 0
      for (let i = 0; i < keys.length; i++) if (core.get(keys[i]!, T0) === i) found++
      expect(found).toBe(1_000_000)
      expect(core.getMany(keys.slice(500_000, 500_064), T0)).toEqual(keys.slice(500_000, 500_064).map((_, i) => 500_000 + i))
    })

    it('clears everything and starts refilling in the same slots', () => {
      const core = lru<number>({ maxItems: 100 })
      for (let i = 0; i < 50; i++) core.set(`k${i}`, i, T0)
      const capacity = core.capacity
      core.clear()
      expect(core.size).toBe(0)
      expect(core.get('k1', T0)).toBeUndefined()
      expect([...core.keys()]).toEqual([])
      for (let i = 0; i < 50; i++) core.set(`n${i}`, i, T0)
      expect(core.capacity).toBe(capacity)
      expect(core.get('n49', T0)).toBe(49)
    })

    it('lets an eviction listener call back into the core', () => {
      const seen: string[] = []
      const core: Core<number> = lru<number>({
        maxItems: 2,
        onEvict: (k, v) => {
          seen.push(k)
          if (v === 1) core.set('revived', 1, T0)
        },
      })
      core.setMany(['a', 'b', 'c'], [1, 2, 3], T0)
      expect(seen).toEqual(['a', 'b'])
      expect([...core.keys()].sort()).toEqual(['c', 'revived'])
    })
  })

  describe('batches', () => {
    it('looks up duplicates and misses in key order', () => {
      const core = make<string>()
      core.setMany(['a', 'b', 'a'], ['1', '2', '3'], T0, 100)
      expect(core.getMany(['a', 'zz', 'b', 'a', ''], T0)).toEqual(['3', undefined, '2', '3', undefined])
      const codes = core.lookupMany(['a', 'zz'], T0 + 100)
      expect(codes[0]).toBe(MISS)
      expect(codes[1]).toBe(MISS)
      expect(core.getMany([], T0)).toEqual([])
    })

    it('handles batches larger than the scratch region has been', () => {
      const core = make<number>({ maxItems: 20_000 })
      const keys = Array.from({ length: 10_000 }, (_, i) => `batch:${i}:${'x'.repeat(i % 97)}`)
      core.setMany(keys, keys.map((_, i) => i), T0)
      expect(core.getMany(keys, T0)).toEqual(keys.map((_, i) => i))
    })
  })

  describe('bad input', () => {
    it('rejects keys that are not strings or are too long, and keeps what is stored', () => {
      const core = make<number>()
      core.set('keep', 1, T0)
      for (const bad of [1, null, undefined, {}, Symbol('s')]) {
        expectCode(() => core.set(bad as unknown as string, 2, T0), ErrorCodes.E_INVALID_KEY)
        expectCode(() => core.get(bad as unknown as string, T0), ErrorCodes.E_INVALID_KEY)
      }
      expectCode(() => core.set('x'.repeat(MAX_KEY_LENGTH + 1), 2, T0), ErrorCodes.E_INVALID_KEY)
      expectCode(() => core.getMany(['ok', 7 as unknown as string], T0), ErrorCodes.E_INVALID_KEY)
      expectCode(() => core.setMany(['ok', 'x'.repeat(MAX_KEY_LENGTH + 1)], [1, 2], T0), ErrorCodes.E_INVALID_KEY)
      core.set('x'.repeat(MAX_KEY_LENGTH), 3, T0)
      expect(core.get('ok', T0)).toBeUndefined()
      expect(core.get('keep', T0)).toBe(1)
      expect(core.size).toBe(2)
    })

    it('rejects bad ttl, grace and sizes before writing anything', () => {
      const core = make<number>({ maxBytes: 1_000 })
      core.set('keep', 1, T0, 1_000, 0, 10)
      for (const ttl of [-1, Number.NaN, '1m', null]) {
        expectCode(() => core.set('keep', 2, T0, ttl as number), ErrorCodes.E_INVALID_TTL)
        expectCode(() => core.set('keep', 2, T0, 1_000, ttl as number), ErrorCodes.E_INVALID_TTL)
      }
      for (const size of [-1, 1.5, 2 ** 32, Number.NaN, '3']) {
        expectCode(() => core.set('keep', 2, T0, 1_000, 0, size as number), ErrorCodes.E_INVALID_SIZE)
      }
      expectCode(() => core.setMany(['a', 'keep'], [1, 2], T0, 1_000, 0, [1, -1]), ErrorCodes.E_INVALID_SIZE)
      expectCode(() => core.setMany(['a', 'keep'], [1], T0), ErrorCodes.E_INVALID_OPTION)
      expect(core.get('keep', T0)).toBe(1)
      expect(core.get('a', T0)).toBeUndefined()
      expect(core.bytes).toBe(10)
    })

    it('rejects a time that is not a finite number in every timed call, and keeps counting time', () => {
      const core = make<number>({ initialCapacity: 4 })
      core.set('keep', 1, T0, 1_000)
      for (const now of [undefined, Number.NaN, Infinity, -Infinity, '5', null]) {
        const t = now as unknown as number
        expectCode(() => core.get('keep', t), ErrorCodes.E_INVALID_TIME)
        expectCode(() => core.lookup('keep', t), ErrorCodes.E_INVALID_TIME)
        expectCode(() => core.peek('keep', t), ErrorCodes.E_INVALID_TIME)
        expectCode(() => core.set('other', 2, t), ErrorCodes.E_INVALID_TIME)
        expectCode(() => core.expire('keep', t), ErrorCodes.E_INVALID_TIME)
        expectCode(() => core.lookupMany(['keep'], t), ErrorCodes.E_INVALID_TIME)
        expectCode(() => core.getMany(['keep'], t), ErrorCodes.E_INVALID_TIME)
        expectCode(() => core.setMany(['other'], [2], t), ErrorCodes.E_INVALID_TIME)
      }
      // Nothing above may have moved the clock: the entry still expires on time.
      expect(core.get('keep', T0 + 999)).toBe(1)
      expect(core.get('keep', T0 + 1_000)).toBeUndefined()
      expect(core.get('other', T0)).toBeUndefined()
    })

    it('hands every lookupMany caller an array of its own', () => {
      const core = make<number>()
      core.setMany(['a', 'b'], [1, 2], T0)
      const first = core.lookupMany(['a', 'b'], T0)
      const kept = Array.from(first)
      const second = core.lookupMany(['zz', 'zz', 'zz'], T0)
      expect(second).not.toBe(first)
      expect(Array.from(first)).toEqual(kept)
      expect(first.length).toBe(2)
      expect(Array.from(second)).toEqual([MISS, MISS, MISS])
    })

    it('rejects limits that are not positive numbers', () => {
      expect(make({ maxItems: MAX_ITEMS }).maxItems).toBe(2 ** 24)
      for (const maxItems of [0, -5, Number.NaN, '10', 2 ** 31, MAX_ITEMS + 1]) {
        expectCode(() => make({ maxItems: maxItems as number }), ErrorCodes.E_INVALID_OPTION)
      }
      for (const maxBytes of [0, -1, Number.NaN, '64mb']) {
        expectCode(() => make({ maxBytes: maxBytes as number }), ErrorCodes.E_INVALID_OPTION)
      }
      expectCode(() => make({ initialCapacity: 0 }), ErrorCodes.E_INVALID_OPTION)
      expectCode(() => make({ onEvict: 'no' as unknown as () => void }), ErrorCodes.E_INVALID_OPTION)
    })
  })

  it(`reports its kind as ${kind}`, () => {
    const [k, build] = kind.split(' ') as ['wasm' | 'js', string | undefined]
    expect(make().kind).toBe(k)
    expect(createCore({ kind: k, simd: build === 'scalar' ? false : undefined }).kind).toBe(k)
    if (build === 'scalar') expect((make() as WasmCore<unknown>).simd).toBe(false)
  })
})

/** Whether this runtime links a module importing `wasm:js-string` `length` without being given it. */
function probeStringBuiltins(): boolean {
  // (module (type (func (param externref) (result i32))) (import "wasm:js-string" "length" (func (type 0))))
  const name = [...'wasm:js-string'].map((c) => c.charCodeAt(0))
  const field = [...'length'].map((c) => c.charCodeAt(0))
  const imports = [1, name.length, ...name, field.length, ...field, 0, 0]
  const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 6, 1, 0x60, 1, 0x6f, 1, 0x7f, 2, imports.length, ...imports])
  try {
    const Module = WebAssembly.Module as unknown as new (b: Uint8Array, o: object) => WebAssembly.Module
    const instance = new WebAssembly.Instance(new Module(bytes, { builtins: ['js-string'] }), {})
    return typeof instance.exports === 'object'
  } catch {
    return false
  }
}

describe('the WASM build a core takes', () => {
  it('reads keys in WASM exactly where the js-string builtins exist, by feature detection', () => {
    const here = probeStringBuiltins()
    expect(wasmStringsSupported()).toBe(here)
    expect(new WasmCore().strings).toBe(here)
    expect(new WasmCore({ strings: false }).strings).toBe(false)
    expect(new WasmCore({ simd: false }).strings).toBe(false)
    if (here) expect(new WasmCore({ strings: true }).strings).toBe(true)
    else expectCode(() => new WasmCore({ strings: true }), ErrorCodes.E_WASM_UNAVAILABLE)
  })

  it('refuses a strings option that is not a boolean, or strings without SIMD', () => {
    expectCode(() => createCore({ strings: 'yes' as unknown as boolean }), ErrorCodes.E_INVALID_OPTION)
    expectCode(() => createCore({ kind: 'js', strings: true, simd: false }), ErrorCodes.E_INVALID_OPTION)
  })
})

describe('createCore', () => {
  it('takes WASM on a runtime with SIMD', () => {
    expect(createCore().kind).toBe('wasm')
  })

  it('rejects an unknown kind', () => {
    expectCode(() => createCore({ kind: 'rust' as 'js' }), ErrorCodes.E_INVALID_OPTION)
  })
})
