import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { JsCore, WasmCore, type Core } from '../src/index.js'

// Random operation sequences applied to both cores: every result, every eviction, the LRU order and the
// counters must match after each step. Small capacities make eviction and growth happen constantly; time
// jumps of up to 40 days cross the ms/seconds deadline ranges and the epoch rebase.
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', '', 'ключ', '😀', 'user:1', 'user:10', 'x'.repeat(33)]
const DAY = 86_400_000

const key = fc.constantFrom(...KEYS)
const duration = fc.oneof(
  fc.integer({ min: 0, max: 50 }),
  fc.integer({ min: 0, max: 5_000 }),
  fc.integer({ min: 0, max: 60 * DAY }),
  fc.constant(Infinity),
)
const op = fc.oneof(
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
  { weight: 4, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 40 * DAY })) }) },
)
const config = fc.record({
  maxItems: fc.integer({ min: 1, max: 10 }),
  maxBytes: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
  initialCapacity: fc.integer({ min: 1, max: 4 }),
  start: fc.integer({ min: 0, max: 2_000_000_000_000 }),
  // Without a listener the WASM core skips telling JS about evictions whose slot is reused at once.
  listen: fc.boolean(),
})

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never

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

describe('WasmCore and JsCore', () => {
  it('agree on every result, eviction and LRU order for random operation sequences', () => {
    fc.assert(
      fc.property(config, fc.array(op, { minLength: 1, maxLength: 200, size: 'max' }), (cfg, ops) => {
        const evicted = { wasm: [] as string[], js: [] as string[] }
        const options = (kind: 'wasm' | 'js') => ({
          maxItems: cfg.maxItems,
          maxBytes: cfg.maxBytes,
          initialCapacity: cfg.initialCapacity,
          onEvict: cfg.listen ? (k: string, v: string, reason: string) => evicted[kind].push(`${k}=${v}:${reason}`) : undefined,
        })
        const wasm = new WasmCore<string>(options('wasm'))
        const js = new JsCore<string>(options('js'))
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
      { numRuns: Number(process.env.DIFF_RUNS ?? 500) },
    )
  })
})
