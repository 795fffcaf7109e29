// rustocache/test-suite: the conformance tests an L2 driver or a bus transport must pass, for people who write
// their own. Runner-neutral: hand it `describe` and `it` from vitest, jest, mocha or node:test. It asserts with
// its own small checks (no node:assert), so it also runs where the runner does (workerd, browsers).
import { RustoCache } from '../cache/rusto-cache.js'
import type { BusFactory, BusTransport } from '../bus/types.js'
import type { L2Driver, L2DriverFactory, L2Entry } from '../l2/types.js'
import { silentLogger } from '../logger.js'

type Describe = (name: string, body: () => void) => unknown
type It = (name: string, body: () => Promise<void>) => unknown

/**
 * Options of l2DriverSuite(): your driver factory, your runner's describe and it, and how to write raw bytes.
 */
export interface L2DriverSuiteOptions {
  /** Shown in the test names. */
  name: string
  /** A driver factory, as `l2:` takes it (called once per test; every test uses a prefix of its own). */
  driver: () => L2DriverFactory | Promise<L2DriverFactory>
  describe: Describe
  it: It
  /** How long a test waits for a physical expiry (a short ttl to pass) in ms. @default 400 */
  expiryWaitMs?: number
  /**
   * Stores `text` as the raw stored form of `key` under `prefix`, bypassing encode (what another program, or
   * another version, might have left there). Given, the suite also checks that an unreadable entry reads as a
   * miss and is reported to `context.rejected`.
   */
  writeRaw?: (prefix: string, key: string, text: string) => Promise<void>
}

/**
 * Options of busSuite(): your bus factory, your runner's describe and it, and how long delivery may take.
 */
export interface BusSuiteOptions {
  name: string
  /**
   * A bus factory, as `bus:` takes it (called for each instance a test makes; each test uses a channel of its
   * own). The factories it returns must reach the same medium: for an in-process bus, return one shared factory.
   */
  bus: () => BusFactory | Promise<BusFactory>
  describe: Describe
  it: It
  /** Longest wait for a message to arrive, in ms. @default 2000 */
  deliveryMs?: number
}

/** Thrown by a failed check: the message says what the driver did and what the contract wants. */
export class ConformanceError extends Error {
  override name = 'ConformanceError'
}

/**
 * The deep equality the suite compares values with: Dates by time, RegExps by source and flags, Maps and Sets by
 * their entries, typed arrays and ArrayBuffers by bytes, other objects by prototype and own keys (a key that is
 * absent equals one that is undefined, as a JSON round trip leaves it). Exported so a driver's own tests can
 * use the same rule.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime())
  if (a instanceof RegExp) return a.source === (b as RegExp).source && a.flags === (b as RegExp).flags
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => sameValue(x, (b as unknown[])[i]))
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>
    return a.size === m.size && [...a].every(([k, v]) => m.has(k) && sameValue(v, m.get(k)))
  }
  if (a instanceof Set) {
    const t = b as Set<unknown>
    return a.size === t.size && [...a].every((v) => t.has(v))
  }
  if (ArrayBuffer.isView(a) || a instanceof ArrayBuffer) {
    const x = new Uint8Array(ArrayBuffer.isView(a) ? a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) : a)
    const y = new Uint8Array(ArrayBuffer.isView(b) ? (b as ArrayBufferView).buffer.slice((b as ArrayBufferView).byteOffset, (b as ArrayBufferView).byteOffset + (b as ArrayBufferView).byteLength) : (b as ArrayBuffer))
    return x.length === y.length && x.every((v, i) => v === y[i])
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined)
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined)
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

const show = (value: unknown): string => {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v === undefined ? '(undefined)' : v)) ?? String(value)
  } catch {
    return String(value)
  }
}

function expectSame(actual: unknown, expected: unknown, what: string): void {
  if (!sameValue(actual, expected)) throw new ConformanceError(`${what}: got ${show(actual)}, the contract wants ${show(expected)}`)
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new ConformanceError(what)
}

async function rejects(promise: Promise<unknown>, what: string): Promise<void> {
  try {
    await promise
  } catch {
    return
  }
  throw new ConformanceError(`${what}: resolved, the contract wants a rejection`)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let run = 0
/** A prefix no other test (or earlier run) uses. */
const uniquePrefix = () => `conformance-${Date.now().toString(36)}-${(run++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`

