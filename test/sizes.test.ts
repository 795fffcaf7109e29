import { describe, expect, it } from 'vitest'
// @ts-expect-error a script without types
import { sizes } from '../scripts/sizes.mjs'

// What each entry costs a bundle (minified, gzipped; scripts/sizes.mjs). Budgets hold today's sizes so that no
// change grows them unseen; README "Sizes" has the figures and the target (25 KB for the browser entry, which
// needs the WASM builds fetched as files of their own instead of inlined: issue 21).
const BUDGET_KB: Record<string, number> = {
  'rustocache (browser)': 50,
  'rustocache/browser': 5,
  'rustocache/edge-drivers': 7,
  'rustocache (workerd)': 30,
}

describe('entry sizes', () => {
  it('keeps every entry within its budget, minified and gzipped', async () => {
    const measured = (await sizes()) as Array<{ entry: string; gzipped: number }>
    expect(measured.map((m) => m.entry).sort()).toEqual(Object.keys(BUDGET_KB).sort())
    for (const m of measured) expect(m.gzipped / 1024, m.entry).toBeLessThanOrEqual(BUDGET_KB[m.entry]!)
  })
})
