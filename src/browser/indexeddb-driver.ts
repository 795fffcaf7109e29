// The L2 in IndexedDB: shared by every tab and worker of an origin, kept across reloads. Same entry format and
// the same conditional writes as the Redis driver (lateWrites 'refused'): a write is refused when the key holds
// an entry or a delete's tombstone made later than it, so two tabs writing one key keep the newer value, and a
// write the cache gave up on cannot bring a deleted value back.
//
// Object stores (one database per `name`, any number of caches in it, apart by their prefix):
//   entries  key [prefix, key]  { h: header, v: the value as a structured clone } (no serializer given), or
//            { p: header and serialized value } (a serializer given), or { d: tombstone stamp }; until: physical
//            expiry (ms, Infinity), s: when expire() made it stale; index 'until' for pruning
//   tags     key [prefix, tag]  { deleted, expired }: the last invalidation stamps of each tag
import { REMOTE_TIE_MS } from '../cache/tags.js'
import { InvalidOptionError, shown } from '../errors.js'
import { createdAtOf, encodeEntry, encodeHeader, readStored } from '../l2/envelope.js'
import { jsonSerializer, type L2Driver, type L2DriverContext, type L2DriverFactory, type L2Entry, type L2Payload, type Serializer } from '../l2/types.js'
import type { Logger } from '../logger.js'
import { toMs, type Duration } from '../ttl.js'
import { refuseUnknown } from '../known-options.js'

/**
 * Options of indexedDbDriver(): the database, how values are stored, pruning, and the Web Locks used for
 * distributed locks.
 */
export interface IndexedDbDriverOptions {
  /** The database's name: caches in one database are kept apart by their `prefix`. @default 'rustocache' */
  name?: string
  /**
   * How values are stored. Not given (the default): as structured clones, IndexedDB's own format, with no JSON
   * round trip: Dates, Maps, Sets, BigInts, typed arrays and cycles come back as they were; a value
   * structuredClone refuses (a function, a DOM node) is refused up front (E_UNSERIALIZABLE_VALUE). Given: as the
   * serializer's text, like every other driver.
   */
  serializer?: Serializer
  /** How often expired entries and old tombstones are deleted (null: never; reads skip them anyway). @default '1m' */
  pruneInterval?: Duration | null
  /**
   * How long opening the database may wait for another tab that holds an older version open before it fails
   * (the command is retried later). @default '5s'
   */
  blockedTimeout?: Duration
  /** The IndexedDB factory: `globalThis.indexedDB` by default; null for none (to try the fallback). */
  indexedDB?: IDBFactory | null
  /**
   * The Web Locks API behind `lock: { distributed: true }`: one tab runs a cold key's factory, the others wait
   * for its value in IndexedDB, and a tab closed mid-factory lets the lock go. `navigator.locks` by default;
   * null for none (the cache then locks within the tab only).
   */
  locks?: LockManager | null
}

const VERSION = 1
/** How long a delete's tombstone refuses writes made before it (as the Redis driver's). */
const TOMBSTONE_MS = 60_000

interface Row {
  p?: string
  h?: string
  v?: unknown
  d?: number
  until: number
  s?: number
}

/** The entry's header (text) in a row, undefined for a tombstone. */
function headerOf(row: Row): string | undefined {
  return row.p ?? row.h
}

/** When the row was made: its entry's createdAt or its tombstone's stamp. */
function madeAt(row: Row | undefined): number {
  if (!row) return Number.NaN
  const header = headerOf(row)
  return header !== undefined ? createdAtOf(header) : (row.d ?? Number.NaN)
}

/** The row an encoded entry is stored as (see the header comment). */
function rowOf(payload: L2Payload, until: number): Row {
  return typeof payload === 'string' ? { p: payload, until } : { h: payload.header, v: payload.value, until }
}

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}

/** Names of DOMExceptions that the same command will meet again (a full quota, a value it cannot hold). */
// VersionError: a newer version of the package upgraded the database; this one cannot open it until reloaded.
const PERMANENT = new Set(['QuotaExceededError', 'DataError', 'DataCloneError', 'ConstraintError', 'VersionError'])

/**
 * L2Driver.locks over the Web Locks API. A lock is held while a callback's promise is pending, so acquiring one
 * keeps that promise until release (by the owner's token) or until ttlMs, as a Redis lock's expiry; the browser
 * lets it go when the tab that holds it closes.
 */
class WebLocks {
  private readonly owned = new Map<string, { token: string; release: () => void; gone: Promise<unknown> }>()

  constructor(
    private readonly manager: LockManager,
    private readonly scope: string,
  ) {}

  private name(key: string): string {
    return `${this.scope}:${key}`
  }

