import { InvalidKeyError, InvalidOptionError } from '../errors.js'
import { MAX_KEY_LENGTH } from '../core/types.js'
import type { Logger } from '../logger.js'
import { MAX_TAG_LENGTH, MAX_TAGS } from '../l2/envelope.js'

/** Bytes of `text` in UTF-8 (a lone surrogate as 3, as TextEncoder writes U+FFFD). */
export function utf8Length(text: string): number {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

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
 * One namespace of a cache: its keys, tags and path ('' at the root, 'users:' in namespace('users')). Every
 * call turns the caller's keys and tags into full ones here, checked against what every tier holds.
 */
export class Scope {
  constructor(
    /** The longest key (and tag) the L2 driver holds, in UTF-8 bytes (Infinity: no limit below MAX_KEY_LENGTH). */
    private readonly maxKeyBytes: number,
    /** Prefix of this namespace's L1 keys and tags. */
    readonly path: string,
    readonly namespaceName: string | undefined,
    /** The cache's logger, naming this namespace. */
    readonly logger: Logger,
  ) {}

  child(name: string): Scope {
    if (typeof name !== 'string' || name === '') throw new InvalidOptionError('a namespace name must be a non-empty string')
    if (!wellFormed(name)) throw new InvalidOptionError('a namespace name must be well-formed UTF-16 (it has a lone surrogate, which L2 cannot tell apart from another)')
    const path = `${this.path}${name}:`
    const namespace = path.slice(0, -1)
    return new Scope(this.maxKeyBytes, path, namespace, this.logger.child({ namespace }))
  }

  /**
   * The full key for an L1 lookup, checked only as far as the core needs (a non-empty string it can hold): a key
   * L1 holds passed keyFor when it was stored, so a fresh hit needs no more. Whatever does not hit must pass
   * keyFor before it goes further (L2, a factory, a write). Throws what keyFor throws for what it refuses.
   */
  lookupKey(key: unknown): string {
    if (typeof key === 'string' && key !== '' && key.length <= MAX_KEY_LENGTH - this.path.length) return this.path === '' ? key : this.path + key
    return this.keyFor(key)
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
}
