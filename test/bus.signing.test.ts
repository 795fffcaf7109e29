import { Redis } from 'ioredis'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { ErrorCodes, memoryBus, RustoCache, RustoCacheError } from '../src/index.js'
import { Signer } from '../src/bus/signing.js'
import { redisBus, redisDriver } from '../src/redis/index.js'
import { recordingLogger, type LogLine } from './helpers/cache.js'
import { waitUntil } from './helpers/redis-server.js'

// Signed bus messages: a client that can publish on the channel but lacks the secret can neither evict nor
// poison another instance's L1, and a captured message cannot be played again.
const SECRET = 'correct horse battery staple'
const tick = () => new Promise((resolve) => setTimeout(resolve, 10))
const open: RustoCache[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.disconnect()))
})

describe('signed bus messages on the memory bus', () => {
  it('instances with the secret stay coherent; unsigned, mis-signed, stale and replayed messages are refused and counted', async () => {
    const bus = memoryBus({ secret: SECRET })
    const a = new RustoCache({ bus })
    const b = new RustoCache({ bus })
    await b.set({ key: 'k', value: 'b copy' })
    await b.set({ key: 'victim', value: 'kept' })
    await a.set({ key: 'k', value: 'a copy' })
    // a's signed message is heard (signing and checking are async WebCrypto: no fixed delay under load)
    await waitUntil(async () => (await b.get({ key: 'k' })) === undefined, 5_000, "b never heard a's signed message")
    const rogue = bus.create({ channel: 'rustocache:bus', logger: recordingLogger([]) })
    const evict = JSON.stringify([1, 'rogue', 1, ['victim'], null, null, null])
    const captured: string[] = []
    const spy = bus.create({ channel: 'rustocache:bus', logger: recordingLogger([]) })
    await spy.subscribe((p) => captured.push(p))
    await a.delete({ key: 'k' })
    await waitUntil(async () => captured.length > 0, 5_000, 'the spy heard nothing')
    expect(captured).toHaveLength(1)
    const before = b.stats().busRejected
    await rogue.publish(evict) // unsigned
    await rogue.publish(await new Signer({ secret: 'another secret of 16+ chars' }).sign(evict)) // wrong secret
    await rogue.publish(await new Signer({ secret: SECRET }, 'another-cache:bus').sign(evict)) // our secret, another cache's channel
    await rogue.publish(captured[0]!) // replayed
    await rogue.publish(captured[0]!.replace('"k"', '"victim"')) // tampered
    await waitUntil(async () => b.stats().busRejected - before >= 5, 5_000, 'not all five refused')
    await tick()
    expect(b.stats().busRejected - before).toBe(5)
    expect(b.stats().busGaps).toBe(0)
    expect(await b.get({ key: 'victim' })).toBe('kept')
  })

  it("another cache's signed clear, with the same secret, clears nothing here", async () => {
    const bus = memoryBus({ secret: SECRET })
    const mine = new RustoCache({ prefix: 'mine', bus })
    const theirs = new RustoCache({ prefix: 'theirs', bus })
    open.push(mine, theirs)
    await mine.set({ key: 'k', value: 'kept' })
    const spy = bus.create({ channel: 'theirs:bus', logger: recordingLogger([]) })
    const captured: string[] = []
    await spy.subscribe((p) => captured.push(p))
    await theirs.clear()
    await waitUntil(async () => captured.length > 0, 5_000, 'their clear was not sent')
    // Replayed on our channel: signed with the shared secret, but for theirs.
    await bus.create({ channel: 'mine:bus', logger: recordingLogger([]) }).publish(captured[0]!)
    await waitUntil(async () => mine.stats().busRejected === 1, 5_000, 'the foreign clear was not refused')
    expect(await mine.get({ key: 'k' })).toBe('kept')
  })

  it('an authentic message from a clock outside the window is a gap: L1 is revalidated, and the skew is logged once', async () => {
    const bus = memoryBus({ secret: SECRET })
    const lines: LogLine[] = []
    const b = new RustoCache({ bus, logger: recordingLogger(lines) })
    open.push(b)
    await b.set({ key: 'k', value: 'stale once the sender deleted it' })
    const ahead = bus.create({ channel: 'rustocache:bus', logger: recordingLogger([]) })
    const signer = new Signer({ secret: SECRET }, 'rustocache:bus')
    for (let seq = 1; seq <= 3; seq++) {
      await ahead.publish(await signer.sign(JSON.stringify([1, 'ahead', 1, ['k'], null, null, null, seq]), Date.now() + 40_000))
    }
    await waitUntil(async () => b.stats().busRejected === 3, 5_000, 'the three messages were not refused')
    expect(b.stats().busGaps).toBe(3)
    // No L2 to revalidate against: L1 is emptied rather than left stale.
    expect(await b.get({ key: 'k' })).toBeUndefined()
    expect(lines.filter((l) => l.level === 'error' && l.msg?.includes('clock'))).toHaveLength(1)
  })

  it('a message whose sequence number was heard already is refused, whatever its nonce', async () => {
    const bus = memoryBus({ secret: SECRET })
    const b = new RustoCache({ bus })
    open.push(b)
    await b.set({ key: 'k', value: 'v' })
    const sender = bus.create({ channel: 'rustocache:bus', logger: recordingLogger([]) })
    const signer = new Signer({ secret: SECRET }, 'rustocache:bus')
    await sender.publish(await signer.sign(JSON.stringify([1, 'sender', 1, ['other'], null, null, null, 2])))
    await waitUntil(async () => b.stats().busReceived === 1, 5_000, 'the first message was not heard')
    // A fresh signature (another nonce) over a number heard already: what a replay looks like to a receiver whose
    // nonce cache was emptied by a restart but that heard the sender since.
    await sender.publish(await signer.sign(JSON.stringify([1, 'sender', 1, ['k'], null, null, null, 2])))
    await waitUntil(async () => b.stats().busRejected === 1, 5_000, 'the old sequence number was not refused')
    expect(await b.get({ key: 'k' })).toBe('v')
  })

  it('refuses a secret shorter than 16 characters', () => {
    try {
      new RustoCache({ bus: memoryBus({ secret: 'short' }) })
      expect.unreachable()
    } catch (error) {
      expect((error as RustoCacheError).code).toBe(ErrorCodes.E_INVALID_OPTION)
    }
  })
})

