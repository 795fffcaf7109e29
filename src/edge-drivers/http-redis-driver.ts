// The L2 on Redis over HTTP, in the REST protocol of Upstash Redis (and Vercel KV, which is Upstash): a command
// is a JSON array POSTed to the base URL, a batch an array of them POSTed to /pipeline, each answered
// { result } or { error }. It needs only fetch, so it runs in Workers, Vercel Edge, Deno and browsers. Same key
// layout, entry format, Lua scripts, tag stamps and retention as the ioredis driver (rustocache/redis): a Node
// instance and an edge instance with the same prefix share one L2.
import { REMOTE_TIE_MS } from '../cache/tags.js'
import { InvalidOptionError, shown } from '../errors.js'
import { CoalescedReads } from '../l2/coalesce.js'
import { encodeEntry, readStored } from '../l2/envelope.js'
import { jsonSerializer, type L2Driver, type L2DriverContext, type L2DriverFactory, type L2Entry, type Serializer } from '../l2/types.js'
import { DELETE_SCRIPT, EXPIRE_SCRIPT, PRUNE_SCRIPT, RELEASE_SCRIPT, SET_SCRIPT, TOMBSTONE_MS, TRANSIENT_REPLY } from '../redis/scripts.js'
import { toMs, type Duration } from '../ttl.js'
import { EDGE_L1_TTL } from './edge-l1.js'
import { refuseUnknown } from '../known-options.js'

/**
 * Options of httpRedisDriver(): the REST URL and token, the request timeout, the serializer and tag retention.
 */
export interface HttpRedisDriverOptions {
  /** The REST URL (`UPSTASH_REDIS_REST_URL`, `KV_REST_API_URL` on Vercel). */
  url: string
  /** The bearer token (`UPSTASH_REDIS_REST_TOKEN`, `KV_REST_API_TOKEN`). Never logged. */
  token: string
  /**
   * Longest a request may take; then it is aborted and the cache answers without L2 (a write goes to the retry
   * queue). Longer than the ioredis driver's: a request crosses the internet, not a LAN.
   * @default 1000
   */
  commandTimeout?: number
  /** @default JSON */
  serializer?: Serializer
  /** As the ioredis driver's tagRetention (the same stamps, so give both the same). @default '7d' */
  tagRetention?: Duration
  /** The fetch to use (a test's, a proxy's). @default globalThis.fetch */
  fetch?: typeof fetch
}

/** A failed request: an error reply (`reply`), or an HTTP status with no reply, or none at all (network, timeout). */
export class HttpRedisError extends Error {
  override name = 'HttpRedisError'
  constructor(
    message: string,
    /** The HTTP status, 0 when no response came (a network error, the timeout). */
    readonly status: number,
    /** Redis refused the command itself (an error reply such as WRONGTYPE or NOSCRIPT). */
    readonly reply: boolean,
  ) {
    super(message)
  }

  /** The same request can never pass: a refused command, a bad or unauthorized request, a body too large. */
  get permanent(): boolean {
    if (this.reply) return !TRANSIENT_REPLY.test(this.message)
    return this.status === 400 || this.status === 401 || this.status === 403 || this.status === 413
  }
}

type Command = ReadonlyArray<string | number>
interface Reply {
  result?: unknown
  error?: string
}

/** A Lua script run by its SHA1 (EVALSHA), its text sent only when the server does not have it (NOSCRIPT). */
class Script {
  private sha: Promise<string> | undefined
  constructor(readonly lua: string) {}

  digest(): Promise<string> {
    return (this.sha ??= crypto.subtle.digest('SHA-1', new TextEncoder().encode(this.lua)).then((buffer) =>
      [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join(''),
    ))
  }
}

const SCRIPTS = {
  set: new Script(SET_SCRIPT),
  delete: new Script(DELETE_SCRIPT),
  expire: new Script(EXPIRE_SCRIPT),
  prune: new Script(PRUNE_SCRIPT),
  release: new Script(RELEASE_SCRIPT),
}

export class HttpRedisDriver implements L2Driver {
  /** Conditional writes and tombstones, the ioredis driver's scripts. */
  readonly lateWrites = 'refused'
  readonly target: string
  private readonly serializer: Serializer
  private readonly tagKeys: { delete: string; expire: string }
  private readonly headers: Record<string, string>
  private readonly base: string
  private closed = false
  private readonly aborts = new Set<AbortController>()

