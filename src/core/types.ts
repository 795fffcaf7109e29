/** Which implementation an L1 core runs on. */
export type CoreKind = 'wasm' | 'js'

/**
 * Why the core dropped an entry by itself: `evict` to stay within maxItems/maxBytes, `expire` past its deadline,
 * `rejected` (policy 'tinylfu' only) a new entry leaving the admission window that W-TinyLFU judged used less
 * often than the entry it would have displaced.
 */
export type EvictionReason = 'evict' | 'expire' | 'rejected'

/**
 * How the core chooses what to evict. `lru`: the least recently used entry. `tinylfu`: W-TinyLFU (a small LRU
 * window for new entries, a main region that admits an entry leaving the window only if its key is used more
 * often than the main region's victim, by a 4-bit count-min sketch; the window size adapts to the workload).
 */
export type EvictionPolicy = 'lru' | 'tinylfu'

/** Options every L1 core takes: its limits, eviction policy, eviction callback and hash key. */
export interface CoreOptions<V = unknown> {
  /**
   * Most entries the core holds; the least recently used goes first.
   * @default 100_000
   */
  maxItems?: number
  /**
   * Most bytes (sum of the sizes given to `set`) the core holds. Per-entry sizes are stored only when this is set.
   * @default Infinity
   */
  maxBytes?: number
  /**
   * Slots allocated up front; the core doubles them as it fills, up to maxItems.
   * @default 16
   */
  initialCapacity?: number
  /**
   * Eviction policy; see EvictionPolicy. Both cores implement both, identically.
   * @default 'tinylfu'
   */
  policy?: EvictionPolicy
  /** Told about each entry the core dropped by itself, after the call that dropped it has finished. */
  onEvict?: (key: string, value: V, reason: EvictionReason) => void
  /**
   * The key of the keyed key hash (HalfSipHash-1-3), as two 32-bit integers. By default a random one per
   * process, so that nobody can choose keys that collide in the table; pass one only to replay a run exactly
   * (W-TinyLFU's frequency sketch counts by hash, so its choices depend on it).
   */
  hashSeed?: readonly [number, number]
}

/** A lookup code: MISS, or a slot, with STALE set when the entry is past its ttl but within its grace. */
export const MISS = -1
/** Set in a lookup code when the entry is past its ttl but within its grace. */
export const STALE = 0x40000000
/** The slot in a lookup code (the bits below STALE). */
export const SLOT_MASK = 0x3fffffff
/** Longest key, in UTF-16 code units (`key.length`). */
export const MAX_KEY_LENGTH = 16_384
/**
 * Most items one core can be configured for: 2^24 (16,777,216). Keys and values sit side by side in one JS
 * array of 2 x capacity; V8 keeps an array of up to 2^25 elements in fast mode and turns a longer one into a
 * dictionary, which made every lookup several times slower. (The WASM index alone would allow 2^27 - 1.)
 */
export const MAX_ITEMS = 2 ** 24

/**
 * The L1 store: exact string keys, values kept in JS, LRU eviction, two deadlines per entry. Time is passed in
 * (`now`, ms) and never read from a clock; a `now` that is not a finite number throws E_INVALID_TIME. Both implementations behave identically, down to eviction order.
 */
export interface Core<V = unknown> {
  readonly kind: CoreKind
  readonly policy: EvictionPolicy
  /** Live entries (fresh or within grace; an expired entry counts until a call finds it). */
  readonly size: number
  /** Sum of the live entries' sizes (0 unless maxBytes is set). */
  readonly bytes: number
  /** Slots currently allocated. */
  readonly capacity: number
  readonly maxItems: number
  readonly maxBytes: number
  /** Looks a key up and marks it most recently used. Returns a lookup code; an entry found expired is dropped. */
  lookup(key: string, now: number): number
  /** Like lookup, without touching the LRU order or dropping anything. */
  peek(key: string, now: number): number
  /** The value if the entry is fresh, else undefined. */
  get(key: string, now: number): V | undefined
  /**
   * Writes an entry that is fresh for `ttl` ms (Infinity: forever) and then kept stale for `grace` ms. `size` counts
   * against maxBytes. Returns the slot, or MISS when `size` alone exceeds maxBytes (any old entry is dropped).
   */
  set(key: string, value: V, now: number, ttl?: number, grace?: number, size?: number): number
  /** Removes an entry; true when it held one. */
  delete(key: string): boolean
  /** Marks a live entry stale now; it stays readable as stale until its grace ends. */
  expire(key: string, now: number): boolean
  /** Removes every entry. */
  clear(): void
  /** Lookup codes for many keys in key order, in one crossing into the core: a new array the caller owns. */
  lookupMany(keys: readonly string[], now: number): Int32Array
  /** Fresh values for many keys in key order, undefined for a miss or a stale entry. */
  getMany(keys: readonly string[], now: number): (V | undefined)[]
  /** Writes many entries, as `set` would one after another; ttl and grace are one for all or one per key. */
  setMany(
    keys: readonly string[],
    values: readonly V[],
    now: number,
    ttl?: number | ArrayLike<number>,
    grace?: number | ArrayLike<number>,
    sizes?: ArrayLike<number>,
  ): void
  /** The key in a slot that a lookup returned. */
  keyAt(slot: number): string
  /** The value in a slot that a lookup returned. */
  valueAt(slot: number): V
  /**
   * Keys from most to least recently used. Under 'tinylfu': the window, then the protected region, then
   * probation, each most recent first (the last key is the next victim).
   */
  keys(): IterableIterator<string>
  /** Bytes of memory the core's own structures take outside the JS arrays (WASM memory or typed arrays). */
  memoryBytes(): number
}
