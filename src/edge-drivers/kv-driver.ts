// The L2 on Cloudflare Workers KV, through the Worker's binding (`env.KV`). KV is eventually consistent: a write
// is seen at once where it was made and up to 60 s later elsewhere (KV's own edge caches), it keeps a key at
// least 60 s, takes one write per key per second, keys up to 512 bytes and values up to 25 MiB. The driver states
// those limits and enforces them:
// - ttl: KV cannot expire a key sooner than 60 s, so the stored text carries its own physical expiry, which
//   reads honour to the millisecond; KV deletes the key at max(ttl, 60 s). The logical expiry is in the entry.
// - keys and tags longer than 512 bytes (with the prefix) are refused by the cache up front (maxKeyBytes);
//   values over 25 MiB by encode(), with E_L2_LIMIT, before anything is written.
// - no conditional writes (lateWrites 'may-land'): a write the cache gave up on may still land; the retry queue
//   re-applies the key from L1. No locks: with `lock: { distributed: true }` a cache locks within its isolate only.
//
// Stored text: k1|<physical expiry ms or "inf">|<the entry, as the Redis driver stores it>
// Tag stamps: one key per tag, <prefix>#tag:<tag> -> {"d": stamp, "e": stamp}, kept tagRetention.
import { InvalidOptionError, L2LimitError, shown } from '../errors.js'
import { CoalescedReads } from '../l2/coalesce.js'
import { encodeEntry, nextTagRecord, readStored, readTagRecord, restamp } from '../l2/envelope.js'
import { jsonSerializer, type L2Driver, type L2DriverContext, type L2DriverFactory, type L2Entry, type Serializer } from '../l2/types.js'
import { toMs, type Duration } from '../ttl.js'
import { EDGE_L1_TTL } from './edge-l1.js'
import { refuseUnknown } from '../known-options.js'
import { lastPerKey } from '../l2/batch.js'

/** The parts of a Workers KV binding the driver uses (`KVNamespace` in @cloudflare/workers-types). */
export interface KvNamespaceLike {
  /** One key's text, or null. */
  get(key: string, options: { type: 'text'; cacheTtl?: number }): Promise<string | null>
  /** Up to 100 keys' texts at once (bulk get). */
  get(keys: string[], options: { type: 'text'; cacheTtl?: number }): Promise<Map<string, string | null>>
  /**
   * Writes a text, expiring at `expiration` (s since the epoch) or after `expirationTtl` (s, at least 60).
   */
  put(key: string, value: string, options?: { expiration?: number; expirationTtl?: number }): Promise<void>
  /** Deletes a key. */
  delete(key: string): Promise<void>
  /** Lists keys by prefix, a page at a time. */
  list(options: { prefix?: string; cursor?: string | null; limit?: number }): Promise<{ keys: Array<{ name: string }>; list_complete: boolean; cursor?: string }>
}

/** Options of kvDriver(): the serializer, how long tag stamps are kept, and KV's read cache ttl. */
export interface KvDriverOptions {
  /** @default JSON */
  serializer?: Serializer
  /** How long a tag invalidation is kept (KV expires the stamp key). @default '7d' */
  tagRetention?: Duration
  /**
   * KV's `cacheTtl` for reads: how long the location that read a key may answer it from its own cache (seconds,
   * at least 60). Longer saves reads and lengthens how long a change made elsewhere goes unseen. @default KV's own (60)
   */
  cacheTtl?: number
}

/** Workers KV's documented limits (developers.cloudflare.com/kv/platform/limits). */
export const KV_LIMITS = {
  /** Longest key, in UTF-8 bytes. */
  keyBytes: 512,
  /** Largest value, in bytes. */
  valueBytes: 25 * 1024 * 1024,
  /** Shortest expirationTtl, in seconds. */
  minTtlSeconds: 60,
  /** Most keys one bulk get takes. */
  bulkGet: 100,
} as const

const VERSION = 'k1'

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length
}

/** The entry text and its physical expiry out of a stored text; undefined for none, expired, or not ours. */
function unwrap(text: string | null | undefined, now: number): { payload: string; until: number } | 'expired' | 'foreign' | undefined {
  if (text === null || text === undefined) return undefined
  const b1 = text.indexOf('|')
  const b2 = b1 < 0 ? -1 : text.indexOf('|', b1 + 1)
  if (b1 !== VERSION.length || !text.startsWith(VERSION) || b2 < 0) return 'foreign'
  const field = text.slice(b1 + 1, b2)
  const until = field === 'inf' ? Infinity : Number(field)
  if (Number.isNaN(until)) return 'foreign'
  if (until <= now) return 'expired'
  return { payload: text.slice(b2 + 1), until }
}

