import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryBus, RustoCache, RustoCacheError, type BusEvent } from '../src/index.js'
import { memoryL2 } from './helpers/memory-l2.js'

// Model-based concurrency test: random interleavings (fc.scheduler) of getOrSet, get, set, delete, expire,
// deleteByTag, expireByTag, getMany and clear, with factories that resolve, reject or hang and hit listeners
// that call back into the cache, on one instance or two sharing a bus. Every value is unique and names its key,
// so the model can tell, for every answer:
//   - the value was written for that key, on that instance;
//   - no invalidation that covers it completed before the call began;
// and, at the end, that every call settled (under its lock and hard timeouts) with a value or a RustoCacheError.
// In L2-only mode (l1: false, instances sharing one L2, no bus) a value may come from any instance, and an
// invalidation covers a value once the value has landed in L2 (the model sees the L2 store's writes).

const KEYS = ['a', 'b', 'c']
const TAGS = ['t1', 't2']

type Op =
  | { t: 'getOrSet'; key: string; tags: string[]; factory: 'resolve' | 'reject' | 'hang' | 'sync' }
  | { t: 'get'; key: string }
  | { t: 'getMany'; keys: string[] }
  | { t: 'set'; key: string; tags: string[] }
  | { t: 'delete'; key: string }
  | { t: 'expire'; key: string }
  | { t: 'deleteByTag'; tag: string }
  | { t: 'expireByTag'; tag: string }
  | { t: 'clear' }

const key = fc.constantFrom(...KEYS)
const tags = fc.subarray(TAGS)
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('getOrSet' as const), key, tags, factory: fc.constantFrom('resolve' as const, 'resolve' as const, 'reject' as const, 'hang' as const, 'sync' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), key }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('getMany' as const), keys: fc.array(key, { minLength: 1, maxLength: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('set' as const), key, tags }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), key }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('expire' as const), key }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('deleteByTag' as const), tag: fc.constantFrom(...TAGS) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('expireByTag' as const), tag: fc.constantFrom(...TAGS) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('clear' as const) }) },
)

interface Write {
  key: string
  instance: number
  begin: number
  tags: readonly string[]
  /** L2-only mode: when the value landed in L2 (Infinity until it does). */
  landed: number
}
interface Invalidation {
  instance: number
  begin: number
  complete: number
  covers: (w: Write) => boolean
}

async function settleWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)))
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

