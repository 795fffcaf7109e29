import type { L2Entry, Serializer } from './types.js'

// An L2 value is one string, so a batch read stays one MGET: a small text header, then the serialized value.
//   r1|<expiresAt ms or "inf">|<createdAt ms>|<length of the tags JSON>|<tags JSON><serialized value>
// The header is plain text so a Lua script can rewrite expiresAt (expire) without knowing the serializer.
const VERSION = 'r1'

export function encodeEntry(entry: L2Entry, serializer: Serializer): string {
  const tags = entry.tags && entry.tags.length > 0 ? JSON.stringify(entry.tags) : ''
  const expires = entry.expiresAt === Infinity ? 'inf' : String(Math.ceil(entry.expiresAt))
  return `${VERSION}|${expires}|${entry.createdAt}|${tags.length}|${tags}${serializer.serialize(entry.value)}`
}

/** The entry, or undefined for text this version did not write (read as a miss, never thrown). */
export function decodeEntry(text: string, serializer: Serializer): L2Entry | undefined {
  let at = 0
  const fields: string[] = []
  for (let i = 0; i < 4; i++) {
    const bar = text.indexOf('|', at)
    if (bar < 0) return undefined
    fields.push(text.slice(at, bar))
    at = bar + 1
  }
  if (fields[0] !== VERSION) return undefined
  const expiresAt = fields[1] === 'inf' ? Infinity : Number(fields[1])
  const createdAt = Number(fields[2])
  const tagsLength = Number(fields[3])
  if (Number.isNaN(expiresAt) || Number.isNaN(createdAt) || !Number.isInteger(tagsLength)) return undefined
  const tags = tagsLength > 0 ? (JSON.parse(text.slice(at, at + tagsLength)) as string[]) : undefined
  return { value: serializer.deserialize(text.slice(at + tagsLength)), expiresAt, createdAt, tags }
}
