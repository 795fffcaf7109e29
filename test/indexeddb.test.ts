import 'fake-indexeddb/auto'
import { IDBFactory } from 'fake-indexeddb'
import { afterEach, describe, expect, it } from 'vitest'
import { indexedDbDriver } from '../src/browser/index.js'
import { ErrorCodes, RustoCache, RustoCacheError } from '../src/index.js'
import { l2DriverSuite } from '../src/test-suite/index.js'
import { LockRegistry } from './helpers/fake-locks.js'

// The IndexedDB L2 (rustocache/browser) on fake-indexeddb, an implementation of the IndexedDB spec for Node; the
// acceptance in a real browser is test/browser.test.ts (pages of one origin sharing it, a reload keeping it).
function rawPut(name: string, prefix: string, key: string, row: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, 1)
    open.onsuccess = () => {
      const db = open.result
      const tx = db.transaction(['entries'], 'readwrite')
      tx.objectStore('entries').put(row, [prefix, key])
      tx.oncomplete = () => {
        db.close()
        resolve()
      }
      tx.onabort = () => reject(tx.error)
    }
    open.onerror = () => reject(open.error)
  })
}

let databases = 0
const fresh = () => `test-${++databases}`

const conformanceLocks = new LockRegistry()
l2DriverSuite({
  name: 'indexedDbDriver',
  driver: () => indexedDbDriver({ name: 'conformance', locks: conformanceLocks.tab() as unknown as LockManager }),
  writeRaw: (prefix, key, text) => rawPut('conformance', prefix, key, { p: text, until: Infinity }),
  describe,
  it,
})

const open: RustoCache[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.disconnect()))
})
function cache(options: ConstructorParameters<typeof RustoCache>[0]) {
  const c = new RustoCache(options)
  open.push(c)
  return c
}