async function run(core: 'wasm' | 'js', instances: number, s: fc.Scheduler, ops: Array<{ on: number; op: Op }>, callbacks: number, l2Only = false): Promise<void> {
  let clock = 0
  const now = () => ++clock
  const writes = new Map<string, Write>()
  const invalidations: Invalidation[] = []
  const calls: Array<{ promise: Promise<void>; what: string }> = []
  let serial = 0
  const bus = instances > 1 && !l2Only ? memoryBus() : undefined
  const l2 = l2Only ? memoryL2() : undefined
  if (l2) {
    // Every value names itself (a#f12, b#s3): the model learns when it lands in L2.
    const set = l2.store.set.bind(l2.store)
    l2.store.set = (k: string, text: string) => {
      for (const id of text.match(/[abc]#[fs]\d+/g) ?? []) {
        const w = writes.get(id)
        if (w && w.landed === Infinity) w.landed = now()
      }
      return set(k, text)
    }
  }
  const caches = Array.from({ length: instances }, () =>
    l2Only ? new RustoCache({ l1: false, l2, lockTimeout: 30 }) : new RustoCache({ l1: { core, maxItems: 4 }, bus, lockTimeout: 30 }),
  )

  const coversKey = (k: string) => (w: Write) => w.key === k
  const coversTag = (tag: string) => (w: Write) => w.tags.includes(tag)
  const check = (instance: number, k: string, value: unknown, begin: number, what: string) => {
    if (value === undefined) return
    const w = writes.get(value as string)
    expect(w, `${what}: ${String(value)} was never written`).toBeDefined()
    expect(w!.key, `${what}: answered with another key's value`).toBe(k)
    if (l2Only) {
      // Shared L2: any instance's value, unless an invalidation that began after it landed completed before the call.
      for (const inv of invalidations) {
        if (inv.complete < begin && w!.landed < inv.begin && inv.covers(w!)) throw new Error(`${what}: answered ${String(value)}, invalidated before the call began`)
      }
      return
    }
    expect(w!.instance, `${what}: a value written on another instance (there is no L2)`).toBe(instance)
    for (const inv of invalidations) {
      if (inv.instance === instance && inv.complete < begin && w!.begin < inv.begin && inv.covers(w!)) {
        throw new Error(`${what}: answered ${String(value)}, invalidated before the call began`)
      }
    }
  }

  let budget = callbacks
  caches.forEach((cache, i) => {
    // Another instance's change lands here when its message arrives.
    cache.on('bus:message:received', (m: BusEvent) => {
      const at = now()
      const covers =
        m.type === 'clear' ? (w: Write) => w.key.startsWith(m.path ?? '') : m.tags && m.tags.length > 0 ? (w: Write) => m.tags!.some((t) => w.tags.includes(t)) : (w: Write) => m.keys.includes(w.key)
      invalidations.push({ instance: i, begin: at, complete: at, covers })
    })
    cache.on('cache:hit', ({ key: k }) => {
      if (budget <= 0) return
      budget--
      // Re-entrant calls: a write and a batch read from inside the event.
      start(i, { t: 'set', key: KEYS[(KEYS.indexOf(k) + 1) % KEYS.length]!, tags: [] }, 'listener')
      start(i, { t: 'getMany', keys: KEYS }, 'listener')
    })
  })

  function start(i: number, o: Op, origin: string): void {
    const cache = caches[i]!
    const begin = now()
    const what = `${origin} #${begin} on ${i}: ${JSON.stringify(o)}`
    const invalidate = (covers: Invalidation['covers']) => (p: Promise<unknown>) =>
      p.then(() => {
        invalidations.push({ instance: i, begin, complete: now(), covers })
      })
    let promise: Promise<unknown>
    switch (o.t) {
      case 'getOrSet': {
        const factory = () => {
          const value = `${o.key}#f${++serial}`
          writes.set(value, { key: o.key, instance: i, begin: now(), tags: o.tags, landed: Infinity })
          if (o.factory === 'sync') return value
          if (o.factory === 'hang') return new Promise<string>(() => {})
          return s.schedule(Promise.resolve(value)).then((v) => {
            if (o.factory === 'reject') throw new Error('factory failed')
            return v
          })
        }
        promise = cache.getOrSet({ key: o.key, tags: o.tags, factory, hardTimeout: 20 }).then((v) => check(i, o.key, v, begin, what))
        break
      }
      case 'get':
        promise = cache.get({ key: o.key }).then((v) => check(i, o.key, v, begin, what))
        break
      case 'getMany':
        promise = cache.getMany({ keys: o.keys }).then((vs) => vs.forEach((v, j) => check(i, o.keys[j]!, v, begin, what)))
        break
      case 'set': {
        const value = `${o.key}#s${++serial}`
        writes.set(value, { key: o.key, instance: i, begin, tags: o.tags, landed: Infinity })
        // A set replaces every older value of its key.
        const covers = (w: Write) => w.key === o.key && w !== writes.get(value)
        promise = invalidate(covers)(cache.set({ key: o.key, value, tags: o.tags }))
        break
      }
      case 'delete':
        promise = invalidate(coversKey(o.key))(cache.delete({ key: o.key }))
        break
      case 'expire':
        // No grace anywhere: an expired entry must not be served.
        promise = invalidate(coversKey(o.key))(cache.expire({ key: o.key }))
        break
      case 'deleteByTag':
        promise = invalidate(coversTag(o.tag))(cache.deleteByTag({ tags: [o.tag] }))
        break
      case 'expireByTag':
        promise = invalidate(coversTag(o.tag))(cache.expireByTag({ tags: [o.tag] }))
        break
      case 'clear':
        promise = invalidate(() => true)(cache.clear())
        break
    }
    calls.push({
      what,
      promise: promise.then(
        () => undefined,
        (error: unknown) => {
          // Failures are typed; the model's own assertion errors are not, and fail the run.
          if (!(error instanceof RustoCacheError)) throw error
        },
      ),
    })
  }

  // Every call starts at a moment the scheduler picks; factories resolve when it says so.
  const starts = ops.map(({ on, op: o }) => s.schedule(Promise.resolve()).then(() => start(on % instances, o, 'call')))
  // Hung factories settle by their hard timeout and their waiters by the lock timeout (real timers); a waiter
  // that wakes may run a factory of its own, which the scheduler must then release: drive it until all settle.
  for (let round = 0; round < 200; round++) {
    await s.waitAll()
    const pending = await Promise.race([
      Promise.all(calls.map((c) => c.promise)).then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 10)),
    ])
    if (!pending && s.count() === 0) break
  }
  await Promise.all(starts)
  for (const call of calls) await settleWithin(call.promise, 2_000, call.what)
  await Promise.all(caches.map((c) => c.disconnect()))
}

describe.each(['wasm', 'js'] as const)('concurrent calls against a model, on the %s core', (core) => {
  for (const instances of [1, 2]) {
    it(`never answers a value not written for its key or invalidated before the call, and settles every call (${instances} instance${instances > 1 ? 's sharing a bus' : ''})`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.scheduler(),
          fc.array(fc.record({ on: fc.nat(1), op }), { minLength: 1, maxLength: 25 }),
          fc.nat(3),
          async (s, ops, callbacks) => run(core, instances, s, ops, callbacks),
        ),
        { numRuns: Number(process.env.MODEL_RUNS ?? 200) },
      )
    })
  }
})

describe('concurrent calls against a model, L2-only mode', () => {
  it('never answers a value not written for its key or invalidated after it landed in L2 before the call, and settles every call (2 instances sharing an L2)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.record({ on: fc.nat(1), op }), { minLength: 1, maxLength: 25 }),
        fc.nat(3),
        async (s, ops, callbacks) => run('js', 2, s, ops, callbacks, true),
      ),
      { numRuns: Number(process.env.MODEL_RUNS ?? 200) },
    )
  })
})