/** KV's expiry options for a physical expiry `until` (ms since the epoch): never sooner than KV allows. */
function expiryOf(until: number, now: number): { expirationTtl?: number } {
  if (until === Infinity) return {}
  return { expirationTtl: Math.max(KV_LIMITS.minTtlSeconds, Math.ceil((until - now) / 1000)) }
}

export class KvDriver implements L2Driver {
  /** KV cannot write conditionally: a write the cache gave up on may still land (the retry queue re-applies). */
  readonly lateWrites = 'may-land'
  readonly target = 'Workers KV'
  readonly maxKeyBytes: number
  readonly maxEntryBytes = KV_LIMITS.valueBytes - 64
  private readonly serializer: Serializer
  private readonly readOptions: { type: 'text'; cacheTtl?: number }

  constructor(
    private readonly kv: KvNamespaceLike,
    private readonly prefix: string,
    private readonly rejected: L2DriverContext['rejected'],
    readonly tagRetentionMs: number,
    options: KvDriverOptions,
  ) {
    this.serializer = options.serializer ?? jsonSerializer
    this.readOptions = options.cacheTtl === undefined ? { type: 'text' } : { type: 'text', cacheTtl: options.cacheTtl }
    // The longer of the two prefixes a user string gets: `<prefix>:` for keys, `<prefix>#tag:` for tags.
    this.maxKeyBytes = KV_LIMITS.keyBytes - utf8Length(`${prefix}#tag:`)
  }

  private key(key: string): string {
    return `${this.prefix}:${key}`
  }

  private tagKey(tag: string): string {
    return `${this.prefix}#tag:${tag}`
  }

  /** A KV error the same call will meet again: a request KV refuses (4xx but 429, too many writes to a key). */
  isPermanent(error: unknown): boolean {
    if (error instanceof L2LimitError) return true
    const message = error instanceof Error ? error.message : ''
    return /\b(400|401|403|404|413|414)\b/.test(message) || /\b(too long|too large|invalid)\b/i.test(message)
  }

  encode(entry: L2Entry): string {
    const text = encodeEntry(entry, this.serializer)
    // Three bytes per UTF-16 unit at most: count exactly only when it could be over.
    if (text.length * 3 > this.maxEntryBytes) {
      const bytes = utf8Length(text)
      if (bytes > this.maxEntryBytes) throw new L2LimitError(`Workers KV holds values up to 25 MiB; this entry is ${bytes} bytes`)
    }
    return text
  }

  private decode(key: string, text: string | null | undefined, now: number): L2Entry | undefined {
    const stored = unwrap(text, now)
    if (stored === undefined || stored === 'expired') return undefined
    if (stored === 'foreign') {
      this.rejected(key, 'not a k1 record')
      return undefined
    }
    return readStored(key, stored.payload, undefined, this.serializer, this.rejected)
  }

  get(key: string): Promise<L2Entry | undefined> {
    return this.reads.get(key)
  }

  private readonly reads = new CoalescedReads(async (key) => this.decode(key, await this.kv.get(this.key(key), this.readOptions), Date.now()), (keys) => this.getMany(keys))

  /** Stored texts by full KV key, in bulk gets of up to 100 keys. */
  private async texts(kvKeys: readonly string[]): Promise<Map<string, string | null>> {
    const unique = [...new Set(kvKeys)]
    const out = new Map<string, string | null>()
    const chunks: string[][] = []
    for (let i = 0; i < unique.length; i += KV_LIMITS.bulkGet) chunks.push(unique.slice(i, i + KV_LIMITS.bulkGet))
    for (const found of await Promise.all(chunks.map((chunk) => this.kv.get(chunk, this.readOptions)))) for (const [k, v] of found) out.set(k, v)
    return out
  }

  async getMany(keys: readonly string[]): Promise<(L2Entry | undefined)[]> {
    if (keys.length === 0) return []
    const texts = await this.texts(keys.map((k) => this.key(k)))
    const now = Date.now()
    return keys.map((key) => this.decode(key, texts.get(this.key(key)), now))
  }

  async set(key: string, payload: string, ttlMs: number): Promise<void> {
    const now = Date.now()
    const until = ttlMs === Infinity ? Infinity : now + Math.max(1, Math.ceil(ttlMs))
    await this.kv.put(this.key(key), `${VERSION}|${until === Infinity ? 'inf' : until}|${payload}`, expiryOf(until, now))
  }