  acquire(key: string, token: string, ttlMs: number): Promise<boolean> {
    const name = this.name(key)
    return new Promise<boolean>((resolve, reject) => {
      let markGone: () => void = () => undefined
      // Settles once the lock manager has let the lock go.
      const freed = new Promise<void>((r) => (markGone = r))
      const request = this.manager.request(name, { ifAvailable: true }, (lock) => {
        if (!lock) return resolve(false)
        return new Promise<void>((free) => {
          const timer = setTimeout(release, ttlMs)
          function release() {
            clearTimeout(timer)
            free()
          }
          this.owned.set(name, { token, release, gone: freed })
          resolve(true)
        })
      })
      request.then(
        () => {
          if (this.owned.get(name)?.token === token) this.owned.delete(name)
          markGone()
        },
        (error: unknown) => {
          markGone()
          reject(error)
        },
      )
    })
  }

  /** Lets the lock go if `token` owns it, once the lock manager has freed it. */
  async release(key: string, token: string): Promise<void> {
    const held = this.owned.get(this.name(key))
    if (held?.token !== token) return
    held.release()
    await held.gone.catch(() => undefined)
  }

  async held(key: string): Promise<boolean> {
    const name = this.name(key)
    const state = await this.manager.query()
    return (state.held ?? []).some((lock) => lock.name === name)
  }
}

export class IndexedDbDriver implements L2Driver {
  readonly lateWrites = 'refused' as const
  readonly target: string
  private db: Promise<IDBDatabase> | undefined
  private closed = false
  private readonly pruneTimer: ReturnType<typeof setInterval> | undefined
  private readonly recovered: Array<() => void> = []
  private failed = false
  readonly locks: WebLocks | undefined

  constructor(
    private readonly factory: IDBFactory | undefined,
    private readonly name: string,
    private readonly ns: string,
    /** Undefined: values are stored as structured clones. */
    private readonly serializer: Serializer | undefined,
    private readonly rejected: L2DriverContext['rejected'],
    private readonly logger: Logger,
    private readonly blockedMs: number,
    pruneMs: number,
    lockManager: LockManager | undefined,
  ) {
    this.target = `IndexedDB database "${name}"`
    this.locks = lockManager ? new WebLocks(lockManager, `rustocache:${name}:${ns}`) : undefined
    if (pruneMs < Infinity) {
      this.pruneTimer = setInterval(() => {
        this.prune().catch((error: unknown) => this.logger.debug({ err: error, tier: 'l2' }, 'pruning IndexedDB failed (reads skip expired entries)'))
      }, pruneMs)
      ;(this.pruneTimer as { unref?: () => void }).unref?.()
    }
  }

