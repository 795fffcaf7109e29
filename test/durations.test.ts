import { describe, expect, it } from 'vitest'
import { ErrorCodes, RustoCache } from '../src/index.js'
import { toBytes, toMs } from '../src/ttl.js'

// One grammar for durations and one for byte sizes, everywhere an option takes them (README, "Options").
describe('durations', () => {
  it('reads a number and a unit, by symbol or name, singular or plural, parts summed', () => {
    const cases: Array<[string, number]> = [
      ['250ms', 250],
      ['250', 250],
      ['10 minutes', 600_000],
      ['10min', 600_000],
      ['10 mins', 600_000],
      ['1 minute', 60_000],
      ['2 days', 172_800_000],
      ['1d 2h', 93_600_000],
      ['1.5h', 5_400_000],
      ['1.5 hours', 5_400_000],
      ['30s', 30_000],
      ['30 seconds', 30_000],
      ['1 week', 604_800_000],
      ['2wks', 1_209_600_000],
      ['1h 30m 15s', 5_415_000],
      ['5 Milliseconds', 5],
      [' 2H ', 7_200_000],
    ]
    for (const [text, ms] of cases) expect(toMs(text), text).toBe(ms)
  })

  it('refuses anything else with E_INVALID_TTL, saying what it reads', () => {
    for (const bad of ['10 lightyears', 'ten minutes', '1h and 2m', '', '-5m', 'constructor', '5 constructor', '1e3']) {
      expect(() => toMs(bad), bad).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_TTL }))
    }
    expect(() => toMs('3 fortnights')).toThrow(/unknown unit 'fortnights'.*'10 minutes'/)
  })

  it('is the grammar the cache takes for every duration option', async () => {
    const cache = new RustoCache({ ttl: '10 minutes', grace: '2 days', l1: { ttl: '1.5 hours' } })
    await cache.set({ key: 'k', value: 1, ttl: '1 hour 30 minutes' })
    expect(await cache.get({ key: 'k' })).toBe(1)
  })
})

describe('byte sizes', () => {
  it('reads a number and a unit in powers of 1024, with or without a space, any case', () => {
    const cases: Array<[string, number]> = [
      ['512', 512],
      ['512b', 512],
      ['2 bytes', 2],
      ['512kb', 524_288],
      ['512 KB', 524_288],
      ['10kib', 10_240],
      ['64mb', 67_108_864],
      ['64 MiB', 67_108_864],
      ['1.5gb', 1_610_612_736],
      ['1g', 1_073_741_824],
    ]
    for (const [text, bytes] of cases) expect(toBytes(text, 'maxBytes'), text).toBe(bytes)
  })

  it('refuses anything else with E_INVALID_OPTION', () => {
    for (const bad of ['64 megabits', 'lots', '', '0mb', '-1kb', 'constructor', '1 constructor']) {
      expect(() => toBytes(bad, 'maxBytes'), bad).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    }
    expect(new RustoCache({ l1: { maxBytes: '64 MB', maxEntrySize: '1 MiB' } })).toBeInstanceOf(RustoCache)
  })
})
