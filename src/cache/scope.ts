import { InvalidKeyError, InvalidOptionError } from '../errors.js'
import { MAX_KEY_LENGTH } from '../core/types.js'
import type { Logger } from '../logger.js'
import type { OperationContext, Tier } from '../observe.js'
import { toMs, type Duration } from '../ttl.js'
import { MAX_TAG_LENGTH, MAX_TAGS } from '../l2/envelope.js'
import type { Coherence } from './coherence.js'
import type { ResolvedOptions } from './options.js'
import { utf8Length, type CacheStack, type Entry, type Ticket, type WriteOptions } from './stack.js'
import type { TagStamps } from './tags.js'


type WellFormed = (text: string) => boolean
/**
 * True for text that is valid UTF-16 (no lone surrogate). L2 drivers send UTF-8, where every lone surrogate
 * becomes U+FFFD: 'user:\uD800' and 'user:\uDC00' would be one key there. String#isWellFormed where the
 * runtime has it (Node 20+, current browsers, workerd), else the same test as a regular expression.
 */
export const wellFormed: WellFormed =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (text) => (text as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (text) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)

/**
 * Before a tagged write with an L2 is stamped: resolves once the clock is more than REMOTE_TIE_MS past every tag
 * invalidation this cache knows of (TagStamps.writableAfter), so its stamp is real and no L2 reader takes it
 * for covered by that invalidation (at most ~1 ms). Checked again after each wait: an invalidation heard
 * meanwhile may set the bar later. Undefined when there is nothing to wait for (no promise hop): every write
 * but the rare one just after a tag invalidation.
 */
export function stampable(tags: TagStamps, tagged: boolean): Promise<void> | undefined {
  if (!tagged || tags.writableAfter(Date.now()) === undefined) return undefined
  return (async () => {
    for (let after = tags.writableAfter(Date.now()); after !== undefined; after = tags.writableAfter(Date.now())) {
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(after! - Date.now()) + 1))
    }
  })()
}

/**
 * One namespace of a cache: the shared stack and bus seen through a key path ('' at the root, 'users:' in
 * namespace('users')). The steps every call shares live here: checking keys and tags, the write path, events.
 */
export class Scope {
  constructor(
    readonly stack: CacheStack,
    readonly coherence: Coherence,
    readonly defaults: ResolvedOptions,
    /** Prefix of this namespace's L1 keys and tags. */
    readonly path: string,
    readonly namespaceName: string | undefined,
    readonly logger: Logger,
  ) {
    this.maxKeyBytes = stack.l2?.maxKeyBytes ?? Infinity
  }

  /** The longest key (and tag) the L2 driver holds, in UTF-8 bytes (Infinity: no limit below MAX_KEY_LENGTH). */
  private readonly maxKeyBytes: number

  child(name: string): Scope {
    if (typeof name !== 'string' || name === '') throw new InvalidOptionError('a namespace name must be a non-empty string')
    if (!wellFormed(name)) throw new InvalidOptionError('a namespace name must be well-formed UTF-16 (it has a lone surrogate, which L2 cannot tell apart from another)')
    const path = `${this.path}${name}:`
    const namespace = path.slice(0, -1)
    return new Scope(this.stack, this.coherence, this.defaults, path, namespace, this.logger.child({ namespace }))
  }

  /** The full key of a user key; throws E_INVALID_KEY for anything but a non-empty string within MAX_KEY_LENGTH. */
  keyFor(key: unknown): string {
    if (typeof key !== 'string') throw new InvalidKeyError(`cache keys must be strings, got ${key === null ? 'null' : typeof key}`)
    if (key === '') throw new InvalidKeyError('cache keys must not be empty')
    if (key.length > MAX_KEY_LENGTH - this.path.length) {
      throw new InvalidKeyError(`cache key is ${key.length} code units long; the limit is ${MAX_KEY_LENGTH} with the namespace path`)
    }
    if (!wellFormed(key)) throw new InvalidKeyError('cache keys must be well-formed UTF-16: this one has a lone surrogate, which L2 (UTF-8) cannot tell apart from another')
    const full = this.path === '' ? key : this.path + key
    // Up to a third of the driver's limit in code units cannot exceed it: only longer keys are measured.
    const maxBytes = this.maxKeyBytes
    if (full.length * 3 > maxBytes && utf8Length(full) > maxBytes) {
      throw new InvalidKeyError(`cache key is ${utf8Length(full)} bytes in UTF-8 with the namespace path; the L2 driver holds keys of at most ${maxBytes}`)
    }
    return full
  }