  async setMany(items: ReadonlyArray<{ key: string; payload: string; ttlMs: number }>): Promise<void> {
    // KV has no batch write in the binding.
    await Promise.all(lastPerKey(items).map((item) => this.set(item.key, item.payload, item.ttlMs)))
  }

  async delete(key: string): Promise<boolean> {
    return (await this.deleteMany([key])) > 0
  }

  /** KV's delete says nothing: the keys are read first to count the live ones. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    const kvKeys = [...new Set(keys)].map((k) => this.key(k))
    const texts = await this.texts(kvKeys)
    const now = Date.now()
    await Promise.all(kvKeys.map((k) => this.kv.delete(k)))
    return kvKeys.filter((k) => typeof unwrap(texts.get(k), now) === 'object').length
  }

  /** Rewrites the entry's logical expiry to now, keeping its physical one. */
  async expire(key: string, now: number): Promise<boolean> {
    const stored = unwrap(await this.kv.get(this.key(key), { type: 'text' }), Date.now())
    if (typeof stored !== 'object') return false
    const rewritten = restamp(stored.payload, now)
    if (rewritten === undefined) return false
    if (rewritten === 'stale') return true
    await this.kv.put(this.key(key), `${VERSION}|${stored.until === Infinity ? 'inf' : stored.until}|${rewritten}`, expiryOf(stored.until, Date.now()))
    return true
  }

  async clear(path: string): Promise<void> {
    const prefixes = path === '' ? [`${this.prefix}:`, `${this.prefix}#tag:`] : [`${this.prefix}:${path}`]
    for (const prefix of prefixes) {
      let cursor: string | undefined
      do {
        const page = await this.kv.list({ prefix, cursor, limit: 1000 })
        await Promise.all(page.keys.map((k) => this.kv.delete(k.name)))
        cursor = page.list_complete ? undefined : page.cursor
      } while (cursor)
    }
  }

  async invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp: number): Promise<void> {
    if (tags.length === 0) return
    const current = await this.tagStamps(tags)
    const ttl = { expirationTtl: Math.max(KV_LIMITS.minTtlSeconds, Math.ceil(this.tagRetentionMs / 1000)) }
    await Promise.all(tags.map((tag, i) => this.kv.put(this.tagKey(tag), nextTagRecord(current[i]!, how, stamp), ttl)))
  }

  async tagStamps(tags: readonly string[]): Promise<Array<{ deleted: number; expired: number }>> {
    if (tags.length === 0) return []
    const texts = await this.texts(tags.map((t) => this.tagKey(t)))
    return tags.map((tag) => readTagRecord(texts.get(this.tagKey(tag))))
  }

  async disconnect(): Promise<void> {
    // A binding has no connection to close.
  }
}

/**
 * The L2 on Workers KV: `new RustoCache({ l2: kvDriver(env.KV) })`. Without a bus, L1 keeps an entry at most 5 s
 * (see EDGE_L1_TTL); KV's own consistency adds up to 60 s between locations (docs/edge.md).
 */
export function kvDriver(namespace: KvNamespaceLike, options: KvDriverOptions = {}): L2DriverFactory {
  const kv = namespace as Partial<KvNamespaceLike> | null | undefined
  if (typeof kv !== 'object' || kv === null || typeof kv.get !== 'function' || typeof kv.put !== 'function' || typeof kv.list !== 'function' || typeof kv.delete !== 'function') {
    throw new InvalidOptionError(`kvDriver needs a Workers KV binding (env.KV: get, put, delete, list), got ${shown(namespace)}`)
  }
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`kvDriver options must be an object, got ${shown(options)}`)
  refuseUnknown(options, ['serializer', 'tagRetention', 'cacheTtl'], 'kvDriver')
  if (options.cacheTtl !== undefined && !(Number.isInteger(options.cacheTtl) && options.cacheTtl >= KV_LIMITS.minTtlSeconds)) {
    throw new InvalidOptionError(`kvDriver: cacheTtl is in seconds, a whole number >= 60 (KV's minimum), got ${shown(options.cacheTtl)}`)
  }
  const tagRetention = toMs(options.tagRetention ?? '7d', 'tagRetention')
  return {
    kind: 'workers-kv',
    l1TtlWithoutBus: EDGE_L1_TTL,
    create: ({ prefix, rejected }) => {
      if (utf8Length(`${prefix}#tag:`) >= KV_LIMITS.keyBytes - 16) throw new InvalidOptionError(`kvDriver: the prefix leaves no room in KV's 512-byte keys`)
      return new KvDriver(namespace, prefix, rejected, tagRetention, options)
    },
  }
}
