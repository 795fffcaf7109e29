import { shown } from '../errors.js'
import type { L2Entry, Serializer } from './types.js'

// An L2 value is one string, so a batch read stays one MGET: a small text header, then the serialized value.
//   r1|<expiresAt ms or "inf">|<createdAt ms>|<length of the tags JSON>|<tags JSON><serialized value>
// The header is plain text so a Lua script can rewrite expiresAt (expire) without knowing the serializer.
const VERSION = 'r1'
/** Most tags an entry may carry, and the longest tag, when read back from L2 (what another writer put there). */
export const MAX_TAGS = 1024
export const MAX_TAG_LENGTH = 1024

/** The stored text; throws when the serializer cannot encode the value (or gives back something not a string). */
export function encodeEntry(entry: L2Entry, serializer: Serializer): string {
  const tags = entry.tags && entry.tags.length > 0 ? JSON.stringify(entry.tags) : ''
  const expires = entry.expiresAt === Infinity ? 'inf' : String(Math.ceil(entry.expiresAt))
  const value = serializer.serialize(entry.value)
  if (typeof value !== 'string') throw new TypeError(`the serializer returned ${typeof value}, not a string`)
  return `${VERSION}|${expires}|${entry.createdAt}|${tags.length}|${tags}${value}`
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
  let at = 0
  const fields: string[] = []
  for (let i = 0; i < 4; i++) {
    const bar = text.indexOf('|', at)
    if (bar < 0) return 'no header'
    fields.push(text.slice(at, bar))
    at = bar + 1
  }
  if (fields[0] !== VERSION) return `unknown format ${JSON.stringify(fields[0]!.slice(0, 16))}`
  const expiresAt = fields[1] === 'inf' ? Infinity : Number(fields[1])
  const createdAt = Number(fields[2])
  const tagsLength = Number(fields[3])
  if (Number.isNaN(expiresAt) || !Number.isFinite(createdAt) || !Number.isInteger(tagsLength) || tagsLength < 0 || at + tagsLength > text.length) {
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
