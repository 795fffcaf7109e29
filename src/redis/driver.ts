import { createHash } from 'node:crypto'
import calculateSlot from 'cluster-key-slot'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { CoalescedReads } from '../l2/coalesce.js'
import { REMOTE_TIE_MS } from '../cache/tags.js'
import { encodeEntry, readStored } from '../l2/envelope.js'
import { jsonSerializer, type L2Driver, type L2DriverContext, type L2DriverFactory, type L2Entry, type Serializer } from '../l2/types.js'
import type { Logger } from '../logger.js'
import { InvalidOptionError } from '../errors.js'
import { toMs, type Duration } from '../ttl.js'
import { Watchdog } from '../watchdog.js'
import { DELETE_SCRIPT, EXPIRE_SCRIPT, PRUNE_SCRIPT, RELEASE_SCRIPT, SET_SCRIPT, TOMBSTONE_MS, TRANSIENT_REPLY } from './scripts.js'
import { refuseUnknown } from '../known-options.js'

/**
 * How the Redis driver and bus connect: ioredis options, a redis:// URL, or a Redis or Cluster instance of
 * yours.
 */
export type RedisConnection = RedisOptions | string | Redis | Cluster

/** Options of redisDriver(): the connection, the command timeout, the serializer and tag retention. */
export interface RedisDriverOptions {
  /** ioredis options, a redis:// URL, or an existing Redis or Cluster instance (used as it is, not closed by us). */
  connection: RedisConnection
  /**
   * Longest a command may take, including waiting for a connection; then it fails and the cache answers without
   * L2. Applies to connections made from options or a URL.
   * @default 500
   */
  commandTimeout?: number
  /** @default JSON */
  serializer?: Serializer
  /**
   * How long Redis keeps a tag invalidation (the stamps in `<prefix>#tags:*`), so those hashes stay bounded by
   * the tags invalidated within this window. A tagged entry older than this, read from L2, cannot be checked
   * against stamps that may be gone, so it is read as a miss (its factory runs again).
   * @default '7d'
   */
  tagRetention?: Duration
}

