import { InvalidOptionError, InvalidTtlError, shown } from './errors.js'

/** A duration: ms as a number, a friendly string ('250ms', '30m', '2.5h', '1d 2h'), or null for "forever". */
export type Duration = number | string | null

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  sec: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
}
const PART = /(\d+(?:\.\d+)?)\s*([a-z]*)\s*/gy

/** Milliseconds for a Duration; Infinity for null. Throws E_INVALID_TTL for anything else or anything negative. */
export function toMs(value: unknown, name = 'ttl'): number {
  if (value === null) return Infinity
  if (typeof value === 'number') {
    if (Number.isNaN(value) || value < 0) throw new InvalidTtlError(`${name} must be >= 0 ms, got ${value}`)
    return value
  }
  if (typeof value !== 'string') {
    throw new InvalidTtlError(`${name} must be ms, a string like '30m' or '1d 2h', or null; got ${typeof value}`)
  }
  const text = value.trim().toLowerCase()
  let total = 0
  PART.lastIndex = 0
  let parts = 0
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex
    const m = PART.exec(text)
    if (!m || m.index !== at) break
    const unit = m[2] === '' ? 'ms' : m[2]!
    const factor = UNIT_MS[unit]
    if (factor === undefined) throw new InvalidTtlError(`${name}: unknown unit '${unit}' in '${value}' (ms, s, m, h, d, w)`)
    total += Number(m[1]) * factor
    parts++
  }
  if (parts === 0 || PART.lastIndex < text.length) {
    throw new InvalidTtlError(`${name}: cannot read '${value}' as a duration (examples: '250ms', '30m', '2.5h', '1d 2h')`)
  }
  return total
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/

/** Bytes for a size: a number, or a string like '512kb' or '64mb' (powers of 1024). */
export function toBytes(value: unknown, name: string): number {
  if (typeof value === 'number') {
    if (!(value > 0)) throw new InvalidOptionError(`${name} must be > 0 bytes, got ${value}`)
    return value
  }
  const m = typeof value === 'string' ? SIZE.exec(value.trim().toLowerCase()) : null
  if (!m) throw new InvalidOptionError(`${name} must be bytes or a string like '64mb', got ${shown(value)}`)
  const bytes = Number(m[1]) * 1024 ** ['b', 'kb', 'mb', 'gb'].indexOf(m[2] ?? 'b')
  if (!(bytes > 0)) throw new InvalidOptionError(`${name} must be > 0 bytes, got ${shown(value)}`)
  return bytes
}
