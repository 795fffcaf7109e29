import { InvalidKeyError, InvalidOptionError, InvalidSizeError, InvalidTimeError, InvalidTtlError, shown } from '../errors.js'
import {
  MAX_ITEMS,
  MAX_KEY_LENGTH,
  STALE,
  type Core,
  type CoreKind,
  type CoreOptions,
  type EvictionPolicy,
  type EvictionReason,
} from './types.js'
import { processSeed, type HashSeed } from './hash.js'

/** Indexed by the reason codes of assembly/table.ts. */
const REASONS: readonly EvictionReason[] = ['evict', 'expire', 'rejected']

export function checkPolicy(policy: unknown): EvictionPolicy {
  if (policy === undefined) return 'tinylfu'
  if (policy !== 'lru' && policy !== 'tinylfu') throw new InvalidOptionError(`policy must be 'lru' or 'tinylfu', got ${shown(policy)}`)
  return policy
}

function checkSeed(seed: unknown): HashSeed {
  if (seed === undefined) return processSeed()
  const word = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= -0x80000000 && x <= 0xffffffff
  if (!Array.isArray(seed) || seed.length !== 2 || !word(seed[0]) || !word(seed[1])) {
    throw new InvalidOptionError(`hashSeed must be two 32-bit integers, [k0, k1], got ${shown(seed)}`)
  }
  return [seed[0] | 0, seed[1] | 0]
}

/** The value behind a lookup code when the entry is fresh, else undefined. */
export function freshValue<V>(kv: unknown[], code: number): V | undefined {
  return code >= 0 && code < STALE ? (kv[2 * code + 1] as V) : undefined
}
const MAX_SIZE = 0xffffffff

export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') {
    throw new InvalidKeyError(`cache keys must be strings, got ${key === null ? 'null' : typeof key}`)
  }
  if (key.length > MAX_KEY_LENGTH) {
    throw new InvalidKeyError(`cache key is ${key.length} code units long; the limit is ${MAX_KEY_LENGTH}`)
  }
}

export function checkKeys(keys: readonly unknown[]): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) throw new InvalidKeyError('keys must be an array of strings')
  for (let i = 0; i < keys.length; i++) checkKey(keys[i])
}

/** A time the core can count from: NaN or Infinity would become its epoch and nothing would expire again. */
export function checkNow(now: unknown): asserts now is number {
  // now - now is 0 only for finite numbers; typeof first, so '5' does not pass.
  if (typeof now !== 'number' || now - now !== 0) throw new InvalidTimeError(now)
}

function checkDuration(ms: unknown, name: string): asserts ms is number {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw new InvalidTtlError(`${name} must be a number of ms >= 0 (Infinity for none), got ${shown(ms)}`)
  }
}

function checkSize(size: unknown): asserts size is number {
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > MAX_SIZE) {
    throw new InvalidSizeError(`entry size must be a whole number of bytes from 0 to ${MAX_SIZE}, got ${shown(size)}`)
  }
}

function positive(value: unknown, name: string, max: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || value > max) {
    throw new InvalidOptionError(`${name} must be a number > 0 and <= ${max}, got ${shown(value)}`)
  }
  return value
}

/**
 * What both cores share: option checks, the JS arrays that hold keys and values by slot, eviction reports, and
 * the operations that are the same sequence of primitives on either core.
 */
export abstract class BaseCore<V> implements Core<V> {
  abstract readonly kind: CoreKind
  readonly maxItems: number
  readonly maxBytes: number
  readonly policy: EvictionPolicy
  /** The key hash's key (hashSeed, else this process's). */
  protected readonly seed: HashSeed
  protected readonly initialCapacity: number
  /** Key of slot s at [2s], its value at [2s + 1]: one cache line serves the key check and the value. */
  protected kv: unknown[] = []
  private readonly onEvict: CoreOptions<V>['onEvict']
  protected readonly hasEvictionListener: boolean
  private pending: unknown[] = []

  constructor(options: CoreOptions<V> = {}) {
    this.maxItems = Math.floor(positive(options.maxItems ?? 100_000, 'maxItems', MAX_ITEMS))
    this.maxBytes = positive(options.maxBytes ?? Infinity, 'maxBytes', Infinity)
    this.initialCapacity = Math.min(
      this.maxItems,
      Math.max(1, Math.floor(positive(options.initialCapacity ?? 16, 'initialCapacity', MAX_ITEMS))),
    )
    if (options.onEvict !== undefined && typeof options.onEvict !== 'function') {
      throw new InvalidOptionError('onEvict must be a function')
    }
    this.onEvict = options.onEvict
    this.policy = checkPolicy(options.policy)
    this.seed = checkSeed(options.hashSeed)
    this.hasEvictionListener = options.onEvict !== undefined
  }

