import { describe, expect, it } from 'vitest'
import { RustoCache } from '../src/index.js'

// Tag invalidation stamps are bounded under churn, and pruning them never brings an invalidated value back.
const tagStamps = (cache: RustoCache): number => (cache as unknown as { rooms: { tags: { size: number } } }).rooms.tags.size

describe.each(['wasm', 'js'] as const)('tag stamps on the %s core', (core) => {
  it('stay within max(1024, L1 entries) over 60,000 invalidations, and every invalidated entry stays gone', async () => {
    const cache = new RustoCache({ l1: { core, maxItems: 500 } })
    const deletedTag = new Set<string>()
    let most = 0
    for (let i = 0; i < 60_000; i++) {
      const key = `k${i % 2_000}`
      await cache.set({ key, value: i, tags: [`t${i}`, `group${i % 7}`] })
      await cache.deleteByTag({ tags: [`t${i - 5}`] })
      deletedTag.add(`t${i - 5}`)
      if (i % 1_000 === 999) await cache.expireByTag({ tags: [`group${i % 7}`] })
      most = Math.max(most, tagStamps(cache))
    }
    console.log(`tag stamps after 60,000 deleteByTag (${core}): at most ${most}, now ${tagStamps(cache)}`)
    expect(most).toBeLessThanOrEqual(1024 + 2)
    // The last 2,000 writes: key k(i % 2000) holds value i with tag t(i); it is gone exactly when t(i) was deleted.
    for (let i = 58_000; i < 60_000; i++) {
      const value = await cache.get<number>({ key: `k${i % 2_000}` })
      if (value === undefined) continue // evicted (maxItems 500) or deleted
      expect(deletedTag.has(`t${value}`)).toBe(false)
    }
  })

  it('keep what a factory in flight still needs: a tag deleted during it, after many sweeps, still wins', async () => {
    const cache = new RustoCache({ l1: { core, maxItems: 100 } })
    let finish!: (v: string) => void
    const pending = cache.getOrSet({ key: 'slow', tags: ['mine'], factory: () => new Promise<string>((r) => (finish = r)) })
    await new Promise((r) => setTimeout(r, 0))
    for (let i = 0; i < 3_000; i++) await cache.deleteByTag({ tags: [`noise${i}`] })
    await cache.deleteByTag({ tags: ['mine'] })
    for (let i = 0; i < 3_000; i++) await cache.deleteByTag({ tags: [`more${i}`] })
    finish('computed before the delete')
    expect(await pending).toBe('computed before the delete')
    expect(await cache.get({ key: 'slow' })).toBeUndefined()
  })
})