describe('bus messages from a raw Redis client', () => {
  const url = inject('redisUrl')
  it('never pollute a prototype: __proto__ and constructor as keys, tags, fields or whole messages', async () => {
    const prefix = `proto${process.pid}`
    const cache = new RustoCache({ prefix, l2: redisDriver({ connection: url }), bus: redisBus({ connection: url }) })
    open.push(cache)
    const rogue = new Redis(url)
    try {
      await new Promise((r) => setTimeout(r, 100))
      await cache.set({ key: '__proto__', value: 'kept' })
      const channel = `${prefix}:bus`
      const before = cache.stats()
      for (const payload of [
        '{"__proto__":{"polluted":true}}',
        '[1,"x",1,["__proto__","constructor"],null,null,null]',
        '[1,"x",4,[],null,["__proto__"],5]',
        '[1,"x",1,["k"],null,null,null,{"__proto__":{"polluted":true}}]',
        '{"constructor":{"prototype":{"polluted":true}}}',
      ]) await rogue.publish(channel, payload)
      await waitUntil(async () => cache.stats().busReceived + cache.stats().busRejected - before.busReceived - before.busRejected >= 5, 2_000)
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      expect(cache.stats().busRejected - before.busRejected).toBe(3)
    } finally {
      rogue.disconnect()
    }
  })
})

describe('signed bus messages on Redis', () => {
  const url = inject('redisUrl')
  it('a client that can publish to Redis but lacks the secret cannot evict or poison L1', async () => {
    const prefix = `signed${process.pid}`
    const make = () => {
      const c = new RustoCache({ prefix, l2: redisDriver({ connection: url }), bus: redisBus({ connection: url, secret: SECRET }) })
      open.push(c)
      return c
    }
    const a = make()
    const b = make()
    const spy = new Redis(url)
    const rogue = new Redis(url)
    try {
      const captured: string[] = []
      spy.on('message', (_channel: string, payload: string) => captured.push(payload))
      await spy.subscribe(`${prefix}:bus`)
      await new Promise((r) => setTimeout(r, 100))
      await a.set({ key: 'victim', value: 'v1' })
      expect(await b.get({ key: 'victim' })).toBe('v1') // now in b's L1
      await a.set({ key: 'other', value: 'x' })
      await waitUntil(async () => captured.length >= 2 && b.stats().busReceived >= 2, 2_000)
      expect(captured.every((p) => p.startsWith('s2|'))).toBe(true)
      expect(await b.get({ key: 'victim' })).toBe('v1') // back in b's L1 after a's message marked it stale
      const l2Hits = b.stats().l2Hits
      // The rogue: an unsigned eviction, a forged one, and a replay of a real message about 'victim'.
      const rejectedBefore = b.stats().busRejected
      const clear = JSON.stringify([1, 'rogue', 3, [], '', null, null])
      await rogue.publish(`${prefix}:bus`, clear)
      await rogue.publish(`${prefix}:bus`, await new Signer({ secret: 'not the secret, but long' }).sign(clear))
      await rogue.publish(`${prefix}:bus`, captured[0]!)
      await waitUntil(async () => b.stats().busRejected - rejectedBefore >= 3, 2_000)
      // b still serves its L1 copy: nothing was evicted, and L2 was not touched behind its back.
      expect(await b.get({ key: 'victim' })).toBe('v1')
      expect(b.stats().l2Hits).toBe(l2Hits)
      // Signed changes still flow.
      await a.set({ key: 'victim', value: 'v2' })
      await waitUntil(async () => (await b.get({ key: 'victim' })) === 'v2', 2_000)
    } finally {
      spy.disconnect()
      rogue.disconnect()
    }
  })
})