  abstract readonly size: number
  abstract readonly bytes: number
  abstract readonly capacity: number
  abstract lookup(key: string, now: number): number
  abstract peek(key: string, now: number): number
  abstract delete(key: string): boolean
  abstract expire(key: string, now: number): boolean
  abstract lookupMany(keys: readonly string[], now: number): Int32Array
  abstract memoryBytes(): number
  /** Writes one checked entry; `hash` is the key's hash where the core needs it. */
  protected abstract writeEntry(key: string, hash: number, value: V, now: number, ttl: number, grace: number, size: number): number
  /** Hashes for a batch of checked keys, or undefined where the core does not hash. */
  protected abstract hashMany(keys: readonly string[]): Int32Array | undefined
  protected abstract hashOne(key: string): number
  protected abstract clearEntries(): void
  protected abstract headSlot(): number
  protected abstract nextSlot(slot: number): number

  // get() is defined in each core, not here: a shared method would see both core classes in a process that
  // uses both (the bench does) and V8 would stop inlining its lookup.
  abstract get(key: string, now: number): V | undefined

  set(key: string, value: V, now: number, ttl = Infinity, grace = 0, size = 0): number {
    checkKey(key)
    checkNow(now)
    checkDuration(ttl, 'ttl')
    checkDuration(grace, 'grace')
    checkSize(size)
    const slot = this.writeOne(key, value, now, ttl, grace, size)
    this.flush()
    return slot
  }

  /** Writes one checked entry, hashing its key as this core does best. */
  protected writeOne(key: string, value: V, now: number, ttl: number, grace: number, size: number): number {
    return this.writeEntry(key, this.hashOne(key), value, now, ttl, grace, size)
  }

  setMany(
    keys: readonly string[],
    values: readonly V[],
    now: number,
    ttl: number | ArrayLike<number> = Infinity,
    grace: number | ArrayLike<number> = 0,
    sizes?: ArrayLike<number>,
  ): void {
    checkKeys(keys)
    checkNow(now)
    const n = keys.length
    if (!Array.isArray(values) || values.length !== n) throw new InvalidOptionError('setMany needs one value per key')
    const perItem = (x: number | ArrayLike<number>, name: string, check: (v: unknown, name: string) => void): void => {
      if (typeof x === 'number') return check(x, name)
      if (x.length !== n) throw new InvalidOptionError(`setMany needs one ${name} per key`)
      for (let i = 0; i < n; i++) check(x[i], name)
    }
    perItem(ttl, 'ttl', checkDuration)
    perItem(grace, 'grace', checkDuration)
    if (sizes !== undefined) {
      if (sizes.length !== n) throw new InvalidSizeError('setMany needs one size per key')
      for (let i = 0; i < n; i++) checkSize(sizes[i])
    }
    const hashes = this.hashMany(keys)
    try {
      for (let i = 0; i < n; i++) {
        const t = typeof ttl === 'number' ? ttl : ttl[i]!
        const g = typeof grace === 'number' ? grace : grace[i]!
        this.writeEntry(keys[i]!, hashes ? hashes[i]! : 0, values[i] as V, now, t, g, sizes ? sizes[i]! : 0)
      }
    } finally {
      this.flush()
    }
  }

  getMany(keys: readonly string[], now: number): (V | undefined)[] {
    const codes = this.lookupMany(keys, now)
    const out = new Array<V | undefined>(keys.length)
    for (let i = 0; i < keys.length; i++) {
      out[i] = freshValue<V>(this.kv, codes[i]!)
    }
    return out
  }

  clear(): void {
    this.clearEntries()
    this.kv = []
  }

  keyAt(slot: number): string {
    return this.kv[2 * slot] as string
  }

  valueAt(slot: number): V {
    return this.kv[2 * slot + 1] as V
  }

  *keys(): IterableIterator<string> {
    for (let s = this.headSlot(); s >= 0; s = this.nextSlot(s)) yield this.kv[2 * s] as string
  }

  protected store(slot: number, key: string, value: V): void {
    // Size the array to the core's capacity in one step: growing it by appends would over-allocate by up to 50%.
    if (2 * slot >= this.kv.length) this.kv.length = 2 * this.capacity
    this.kv[2 * slot] = key
    this.kv[2 * slot + 1] = value
  }

  /** Records an entry the core dropped by itself; its slot may be reused right after. */
  protected dropped(slot: number, reason: number): void {
    if (this.onEvict) this.pending.push(this.kv[2 * slot], this.kv[2 * slot + 1], REASONS[reason])
    this.release(slot)
  }

  /** Forgets the key and value of a slot the caller removed. */
  protected release(slot: number): void {
    this.kv[2 * slot] = undefined
    this.kv[2 * slot + 1] = undefined
  }

  /** Reports drops once the core is consistent again, so a listener may call back into it. */
  protected flush(): void {
    if (this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    for (let i = 0; i < batch.length; i += 3) {
      this.onEvict!(batch[i] as string, batch[i + 1] as V, batch[i + 2] as EvictionReason)
    }
  }
}
