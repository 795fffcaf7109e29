// l1.policy: 'tinylfu' (W-TinyLFU, the default) keeps frequently used keys when a scan of one-time keys passes
// through a full L1; 'lru' lets the scan push them out.
import { RustoCache } from 'rustocache'

for (const policy of ['lru', 'tinylfu']) {
  const cache = new RustoCache({ ttl: '10m', l1: { maxItems: 100, policy } })
  const hot = Array.from({ length: 50 }, (_, i) => `product:${i}`)
  for (let round = 0; round < 5; round++) {
    for (const key of hot) await cache.getOrSet({ key, factory: () => ({ key }) })
  }
  // A nightly export reads 1,000 keys once each.
  for (let i = 0; i < 1000; i++) await cache.getOrSet({ key: `export:${i}`, factory: () => i })
  let kept = 0
  for (const key of hot) if (await cache.has({ key })) kept++
  console.log(`${policy}: ${kept} of 50 hot keys still in L1 | evictions: ${cache.stats().evictions}`)
}