/** A Lua script sent by its SHA1 (EVALSHA); the text goes only to a server that does not have it yet. */
interface Script {
  lua: string
  sha: string
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

// Sent as EVALSHA: the set script's text is 800 bytes, which EVAL sent with every write (a set through the
// cache cost 1.37x a raw SET on Node 24; most of the difference was writing the script to the socket).
const SCRIPTS = {
  set: script(SET_SCRIPT),
  delete: script(DELETE_SCRIPT),
  expire: script(EXPIRE_SCRIPT),
  prune: script(PRUNE_SCRIPT),
  release: script(RELEASE_SCRIPT),
}

/** Positions of `keys` (full Redis keys) grouped by hash slot. */
function groupBySlot(keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>()
  keys.forEach((k, i) => {
    const slot = calculateSlot(k)
    const group = groups.get(slot)
    if (group) group.push(i)
    else groups.set(slot, [i])
  })
  return [...groups.values()]
}

/** Escapes SCAN MATCH's glob characters so a prefix matches only itself. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}

/** Where a client connects, for messages: host:port, or the cluster's first nodes. */
export function describeTarget(redis: Redis | Cluster): string {
  if (redis instanceof Cluster) {
    const nodes = (redis as unknown as { startupNodes?: Array<{ host?: string; port?: number } | string | number> }).startupNodes ?? []
    return `Redis Cluster at ${nodes.slice(0, 3).map((n) => (typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}` : String(n))).join(', ')}`
  }
  const o = redis.options
  return o.path ? `Redis at ${o.path}` : `Redis at ${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`
}

/**
 * Clients known to be down: a wait for 'ready' ran out since the last time they were ready. Commands on them
 * fail at once instead of each waiting a command timeout again (with Redis gone, a getOrSet would wait for its
 * read, its lock and its write in a row); the 'ready' event clears it.
 */
const knownDown = new WeakMap<Redis | Cluster, true>()

/** Waits for a connection that is coming up, but never longer than the command timeout (not at all once it is known down). */
export function whenReady(redis: Redis | Cluster, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  if (redis.status === 'end' || redis.status === 'close') return Promise.reject(new Error(`${describeTarget(redis)}: connection is ${redis.status}`))
  if (knownDown.has(redis)) return Promise.reject(new Error(`${describeTarget(redis)} is down (status ${redis.status}): failing fast until it is ready again`))
  // Every command waiting on a reconnecting connection shares one 'ready' listener (hundreds under load).
  let ready = readyWaits.get(redis)
  if (!ready) {
    ready = new Promise<void>((resolve) => {
      redis.once('ready', () => {
        readyWaits.delete(redis)
        knownDown.delete(redis)
        resolve()
      })
    })
    readyWaits.set(redis, ready)
  }
  const shared = ready
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      knownDown.set(redis, true)
      reject(new Error(`${describeTarget(redis)} not ready within ${ms} ms (status ${redis.status})`))
    }, ms)
    shared.then(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}
const readyWaits = new WeakMap<Redis | Cluster, Promise<void>>()


export class RedisDriver implements L2Driver {
  /** Writes are conditional on createdAt and deletes leave tombstones: a late write is refused (L2Driver.lateWrites). */
  readonly lateWrites = 'refused'
  /** Where it connects, for messages ('Redis at 127.0.0.1:6379'). */
  get target(): string {
    return describeTarget(this.redis)
  }
  private readonly serializer: Serializer
  private readonly tagKeys: { delete: string; expire: string }
  private readonly watchdog: Pick<Watchdog, 'guard' | 'stop'>
  /**
   * A command timed out on a connection that says it is ready (a server that died behind an open socket, or a
   * proxy): commands fail at once until a background PING answers, so no call waits a second command timeout
   * for the same outage (with a default getOrSet: its read, then its write).
   */
  private silent = false
  private probe: ReturnType<typeof setTimeout> | undefined
  private closed = false
  private readonly recovered: Array<() => void> = []

  onRecover(listener: () => void): void {
    this.recovered.push(listener)
  }

  private recover(): void {
    for (const listener of this.recovered) listener()
  }

  constructor(
    readonly redis: Redis | Cluster,
    private readonly owned: boolean,
    private readonly prefix: string,
    private readonly commandTimeout: number,
    serializer: Serializer | undefined,
    private readonly rejected: L2DriverContext['rejected'],
    readonly tagRetentionMs: number,
  ) {
    this.serializer = serializer ?? jsonSerializer
    // Every 'ready' after the first is a reconnection.
    let connected = redis.status === 'ready'
    redis.on('ready', () => {
      if (connected) this.recover()
      connected = true
    })
    const dog = new Watchdog(commandTimeout)
    this.watchdog = {
      guard: <T>(call: Promise<T>, deadline?: number): Promise<T> =>
        dog.guard(call, deadline).catch((error: unknown) => {
          if (error instanceof Error && error.message.includes('did not answer in time')) this.goSilent()
          throw error
        }),
      stop: () => dog.stop(),
    }
    // User keys are `<prefix>:<key>`; the driver's own records are `<prefix>#...`, which no user key can name and
    // no namespace clear (a SCAN of `<prefix>:<path>*`) can reach.
    this.tagKeys = { delete: `${prefix}#tags:deleted`, expire: `${prefix}#tags:expired` }
  }

  private key(key: string): string {
    return `${this.prefix}:${key}`
  }

  /** Resolves at once on a ready connection (no extra await on the hot path). */
  private ready(): Promise<void> | undefined {
    if (this.silent) return Promise.reject(new Error(`${this.target} is not answering (a command timed out): failing fast until a PING answers`))
    return this.connected()
  }

  /** The connection, ready now (undefined) or within commandTimeout (see whenReady). */
  private connected(): Promise<void> | undefined {
    return this.redis.status === 'ready' ? undefined : whenReady(this.redis, this.commandTimeout)
  }

  /** See `silent`: PING in the background, every commandTimeout, until Redis answers or the driver closes. */
  private goSilent(): void {
    if (this.silent || this.closed) return
    this.silent = true
    const ping = () => {
      this.probe = undefined
      if (this.closed) return
      this.watchdogPing().then(
        () => {
          this.silent = false
          this.recover()
        },
        () => {
          if (!this.closed) this.probe = setTimeout(ping, this.commandTimeout)
          ;(this.probe as { unref?: () => void } | undefined)?.unref?.()
        },
      )
    }
    ping()
  }

  private watchdogPing(): Promise<unknown> {
    return (this.connected() ?? Promise.resolve()).then(() => this.watchdog.guard(this.redis.ping()))
  }

  /** A stored entry, or undefined for none; one that cannot be read is reported and read as a miss. */
  private decode(key: string, text: string | null): L2Entry | undefined {
    // A tombstone: the key was deleted (see DELETE_SCRIPT).
    if (text === null || text.startsWith('d1|')) return undefined
    return readStored(key, text, undefined, this.serializer, this.rejected)
  }

  /** A Redis error reply refuses the command itself (wrong type, a script error), except the transient ones. */
  isPermanent(error: unknown): boolean {
    return error instanceof Error && error.name === 'ReplyError' && !TRANSIENT_REPLY.test(error.message)
  }

  encode(entry: L2Entry): string {
    return encodeEntry(entry, this.serializer)
  }

  /**
   * One key. Reads issued in the same tick (concurrent getOrSet misses) are coalesced into one MGET per slot
   * group: one write and one round trip instead of one each. A lone read waits one microtask, nothing more.
   */
  get(key: string): Promise<L2Entry | undefined> {
    return this.reads.get(key)
  }

  private readonly reads = new CoalescedReads(async (key) => {
    const ready = this.ready()
    if (ready) await ready
    return this.decode(key, await this.watchdog.guard(this.redis.get(this.key(key))))
  }, (keys) => this.getMany(keys))

  /**
   * Groups key positions by hash slot: a cluster refuses a multi-key command across slots, so a batch becomes one
   * command per slot group (all sent at once). On a single server it is one group.
   */
  private bySlot(keys: readonly string[]): number[][] {
    if (!(this.redis instanceof Cluster)) return [keys.map((_, i) => i)]
    return groupBySlot(keys.map((k) => this.keyPrefix + this.key(k)))
  }

  /** Redis keys as ioredis takes them (without its keyPrefix), grouped by slot. */
  private bySlotRaw(keys: readonly string[]): string[][] {
    return groupBySlot(keys.map((k) => this.keyPrefix + k)).map((group) => group.map((i) => keys[i]!))
  }

  /** The ioredis keyPrefix, which ioredis adds to every key it sends (a cluster's own option or its nodes'). */
  private get keyPrefix(): string {
    const r = this.redis
    const prefix = r instanceof Cluster ? (r.options.keyPrefix ?? r.options.redisOptions?.keyPrefix) : r.options.keyPrefix
    return prefix ?? ''
  }

  async getMany(keys: readonly string[]): Promise<(L2Entry | undefined)[]> {
    if (keys.length === 0) return []
    await this.ready()
    const out = new Array<L2Entry | undefined>(keys.length)
    await Promise.all(
      this.bySlot(keys).map(async (group) => {
        const texts = await this.watchdog.guard(this.redis.mget(...group.map((i) => this.key(keys[i]!))))
        group.forEach((i, j) => (out[i] = this.decode(keys[i]!, texts[j] ?? null)))
      }),
    )
    return out
  }

  /** Runs a script by its SHA1; a server that does not know it yet (NOSCRIPT: new, restarted, flushed) gets the text. */
  private async run(script: Script, keys: number, ...args: Array<string | number>): Promise<unknown> {
    try {
      return await this.redis.evalsha(script.sha, keys, ...args)
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return this.redis.eval(script.lua, keys, ...args)
      throw error
    }
  }

  /** The conditional SET of a slot group of entries (SET_SCRIPT): per item, true when written. */
  private async setGroup(items: ReadonlyArray<{ key: string; payload: string; ttlMs: number }>): Promise<boolean[]> {
    const args: string[] = []
    for (const item of items) args.push(item.payload, item.ttlMs === Infinity ? '' : String(Math.max(1, Math.ceil(item.ttlMs))))
    args.push(String(REMOTE_TIE_MS))
    const done = (await this.watchdog.guard(this.run(SCRIPTS.set, items.length, ...items.map((i) => this.key(i.key)), ...args))) as number[]
    return done.map((n) => n === 1)
  }

  async set(key: string, payload: string, ttlMs: number): Promise<boolean> {
    await this.ready()
    return (await this.setGroup([{ key, payload, ttlMs }]))[0]!
  }

  async setMany(items: ReadonlyArray<{ key: string; payload: string; ttlMs: number }>): Promise<boolean[]> {
    if (items.length === 0) return []
    await this.ready()
    const out = new Array<boolean>(items.length).fill(false)
    await Promise.all(
      this.bySlot(items.map((item) => item.key)).map(async (group) => {
        // A key given twice keeps its last item (the script writes them in order).
        const written = await this.setGroup(group.map((i) => items[i]!))
        group.forEach((i, j) => (out[i] = written[j]!))
      }),
    )
    return out
  }

  async delete(key: string, stamp = Date.now()): Promise<boolean> {
    return (await this.deleteMany([key], stamp)) > 0
  }

  /** Deletes as tombstones; resolves how many keys held a live entry. */
  async deleteMany(keys: readonly string[], stamp = Date.now()): Promise<number> {
    if (keys.length === 0) return 0
    await this.ready()
    const unique = [...new Set(keys)]
    const counts = await Promise.all(
      this.bySlot(unique).map((group) =>
        this.watchdog.guard(this.run(SCRIPTS.delete, group.length, ...group.map((i) => this.key(unique[i]!)), String(stamp), String(TOMBSTONE_MS), String(REMOTE_TIE_MS))),
      ),
    )
    return (counts as number[]).reduce((a, b) => a + b, 0)
  }

  async expire(key: string, now: number): Promise<boolean> {
    await this.ready()
    return (await this.watchdog.guard(this.run(SCRIPTS.expire, 1, this.key(key), String(Math.floor(now))))) === 1
  }

  async clear(path: string): Promise<void> {
    await this.ready()
    const redis = this.redis
    const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis]
    // SCAN sees the keys as stored, ioredis keyPrefix included; UNLINK through ioredis adds it again.
    const keyPrefix = this.keyPrefix
    const match = `${globEscape(`${keyPrefix}${this.prefix}:${path}`)}*`
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, found] = await this.watchdog.guard(node.scan(cursor, 'MATCH', match, 'COUNT', 1000))
        cursor = next
        const keys = found.map((k) => k.slice(keyPrefix.length))
        // On a cluster the keys of one page sit in many slots: unlink them by slot group through the cluster.
        if (redis instanceof Cluster) await Promise.all(this.bySlotRaw(keys).map((group) => this.watchdog.guard(redis.unlink(...group))))
        else if (keys.length > 0) await this.watchdog.guard(redis.unlink(...keys))
      } while (cursor !== '0')
    }
    // Two keys, perhaps in two slots of a cluster: two commands.
    if (path === '') await this.watchdog.guard(Promise.all([this.redis.unlink(this.tagKeys.delete), this.redis.unlink(this.tagKeys.expire)]))
  }

  private prunedAt = 0

  async invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp: number): Promise<void> {
    if (tags.length === 0) return
    await this.ready()
    const fields: string[] = []
    for (const tag of tags) fields.push(tag, String(stamp))
    await this.watchdog.guard(this.redis.hset(how === 'delete' ? this.tagKeys.delete : this.tagKeys.expire, ...fields))
    // At most a few times per retention window, on the write path that makes the hashes grow.
    const now = Date.now()
    if (now - this.prunedAt >= Math.min(this.tagRetentionMs / 4, 60_000)) {
      this.prunedAt = now
      await this.pruneTagStamps(now)
    }
  }

  /** Drops the tag stamps older than the retention window from both hashes; returns how many. */
  async pruneTagStamps(now: number): Promise<number> {
    await this.ready()
    const horizon = String(Math.floor(now - this.tagRetentionMs))
    const counts = await this.watchdog.guard(
      Promise.all([this.run(SCRIPTS.prune, 1, this.tagKeys.delete, horizon), this.run(SCRIPTS.prune, 1, this.tagKeys.expire, horizon)]),
    )
    return (counts as number[]).reduce((a, b) => a + b, 0)
  }

  async tagStamps(tags: readonly string[]): Promise<Array<{ deleted: number; expired: number }>> {
    if (tags.length === 0) return []
    await this.ready()
    const [deleted, expired] = await this.watchdog.guard(Promise.all([this.redis.hmget(this.tagKeys.delete, ...tags), this.redis.hmget(this.tagKeys.expire, ...tags)]))
    return tags.map((_, i) => ({ deleted: Number(deleted[i] ?? -Infinity), expired: Number(expired[i] ?? -Infinity) }))
  }

  readonly locks = {
    /** Takes the lock for `ttlMs` with an owner token; false when another owner holds it. */
    acquire: async (key: string, token: string, ttlMs: number): Promise<boolean> => {
      await this.ready()
      return (await this.watchdog.guard(this.redis.set(this.lockKey(key), token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))) === 'OK'
    },
    /** Lets the lock go if `token` owns it. */
    release: async (key: string, token: string): Promise<void> => {
      await this.ready()
      await this.watchdog.guard(this.run(SCRIPTS.release, 1, this.lockKey(key), token))
    },
    /** True when someone holds the lock. */
    held: async (key: string): Promise<boolean> => {
      await this.ready()
      return (await this.watchdog.guard(this.redis.exists(this.lockKey(key)))) === 1
    },
  }

  private lockKey(key: string): string {
    return `${this.prefix}#lock:${key}`
  }

  /** Closes the connection it made (one handed in stays open). */
  async disconnect(): Promise<void> {
    this.closed = true
    if (this.probe) clearTimeout(this.probe)
    this.watchdog.stop()
    if (!this.owned) return
    try {
      await this.redis.quit()
    } catch {
      this.redis.disconnect()
    }
  }
}

