// rustocache/file: an L2 on local files, shared by the processes of one machine. Here two caches of this process
// stand for two processes; run it twice and the second run reads what the first stored.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RustoCache } from 'rustocache'
import { fileDriver } from 'rustocache/file'

const directory = process.env.CACHE_DIR ?? mkdtempSync(join(tmpdir(), 'rustocache-example-'))
const make = () => new RustoCache({ prefix: 'example', ttl: '10m', l2: fileDriver({ directory }) })
const [a, b] = [make(), make()]

let loads = 0
const report = () => a.getOrSet({ key: 'report:2026', factory: async () => (loads++, { rows: 3 }), tags: ['reports'] })
console.log('a computes:', await report(), '| loads:', loads)
console.log('b reads from the files:', await b.get({ key: 'report:2026' }), '| l2Hits:', b.stats().l2Hits)
await b.deleteByTag({ tags: ['reports'] })
console.log('a fresh cache after deleteByTag:', await make().get({ key: 'report:2026' }))
console.log('expired files pruned:', await a.prune())
await Promise.all([a.disconnect(), b.disconnect()])
