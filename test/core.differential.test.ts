import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { JsCore, WasmCore, wasmStringsSupported, type Core } from '../src/index.js'
import { maskHashes } from '../src/core/wasm-core.js'

// Random operation sequences applied to both cores: every result, every eviction, the LRU order and the
// counters must match after each step. Small capacities make eviction and growth happen constantly; time
// jumps of up to 40 days cross the ms/seconds deadline ranges and the epoch rebase. Both policies: under
// W-TinyLFU small capacities also make the sketch age (every 10 x capacity additions) and the window climb
// (every 10 x maxItems lookups) many times a run, and collisions exercise WASM's undo of a lookup's hit.
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', '', 'ключ', '😀', 'user:1', 'user:10', 'x'.repeat(33)]
const DAY = 86_400_000

const duration = fc.oneof(
  fc.integer({ min: 0, max: 50 }),
  fc.integer({ min: 0, max: 5_000 }),
  fc.integer({ min: 0, max: 60 * DAY }),
  fc.constant(Infinity),
)
function opsOver(key: fc.Arbitrary<string>) {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ t: fc.constant('set' as const), key, ttl: duration, grace: duration, size: fc.integer({ min: 0, max: 40 }) }) },
    { weight: 6, arbitrary: fc.record({ t: fc.constant('get' as const), key }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('peek' as const), key }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), key }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('expire' as const), key }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('clear' as const) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('getMany' as const), keys: fc.array(key, { maxLength: 12, size: 'max' }) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant('setMany' as const),
        keys: fc.array(key, { maxLength: 9, size: 'max' }),
        ttl: duration,
        grace: duration,
        size: fc.integer({ min: 0, max: 15 }),
      }),
    },
    {
      weight: 4,
      // Time also goes back (a clock set back; the cores take any finite now), across a clock rebase too.
      arbitrary: fc.record({
        t: fc.constant('advance' as const),
        ms: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 40 * DAY }), fc.integer({ min: -40 * DAY, max: 0 })),
      }),
    },
  )
}

type Op = ReturnType<typeof opsOver> extends fc.Arbitrary<infer T> ? T : never

function apply(core: Core<string>, o: Op, now: number, n: number): unknown {
  switch (o.t) {
    case 'set':
      return core.set(o.key, `v${n}`, now, o.ttl, o.grace, o.size)
    case 'get':
      return [core.lookup(o.key, now), core.get(o.key, now)]
    case 'peek':
      return core.peek(o.key, now)
    case 'delete':
      return core.delete(o.key)
    case 'expire':
      return core.expire(o.key, now)
    case 'clear':
      return core.clear()
    case 'getMany':
      return [Array.from(core.lookupMany(o.keys, now).subarray(0, o.keys.length)), core.getMany(o.keys, now)]
    case 'setMany':
      return core.setMany(o.keys, o.keys.map((_, i) => `v${n}.${i}`), now, o.ttl, o.grace, o.keys.map(() => o.size))
    case 'advance':
      return undefined
  }
}

const MANY = Array.from({ length: 300 }, (_, i) => `k${i}`)
const cases = [
  { name: 'agree on every result, eviction and LRU order for random operation sequences', keys: KEYS, maxItems: 10, masks: [-1] },
  // Masks force hash collisions: 0 makes every key collide in all 32 bits (one probe chain, longer than the
  // 3-bit distance field can count: findNext, undoLookup and the batch path's walk in JS on every call).
  { name: 'agree when hashes collide: masked to 0, 1 or 4 bits, or with the home-bucket bits zeroed', keys: KEYS, maxItems: 10, masks: [0, 1, 0xf, 0xffff0000] },
  { name: 'agree over hundreds of keys, growing from one slot, with and without collisions', keys: MANY, maxItems: 300, masks: [-1, 0, 0xff] },
  // Long runs over a few slots: W-TinyLFU's window moves many times and its sketch ages many times.
  { name: 'agree over long runs on a few slots (the window climbs, the sketch ages)', keys: KEYS, maxItems: 6, masks: [-1, 0xf], long: true },
  { name: 'agree over long runs on tens of slots (climber steps above one entry)', keys: MANY.slice(0, 90), maxItems: 60, masks: [-1], long: true },
]

// Every WASM build this runtime runs: the strings build where the js-string builtins exist (Node 22 and newer,
// checked by test/core.test.ts against a probe of its own), so each Node of the CI matrix checks what it runs.
const BUILD_OPTIONS = { simd: { simd: true, strings: false }, scalar: { simd: false }, strings: { strings: true } } as const
const BUILDS = (['simd', 'scalar', 'strings'] as const).filter((b) => b !== 'strings' || wasmStringsSupported())

