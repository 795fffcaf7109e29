import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
// @ts-expect-error a script without types
import { brokenLinks, slug } from '../scripts/check-links.mjs'

// The README and docs/ link only to what exists (files and headings inside the repository), and the README
// stays short enough to read: the guides are in docs/.
describe('documentation', () => {
  it('has no broken link inside the repository', () => {
    expect(brokenLinks()).toEqual([])
  })

  it("slugs headings as GitHub does, so the check's anchors are the real ones", () => {
    expect(slug('Keyv and cache-manager: `rustocache/keyv`')).toBe('keyv-and-cache-manager-rustocachekeyv')
    expect(slug('At the edge: Redis over HTTP, Workers KV, waitUntil')).toBe('at-the-edge-redis-over-http-workers-kv-waituntil')
  })

  it('keeps the README under 250 lines, with npm install and a getOrSet on Redis in its first 100', () => {
    const lines = readFileSync('README.md', 'utf8').split('\n')
    expect(lines.length).toBeLessThanOrEqual(250)
    const first = lines.slice(0, 100).join('\n')
    expect(first).toContain('npm install rustocache')
    expect(first).toMatch(/redisDriver\([\s\S]*getOrSet\(/)
  })
})