  constructor(
    options: HttpRedisDriverOptions,
    private readonly prefix: string,
    private readonly rejected: L2DriverContext['rejected'],
    private readonly timeoutMs: number,
    readonly tagRetentionMs: number,
    private readonly fetcher: typeof fetch,
  ) {
    this.base = options.url.replace(/\/+$/, '')
    this.target = `Redis over HTTP at ${new URL(this.base).host}`
    this.headers = { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' }
    this.serializer = options.serializer ?? jsonSerializer
    this.tagKeys = { delete: `${prefix}#tags:deleted`, expire: `${prefix}#tags:expired` }
  }

  private key(key: string): string {
    return `${this.prefix}:${key}`
  }

  /** POSTs `body` to `path`; the parsed JSON answer. Every failure is an HttpRedisError. */
  private async post(path: string, body: unknown): Promise<unknown> {
    if (this.closed) throw new HttpRedisError('closed by disconnect()', 0, false)
    const abort = new AbortController()
    this.aborts.add(abort)
    const timer = setTimeout(() => abort.abort(), this.timeoutMs)
    try {
      const response = await this.fetcher(this.base + path, { method: 'POST', headers: this.headers, body: JSON.stringify(body), signal: abort.signal })
      const text = await response.text()
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        throw new HttpRedisError(`${this.target} answered HTTP ${response.status} with no JSON: ${shown(text)}`, response.status, false)
      }
      const error = (parsed as Reply | null)?.error
      if (typeof error === 'string') throw new HttpRedisError(error, response.status, response.status === 400)
      if (!response.ok) throw new HttpRedisError(`${this.target} answered HTTP ${response.status}`, response.status, false)
      return parsed
    } catch (error) {
      if (error instanceof HttpRedisError) throw error
      const why = abort.signal.aborted ? (this.closed ? 'closed by disconnect()' : `did not answer in time (${this.timeoutMs} ms)`) : shown(error)
      throw new HttpRedisError(`${this.target}: ${why}`, 0, false)
    } finally {
      clearTimeout(timer)
      this.aborts.delete(abort)
    }
  }

  /** One command's result. */
  private async call(command: Command): Promise<unknown> {
    return ((await this.post('', command)) as Reply).result
  }

  /** Several commands in one request, their results in order; any error reply fails the whole call. */
  private async pipeline(commands: Command[]): Promise<unknown[]> {
    const replies = await this.post('/pipeline', commands)
    if (!Array.isArray(replies) || replies.length !== commands.length) throw new HttpRedisError(`${this.target} answered a pipeline of ${commands.length} with ${shown(replies)}`, 200, false)
    return (replies as Reply[]).map((reply) => {
      if (typeof reply?.error === 'string') throw new HttpRedisError(reply.error, 200, true)
      return reply?.result
    })
  }

  /** EVALSHA, then EVAL with the text for a server that does not know the script (new, restarted, flushed). */
  private async run(script: Script, keys: readonly string[], args: ReadonlyArray<string>): Promise<unknown> {
    const sha = await script.digest()
    try {
      return await this.call(['EVALSHA', sha, keys.length, ...keys, ...args])
    } catch (error) {
      if (!(error instanceof HttpRedisError && error.message.startsWith('NOSCRIPT'))) throw error
      return this.call(['EVAL', script.lua, keys.length, ...keys, ...args])
    }
  }

  isPermanent(error: unknown): boolean {
    return error instanceof HttpRedisError && error.permanent
  }

  encode(entry: L2Entry): string {
    return encodeEntry(entry, this.serializer)
  }

  private decode(key: string, text: unknown): L2Entry | undefined {
    if (typeof text !== 'string' || text.startsWith('d1|')) return undefined
    return readStored(key, text, undefined, this.serializer, this.rejected)
  }

  /** Reads in the same tick go out as one MGET. */
  get(key: string): Promise<L2Entry | undefined> {
    return this.reads.get(key)
  }

  private readonly reads = new CoalescedReads(async (key) => this.decode(key, await this.call(['GET', this.key(key)])), (keys) => this.getMany(keys))

  async getMany(keys: readonly string[]): Promise<(L2Entry | undefined)[]> {
    if (keys.length === 0) return []
    const texts = (await this.call(['MGET', ...keys.map((k) => this.key(k))])) as unknown[]
    return keys.map((key, i) => this.decode(key, texts?.[i]))
  }

  async set(key: string, payload: string, ttlMs: number): Promise<boolean> {
    return (await this.setMany([{ key, payload, ttlMs }]))[0]!
  }

  /** One request for the batch (the set script writes them in order, conditionally). */
  async setMany(items: ReadonlyArray<{ key: string; payload: string; ttlMs: number }>): Promise<boolean[]> {
    if (items.length === 0) return []
    const args: string[] = []
    for (const item of items) args.push(item.payload, item.ttlMs === Infinity ? '' : String(Math.max(1, Math.ceil(item.ttlMs))))
    args.push(String(REMOTE_TIE_MS))
    const done = (await this.run(SCRIPTS.set, items.map((i) => this.key(i.key)), args)) as number[]
    return done.map((n) => n === 1)
  }

  async delete(key: string, stamp = Date.now()): Promise<boolean> {
    return (await this.deleteMany([key], stamp)) > 0
  }

  async deleteMany(keys: readonly string[], stamp = Date.now()): Promise<number> {
    if (keys.length === 0) return 0
    const unique = [...new Set(keys)].map((k) => this.key(k))
    return (await this.run(SCRIPTS.delete, unique, [String(stamp), String(TOMBSTONE_MS), String(REMOTE_TIE_MS)])) as number
  }