describe('WasmCore and JsCore', () => {
  for (const c of cases) {
    it(c.name, () => {
      const key = fc.constantFrom(...c.keys)
      const config = fc.record({
        maxItems: fc.integer({ min: 1, max: c.maxItems }),
        maxBytes: fc.option(fc.integer({ min: 1, max: 60 * c.maxItems }), { nil: undefined }),
        initialCapacity: fc.integer({ min: 1, max: 4 }),
        start: fc.integer({ min: 0, max: 2_000_000_000_000 }),
        // Without a listener the WASM core skips telling JS about evictions whose slot is reused at once.
        listen: fc.boolean(),
        mask: fc.constantFrom(...c.masks),
        // The scalar WASM build (runtimes without SIMD) differs in its batch hash loop only; the strings build
        // (where the js-string builtins exist) hashes single keys in WASM.
        build: fc.constantFrom(...BUILDS),
        policy: fc.constantFrom('lru' as const, 'tinylfu' as const),
      })
      fc.assert(
        fc.property(config, fc.array(opsOver(key), { minLength: 1, maxLength: c.keys === MANY ? 400 : c.long ? 3000 : 200, size: 'max' }), (cfg, ops) => {
          const evicted = { wasm: [] as string[], js: [] as string[] }
          const options = (kind: 'wasm' | 'js') => ({
            maxItems: cfg.maxItems,
            maxBytes: cfg.maxBytes,
            initialCapacity: cfg.initialCapacity,
            policy: cfg.policy,
            onEvict: cfg.listen ? (k: string, v: string, reason: string) => evicted[kind].push(`${k}=${v}:${reason}`) : undefined,
          })
          const wasm = new WasmCore<string>({ ...options('wasm'), ...BUILD_OPTIONS[cfg.build] })
          if (cfg.mask !== -1) maskHashes(wasm, cfg.mask)
          const js = new JsCore<string>(options('js'))
          if (cfg.mask !== -1) maskHashes(js, cfg.mask)
          let now = cfg.start
          ops.forEach((o, n) => {
            if (o.t === 'advance') now += o.ms
            const step = `step ${n} ${JSON.stringify(o)}`
            expect(apply(wasm, o, now, n), step).toEqual(apply(js, o, now, n))
            expect(evicted.wasm, step).toEqual(evicted.js)
            expect([...wasm.keys()], step).toEqual([...js.keys()])
            expect([wasm.size, wasm.bytes, wasm.capacity], step).toEqual([js.size, js.bytes, js.capacity])
          })
        }),
        { numRuns: Number(process.env.DIFF_RUNS ?? (c.keys === MANY ? 60 : c.long ? 30 : 300)) },
      )
    })
  }

  // From 256 entries on, W-TinyLFU's mini-simulations see one key in two or more (assembly/minis.ts sampleRate),
  // and decide every 5 x maxItems requests: read-through streams long enough for several decisions, on caches
  // the operation sequences above are too small and too short to reach.
  it('agree over read-through streams on hundreds of slots (the minis sample keys and decide many times)', () => {
    const config = fc.record({
      maxItems: fc.oneof(fc.integer({ min: 200, max: 511 }), fc.integer({ min: 512, max: 2100 })),
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
      skew: fc.constantFrom(1, 2, 4),
      mask: fc.constantFrom(-1, 0xffff),
      build: fc.constantFrom(...BUILDS),
    })
    fc.assert(
      fc.property(config, (cfg) => {
        const evicted = { wasm: [] as string[], js: [] as string[] }
        const options = (kind: 'wasm' | 'js') => ({
          maxItems: cfg.maxItems,
          policy: 'tinylfu' as const,
          onEvict: (k: string, _v: string, reason: string) => evicted[kind].push(`${k}:${reason}`),
        })
        const wasm = new WasmCore<string>({ ...options('wasm'), ...BUILD_OPTIONS[cfg.build] })
        const js = new JsCore<string>(options('js'))
        if (cfg.mask !== -1) {
          maskHashes(wasm, cfg.mask)
          maskHashes(js, cfg.mask)
        }
        let x = cfg.seed
        const keys = 4 * cfg.maxItems
        for (let n = 0; n < 25 * cfg.maxItems; n++) {
          x ^= x << 13
          x ^= x >>> 17
          x ^= x << 5
          const k = `s${Math.floor(keys * ((x >>> 0) / 2 ** 32) ** cfg.skew)}`
          const got = wasm.get(k, 0)
          expect(got, `request ${n}`).toBe(js.get(k, 0))
          if (got === undefined) {
            wasm.set(k, `v${n}`, 0)
            js.set(k, `v${n}`, 0)
          }
          if (n % 1000 === 0) expect([...wasm.keys()], `request ${n}`).toEqual([...js.keys()])
        }
        expect([...wasm.keys()]).toEqual([...js.keys()])
        expect(evicted.wasm).toEqual(evicted.js)
      }),
      { numRuns: Number(process.env.DIFF_RUNS ?? 8), endOnFailure: true },
    )
  })
})