  private open(): Promise<IDBDatabase> {
    if (this.closed) return Promise.reject(new Error('closed by disconnect()'))
    const factory = this.factory
    if (!factory) return Promise.reject(new Error('IndexedDB is not available here (a private mode, or a runtime without it)'))
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open(this.name, VERSION)
      let timer: ReturnType<typeof setTimeout> | undefined
      request.onupgradeneeded = () => {
        const db = request.result
        if (!db.objectStoreNames.contains('entries')) db.createObjectStore('entries').createIndex('until', 'until')
        if (!db.objectStoreNames.contains('tags')) db.createObjectStore('tags')
      }
      let gaveUp = false
      request.onblocked = () => {
        // Another tab holds an older version open and has not closed it on versionchange.
        timer = setTimeout(() => {
          gaveUp = true
          reject(new Error(`opening ${this.target} is blocked by another tab holding it open`))
        }, this.blockedMs)
      }
      request.onsuccess = () => {
        clearTimeout(timer)
        const db = request.result
        // Opened after this attempt gave up: the next command opens its own.
        if (gaveUp) return db.close()
        // Another tab upgrades the database: let it (this one reopens at its next command).
        db.onversionchange = () => {
          db.close()
          this.db = undefined
        }
        // The user cleared the site's storage, or the browser closed the connection.
        db.onclose = () => {
          this.db = undefined
          this.logger.warn({ tier: 'l2', target: this.target }, 'IndexedDB closed the connection (storage cleared?); reopening at the next command')
        }
        resolve(db)
      }
      request.onerror = () => {
        clearTimeout(timer)
        reject(request.error ?? new Error(`cannot open ${this.target}`))
      }
    }).catch((error: unknown) => {
      this.db = undefined
      throw error
    })
    return this.db
  }

  /** Runs `work` in one transaction; resolves with its result once the transaction has committed. */
  private async run<T>(stores: string[], mode: IDBTransactionMode, work: (tx: IDBTransaction) => Promise<T> | T): Promise<T> {
    let db: IDBDatabase
    try {
      db = await this.open()
    } catch (error) {
      this.failed = true
      throw error
    }
    const tx = db.transaction(stores, mode)
    const committed = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve()
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
    })
    let result: T
    try {
      result = await work(tx)
    } catch (error) {
      try {
        tx.abort()
      } catch {
        // already finished
      }
      await committed.catch(() => undefined)
      throw error
    }
    await committed
    if (this.failed) {
      this.failed = false
      for (const listener of this.recovered) listener()
    }
    return result
  }

  private id(key: string): [string, string] {
    return [this.ns, key]
  }

  private decode(key: string, row: Row | undefined, now: number): L2Entry | undefined {
    if (!row || row.until <= now) return undefined
    // A text row: the serializer's, or JSON's for one written before values were stored as clones.
    if (row.p !== undefined) return readStored(key, row.p, row.s, this.serializer ?? jsonSerializer, this.rejected)
    if (row.h === undefined) return undefined
    // A structured row: the header read as text, the value as IndexedDB gave it back (a fresh clone).
    return readStored(key, row.h, row.s, { serialize: String, deserialize: () => row.v }, this.rejected)
  }

  /** The serializer's text, or without one the header and a structured clone (which refuses what cannot be stored). */
  encode(entry: L2Entry): L2Payload {
    if (this.serializer) return encodeEntry(entry, this.serializer)
    return { header: encodeHeader(entry), value: structuredClone(entry.value) }
  }

  isPermanent(error: unknown): boolean {
    const name = (error as { name?: unknown } | null)?.name
    return typeof name === 'string' && PERMANENT.has(name)
  }

  onRecover(listener: () => void): void {
    this.recovered.push(listener)
  }

  async get(key: string): Promise<L2Entry | undefined> {
    return (await this.getMany([key]))[0]
  }

  /** One read-only transaction for the batch. */
  async getMany(keys: readonly string[]): Promise<(L2Entry | undefined)[]> {
    if (keys.length === 0) return []
    const rows = await this.run(['entries'], 'readonly', (tx) => {
      const store = tx.objectStore('entries')
      return Promise.all(keys.map((key) => done(store.get(this.id(key)) as IDBRequest<Row | undefined>)))
    })
    const now = Date.now()
    return keys.map((key, i) => this.decode(key, rows[i], now))
  }

  async set(key: string, payload: L2Payload, ttlMs: number): Promise<boolean> {
    return (await this.setMany([{ key, payload, ttlMs }]))[0]!
  }

  /**
   * One transaction; per item, whether it was written. An item is refused when the key holds an entry or a
   * tombstone made REMOTE_TIE_MS or more after it. A key given twice keeps its last item.
   */
  async setMany(items: ReadonlyArray<{ key: string; payload: L2Payload; ttlMs: number }>): Promise<boolean[]> {
    if (items.length === 0) return []
    const now = Date.now()
    return this.run(['entries'], 'readwrite', async (tx) => {
      const store = tx.objectStore('entries')
      const out: boolean[] = []
      for (const item of items) {
        const current = await done(store.get(this.id(item.key)) as IDBRequest<Row | undefined>)
        const live = current !== undefined && current.until > now
        const made = createdAtOf(typeof item.payload === 'string' ? item.payload : item.payload.header)
        if (live && madeAt(current) >= made + REMOTE_TIE_MS) {
          out.push(false)
          continue
        }
        await done(store.put(rowOf(item.payload, item.ttlMs === Infinity ? Infinity : now + Math.max(1, Math.ceil(item.ttlMs))), this.id(item.key)))
        out.push(true)
      }
      return out
    })
  }

  async delete(key: string, stamp = Date.now()): Promise<boolean> {
    return (await this.deleteMany([key], stamp)) > 0
  }

  /** Deletes as tombstones (kept TOMBSTONE_MS); an entry made REMOTE_TIE_MS or more after the delete stays. */
  async deleteMany(keys: readonly string[], stamp = Date.now()): Promise<number> {
    if (keys.length === 0) return 0
    const now = Date.now()
    return this.run(['entries'], 'readwrite', async (tx) => {
      const store = tx.objectStore('entries')
      let live = 0
      for (const key of new Set(keys)) {
        const current = await done(store.get(this.id(key)) as IDBRequest<Row | undefined>)
        const alive = current !== undefined && current.until > now
        const header = current && headerOf(current)
        if (alive && header !== undefined && createdAtOf(header) >= stamp + REMOTE_TIE_MS) continue
        if (alive && header !== undefined) live++
        await done(store.put({ d: stamp, until: now + TOMBSTONE_MS } satisfies Row, this.id(key)))
      }
      return live
    })
  }

  async expire(key: string, now: number): Promise<boolean> {
    return this.run(['entries'], 'readwrite', async (tx) => {
      const store = tx.objectStore('entries')
      const current = await done(store.get(this.id(key)) as IDBRequest<Row | undefined>)
      if (!current || headerOf(current) === undefined || current.until <= Date.now()) return false
      if (current.s === undefined || current.s > now) await done(store.put({ ...current, s: Math.floor(now) }, this.id(key)))
      return true
    })
  }

  /** Deletes every key of this prefix that starts with `path`: a cursor from the first, stopped at the last. */
  async clear(path: string): Promise<void> {
    await this.run(['entries'], 'readwrite', (tx) => {
      const cursor = tx.objectStore('entries').openKeyCursor(IDBKeyRange.lowerBound([this.ns, path]))
      return new Promise<void>((resolve, reject) => {
        cursor.onerror = () => reject(cursor.error)
        cursor.onsuccess = () => {
          const c = cursor.result
          const id = c?.key as [string, string] | undefined
          if (!c || !id || id[0] !== this.ns || typeof id[1] !== 'string' || !id[1].startsWith(path)) return resolve()
          tx.objectStore('entries').delete(c.primaryKey)
          c.continue()
        }
      })
    })
  }

  async invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp: number): Promise<void> {
    if (tags.length === 0) return
    await this.run(['tags'], 'readwrite', async (tx) => {
      const store = tx.objectStore('tags')
      for (const tag of new Set(tags)) {
        const current = (await done(store.get([this.ns, tag]) as IDBRequest<{ deleted: number; expired: number } | undefined>)) ?? {
          deleted: -Infinity,
          expired: -Infinity,
        }
        const next = { ...current }
        if (how === 'delete') next.deleted = Math.max(current.deleted, stamp)
        else next.expired = Math.max(current.expired, stamp)
        await done(store.put(next, [this.ns, tag]))
      }
    })
  }

  async tagStamps(tags: readonly string[]): Promise<Array<{ deleted: number; expired: number }>> {
    if (tags.length === 0) return []
    const rows = await this.run(['tags'], 'readonly', (tx) => {
      const store = tx.objectStore('tags')
      return Promise.all(tags.map((tag) => done(store.get([this.ns, tag]) as IDBRequest<{ deleted: number; expired: number } | undefined>)))
    })
    return rows.map((r) => ({ deleted: r?.deleted ?? -Infinity, expired: r?.expired ?? -Infinity }))
  }

  /** Deletes expired entries and old tombstones of every prefix in the database; returns how many. */
  async prune(): Promise<number> {
    return this.run(['entries'], 'readwrite', (tx) => {
      const cursor = tx.objectStore('entries').index('until').openKeyCursor(IDBKeyRange.upperBound(Date.now()))
      let n = 0
      return new Promise<number>((resolve, reject) => {
        cursor.onerror = () => reject(cursor.error)
        cursor.onsuccess = () => {
          const c = cursor.result
          if (!c) return resolve(n)
          tx.objectStore('entries').delete(c.primaryKey)
          n++
          c.continue()
        }
      })
    })
  }

  async disconnect(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.pruneTimer)
    const db = this.db
    this.db = undefined
    if (db) (await db.catch(() => undefined))?.close()
  }
}