  /** Full tag names, or undefined for none; throws E_INVALID_OPTION for anything but non-empty strings. */
  tagsFor(tags: unknown): string[] | undefined {
    if (tags === undefined) return undefined
    if (!Array.isArray(tags) || tags.length > MAX_TAGS) throw new InvalidOptionError(`tags must be an array of at most ${MAX_TAGS} strings`)
    // The stored form (namespace path included) is what L2 holds and checks: the limit applies to it.
    const room = MAX_TAG_LENGTH - this.path.length
    for (const t of tags) {
      if (typeof t !== 'string' || t === '' || t.length > room) {
        throw new InvalidOptionError(
          `each tag must be a non-empty string of at most ${MAX_TAG_LENGTH} characters with the namespace path (${room} here), got ${typeof t === 'string' ? `${t.length} characters` : typeof t}`,
        )
      }
      if (!wellFormed(t)) throw new InvalidOptionError('each tag must be well-formed UTF-16: one has a lone surrogate, which L2 (UTF-8) cannot tell apart from another')
      if (this.maxKeyBytes < Infinity && utf8Length(this.path + t) > this.maxKeyBytes) {
        throw new InvalidOptionError(`a tag is ${utf8Length(this.path + t)} bytes in UTF-8 with the namespace path; the L2 driver holds tags of at most ${this.maxKeyBytes}`)
      }
    }
    return tags.length === 0 ? undefined : this.path === '' ? [...(tags as string[])] : (tags as string[]).map((t) => this.path + t)
  }

  /**
   * The one write path of set() and of factories: the value is checked (and encoded for L2) before anything is
   * written; L1 first so this process answers at once, then L2 (awaited), then the bus queue, which publishes
   * in the background and only once the L2 side is done. With a ticket, nothing is written if the key or its tags changed since the ticket began. True when
   * either tier took the value.
   */
  async writeThrough(
    key: string,
    userKey: string,
    value: unknown,
    write: WriteOptions,
    skipL2: boolean,
    skipBus: boolean,
    ticket?: Ticket,
  ): Promise<boolean> {
    const stack = this.stack
    const l2 = stack.l2 !== undefined && !skipL2
    // Only L2 readers judge by stamps across instances: an L1-only write never waits.
    const wait = stampable(stack.tags, l2 && write.tags !== undefined)
    if (wait) await wait
    const now = Date.now()
    const stamp = stack.stamp(now)
    const remote = stack.prepare(key, value, write, stamp, now, l2)
    const kept = stack.copyIn(key, value)
    if (ticket && stack.overtaken(ticket, write.tags)) {
      stack.counters.discarded++
      this.logger.debug({ key: userKey, op: 'write' }, 'the key was invalidated while its value was being made: not stored')
      return false
    }
    const inL1 = stack.write(key, kept, write, now, stamp)
    // An L1-only cache skips the await: it would cost a promise hop on every miss.
    let inL2 = false
    let refused = false
    if (remote !== undefined) {
      stack.beginWrite(key)
      try {
        const answer = await stack.l2Call('set', key, (driver) => driver.set(key, remote.payload, remote.ttlMs).then((written) => written !== false), ticket?.deadline)
        inL2 = answer === true
        refused = answer === false
      } finally {
        stack.endWrite(key)
      }
    }
    // L2 holds something newer than this write (a conditional driver refused it): this L1 copy must not outlive
    // it. Outdated, the next read fetches L2's.
    if (refused) stack.outdate(key)
    const l2Done = inL2 || refused || !l2
    if (!skipBus) this.coherence.announce({ type: 'set', keys: [key] }, l2Done)
    if (inL1 || inL2) this.emit('cache:written', userKey)
    return inL1 || inL2
  }

  /**
   * A stale entry may answer only if it was written with grace (an entry made stale by expireByTag or a lost bus
   * connection is stale before its ttl, and without grace it must not be served), and the call can narrow it.
   */
  staleUsable(entry: Entry, grace: Duration | false | undefined, now: number): boolean {
    if (entry.grace <= 0 || grace === false) return false
    if (grace === undefined) return true
    return now < entry.at + entry.ttl + toMs(grace, 'grace')
  }

  /** A read answered from `tier`: counted, told to listeners and observers, and noted in the call's trace. */
  hit(key: string, graced: boolean, tier: Tier, trace: OperationContext | undefined): void {
    const stack = this.stack
    stack.counters.hits++
    if (graced) stack.counters.gracedHits++
    if (stack.emitter.has('cache:hit')) stack.emit('cache:hit', { key, store: 'memory', graced, namespace: this.namespaceName })
    if (trace !== undefined) {
      trace.hit = true
      trace.tier = tier
      trace.graced = graced
    }
    if (stack.probe.any) stack.probe.request(graced ? 'graced' : 'hit', tier, this.namespaceName)
  }

  miss(key: string, trace: OperationContext | undefined): void {
    const stack = this.stack
    stack.counters.misses++
    if (stack.emitter.has('cache:miss')) stack.emit('cache:miss', { key, store: 'memory', namespace: this.namespaceName })
    if (trace !== undefined) trace.hit = false
    if (stack.probe.any) stack.probe.request('miss', undefined, this.namespaceName)
  }

  /** Answers with a stale value from `tier`: counted, logged, and told to listeners. */
  graced<T>(key: string, entry: Entry, tier: Tier, trace: OperationContext | undefined, op = 'getOrSet'): T {
    const value = this.stack.valueOf(entry) as T
    this.hit(key, true, tier, trace)
    this.logger.warn({ key, op, tier, graced: true }, 'answered with a stale value within grace')
    return value
  }

  emit(event: 'cache:written' | 'cache:deleted' | 'cache:expired', key: string): void {
    if (this.stack.emitter.has(event)) this.stack.emit(event, { key, store: 'memory', namespace: this.namespaceName })
  }
}
