import { describe, expect, it, vi } from 'vitest'
import { ErrorCodes, RustoCache, RustoCacheError } from '../src/index.js'

// waitUntil: the work a call leaves running goes to the platform (ctx.waitUntil in Workers), so a serverless
// request is kept alive until it is done. test/workerd.test.ts shows the refresh lost without it in workerd.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('waitUntil', () => {
  it('gets the refresh behind a stale answer; once it settles, the new value is stored', async () => {
    const handed: Promise<unknown>[] = []
    const cache = new RustoCache({ ttl: 20, grace: '1h' })
    await cache.set({ key: 'k', value: 'old' })
    await sleep(30)
    const factory = async () => {
      await sleep(20)
      return 'new'
    }
    expect(await cache.getOrSet({ key: 'k', factory, waitUntil: (p) => void handed.push(p) })).toBe('old')
    expect(handed).toHaveLength(1)
    await handed[0]
    expect(await cache.get({ key: 'k' })).toBe('new')
  })

  it('gets a factory left running by a soft or a hard timeout, and an early refresh; nothing on a hit or a plain miss', async () => {
    const waitUntil = vi.fn()
    const cache = new RustoCache({ ttl: 20, grace: '1h', waitUntil })
    await cache.getOrSet({ key: 'miss', factory: () => 1 })
    await cache.getOrSet({ key: 'miss', factory: () => 2 })
    expect(waitUntil).not.toHaveBeenCalled()
    await sleep(30)
    const slow = () => sleep(50).then(() => 'late')
    expect(await cache.getOrSet({ key: 'miss', factory: slow, timeout: 5 })).toBe(1)
    expect(waitUntil).toHaveBeenCalledTimes(1)
    await expect(cache.getOrSet({ key: 'cold', factory: slow, hardTimeout: 5 })).rejects.toMatchObject({ code: ErrorCodes.E_FACTORY_HARD_TIMEOUT })
    expect(waitUntil).toHaveBeenCalledTimes(2)
    const early = new RustoCache({ ttl: 100, earlyExpiration: 0.1, waitUntil })
    await early.set({ key: 'e', value: 'v' })
    await sleep(20)
    expect(await early.getOrSet({ key: 'e', factory: () => 'refreshed' })).toBe('v')
    expect(waitUntil).toHaveBeenCalledTimes(3)
    await Promise.all(waitUntil.mock.calls.map((c) => c[0]))
    expect(await early.get({ key: 'e' })).toBe('refreshed')
  })

  it("takes the call's over the cache's, and never passes it a rejection", async () => {
    const cacheWide = vi.fn()
    const perCall: Promise<unknown>[] = []
    const cache = new RustoCache({ ttl: 10, grace: '1h', waitUntil: cacheWide })
    await cache.set({ key: 'k', value: 'old' })
    await sleep(20)
    const failing = async () => {
      throw new Error('database down')
    }
    expect(await cache.getOrSet({ key: 'k', factory: failing, waitUntil: (p) => void perCall.push(p) })).toBe('old')
    expect(cacheWide).not.toHaveBeenCalled()
    expect(perCall).toHaveLength(1)
    await expect(perCall[0]).resolves.toBeUndefined()
  })

  it('rejects a waitUntil that is not a function with E_INVALID_OPTION, and survives one that throws', async () => {
    expect(() => new RustoCache({ waitUntil: 'ctx' as never })).toThrow(RustoCacheError)
    const cache = new RustoCache({ ttl: 10, grace: '1h' })
    await expect(cache.getOrSet({ key: 'k', factory: () => 1, waitUntil: 1 as never })).rejects.toMatchObject({ code: ErrorCodes.E_INVALID_OPTION })
    await cache.set({ key: 'k', value: 'old' })
    await sleep(20)
    const throwing = () => {
      throw new Error('no context')
    }
    expect(await cache.getOrSet({ key: 'k', factory: () => 'new', waitUntil: throwing })).toBe('old')
  })
})