describe('indexedDbDriver', () => {
  it('shares entries between caches on one database and keeps them for the next one (a reload)', async () => {
    const name = fresh()
    const a = cache({ l2: indexedDbDriver({ name }), ttl: '1h' })
    const b = cache({ l2: indexedDbDriver({ name }), ttl: '1h' })
    await a.set({ key: 'user:1', value: { name: 'Ada' }, tags: ['users'] })
    expect(await b.get({ key: 'user:1' })).toEqual({ name: 'Ada' })
    await a.disconnect()
    const reloaded = cache({ l2: indexedDbDriver({ name }), ttl: '1h' })
    expect(await reloaded.get({ key: 'user:1' })).toEqual({ name: 'Ada' })
    await b.deleteByTag({ tags: ['users'] })
    const again = cache({ l2: indexedDbDriver({ name }), ttl: '1h' })
    expect(await again.get({ key: 'user:1' })).toBeUndefined()
  })

  it('keeps the newer of two writes of one key, whichever lands last (conditional writes, as the Redis driver)', async () => {
    const driver = indexedDbDriver({ name: fresh() }).create({ prefix: 'p', logger: console as never, rejected() {} })
    const at = (createdAt: number) => driver.encode({ value: createdAt, expiresAt: Infinity, createdAt, tags: undefined })
    expect(await driver.set('k', at(2000), Infinity)).toBe(true)
    expect(await driver.set('k', at(1000), Infinity)).toBe(false)
    expect((await driver.get('k'))?.value).toBe(2000)
    expect(await driver.delete('k', 3000)).toBe(true)
    expect(await driver.set('k', at(2500), Infinity)).toBe(false) // made before the delete: refused by its tombstone
    expect(await driver.set('k', at(3500), Infinity)).toBe(true)
    await driver.disconnect()
  })

  it('serves from L1 where IndexedDB is missing, saying so once, and loses nothing it held', async () => {
    const warnings: string[] = []
    const say = (o: unknown, m?: string) => void warnings.push(`${m ?? ''} ${JSON.stringify(o, (_k, v) => (v instanceof Error ? v.message : v))}`)
    const logger = { trace() {}, debug() {}, info() {}, warn: say, error: say, fatal: say, child: () => logger }
    const c = cache({ l2: indexedDbDriver({ indexedDB: null }), logger })
    await c.set({ key: 'k', value: 1 })
    await c.set({ key: 'j', value: 2 })
    expect(await c.get({ key: 'k' })).toBe(1)
    expect(await c.getOrSet({ key: 'f', factory: () => 3 })).toBe(3)
    expect(c.stats().l2Errors).toBeGreaterThanOrEqual(1)
    // The outage is said once (E_L2_UNREACHABLE, naming the database); each failed command is logged too.
    expect(warnings.filter((w) => /answering without L2 until it is back/.test(w) && /IndexedDB is not available/.test(w))).toHaveLength(1)
    await expect(c.connect()).rejects.toMatchObject({ code: ErrorCodes.E_L2_UNREACHABLE })
  })

  it('reopens after the database is deleted under it (storage cleared), and after another tab upgrades it', async () => {
    const name = fresh()
    const factory = new IDBFactory()
    const driver = indexedDbDriver({ name, indexedDB: factory }).create({ prefix: 'p', logger: console as never, rejected() {} })
    const entry = (value: number) => driver.encode({ value, expiresAt: Infinity, createdAt: Date.now(), tags: undefined })
    await driver.set('k', entry(1), Infinity)
    // A delete waits for open connections: ours closes on versionchange, so it goes through.
    await new Promise<void>((resolve, reject) => {
      const del = factory.deleteDatabase(name)
      del.onsuccess = () => resolve()
      del.onerror = () => reject(del.error)
    })
    expect(await driver.get('k')).toBeUndefined()
    expect(await driver.set('k', entry(2), Infinity)).toBe(true)
    expect((await driver.get('k'))?.value).toBe(2)
    await driver.disconnect()
  })

  it('stores values as structured clones by default: Dates, Maps, Sets, BigInts and cycles come back as they were', async () => {
    const name = fresh()
    const writer = cache({ l2: indexedDbDriver({ name }), ttl: '1h' })
    const reader = cache({ l2: indexedDbDriver({ name }), ttl: '1h' })
    const cycle: Record<string, unknown> = { n: 1 }
    cycle.self = cycle
    const value = { at: new Date(86_400_000), map: new Map([['a', 1]]), set: new Set([2]), big: 10n ** 20n, bytes: new Uint8Array([1, 2]), cycle }
    await writer.set({ key: 'k', value, tags: ['t'] })
    // The reader has it from IndexedDB only: no JSON round trip turned the Date into a string.
    const read = (await reader.get({ key: 'k' })) as typeof value
    expect(read.at).toBeInstanceOf(Date)
    expect(read.at.getTime()).toBe(86_400_000)
    expect(read.map.get('a')).toBe(1)
    expect(read.set.has(2)).toBe(true)
    expect(read.big).toBe(10n ** 20n)
    expect([...read.bytes]).toEqual([1, 2])
    expect((read.cycle as { self: unknown }).self).toBe(read.cycle)
    expect(reader.stats().l2Hits).toBe(1)
    // A copy: the writer's later change of its object does not reach the stored value.
    value.map.set('a', 2)
    const again = cache({ l2: indexedDbDriver({ name }), ttl: '1h' })
    expect(((await again.get({ key: 'k' })) as typeof value).map.get('a')).toBe(1)
  })

  it('refuses what structuredClone cannot copy with E_UNSERIALIZABLE_VALUE, keeping what was cached', async () => {
    const c = cache({ l2: indexedDbDriver({ name: fresh() }) })
    await c.set({ key: 'k', value: 'kept' })
    await expect(c.set({ key: 'k', value: { run: () => 1 } })).rejects.toMatchObject({ code: ErrorCodes.E_UNSERIALIZABLE_VALUE })
    expect(await c.get({ key: 'k' })).toBe('kept')
    expect(c.stats().l2Errors).toBe(0)
  })

  it("stores the serializer's text when one is given, and reads text rows either way", async () => {
    const name = fresh()
    const json = { serialize: (v: unknown) => JSON.stringify(v), deserialize: (t: string) => JSON.parse(t) as unknown }
    const textual = cache({ l2: indexedDbDriver({ name, serializer: json }), ttl: '1h' })
    await textual.set({ key: 'k', value: { at: new Date(0) } })
    // Read by a driver without a serializer (as JSON, the default text format before clones).
    expect(await cache({ l2: indexedDbDriver({ name }), ttl: '1h' }).get({ key: 'k' })).toEqual({ at: '1970-01-01T00:00:00.000Z' })
    await rawPut(name, 'rustocache', 'raw', { p: 'r1|inf|1|0|"text"', until: Infinity })
    expect(await cache({ l2: indexedDbDriver({ name }), ttl: '1h' }).get({ key: 'raw' })).toBe('text')
  })

  it('fails an open blocked by another tab after blockedTimeout, serves L1 meanwhile, and tries again later', async () => {
    let opens = 0
    // Another tab holds the database open at an older version and never lets go: the open is blocked, forever.
    const blocked = {
      open: () => {
        opens++
        const request = {} as IDBOpenDBRequest
        setTimeout(() => request.onblocked?.(new Event('blocked') as IDBVersionChangeEvent), 1)
        return request
      },
    } as unknown as IDBFactory
    const driver = indexedDbDriver({ name: fresh(), indexedDB: blocked, blockedTimeout: 30 }).create({ prefix: 'p', logger: console as never, rejected() {} })
    await expect(driver.get('k')).rejects.toThrow(/blocked by another tab holding it open/)
    await expect(driver.get('k')).rejects.toThrow(/blocked/)
    expect(opens).toBe(2)
    expect(driver.isPermanent!(new Error('opening IndexedDB database "x" is blocked by another tab holding it open'))).toBe(false)
    await driver.disconnect()
    const c = cache({ l2: indexedDbDriver({ name: fresh(), indexedDB: blocked, blockedTimeout: 30 }) })
    expect(await c.set({ key: 'k', value: 'in L1' })).toBe(true)
    expect(await c.get({ key: 'k' })).toBe('in L1')
    expect(c.stats().l2Errors).toBeGreaterThan(0)
  })

  it('gives up on a database a newer version of the package upgraded: VersionError is permanent', async () => {
    const name = fresh()
    const factory = new IDBFactory()
    const driver = indexedDbDriver({ name, indexedDB: factory }).create({ prefix: 'p', logger: console as never, rejected() {} })
    await driver.set('k', driver.encode({ value: 1, expiresAt: Infinity, createdAt: Date.now(), tags: undefined }), Infinity)
    // Another tab, on a newer version of the package, upgrades the database: ours closes on versionchange.
    await new Promise<void>((resolve, reject) => {
      const up = factory.open(name, 2)
      up.onsuccess = () => {
        up.result.close()
        resolve()
      }
      up.onerror = () => reject(up.error)
    })
    const error = await driver.get('k').catch((e: unknown) => e)
    expect((error as DOMException).name).toBe('VersionError')
    expect(driver.isPermanent!(error)).toBe(true)
    await driver.disconnect()
  })

  it('classes a full quota and a value it cannot hold as permanent, anything else as transient', () => {
    const driver = indexedDbDriver({ name: fresh() }).create({ prefix: 'p', logger: console as never, rejected() {} })
    expect(driver.isPermanent!(new DOMException('full', 'QuotaExceededError'))).toBe(true)
    expect(driver.isPermanent!(new DOMException('bad', 'DataCloneError'))).toBe(true)
    expect(driver.isPermanent!(new DOMException('gone', 'AbortError'))).toBe(false)
    expect(driver.isPermanent!(new DOMException('closing', 'InvalidStateError'))).toBe(false)
    expect(driver.isPermanent!(new Error('other'))).toBe(false)
  })

  it('rejects bad options with E_INVALID_OPTION or E_INVALID_TTL', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn()
      } catch (error) {
        return (error as RustoCacheError).code
      }
      return undefined
    }
    expect(codeOf(() => indexedDbDriver({ name: '' }))).toBe(ErrorCodes.E_INVALID_OPTION)
    expect(codeOf(() => indexedDbDriver(null as never))).toBe(ErrorCodes.E_INVALID_OPTION)
    expect(codeOf(() => indexedDbDriver({ pruneInterval: 'soon' }))).toBe(ErrorCodes.E_INVALID_TTL)
  })

  it('prunes through cache.prune()', async () => {
    const c = cache({ l2: indexedDbDriver({ name: fresh(), pruneInterval: null }) })
    await c.set({ key: 'gone', value: 1, ttl: 5 })
    await new Promise((r) => setTimeout(r, 30))
    expect(await c.prune()).toBe(1)
    expect(await c.prune()).toBe(0)
  })

  it('prunes expired entries and old tombstones', async () => {
    const name = fresh()
    const driver = indexedDbDriver({ name, pruneInterval: null }).create({ prefix: 'p', logger: console as never, rejected() {} }) as unknown as {
      set(k: string, p: string, t: number): Promise<boolean>
      encode(e: object): string
      prune(): Promise<number>
      disconnect(): Promise<void>
    }
    await driver.set('short', driver.encode({ value: 1, expiresAt: Infinity, createdAt: Date.now(), tags: undefined }), 1)
    await driver.set('long', driver.encode({ value: 2, expiresAt: Infinity, createdAt: Date.now(), tags: undefined }), Infinity)
    await new Promise((r) => setTimeout(r, 10))
    expect(await driver.prune()).toBe(1)
    expect(await driver.prune()).toBe(0)
    await driver.disconnect()
  })

  it('runs a cold key\'s factory in one tab of three with lock.distributed (Web Locks), the others read its value', async () => {
    const name = fresh()
    const registry = new LockRegistry()
    let runs = 0
    const tabs = [0, 1, 2].map(() =>
      cache({ ttl: '1h', lock: { distributed: true }, l2: indexedDbDriver({ name, locks: registry.tab() as unknown as LockManager }) }),
    )
    const values = await Promise.all(
      tabs.map((c) =>
        c.getOrSet({
          key: 'report',
          factory: async () => {
            runs++
            await new Promise((r) => setTimeout(r, 100))
            return 'made once'
          },
        }),
      ),
    )
    expect(values).toEqual(['made once', 'made once', 'made once'])
    expect(runs).toBe(1)
  })

  it('lets another tab run the factory when the tab holding the lock closes mid-factory', async () => {
    const name = fresh()
    const registry = new LockRegistry()
    const first = registry.tab()
    const owner = cache({ ttl: '1h', lock: { distributed: true }, l2: indexedDbDriver({ name, locks: first as unknown as LockManager }) })
    const other = cache({ ttl: '1h', lock: { distributed: true }, timeout: 0, l2: indexedDbDriver({ name, locks: registry.tab() as unknown as LockManager }) })
    let started!: () => void
    const running = new Promise<void>((r) => (started = r))
    // The owner's factory never finishes: its tab closes.
    void owner.getOrSet({ key: 'k', factory: () => (started(), new Promise<string>(() => {})) }).catch(() => undefined)
    await running
    const waiting = other.getOrSet({ key: 'k', factory: async () => 'from the second tab' })
    await new Promise((r) => setTimeout(r, 60))
    first.close()
    expect(await waiting).toBe('from the second tab')
  })
})