/** Makes the ioredis connection for a driver or bus: fail fast, never queue commands while Redis is away. */
export function connect(connection: RedisConnection, logger: Logger): { redis: Redis | Cluster; owned: boolean } {
  if (connection instanceof Redis || connection instanceof Cluster) return { redis: connection, owned: false }
  // The command timeout is our Watchdog's, not ioredis' commandTimeout (a timer per command).
  const failFast: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Reconnect soon after Redis is back: the retry queue and resubscription wait on it.
    retryStrategy: (times) => Math.min(50 * times, 500),
  }
  const redis = typeof connection === 'string' ? new Redis(connection, failFast) : new Redis({ ...connection, ...failFast })
  // Without a listener ioredis would throw connection errors as unhandled 'error' events.
  redis.on('error', (error: Error) => logger.debug({ err: error, tier: 'l2' }, 'redis connection error'))
  return { redis, owned: true }
}

/** The L2 tier on Redis (or a Redis Cluster instance), for `new RustoCache({ l2: redisDriver({ connection }) })`. */
export function redisDriver(options: RedisDriverOptions): L2DriverFactory {
  if (typeof options !== 'object' || options === null || options.connection === undefined) throw new InvalidOptionError('redisDriver needs { connection }')
  refuseUnknown(options, ['connection', 'commandTimeout', 'serializer', 'tagRetention'], 'redisDriver')
  const commandTimeout = options.commandTimeout ?? 500
  const tagRetention = toMs(options.tagRetention ?? '7d', 'tagRetention')
  return {
    kind: 'redis',
    create: ({ prefix, logger, rejected }) => {
      const { redis, owned } = connect(options.connection, logger)
      return new RedisDriver(redis, owned, prefix, commandTimeout, options.serializer, rejected, tagRetention)
    },
  }
}