/**
 * The L2 driver contract (see L2Driver), one test per promise it makes: reads and batch reads, writes and their
 * physical expiry, delete counts, expire, clear by namespace path (with characters a pattern language would
 * read as wildcards), tag stamps, locks (when the driver has them), isolation between prefixes, large and
 * unicode values, concurrency, disconnect, and two caches sharing the driver.
 */
export function l2DriverSuite(options: L2DriverSuiteOptions): void {
  const { describe, it } = options
  const waitMs = options.expiryWaitMs ?? 400

  /** Runs `body` with a fresh driver (and what it reported as rejected), disconnecting it after. */
  const withDriver = (body: (driver: L2Driver, prefix: string, factory: L2DriverFactory, rejected: string[]) => Promise<void>) => async () => {
    const factory = await options.driver()
    const prefix = uniquePrefix()
    const rejected: string[] = []
    const driver = factory.create({ prefix, logger: silentLogger, rejected: (key) => void rejected.push(key) })
    try {
      await driver.clear('')
      await body(driver, prefix, factory, rejected)
    } finally {
      await driver.clear('').catch(() => undefined)
      await driver.disconnect()
    }
  }
  const entry = (value: unknown, extra: Partial<L2Entry> = {}): L2Entry => ({ value, expiresAt: Date.now() + 60_000, createdAt: Date.now(), tags: undefined, ...extra })
  const put = (driver: L2Driver, key: string, e: L2Entry, ttlMs = 60_000) => driver.set(key, driver.encode(e), ttlMs)

  describe(`L2 driver conformance: ${options.name}`, () => {
    it('reads back what it stored: value, expiresAt, createdAt and tags', withDriver(async (driver) => {
      expectSame(await driver.get('missing'), undefined, 'get of a key never written')
      const stored = entry({ name: 'Ada', n: [1, 2, 3], nested: { ok: true } }, { tags: ['users', 'user:1'], createdAt: 1_700_000_000_123 })
      await put(driver, 'k', stored)
      const read = await driver.get('k')
      expectSame(read, stored, 'get after set')
      await put(driver, 'forever', entry(null, { expiresAt: Infinity }), Infinity)
      expectSame((await driver.get('forever'))?.expiresAt, Infinity, 'expiresAt Infinity')
      expectSame((await driver.get('forever'))?.value, null, 'a null value')
      await put(driver, 'k', entry('second'))
      expectSame((await driver.get('k'))?.value, 'second', 'get after an overwrite')
    }))

    it('answers getMany in key order, undefined for a miss, a key asked twice twice', withDriver(async (driver) => {
      expectSame(await driver.getMany([]), [], 'getMany of no keys')
      await driver.setMany([
        { key: 'a', payload: driver.encode(entry(1)), ttlMs: 60_000 },
        { key: 'b', payload: driver.encode(entry(2)), ttlMs: 60_000 },
        { key: 'b', payload: driver.encode(entry(3)), ttlMs: 60_000 },
      ])
      const values = (await driver.getMany(['b', 'x', 'a', 'b'])).map((e) => e?.value)
      expectSame(values, [3, undefined, 1, 3], 'getMany (setMany with a key twice keeps the last)')
      await driver.setMany([])
    }))

    it('forgets an entry after its ttlMs (physical expiry), keeps one written with Infinity', withDriver(async (driver) => {
      await put(driver, 'short', entry('x'), 50)
      await put(driver, 'long', entry('y'), Infinity)
      await sleep(Math.max(waitMs, 120))
      expectSame(await driver.get('short'), undefined, 'get after ttlMs passed')
      expectSame((await driver.getMany(['short', 'long'])).map((e) => e?.value), [undefined, 'y'], 'getMany after ttlMs passed')
      expectSame(await driver.delete('short'), false, 'delete of a physically expired key')
    }))

    it('counts what delete and deleteMany removed', withDriver(async (driver) => {
      await put(driver, 'a', entry(1))
      await put(driver, 'b', entry(2))
      await put(driver, 'c', entry(3))
      expectSame(await driver.delete('a'), true, 'delete of a stored key')
      expectSame(await driver.delete('a'), false, 'delete of a deleted key')
      expectSame(await driver.deleteMany(['b', 'c', 'nope']), 2, 'deleteMany of two stored keys and a missing one')
      expectSame(await driver.deleteMany([]), 0, 'deleteMany of no keys')
      expectSame(await driver.getMany(['a', 'b', 'c']), [undefined, undefined, undefined], 'reads after deletes')
    }))

    it('expire makes an entry stale now and keeps it; false for a missing key', withDriver(async (driver) => {
      const createdAt = Date.now()
      await put(driver, 'k', entry('v', { createdAt, expiresAt: createdAt + 60_000, tags: ['t'] }))
      const now = Date.now()
      expectSame(await driver.expire('k', now), true, 'expire of a stored key')
      const read = await driver.get('k')
      check(read !== undefined && read.expiresAt <= now + 1, `after expire, expiresAt must be <= now (${now}), got ${show(read?.expiresAt)}`)
      expectSame([read?.value, read?.createdAt, read?.tags], ['v', createdAt, ['t']], 'value, createdAt and tags after expire')
      // An earlier expiry is kept: expire never moves it later.
      expectSame(await driver.expire('k', now + 10_000), true, 'expire again')
      check((await driver.get('k'))!.expiresAt <= now + 1, 'a second expire must not move expiresAt later')
      expectSame(await driver.expire('missing', now), false, 'expire of a missing key')
      await put(driver, 'k', entry('new'))
      check((await driver.get('k'))!.expiresAt > Date.now(), 'a write after expire is fresh again')
    }))

    it('clears by namespace path, taking wildcard characters literally, and clear("") clears only its own prefix', withDriver(async (driver, _prefix, factory) => {
      const keys = ['users:1', 'users:2', 'users:admins:3', 'usersx:4', 'u%:5', 'uX:6', 'u_:7', 'ua:8', 'u*:9', 'u?:10', 'u[a]:11', 'ub:12', 'other']
      for (const key of keys) await put(driver, key, entry(key))
      await driver.clear('users:')
      await driver.clear('u%:')
      await driver.clear('u_:')
      await driver.clear('u*:')
      await driver.clear('u[a]:')
      const left = (await driver.getMany(keys)).map((e, i) => (e === undefined ? undefined : keys[i]))
      expectSame(left, [undefined, undefined, undefined, 'usersx:4', undefined, 'uX:6', undefined, 'ua:8', undefined, 'u?:10', undefined, 'ub:12', 'other'], 'keys left after the clears')
      const neighbour = factory.create({ prefix: `${uniquePrefix()}-neighbour`, logger: silentLogger, rejected: () => undefined })
      try {
        await put(neighbour, 'other', entry('theirs'))
        await driver.clear('')
        expectSame(await driver.get('other'), undefined, 'clear("") clears this prefix')
        expectSame((await neighbour.get('other'))?.value, 'theirs', "clear('') must not touch another prefix's keys")
      } finally {
        await neighbour.clear('').catch(() => undefined)
        await neighbour.disconnect()
      }
    }))

    it('keeps prefixes apart: the same key under two prefixes is two entries', withDriver(async (driver, _prefix, factory) => {
      const other = factory.create({ prefix: `${uniquePrefix()}-b`, logger: silentLogger, rejected: () => undefined })
      try {
        await put(driver, 'k', entry('a'))
        await put(other, 'k', entry('b'))
        expectSame([(await driver.get('k'))?.value, (await other.get('k'))?.value], ['a', 'b'], 'one key under two prefixes')
        await other.delete('k')
        expectSame((await driver.get('k'))?.value, 'a', "a delete under one prefix must not touch the other's key")
      } finally {
        await other.clear('').catch(() => undefined)
        await other.disconnect()
      }
    }))

    it('records tag stamps: the last invalidation of each tag, apart for delete and expire, -Infinity for none', withDriver(async (driver) => {
      expectSame(await driver.tagStamps([]), [], 'tagStamps of no tags')
      expectSame(await driver.tagStamps(['never']), [{ deleted: -Infinity, expired: -Infinity }], 'tagStamps of a tag never invalidated')
      // Recent stamps: a driver may drop stamps older than its tagRetention.
      const t = Date.now()
      await driver.invalidateTags(['a', 'b', 'a'], 'delete', t + 0.5)
      await driver.invalidateTags(['b'], 'expire', t + 1)
      await driver.invalidateTags(['a'], 'delete', t + 2)
      expectSame(
        await driver.tagStamps(['a', 'b', 'c']),
        [
          { deleted: t + 2, expired: -Infinity },
          { deleted: t + 0.5, expired: t + 1 },
          { deleted: -Infinity, expired: -Infinity },
        ],
        'tagStamps after invalidations',
      )
      await driver.invalidateTags([], 'delete', t + 3)
    }))

    const writeRaw = options.writeRaw
    if (writeRaw) {
      it('reads an entry it cannot decode as a miss, and reports it to context.rejected', withDriver(async (driver, prefix, _factory, rejected) => {
        await put(driver, 'good', entry('fine'))
        await writeRaw(prefix, 'foreign', 'written by another program')
        await writeRaw(prefix, 'broken', 'r1|not-a-number|x|0|{}')
        expectSame(await driver.get('foreign'), undefined, 'get of an entry in another format')
        expectSame((await driver.getMany(['broken', 'good', 'foreign'])).map((e) => e?.value), [undefined, 'fine', undefined], 'getMany with unreadable entries')
        check(rejected.includes('foreign') && rejected.includes('broken'), `context.rejected must hear of both unreadable keys, heard ${show(rejected)}`)
        check(!rejected.includes('good'), 'context.rejected must not hear of a readable key')
      }))
    }

    it('refuses to encode what it cannot store, by throwing', withDriver(async (driver) => {
      // A function: no format stores one (JSON gives undefined, structuredClone throws).
      let threw = false
      try {
        driver.encode(entry(() => 1))
      } catch {
        threw = true
      }
      check(threw, 'encode of a function must throw (the cache then refuses the write with E_UNSERIALIZABLE_VALUE)')
    }))

    it('classes its errors, if it says how: a lost connection or a timeout is transient, never permanent', withDriver(async (driver) => {
      if (driver.isPermanent === undefined) return
      const transient = [new Error('connection lost'), Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), new Error('did not answer in time (timeout 500 ms)')]
      for (const error of transient) {
        let permanent: unknown
        try {
          permanent = driver.isPermanent(error)
        } catch (thrown) {
          throw new ConformanceError(`isPermanent threw for ${show(error.message)}: ${show((thrown as Error).message)}; it must answer true or false`)
        }
        expectSame(permanent, false, `isPermanent(${show(error.message)})`)
      }
      expectSame(driver.isPermanent(undefined), false, 'isPermanent(undefined)')
    }))

    it('says what becomes of a write the cache gave up on (lateWrites); a conditional one refuses a late write', withDriver(async (driver) => {
      const kinds = [undefined, 'cancelled', 'refused', 'may-land']
      check(kinds.includes(driver.lateWrites), `lateWrites must be 'cancelled', 'refused', 'may-land' or absent, got ${show(driver.lateWrites)}`)
      if (driver.lateWrites !== 'refused') return
      const now = Date.now()
      // A write made before what the key holds arrives late: refused, and what is there stays.
      expectSame(await driver.set('k', driver.encode(entry('newer', { createdAt: now })), 60_000), true, 'set of a new entry')
      expectSame(await driver.set('k', driver.encode(entry('older', { createdAt: now - 5_000 })), 60_000), false, 'set of an entry made 5 s before the one held')
      expectSame((await driver.get('k'))?.value, 'newer', 'get after a refused late write')
      // A delete leaves what refuses writes made before it; a write made after it goes in.
      expectSame(await driver.delete('k', now + 1_000), true, 'delete stamped 1 s later')
      expectSame(await driver.set('k', driver.encode(entry('before the delete', { createdAt: now + 500 })), 60_000), false, 'set made before the delete, arriving after it')
      expectSame(await driver.get('k'), undefined, 'get after the late write was refused')
      expectSame(await driver.set('k', driver.encode(entry('after', { createdAt: now + 2_000 })), 60_000), true, 'set made after the delete')
      expectSame((await driver.get('k'))?.value, 'after', 'get after a write made after the delete')
      const batch = await driver.setMany([
        { key: 'k', payload: driver.encode(entry('late', { createdAt: now })), ttlMs: 60_000 },
        { key: 'fresh', payload: driver.encode(entry('new', { createdAt: now })), ttlMs: 60_000 },
      ])
      expectSame(batch, [false, true], 'setMany: per item, whether it was written')
      expectSame(await driver.delete('k', now + 3_000), true, 'delete of a held key')
      expectSame(await driver.delete('k', now + 4_000), false, 'delete of a deleted key (a tombstone is not an entry)')
    }))

    it('holds keys as long as it says it does (maxKeyBytes), and each distinct', withDriver(async (driver) => {
      if (driver.maxKeyBytes === undefined) return
      check(Number.isInteger(driver.maxKeyBytes) && driver.maxKeyBytes > 0, `maxKeyBytes must be a whole number > 0, got ${show(driver.maxKeyBytes)}`)
      const longest = 'k'.repeat(driver.maxKeyBytes - 1)
      await put(driver, `${longest}a`, entry('a'))
      await put(driver, `${longest}b`, entry('b'))
      expectSame((await driver.getMany([`${longest}a`, `${longest}b`])).map((e) => e?.value), ['a', 'b'], 'two keys of maxKeyBytes bytes')
    }))

    it('round-trips large and unicode values and keys', withDriver(async (driver) => {
      // 1 MiB, or what the driver says it holds (DynamoDB: 400 KB).
      const big = 'x'.repeat(Math.min(1 << 20, (driver.maxEntryBytes ?? Infinity) - 1024))
      const key = 'ключ:😀:\u0000?*%_'
      await put(driver, key, entry({ big, text: 'naïve 😀 \u2028 "quoted" \\ back' }))
      const read = await driver.get(key)
      expectSame(read?.value, { big, text: 'naïve 😀 \u2028 "quoted" \\ back' }, 'a 1 MiB value with unicode under a unicode key')
      if (driver.maxEntryBytes !== undefined) {
        let threw: unknown
        try {
          driver.encode(entry('y'.repeat(driver.maxEntryBytes + 1)))
        } catch (error) {
          threw = error
        }
        check((threw as { code?: unknown } | undefined)?.code === 'E_L2_LIMIT', `encode of an entry over maxEntryBytes (${driver.maxEntryBytes}) must throw E_L2_LIMIT`)
      }
    }))

    it('stays consistent under concurrent writes and reads', withDriver(async (driver) => {
      await Promise.all(Array.from({ length: 100 }, (_, i) => put(driver, `k${i % 10}`, entry(i))))
      const values = await Promise.all(Array.from({ length: 10 }, (_, i) => driver.get(`k${i}`)))
      values.forEach((e, i) => check(e !== undefined && (e.value as number) % 10 === i, `k${i} must hold one of the values written for it, got ${show(e?.value)}`))
    }))

    it('runs a distributed lock when it offers one: one owner, release by token only, expiry', withDriver(async (driver) => {
      const locks = driver.locks
      if (!locks) return
      expectSame(await locks.held('k'), false, 'held before any acquire')
      expectSame(await locks.acquire('k', 'one', 60_000), true, 'first acquire')
      expectSame(await locks.acquire('k', 'two', 60_000), false, 'second acquire while held')
      expectSame(await locks.held('k'), true, 'held after acquire')
      await locks.release('k', 'two')
      expectSame(await locks.held('k'), true, "release with another owner's token must not release")
      await locks.release('k', 'one')
      expectSame(await locks.acquire('k', 'two', 50), true, 'acquire after release')
      await sleep(Math.max(waitMs, 120))
      expectSame(await locks.held('k'), false, 'held after the lock ttl passed')
      expectSame(await locks.acquire('k', 'three', 60_000), true, 'acquire after the lock ttl passed')
      await locks.release('k', 'three')
    }))

    it('serves two caches that share it: a write in one is read by the other, tags and namespaces included', async () => {
      const factory = await options.driver()
      const prefix = uniquePrefix()
      const a = new RustoCache({ prefix, l1: false, l2: factory })
      const b = new RustoCache({ prefix, l1: false, l2: factory })
      try {
        await a.set({ key: 'user:1', value: { name: 'Ada' }, tags: ['users'] })
        expectSame(await b.get({ key: 'user:1' }), { name: 'Ada' }, 'b reads what a wrote')
        await b.deleteByTag({ tags: ['users'] })
        expectSame(await a.get({ key: 'user:1' }), undefined, 'a reads nothing after b deleted its tag')
        await a.namespace('n').set({ key: 'k', value: 1 })
        await a.set({ key: 'k', value: 2 })
        await b.namespace('n').clear()
        expectSame([await a.namespace('n').get({ key: 'k' }), await a.get({ key: 'k' })], [undefined, 2], 'a namespace clear leaves the root')
        expectSame(await b.getOrSet({ key: 'f', factory: () => 'made' }), 'made', 'getOrSet through the driver')
        expectSame(await a.get({ key: 'f' }), 'made', 'the factory value reached the driver')
      } finally {
        await a.clear().catch(() => undefined)
        await Promise.all([a.disconnect(), b.disconnect()])
      }
    })

    it('fails commands after disconnect instead of hanging', async () => {
      const factory = await options.driver()
      const driver = factory.create({ prefix: uniquePrefix(), logger: silentLogger, rejected: () => undefined })
      await driver.disconnect()
      const timeout = sleep(5_000).then(() => 'hung')
      const outcome = await Promise.race([driver.get('k').then(() => 'resolved', () => 'rejected'), timeout])
      check(outcome !== 'hung', 'get after disconnect must settle within 5 s')
      if (outcome === 'resolved') return // a driver may answer a miss after disconnect; it must not hang
      await rejects(driver.set('k', driver.encode(entry(1)), 1000), 'set after disconnect')
    })
  })
}

