// rustocache/file: an L2 on the local file system (BentoCache's file driver), for a single machine's processes
// sharing a cache without a server: workers of one host, a CLI run after run. One file per key under
// `<directory>/<prefix>/`, written to a temporary file and renamed (atomic on POSIX, so a reader never sees half
// a file and two writers leave one whole entry); tag stamps in `<directory>/<prefix>#tags/`. Node-only.
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidOptionError, shown } from '../errors.js'
import { refuseUnknown } from '../known-options.js'
import { encodeEntry, nextTagRecord, readStored, readTagRecord, restamp } from '../l2/envelope.js'
import { jsonSerializer, type L2Driver, type L2DriverContext, type L2DriverFactory, type L2Entry, type Serializer } from '../l2/types.js'
import { toMs, type Duration } from '../ttl.js'
import { lastPerKey } from '../l2/batch.js'

/** Options of fileDriver(): the directory, the serializer, pruning and tag retention. */
export interface FileDriverOptions {
  /** The directory the cache's files live in (made if missing); caches in one directory are apart by prefix. */
  directory: string
  /** @default JSON */
  serializer?: Serializer
  /** How often expired files are deleted (null: never; reads skip them anyway). @default '1m' */
  pruneInterval?: Duration | null
  /** How long a tag invalidation is kept. @default '7d' */
  tagRetention?: Duration
}

/** File-system errors the same call meets again: no permission, a read-only disk, a name the system refuses. */
const PERMANENT = new Set(['EACCES', 'EPERM', 'EROFS', 'ENAMETOOLONG', 'EISDIR', 'ENOTDIR'])

/** Names up to this long are the key itself (base64url); longer keys are named by their SHA-256. */
const LONGEST_NAME = 200

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url')

/** A stored file: `<physical expiry ms or inf>\n<key>\n<entry text>`. */
function parse(text: string): { until: number; key: string; payload: string } | undefined {
  const a = text.indexOf('\n')
  const b = a < 0 ? -1 : text.indexOf('\n', a + 1)
  if (b < 0) return undefined
  const head = text.slice(0, a)
  const until = head === 'inf' ? Infinity : Number(head)
  return Number.isNaN(until) ? undefined : { until, key: text.slice(a + 1, b), payload: text.slice(b + 1) }
}

const missing = (error: unknown) => (error as { code?: string } | null)?.code === 'ENOENT'

class FileDriver implements L2Driver {
  /** No conditional writes: a write the cache gave up on may still land (the retry queue re-applies the key). */
  readonly lateWrites = 'may-land'
  readonly target: string
  private readonly entries: string
  private readonly tags: string
  private ready: Promise<void> | undefined
  private readonly pruneTimer: ReturnType<typeof setInterval> | undefined

  constructor(
    directory: string,
    prefix: string,
    private readonly serializer: Serializer,
    private readonly rejected: L2DriverContext['rejected'],
    readonly tagRetentionMs: number,
    pruneMs: number,
    logger: L2DriverContext['logger'],
  ) {
    this.target = `files in ${directory}`
    this.entries = join(directory, b64(prefix))
    this.tags = join(directory, `${b64(prefix)}#tags`)
    if (pruneMs < Infinity) {
      this.pruneTimer = setInterval(() => {
        this.prune().catch((error: unknown) => logger.debug({ err: error, tier: 'l2' }, 'pruning the file L2 failed (reads skip expired entries)'))
      }, pruneMs)
      this.pruneTimer.unref()
    }
  }

  private dirs(): Promise<void> {
    return (this.ready ??= Promise.all([mkdir(this.entries, { recursive: true }), mkdir(this.tags, { recursive: true })]).then(
      () => undefined,
      (error: unknown) => {
        this.ready = undefined
        throw error
      },
    ))
  }

  private fileOf(key: string): string {
    const name = b64(key)
    return join(this.entries, name.length <= LONGEST_NAME ? name : `${createHash('sha256').update(key).digest('hex')}.h`)
  }

  private tagFile(tag: string): string {
    return join(this.tags, createHash('sha256').update(tag).digest('hex'))
  }

  /** Writes whole or not at all: a temporary file renamed over the old one. */
  private async put(file: string, text: string): Promise<void> {
    await this.dirs()
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    try {
      await writeFile(temporary, text)
      await rename(temporary, file)
    } catch (error) {
      await unlink(temporary).catch(() => undefined)
      throw error
    }
  }

  private async read(file: string): Promise<string | undefined> {
    try {
      return await readFile(file, 'utf8')
    } catch (error) {
      if (missing(error)) return undefined
      throw error
    }
  }

  /** The stored entry of `key` while physically alive (a hashed name holding another key is a miss). */
  private async live(key: string, now = Date.now()): Promise<{ until: number; payload: string } | undefined> {
    const text = await this.read(this.fileOf(key))
    if (text === undefined) return undefined
    const stored = parse(text)
    if (!stored) {
      this.rejected(key, 'not a file of this driver')
      return undefined
    }
    return stored.key === key && stored.until > now ? stored : undefined
  }

  isPermanent(error: unknown): boolean {
    return PERMANENT.has((error as { code?: string } | null)?.code ?? '')
  }

  encode(entry: L2Entry): string {
    return encodeEntry(entry, this.serializer)
  }

