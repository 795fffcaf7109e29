import { InvalidOptionError, InvalidTtlError, shown } from './errors.js'

/** A duration: ms as a number, a friendly string ('250ms', '30m', '2.5h', '1d 2h'), or null for "forever". */
export type Duration = number | string | null

// The one grammar for durations, everywhere a Duration is taken: parts of a number and a unit, spaces between
// them optional ('10 minutes', '1d 2h', '1.5h', '250ms'); a bare number is ms. Units, case-insensitive:
// (ms, msec, millisecond), (s, sec, second), (m, min, minute), (h, hr, hour), (d, day), (w, wk, week), each
// also with a plural s.
const UNIT_MS: Record<string, number> = {}
for (const [ms, names] of [[1, 'ms msec millisecond'], [1e3, 's sec second'], [6e4, 'm min minute'], [36e5, 'h hr hour'], [864e5, 'd day'], [6048e5, 'w wk week']] as const) {
  for (const name of names.split(' ')) UNIT_MS[name] = ms
}
/** A unit's singular ('minutes' -> 'minute'; 'ms' and 's' stay). */
const singular = (unit: string) => (unit.length > 2 && unit.endsWith('s') ? unit.slice(0, -1) : unit)
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
    const unit = m[2] === '' ? 'ms' : singular(m[2]!)
    const factor = Object.hasOwn(UNIT_MS, unit) ? UNIT_MS[unit] : undefined
    if (factor === undefined) throw new InvalidTtlError(`${name}: unknown unit '${m[2]}' in '${value}' (ms, s, m, h, d, w, or their names: '10 minutes')`)
    total += Number(m[1]) * factor
    parts++
  }
  if (parts === 0 || PART.lastIndex < text.length) {
    throw new InvalidTtlError(`${name}: cannot read '${value}' as a duration (examples: '250ms', '30m', '10 minutes', '2.5h', '1d 2h')`)
  }
  return total
}

// Byte sizes: a number and a unit, powers of 1024 ('512kb', '64 MB', '1.5gb', '10mib'); a bare number is bytes.
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/
const SIZE_UNITS: Record<string, number> = { '': 0, b: 0, byte: 0, k: 1, kb: 1, kib: 1, m: 2, mb: 2, mib: 2, g: 3, gb: 3, gib: 3 }

/** Bytes for a size: a number, or a string like '512kb', '64 MB' or '1.5gb' (powers of 1024). */
export function toBytes(value: unknown, name: string): number {
  if (typeof value === 'number') {
    if (!(value > 0)) throw new InvalidOptionError(`${name} must be > 0 bytes, got ${value}`)
    return value
  }
  const m = typeof value === 'string' ? SIZE.exec(value.trim().toLowerCase()) : null
  const unit = m && singular(m[2]!)
  const power = unit !== null && Object.hasOwn(SIZE_UNITS, unit) ? SIZE_UNITS[unit] : undefined
  if (!m || power === undefined) throw new InvalidOptionError(`${name} must be bytes or a string like '64mb' or '512 KB', got ${shown(value)}`)
  const bytes = Number(m[1]) * 1024 ** power
  if (!(bytes > 0)) throw new InvalidOptionError(`${name} must be > 0 bytes, got ${shown(value)}`)
  return bytes
}