  async expire(key: string, now: number): Promise<boolean> {
    return (await this.run(SCRIPTS.expire, [this.key(key)], [String(Math.floor(now))])) === 1
  }

  async clear(path: string): Promise<void> {
    const match = `${`${this.prefix}:${path}`.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`
    let cursor = '0'
    do {
      const [next, found] = (await this.call(['SCAN', cursor, 'MATCH', match, 'COUNT', 1000])) as [string, string[]]
      cursor = String(next)
      if (found.length > 0) await this.call(['UNLINK', ...found])
    } while (cursor !== '0')
    if (path === '') await this.call(['UNLINK', this.tagKeys.delete, this.tagKeys.expire])
  }

  private prunedAt = 0

  async invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp: number): Promise<void> {
    if (tags.length === 0) return
    const fields: string[] = []
    for (const tag of tags) fields.push(tag, String(stamp))
    await this.call(['HSET', how === 'delete' ? this.tagKeys.delete : this.tagKeys.expire, ...fields])
    const now = Date.now()
    if (now - this.prunedAt >= Math.min(this.tagRetentionMs / 4, 60_000)) {
      this.prunedAt = now
      await this.pruneTagStamps(now)
    }
  }

  async pruneTagStamps(now: number): Promise<number> {
    const horizon = String(Math.floor(now - this.tagRetentionMs))
    const counts = await Promise.all([this.run(SCRIPTS.prune, [this.tagKeys.delete], [horizon]), this.run(SCRIPTS.prune, [this.tagKeys.expire], [horizon])])
    return (counts as number[]).reduce((a, b) => a + b, 0)
  }

  /** Both hashes in one request. */
  async tagStamps(tags: readonly string[]): Promise<Array<{ deleted: number; expired: number }>> {
    if (tags.length === 0) return []
    const [deleted, expired] = (await this.pipeline([
      ['HMGET', this.tagKeys.delete, ...tags],
      ['HMGET', this.tagKeys.expire, ...tags],
    ])) as Array<Array<string | null>>
    return tags.map((_, i) => ({ deleted: Number(deleted?.[i] ?? -Infinity), expired: Number(expired?.[i] ?? -Infinity) }))
  }

  readonly locks = {
    acquire: async (key: string, token: string, ttlMs: number): Promise<boolean> =>
      (await this.call(['SET', this.lockKey(key), token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'])) === 'OK',
    release: async (key: string, token: string): Promise<void> => void (await this.run(SCRIPTS.release, [this.lockKey(key)], [token])),
    held: async (key: string): Promise<boolean> => (await this.call(['EXISTS', this.lockKey(key)])) === 1,
  }

  private lockKey(key: string): string {
    return `${this.prefix}#lock:${key}`
  }

  /** Requests still waiting are aborted; later ones fail at once. */
  async disconnect(): Promise<void> {
    this.closed = true
    for (const abort of this.aborts) abort.abort()
  }
}

/**
 * The L2 over Upstash's REST protocol, for `new RustoCache({ l2: httpRedisDriver({ url, token }) })` at the
 * edge. There is no bus at the edge: without one, L1 keeps an entry at most 5 s (EDGE_L1_TTL; `l1: { ttl }`
 * changes it), so a change made elsewhere is seen within that.
 */
export function httpRedisDriver(options: HttpRedisDriverOptions): L2DriverFactory {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('httpRedisDriver needs { url, token }')
  refuseUnknown(options, ['url', 'token', 'commandTimeout', 'serializer', 'tagRetention', 'fetch'], 'httpRedisDriver')
  const { url, token } = options
  if (typeof url !== 'string' || !URL.canParse?.(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new InvalidOptionError(`httpRedisDriver: url must be an http(s) URL such as https://<db>.upstash.io, got ${shown(url)}`)
  }
  if (typeof token !== 'string' || token === '') throw new InvalidOptionError('httpRedisDriver: token must be a non-empty string (UPSTASH_REDIS_REST_TOKEN)')
  const timeout = options.commandTimeout ?? 1000
  if (!(Number.isFinite(timeout) && timeout > 0)) throw new InvalidOptionError(`httpRedisDriver: commandTimeout must be a number of ms > 0, got ${shown(timeout)}`)
  const fetcher = options.fetch ?? globalThis.fetch
  if (typeof fetcher !== 'function') throw new InvalidOptionError('httpRedisDriver needs fetch: this runtime has none, pass { fetch }')
  const tagRetention = toMs(options.tagRetention ?? '7d', 'tagRetention')
  return {
    kind: 'http-redis',
    l1TtlWithoutBus: EDGE_L1_TTL,
    create: ({ prefix, rejected }) => new HttpRedisDriver(options, prefix, rejected, timeout, tagRetention, (input, init) => fetcher(input, init)),
  }
}
