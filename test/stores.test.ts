import { describe, expect, it } from 'vitest'
import { caches, ErrorCodes, memoryBus, RustoCache } from '../src/index.js'
import { memoryL2 } from './helpers/memory-l2.js'

// caches(): BentoCache's named stores (`stores`, `default`, `use(name)`) over RustoCache instances.
describe('caches', () => {
  it('is the default store, with the others by name, sharing the options given beside stores', async () => {
    const l2 = memoryL2()
    const cache = caches({
      default: 'memory',
      ttl: '1m',
      prefix: 'app',
      stores: { memory: { l1: { maxItems: 100 } }, tiered: { l2, bus: memoryBus() }, long: { ttl: '1d' } },
    })
    expect(cache).toBeInstanceOf(RustoCache)
    expect(await cache.getOrSet({ key: 'k', factory: () => 'memory' })).toBe('memory')
    expect(cache.use()).toBe(cache.use('memory'))
    expect(await cache.use('memory').get({ key: 'k' })).toBe('memory')
    // Stores are apart: the same key in another store is another entry, under its own prefix.
    expect(await cache.use('tiered').get({ key: 'k' })).toBeUndefined()
    await cache.use('tiered').set({ key: 'k', value: 'tiered' })
    expect(await cache.get({ key: 'k' })).toBe('memory')
    await cache.disconnect()
  })

  it('refuses a default that is not a store, an unknown store name, and unknown shared options', () => {
    const codes = { code: ErrorCodes.E_INVALID_OPTION }
    expect(() => caches({ default: 'redis' as 'memory', stores: { memory: {} } })).toThrow(expect.objectContaining({ ...codes, message: expect.stringMatching(/default "redis" is not one of the stores \(memory\)/) }))
    const cache = caches({ default: 'memory', stores: { memory: {} } })
    expect(() => cache.use('other' as 'memory')).toThrow(/unknown store "other": one of memory/)
    expect(() => caches({ default: 'memory', stores: { memory: {} }, l2: memoryL2() } as never)).toThrow(/unknown option "l2" in caches/)
    expect(() => caches({ default: 'memory', stores: {} as never })).toThrow(/needs stores/)
    expect(() => caches({ default: 'memory', stores: { memory: { maxSize: 1 } as never } })).toThrow(/did you mean/)
  })
})