/**
 * An L2 in the browser's IndexedDB, shared by the tabs and workers of an origin and kept across reloads:
 * `new RustoCache({ l2: indexedDbDriver(), bus: broadcastBus() })`. Where IndexedDB is missing (some private
 * modes), every command fails and the cache serves from L1, saying so once.
 */
export function indexedDbDriver(options: IndexedDbDriverOptions = {}): L2DriverFactory {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`indexedDbDriver options must be an object, got ${shown(options)}`)
  refuseUnknown(options, ['name', 'serializer', 'pruneInterval', 'blockedTimeout', 'indexedDB', 'locks'], 'indexedDbDriver')
  const name = options.name ?? 'rustocache'
  if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError(`indexedDbDriver name must be a non-empty string, got ${shown(options.name)}`)
  const pruneMs = options.pruneInterval === null ? Infinity : toMs(options.pruneInterval ?? '1m', 'pruneInterval')
  const blockedMs = toMs(options.blockedTimeout ?? '5s', 'blockedTimeout')
  const factory = options.indexedDB === null ? undefined : (options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB)
  const locks = options.locks === null ? undefined : (options.locks ?? (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks)
  return {
    kind: 'indexeddb',
    create: ({ prefix, logger, rejected }) =>
      new IndexedDbDriver(factory, name, prefix, options.serializer, rejected, logger, blockedMs, pruneMs, locks),
  }
}
