import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { memoryBus, RustoCache } from '../src/index.js'
import { Signer } from '../src/bus/signing.js'
import { decodeMessage, encodeMessage } from '../src/bus/types.js'
import { decodeEntry } from '../src/l2/envelope.js'
import { jsonSerializer } from '../src/l2/types.js'
import { recordingLogger } from './helpers/cache.js'
import { memoryL2 } from './helpers/memory-l2.js'

// Rolling upgrades: instances of the previous version and this one share Redis during a deploy. This version
// reads what 0.1.0 wrote (recorded from its build, test/fixtures/formats-0.1.0.json), and any format newer than
// it knows is refused and counted, never misread.
const recorded = JSON.parse(readFileSync('test/fixtures/formats-0.1.0.json', 'utf8')) as {
  secret: string
  sentAt: number
  messages: Array<Record<string, unknown>>
  payloads: string[]
  signed: string[]
  entries: Array<{ key: string; text: string }>
}
const tick = () => new Promise((resolve) => setTimeout(resolve, 10))

describe('formats of the previous version (0.1.0)', () => {
  it('reads its bus messages, and writes the same ones', () => {
    recorded.payloads.forEach((payload, i) => {
      const message = decodeMessage(payload)
      expect(message).toMatchObject(recorded.messages[i]!)
      expect(encodeMessage(message as Parameters<typeof encodeMessage>[0])).toBe(payload)
    })
  })

  it('hears its s1 signatures (which bind no channel) on any channel', async () => {
    for (const [i, signed] of recorded.signed.entries()) {
      const opened = await new Signer({ secret: recorded.secret }, 'rustocache:bus').open(signed, recorded.sentAt)
      expect(opened).toEqual({ message: recorded.payloads[i] })
    }
  })

  it('reads its L2 entries', async () => {
    const l2 = memoryL2()
    for (const { key, text } of recorded.entries) l2.store.set(key, text)
    const [first] = recorded.entries
    expect(decodeEntry(first!.text, jsonSerializer)).toMatchObject({ value: { name: 'Ada', n: 1 }, createdAt: 1764000000000.25, tags: ['team:1'] })
    const cache = new RustoCache({ l2, grace: '5000w' })
    // Written long ago, expired since: served stale within grace, as any entry of this version would be.
    expect(await cache.get({ key: 'user:1' })).toEqual({ name: 'Ada', n: 1 })
    expect(await cache.get({ key: 'forever' })).toBe('kept')
    expect(cache.stats().l2Rejected).toBe(0)
    await cache.disconnect()
  })
})

describe('formats newer than this version', () => {
  it('a bus message of an unknown version is refused and counted; signed with our secret, it is a gap (L1 revalidated)', async () => {
    for (const secret of [undefined, recorded.secret]) {
      const bus = memoryBus({ secret })
      const lines: Parameters<typeof recordingLogger>[0] = []
      const cache = new RustoCache({ bus, logger: recordingLogger(lines) })
      await cache.set({ key: 'user:1', value: 'kept' })
      const sender = bus.create({ channel: 'rustocache:bus', logger: recordingLogger([]) })
      const future = JSON.stringify([2, 'new-instance', 1, ['user:1'], null, null, null, 1, { more: 'fields' }])
      await sender.publish(secret ? await new Signer({ secret }, 'rustocache:bus').sign(future) : future)
      for (let i = 0; i < 50 && cache.stats().busRejected === 0; i++) await tick()
      expect(cache.stats()).toMatchObject({ busRejected: 1, busReceived: 0, busGaps: secret ? 1 : 0 })
      expect(lines.some((l) => l.fields.reason === 'unknown version 2')).toBe(true)
      // Unsigned, the message may be anyone's: the entry stays; signed, L1 (no L2 here) is emptied, not misread.
      expect(await cache.get({ key: 'user:1' })).toBe(secret ? undefined : 'kept')
      await cache.disconnect()
    }
  })

  it('a signature format it does not know is refused as such', async () => {
    const signer = new Signer({ secret: recorded.secret }, 'rustocache:bus')
    const signed = await signer.sign(recorded.payloads[0]!)
    expect(await signer.open(signed.replace(/^s2\|/, 's3|'))).toMatchObject({ refused: 'unknown signature format s3' })
  })

  it('an L2 entry of an unknown format is a miss, counted in l2Rejected, never misread', async () => {
    const l2 = memoryL2()
    l2.store.set('k', 'r2|1764000060000|1764000000000|0|"a value in a newer format"')
    const cache = new RustoCache({ l2 })
    expect(await cache.get({ key: 'k' })).toBeUndefined()
    expect(cache.stats().l2Rejected).toBe(1)
    await cache.disconnect()
  })
})

describe('the L2 entry header', () => {
  const read = (text: string) => decodeEntry(text, jsonSerializer)

  it('reads every field in place: inf, a fractional stamp, tags, and a value holding bars', () => {
    expect(read('r1|inf|1764000000000.0791|0|{"a":"x|y"}')).toEqual({ value: { a: 'x|y' }, expiresAt: Infinity, createdAt: 1764000000000.0791, tags: undefined })
    expect(read('r1|1764000060000|1764000000000|7|["t:1"]7')).toEqual({ value: 7, expiresAt: 1764000060000, createdAt: 1764000000000, tags: ['t:1'] })
  })

  it('refuses a header it cannot read, whichever field is wrong', () => {
    expect(read('r1|1|2|3')).toBe('no header')
    expect(read('d1|1764000000000')).toBe('no header')
    expect(read('r2|1|2|0|1')).toBe('unknown format "r2"')
    expect(read('r|1|2|0|1')).toBe('unknown format "r"')
    for (const bad of ['r1|x|2|0|1', 'r1||2|0|1', 'r1|1|x|0|1', 'r1|1||0|1', 'r1|1|2||1', 'r1|1|2|-1|1', 'r1|1|2|1e1|1', 'r1|1|2| 0|1', 'r1|1|2|9|1']) {
      expect(read(bad)).toBe('broken header')
    }
  })
})
