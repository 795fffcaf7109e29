import { shown } from '../errors.js'
import type { L2Entry, Serializer } from './types.js'

// An L2 value is one string, so a batch read stays one MGET: a small text header, then the serialized value.
//   r1|<expiresAt ms or "inf">|<createdAt ms>|<length of the tags JSON>|<tags JSON><serialized value>
// The header is plain text so a Lua script can rewrite expiresAt (expire) without knowing the serializer.
const VERSION = 'r1'
/** Most tags an entry may carry, and the longest tag, when read back from L2 (what another writer put there). */
export const MAX_TAGS = 1024
export const MAX_TAG_LENGTH = 1024

/** The header alone (what a store that keeps the value as it is, IndexedDB, keeps beside it). */
export function encodeHeader(entry: L2Entry): string {
  const tags = entry.tags && entry.tags.length > 0 ? JSON.stringify(entry.tags) : ''
  const expires = entry.expiresAt === Infinity ? 'inf' : String(Math.ceil(entry.expiresAt))
  return `${VERSION}|${expires}|${entry.createdAt}|${tags.length}|${tags}`
}

/** The stored text; throws when the serializer cannot encode the value (or gives back something not a string). */
export function encodeEntry(entry: L2Entry, serializer: Serializer): string {
  const value = serializer.serialize(entry.value)
  if (typeof value !== 'string') throw new TypeError(`the serializer returned ${typeof value}, not a string`)
  return encodeHeader(entry) + value
}

function validTags(tags: unknown): tags is string[] {
  return (
    Array.isArray(tags) &&
    tags.length <= MAX_TAGS &&
    tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= MAX_TAG_LENGTH)
  )
}

/**
 * The entry, or a reason why the text cannot be one (not this format, a broken header, invalid tags, a value
 * the serializer cannot read). Never throws: what L2 holds is not trusted.
 */
export function decodeEntry(text: string, serializer: Serializer): L2Entry | string {
  // Found by indexOf and read in place: an array of four sliced fields doubled the cost of a read from L2.
  const b1 = text.indexOf('|')
  const b2 = b1 < 0 ? -1 : text.indexOf('|', b1 + 1)
  const b3 = b2 < 0 ? -1 : text.indexOf('|', b2 + 1)
  const b4 = b3 < 0 ? -1 : text.indexOf('|', b3 + 1)
  if (b4 < 0) return 'no header'
  if (b1 !== VERSION.length || !text.startsWith(VERSION)) return `unknown format ${JSON.stringify(text.slice(0, b1).slice(0, 16))}`
  const expiresAt = b2 - b1 === 4 && text.startsWith('inf', b1 + 1) ? Infinity : Number(text.slice(b1 + 1, b2))
  const createdAt = Number(text.slice(b2 + 1, b3))
  // The tags' length: decimal digits only.
  let tagsLength = b4 > b3 + 1 ? 0 : -1
  for (let i = b3 + 1; i < b4 && tagsLength >= 0; i++) {
    const digit = text.charCodeAt(i) - 48
    tagsLength = digit >= 0 && digit <= 9 ? tagsLength * 10 + digit : -1
  }
  const at = b4 + 1
  // An empty field is broken, though Number('') would read it as 0.
  if (b2 === b1 + 1 || b3 === b2 + 1 || Number.isNaN(expiresAt) || !Number.isFinite(createdAt) || tagsLength < 0 || at + tagsLength > text.length) {
    return 'broken header'
  }
  let tags: string[] | undefined
  if (tagsLength > 0) {
    try {
      const parsed: unknown = JSON.parse(text.slice(at, at + tagsLength))
      if (!validTags(parsed)) return 'invalid tags'
      tags = parsed
    } catch {
      return 'invalid tags'
    }
  }
  try {
    return { value: serializer.deserialize(text.slice(at + tagsLength)), expiresAt, createdAt, tags }
  } catch (error) {
    return `the serializer cannot read the value: ${shown(error)}`
  }
}

/**
 * A stored entry as a driver answers it: decoded, or undefined after telling `rejected` why it cannot be (the
 * read is a miss); `staleAt`, where the driver keeps expire()'s time beside the text, caps expiresAt.
 */
export function readStored(
  key: string,
  text: string,
  staleAt: number | null | undefined,
  serializer: Serializer,
  rejected: (key: string, reason: string) => void,
): L2Entry | undefined {
  const entry = decodeEntry(text, serializer)
  if (typeof entry === 'string') {
    rejected(key, entry)
    return undefined
  }
  if (staleAt != null && staleAt < entry.expiresAt) entry.expiresAt = staleAt
  return entry
}

/** createdAt from an entry's header (what a conditional write compares), NaN when the text is not an entry. */
export function createdAtOf(text: string): number {
  const b1 = text.indexOf('|')
  const b2 = text.indexOf('|', b1 + 1)
  const b3 = text.indexOf('|', b2 + 1)
  return b1 === VERSION.length && text.startsWith(VERSION) && b3 > b2 + 1 ? Number(text.slice(b2 + 1, b3)) : Number.NaN
}

/**
 * expire() on a stored text, for stores without scripts (Workers KV, Keyv): the text with its logical expiry
 * moved to `now`, 'stale' when it is no later already, undefined when the text is not an entry.
 */
export function restamp(text: string, now: number): string | 'stale' | undefined {
  const a = text.indexOf('|')
  const b = a < 0 ? -1 : text.indexOf('|', a + 1)
  if (a !== VERSION.length || !text.startsWith(VERSION) || b < 0) return undefined
  const current = text.slice(a + 1, b)
  if (current !== 'inf' && Number(current) <= now) return 'stale'
  return `${text.slice(0, a + 1)}${Math.floor(now)}${text.slice(b)}`
}

/** A tag's stamps as stores without hashes keep them: one record per tag, {"d": stamp, "e": stamp}. */
export function readTagRecord(text: unknown): { deleted: number; expired: number } {
  let stamps: { d?: unknown; e?: unknown } = {}
  try {
    if (typeof text === 'string') stamps = JSON.parse(text) as { d?: unknown; e?: unknown }
  } catch {
    // A record something else wrote: no stamp.
  }
  return { deleted: typeof stamps?.d === 'number' ? stamps.d : -Infinity, expired: typeof stamps?.e === 'number' ? stamps.e : -Infinity }
}

/** The record of a tag after an invalidation `how` at `stamp`, from its current stamps (the later stamp wins). */
export function nextTagRecord(current: { deleted: number; expired: number }, how: 'delete' | 'expire', stamp: number): string {
  const d = how === 'delete' ? Math.max(current.deleted, stamp) : current.deleted
  const e = how === 'expire' ? Math.max(current.expired, stamp) : current.expired
  return JSON.stringify({ d: Number.isFinite(d) ? d : null, e: Number.isFinite(e) ? e : null })
}
