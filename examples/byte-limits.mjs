// Byte limits: maxBytes bounds L1 by the values' sizes; maxEntrySize keeps big values out of L1.
import { RustoCache } from 'rustocache'

const cache = new RustoCache({ l1: { maxBytes: '1kb', maxEntrySize: '600b' } })
await cache.set({ key: 'a', value: 'x'.repeat(400) })
await cache.set({ key: 'b', value: 'y'.repeat(400) })
// Only two fit: c enters W-TinyLFU's window, and b, pushed out of it, does not beat a (used as often, and
// there first). With l1.policy 'lru', a would go.
await cache.set({ key: 'c', value: 'z'.repeat(400) })
await cache.set({ key: 'huge', value: 'w'.repeat(2000) }) // not kept in L1
const [a, b, c, huge] = await cache.getMany({ keys: ['a', 'b', 'c', 'huge'] })
console.log({ a: a?.length, b: b?.length, c: c?.length, huge: huge?.length }, cache.stats())