  async get(key: string): Promise<L2Entry | undefined> {
    const stored = await this.live(key)
    return stored && readStored(key, stored.payload, undefined, this.serializer, this.rejected)
  }

  async getMany(keys: readonly string[]): Promise<(L2Entry | undefined)[]> {
    return Promise.all(keys.map((key) => this.get(key)))
  }

  async set(key: string, payload: string, ttlMs: number): Promise<void> {
    const until = ttlMs === Infinity ? 'inf' : String(Date.now() + Math.max(1, Math.ceil(ttlMs)))
    await this.put(this.fileOf(key), `${until}\n${key}\n${payload}`)
  }

  async setMany(items: ReadonlyArray<{ key: string; payload: string; ttlMs: number }>): Promise<void> {
    await Promise.all(lastPerKey(items).map((item) => this.set(item.key, item.payload, item.ttlMs)))
  }

  async delete(key: string): Promise<boolean> {
    const alive = (await this.live(key)) !== undefined
    await unlink(this.fileOf(key)).catch((error: unknown) => {
      if (!missing(error)) throw error
    })
    return alive
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    const gone = await Promise.all([...new Set(keys)].map((key) => this.delete(key)))
    return gone.filter(Boolean).length
  }

  async expire(key: string, now: number): Promise<boolean> {
    const stored = await this.live(key)
    if (!stored) return false
    const rewritten = restamp(stored.payload, now)
    if (rewritten === undefined) return false
    if (rewritten !== 'stale') await this.put(this.fileOf(key), `${stored.until === Infinity ? 'inf' : stored.until}\n${key}\n${rewritten}`)
    return true
  }

  /** Every entry file with its key: names carry it, hashed names are read. */
  private async files(): Promise<Array<{ file: string; key: string | undefined }>> {
    let names: string[]
    try {
      names = await readdir(this.entries)
    } catch (error) {
      if (missing(error)) return []
      throw error
    }
    return Promise.all(
      names
        .filter((name) => !name.endsWith('.tmp'))
        .map(async (name) => {
          const file = join(this.entries, name)
          if (!name.endsWith('.h')) return { file, key: Buffer.from(name, 'base64url').toString('utf8') }
          const text = await this.read(file)
          return { file, key: text === undefined ? undefined : parse(text)?.key }
        }),
    )
  }

  async clear(path: string): Promise<void> {
    const doomed = (await this.files()).filter((f) => f.key !== undefined && f.key.startsWith(path))
    await Promise.all(doomed.map((f) => rm(f.file, { force: true })))
    if (path === '') await rm(this.tags, { recursive: true, force: true }).then(() => (this.ready = undefined))
  }

  async invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp: number): Promise<void> {
    if (tags.length === 0) return
    const current = await this.tagStamps(tags)
    const until = this.tagRetentionMs === Infinity ? 'inf' : String(Date.now() + this.tagRetentionMs)
    await Promise.all(tags.map((tag, i) => this.put(this.tagFile(tag), `${until}\n${tag}\n${nextTagRecord(current[i]!, how, stamp)}`)))
  }

  async tagStamps(tags: readonly string[]): Promise<Array<{ deleted: number; expired: number }>> {
    const now = Date.now()
    return Promise.all(
      tags.map(async (tag) => {
        const text = await this.read(this.tagFile(tag))
        const stored = text === undefined ? undefined : parse(text)
        return readTagRecord(stored && stored.key === tag && stored.until > now ? stored.payload : undefined)
      }),
    )
  }

  /** Deletes expired entry and tag files (and temporary files a crash left); returns how many entries. */
  async prune(): Promise<number> {
    const now = Date.now()
    let pruned = 0
    for (const dir of [this.entries, this.tags]) {
      let names: string[]
      try {
        names = await readdir(dir)
      } catch (error) {
        if (missing(error)) continue
        throw error
      }
      for (const name of names) {
        const file = join(dir, name)
        const text = await this.read(file)
        const stored = text === undefined ? undefined : parse(text)
        if (name.endsWith('.tmp') || (stored !== undefined && stored.until <= now)) {
          await rm(file, { force: true })
          if (dir === this.entries && !name.endsWith('.tmp')) pruned++
        }
      }
    }
    return pruned
  }

  async disconnect(): Promise<void> {
    clearInterval(this.pruneTimer)
  }
}

/**
 * The L2 on the local file system: `new RustoCache({ l2: fileDriver({ directory: '/var/cache/app' }) })`. For
 * processes of one machine; no conditional writes (lateWrites 'may-land') and no distributed locks.
 */
export function fileDriver(options: FileDriverOptions): L2DriverFactory {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('fileDriver needs { directory }')
  refuseUnknown(options, ['directory', 'serializer', 'pruneInterval', 'tagRetention'], 'fileDriver')
  if (typeof options.directory !== 'string' || options.directory === '') throw new InvalidOptionError(`fileDriver: directory must be a non-empty path, got ${shown(options.directory)}`)
  const pruneMs = options.pruneInterval === null ? Infinity : toMs(options.pruneInterval ?? '1m', 'pruneInterval')
  const tagRetention = toMs(options.tagRetention ?? '7d', 'tagRetention')
  const directory = options.directory
  return {
    kind: 'file',
    create: ({ prefix, rejected, logger }) => new FileDriver(directory, prefix, options.serializer ?? jsonSerializer, rejected, tagRetention, pruneMs, logger),
  }
}
