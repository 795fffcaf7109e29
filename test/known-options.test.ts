import { describe, expect, it } from 'vitest'
import { broadcastBus, indexedDbDriver } from '../src/browser/index.js'
import { httpRedisDriver, kvDriver } from '../src/edge-drivers/index.js'
import { createCore, ErrorCodes, memoryBus, RustoCache } from '../src/index.js'
import { nearest } from '../src/known-options.js'
import { postgresDriver } from '../src/postgres/index.js'
import { redisBus, redisDriver } from '../src/redis/index.js'

// Unknown options are refused with E_INVALID_OPTION naming the option meant, never ignored.
const refused = (make: () => unknown, message: RegExp) => expect(make).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION, message: expect.stringMatching(message) }))

describe('unknown options', () => {
  it("refuses BentoCache's shapes with where they go here", () => {
    refused(() => new RustoCache({ stores: { memory: {} }, default: 'memory' } as never), /unknown option "stores" in the RustoCache options: did you mean 'l1' and 'l2'/)
    refused(() => new RustoCache({ l1: { maxSize: '10mb' } } as never), /unknown option "maxSize" in l1: did you mean 'maxBytes'\?/)
    refused(() => new RustoCache({ serializer: JSON } as never), /the L2 driver's serializer/)
    refused(() => createCore({ maxSize: 1 } as never), /"maxSize" in createCore: did you mean 'maxBytes'/)
  })

  it('names the nearest known option for a typo, and lists them when none is near', () => {
    refused(() => new RustoCache({ tll: '1m' } as never), /"tll" .*did you mean 'ttl'\?/)
    refused(() => new RustoCache({ gracePeriod: '1h' } as never), /"gracePeriod" .*known: ttl, jitter, grace/)
    refused(() => new RustoCache({ l1: { maxitems: 10 } } as never), /did you mean 'maxItems'/)
    refused(() => new RustoCache({ lock: { distributd: true } } as never), /"distributd" in lock: did you mean 'distributed'/)
    refused(() => new RustoCache({ bus: memoryBus({ retryQueue: { maxsize: 5 } } as never) }), /"maxsize" in retryQueue: did you mean 'maxSize'/)
    refused(() => createCore({ kinds: 'js' } as never), /did you mean 'kind'/)
    expect(nearest('prefx', ['prefix', 'ttl'])).toBe('prefix')
    expect(nearest('completelydifferent', ['prefix', 'ttl'])).toBeUndefined()
  })

  it('refuses them in every driver and bus', () => {
    refused(() => redisDriver({ connection: 'redis://x', comandTimeout: 5 } as never), /"comandTimeout" in redisDriver: did you mean 'commandTimeout'/)
    refused(() => redisBus({ connection: 'redis://x', secrett: 'x' } as never), /in redisBus: did you mean 'secret'/)
    refused(() => postgresDriver({ connection: 'postgres://x', tabel: 't' } as never), /in postgresDriver: did you mean 'table'/)
    refused(() => indexedDbDriver({ nam: 'x' } as never), /in indexedDbDriver: did you mean 'name'/)
    refused(() => broadcastBus({ chanel: 'x' } as never), /in broadcastBus: did you mean 'channel'/)
    refused(() => httpRedisDriver({ url: 'https://x', token: 't', tokn: 'x' } as never), /in httpRedisDriver/)
    refused(() => kvDriver({ get() {}, put() {}, delete() {}, list() {} } as never, { cachettl: 60 } as never), /in kvDriver: did you mean 'cacheTtl'/)
    refused(() => memoryBus({ secrett: 'x' } as never), /in memoryBus/)
  })

  it('lets an option given as undefined through (a spread of defaults)', () => {
    expect(() => new RustoCache({ ttl: undefined, l1: { maxItems: undefined } } as never)).not.toThrow()
    expect(() => new RustoCache({ unknownButUndefined: undefined } as never)).not.toThrow()
  })
})