/**
 * The bus transport contract (see BusTransport): what one instance publishes reaches the others on the channel
 * (and not another channel's), in order, intact (unicode, large), and disconnect ends it.
 */
export function busSuite(options: BusSuiteOptions): void {
  const { describe, it } = options
  const deliveryMs = options.deliveryMs ?? 2000

  const open = async (channel: string): Promise<{ transport: BusTransport; heard: string[] }> => {
    const factory = await options.bus()
    const transport = factory.create({ channel, logger: silentLogger })
    const heard: string[] = []
    await transport.subscribe((payload) => heard.push(payload))
    return { transport, heard }
  }
  const until = async (ok: () => boolean, what: string) => {
    const end = Date.now() + deliveryMs
    while (!ok()) {
      if (Date.now() > end) throw new ConformanceError(`${what}: not within ${deliveryMs} ms`)
      await sleep(10)
    }
  }

  describe(`bus transport conformance: ${options.name}`, () => {
    it('delivers what one publishes to another subscriber on the channel, in order and intact', async () => {
      const channel = uniquePrefix()
      const a = await open(channel)
      const b = await open(channel)
      const elsewhere = await open(`${channel}-other`)
      try {
        const messages = ['1', 'two 😀', JSON.stringify({ big: 'y'.repeat(100_000) }), '4']
        for (const m of messages) await a.transport.publish(m)
        await until(() => b.heard.length >= messages.length, 'b hears all of a\'s messages')
        expectSame(b.heard.slice(0, messages.length), messages, "b's messages, in order")
        await sleep(50)
        expectSame(elsewhere.heard, [], 'a subscriber on another channel hears nothing')
      } finally {
        await Promise.all([a.transport.disconnect(), b.transport.disconnect(), elsewhere.transport.disconnect()])
      }
    })

    it('keeps two caches on it coherent', async () => {
      const factory = await options.bus()
      const prefix = uniquePrefix()
      const a = new RustoCache({ prefix, bus: factory })
      const b = new RustoCache({ prefix, bus: factory })
      try {
        await sleep(50)
        await b.set({ key: 'k', value: 'old' })
        await a.set({ key: 'k', value: 'new' })
        await until(() => b.stats().busReceived > 0, 'b hears the set')
        expectSame(await b.get({ key: 'k' }), undefined, "b dropped its copy when a wrote (no L2 to fetch a's value from)")
      } finally {
        await Promise.all([a.disconnect(), b.disconnect()])
      }
    })

    it('disconnects cleanly, and a publish after it rejects or is a no-op (never hangs)', async () => {
      const { transport } = await open(uniquePrefix())
      await transport.disconnect()
      const outcome = await Promise.race([transport.publish('late').then(() => 'resolved', () => 'rejected'), sleep(5_000).then(() => 'hung')])
      check(outcome !== 'hung', 'publish after disconnect must settle within 5 s')
    })
  })
}
