// Unknown options are refused, not ignored: in plain JavaScript a misspelt or foreign option (BentoCache's
// `maxSize`, `stores`) would otherwise build a cache that silently does something else.
import { InvalidOptionError } from './errors.js'

/** Where an option from another library goes here (BentoCache's names, mostly); shown instead of the nearest name. */
const MOVED: Record<string, string> = {
  maxSize: "'maxBytes'",
  stores: "'l1' and 'l2', or caches({ default, stores })",
  default: 'caches({ default, stores })',
  serializer: "the L2 driver's serializer",
  emitter: 'cache.on()',
  driver: "'l2'",
}

/** Edit distance, case-insensitive (a typo in case counts as nothing). */
function distance(a: string, b: string): number {
  a = a.toLowerCase()
  b = b.toLowerCase()
  let row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    row = next
  }
  return row[b.length]!
}

/** The known name closest to `name` within a third of its length (at least 2 edits), or undefined. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const candidate of known) {
    const d = distance(name, candidate)
    if (d < bestDistance) [best, bestDistance] = [candidate, d]
  }
  return best
}

/**
 * Throws E_INVALID_OPTION for the first own key of `given` that is not in `known`, naming where it was given
 * and the option meant (`unknown option "maxSize" in l1: did you mean 'maxBytes'?`). Keys whose value is
 * undefined are let through (spread defaults).
 */
export function refuseUnknown(given: object, known: readonly string[], where: string): void {
  for (const name of Object.keys(given)) {
    if (known.includes(name) || (given as Record<string, unknown>)[name] === undefined) continue
    const close = nearest(name, known)
    const meant = Object.hasOwn(MOVED, name) ? MOVED[name] : close === undefined ? undefined : `'${close}'`
    const hint = meant === undefined ? `; known: ${known.join(', ')}` : `: did you mean ${meant}?`
    throw new InvalidOptionError(`unknown option ${JSON.stringify(name)} in ${where}${hint}`)
  }
}
