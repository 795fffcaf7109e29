import { describe, expect, it } from 'vitest'
import { Found, REMOTE_TIE_MS, TagStamps } from '../src/cache/tags.js'

// Judging an entry read from L2: its createdAt (the writer's stamp) against invalidations stamped by other
// instances. Instances stamp in ms plus a per-instance sub-ms counter, which orders nothing across instances.
describe('TagStamps.judgeRemote', () => {
  it('lets an invalidation win a tie: an entry made within REMOTE_TIE_MS after it is covered', () => {
    const stamps = new TagStamps()
    const t = 1_700_000_000_000
    // Instance B deleted the tag at its stamp t + 1/1024; instance A, busier, stamped its write t + 9/1024 in the same ms.
    stamps.record(['users'], 'delete', t + 1 / 1024, t + 1 / 1024)
    expect(stamps.judgeRemote(['users'], t + 9 / 1024, Found.Fresh, [])).toBe(Found.Missing)
    expect(stamps.judgeRemote(['users'], t + 1 / 1024 + REMOTE_TIE_MS, Found.Fresh, [])).toBe(Found.Missing)
    expect(stamps.judgeRemote(['users'], t + 1 / 1024 + REMOTE_TIE_MS + 0.01, Found.Fresh, [])).toBe(Found.Fresh)
    // L2's own record counts the same way, and expiry too.
    expect(new TagStamps().judgeRemote(['x'], t + 0.5, Found.Fresh, [{ deleted: -Infinity, expired: t }])).toBe(Found.Stale)
    expect(new TagStamps().judgeRemote(['x'], t + 2, Found.Fresh, [{ deleted: -Infinity, expired: t }])).toBe(Found.Fresh)
  })
})
