// The L2 contract: what the cache asks of a second tier. Runtime-neutral (no Node imports): drivers for Node
// live behind their own entries (rustocache/redis).

/** What L2 keeps per key, beside the value: when it stops being fresh, when it was written, its tags. */
export interface L2Entry {
  value: unknown
  /** Logical expiry, ms since the epoch (Infinity: never). The physical expiry is the key's TTL in L2. */
  expiresAt: number
  createdAt: number
  tags: readonly string[] | undefined
}

/** What encode() made, as set() takes it: a string, or a driver's own stored form (see L2Driver.encode). */
export type L2Payload = string | { readonly header: string; readonly value: unknown }

/** Turns values into strings for L2 and back. JSON by default; superjson keeps Dates, Maps, Sets and BigInts. */
export interface Serializer {
  /** The value as text. */
  serialize(value: unknown): string
  /** The value back from its text. */
  deserialize(text: string): unknown
}

/** The default serializer: JSON.stringify and JSON.parse. */
export const jsonSerializer: Serializer = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (text) => JSON.parse(text),
}

/**
 * A second tier. Keys are the cache's full keys (namespace path included); the driver adds its own prefix and
 * keeps its own records (tag stamps, locks) where no user key can reach them.
 */
export interface L2Driver {
  /** An entry that get/getMany found unreadable (not written by this format, or invalid) is a miss: tell `context.rejected`. */
  get(key: string): Promise<L2Entry | undefined>
  /** In key order, undefined for a miss. */
  getMany(keys: readonly string[]): Promise<(L2Entry | undefined)[]>
  /**
   * The stored form of an entry: a string for most stores; a store that keeps values as they are (IndexedDB's
   * structured clones) may return anything its set() takes. The cache calls it before it writes anything and
   * hands the result to set()/setMany() untouched, so a value the driver cannot store (a BigInt or a cycle with
   * JSON, a function) is the caller's error, not an L2 failure: it must throw then.
   */
  encode(entry: L2Entry): L2Payload
  /**
   * Stores what encode() made. `ttlMs`: how long L2 keeps it (ttl + grace); Infinity for no expiry. A driver that
   * writes conditionally (lateWrites 'refused') resolves false when it kept what it holds because that is newer
   * (a write or a delete made after this entry, by more than REMOTE_TIE_MS); others resolve nothing.
   */
  set(key: string, payload: L2Payload, ttlMs: number): Promise<void | boolean>
  /** set() for many; a conditional driver resolves, per item, whether it was written. */
  setMany(items: ReadonlyArray<{ key: string; payload: L2Payload; ttlMs: number }>): Promise<void | boolean[]>
  /**
   * Deletes a key; true when it held a live entry. `stamp`: when the cache made the delete (its stamps, ms), for a
   * conditional driver, which keeps a tombstone so that a write made before the delete and arriving after it is
   * refused.
   */
  delete(key: string, stamp?: number): Promise<boolean>
  /** delete() for many keys; resolves how many held a live entry. */
  deleteMany(keys: readonly string[], stamp?: number): Promise<number>
  /** Makes the entry stale now, keeping it until its physical expiry. */
  expire(key: string, now: number): Promise<boolean>
  /** Deletes every key starting with `path` ('' for all of this cache's keys). */
  clear(path: string): Promise<void>
  /** Records a tag invalidation ('delete' or 'expire') at `stamp`, for instances that did not hear of it. */
  invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp: number): Promise<void>
  /**
   * How long the driver keeps tag stamps (undefined: for ever). A tagged entry created longer ago than this is
   * read as a miss, since the stamps it would be judged against may be gone.
   */
  readonly tagRetentionMs?: number
  /** The stamps of the last deletion and expiry of each tag, for judging an entry read from L2. */
  tagStamps(tags: readonly string[]): Promise<Array<{ deleted: number; expired: number }>>
  /**
   * Deletes expired entries now, for stores that keep them until something does (PostgreSQL, IndexedDB; both
   * also prune every pruneInterval on their own); resolves with how many. Absent where the store expires keys
   * itself (Redis, Workers KV).
   */
  prune?(): Promise<number>
  /** Closes what the driver opened (a connection handed in by the user stays open). */
  disconnect(): Promise<void>
  /**
   * Registers a listener for the driver reaching its server again after an outage it noticed (a reconnection,
   * a probe that answered): the retry queue flushes then instead of at its next backoff.
   */
  onRecover?(listener: () => void): void
  /**
   * What becomes of a write the cache gave up on (its command timed out): 'cancelled', the server drops it (a
   * statement timeout), so it never lands after a later change; 'refused', the store writes conditionally on the
   * entry's createdAt and keeps tombstones of deletes, so a write arriving after a newer change is refused (see
   * set); 'may-land', it may still reach the store later,
   * after a newer change of the key, and stays there until this instance's retry queue re-applies the key from
   * its L1 (within a retry interval once the store answers). Undefined counts as 'may-land'. Stores that cannot
   * write conditionally (Workers KV, most Keyv stores) are 'may-land'.
   */
  readonly lateWrites?: 'cancelled' | 'refused' | 'may-land'
  /** Where the driver connects, for messages ('Redis at 127.0.0.1:6379'); never a password. */
  readonly target?: string
  /**
   * Largest entry the driver can store, in UTF-8 bytes of what encode() makes; undefined: no limit to speak of.
   * encode() refuses a larger one with E_L2_LIMIT (L2LimitError), before anything is written.
   */
  readonly maxEntryBytes?: number
  /**
   * Longest key or tag the driver can store, in UTF-8 bytes (its own prefix accounted for); undefined: no limit
   * below MAX_KEY_LENGTH. The cache refuses a longer one up front (E_INVALID_KEY, E_INVALID_OPTION for a tag),
   * so a change L2 could never take is never queued.
   */
  readonly maxKeyBytes?: number
  /**
   * Classifies a failure of one of this driver's commands: true when the same command can never succeed
   * (the server refused it: a value or key it cannot hold, a constraint), so the retry queue drops it (counted
   * in stats().busDropped, logged) instead of retrying it in front of every later change; false (or absent)
   * for what may pass later (connection lost, timeout, server busy or loading), retried with backoff.
   */
  isPermanent?(error: unknown): boolean
  /** Cross-instance locks, for `lock: { distributed: true }`: SET NX PX with an owner token. */
  readonly locks?: {
    /** Takes the lock for `ttlMs` with an owner token; false when another owner holds it. */
    acquire(key: string, token: string, ttlMs: number): Promise<boolean>
    /** Deletes the lock only if `token` still owns it. */
    release(key: string, token: string): Promise<void>
    /** True when someone holds the lock. */
    held(key: string): Promise<boolean>
  }
}

/** What a driver factory is given for one cache. */
export interface L2DriverContext {
  prefix: string
  logger: import('../logger.js').Logger
  /** Counts (stats().l2Rejected) and logs an L2 entry that was there but could not be read; the read is a miss. */
  rejected(key: string, reason: string): void
}

/** What `l2:` takes: made once per cache, with the cache's prefix. */
export interface L2DriverFactory {
  readonly kind: string
  /**
   * For stores used where no bus can run (the edge): the default l1.ttl, in ms, of a cache that has no bus, so
   * its L1 serves a value changed elsewhere for at most this long.
   */
  readonly l1TtlWithoutBus?: number
  /** Makes the driver for one cache (its prefix, logger and rejected-entry callback). */
  create(context: L2DriverContext): L2Driver
}
