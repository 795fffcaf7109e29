// An HTTP service in front of a slow database (issue 17): node:http, 64 keep-alive connections, item ids drawn
// zipf over 10,000, and behind getOrSet a 2 ms database read, with entries of ttl 500 ms and grace 1 h (stale
// while revalidate, as people run it). What matters is both the throughput and how often the database is read:
// a cache whose refreshes are thrown away serves stale values and reads the database on every call anyway.
// RustoCache and BentoCache 1.6, each with L1 only and with L1 + Redis L2, one after another in this process.
import http from 'node:http'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver as bentoRedis } from 'bentocache/drivers/redis'
import { RustoCache } from '../../dist/index.js'
import { redisDriver } from '../../dist/redis.js'
import { zipfIndices } from '../lib/workload.mjs'

const ITEMS = 10_000
const CONNECTIONS = 64
const DB_MS = 2
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Each contender: a name and a getOrSet(key, factory) over a cache it makes, and how to close it. */
function contenders(redisUrl, run) {
  const list = [
    {
      name: 'RustoCache (L1)',
      make: () => {
        const c = new RustoCache({ prefix: `${run}:r1`, ttl: 500, grace: '1h' })
        return { getOrSet: (key, factory) => c.getOrSet({ key, factory }), close: () => c.disconnect() }
      },
    },
    {
      name: 'BentoCache (L1)',
      make: () => {
        const c = new BentoCache({ default: 'c', ttl: 500, grace: '1h', stores: { c: bentostore().useL1Layer(memoryDriver({ maxItems: 100_000, serialize: false })) } })
        return { getOrSet: (key, factory) => c.getOrSet({ key, factory }), close: () => c.disconnectAll() }
      },
    },
  ]
  if (redisUrl) {
    const { hostname, port } = new URL(redisUrl)
    list.push(
      {
        name: 'RustoCache (L1 + Redis)',
        make: () => {
          const c = new RustoCache({ prefix: `${run}:r2`, ttl: 500, grace: '1h', l2: redisDriver({ connection: redisUrl }) })
          return { getOrSet: (key, factory) => c.getOrSet({ key, factory }), close: async () => (await c.clear(), await c.disconnect()) }
        },
      },
      {
        name: 'BentoCache (L1 + Redis)',
        make: () => {
          const c = new BentoCache({
            default: 'c',
            prefix: `${run}:b2`,
            ttl: 500,
            grace: '1h',
            stores: { c: bentostore().useL1Layer(memoryDriver({ maxItems: 100_000 })).useL2Layer(bentoRedis({ connection: { host: hostname, port: Number(port || 6379) } })) },
          })
          return { getOrSet: (key, factory) => c.getOrSet({ key, factory }), close: async () => (await c.clear(), await c.disconnectAll()) }
        },
      },
    )
  }
  return list
}

/** Runs one contender for `seconds`: requests served per second and database reads. */
async function serve(contender, seconds) {
  const cache = contender.make()
  let dbReads = 0
  const server = http.createServer((req, res) => {
    const id = req.url.slice(6)
    cache
      .getOrSet(`item:${id}`, async () => {
        dbReads++
        await sleep(DB_MS)
        return { id, name: `item ${id}`, price: 100 }
      })
      .then(
        (item) => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify(item))
        },
        (error) => {
          res.writeHead(500)
          res.end(String(error))
        },
      )
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const ids = zipfIndices(ITEMS, 1 << 16, 0.99, 13)
  let served = 0
  let failed = 0
  const end = Date.now() + seconds * 1000
  const lane = async (lane) => {
    for (let i = lane; Date.now() < end; i += CONNECTIONS) {
      await new Promise((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: `/item/${ids[i % ids.length]}`, agent }, (res) => {
          res.resume()
          res.on('end', () => {
            if (res.statusCode === 200) served++
            else failed++
            resolve()
          })
        })
        req.on('error', () => {
          failed++
          resolve()
        })
      })
    }
  }
  const started = Date.now()
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => lane(i)))
  const elapsed = (Date.now() - started) / 1000
  agent.destroy()
  await new Promise((resolve) => server.close(resolve))
  await cache.close()
  return { contender: contender.name, 'requests/s': served / elapsed, 'database reads': dbReads, 'reads per 1k requests': (dbReads / served) * 1000, failed }
}

/** Every contender, one after another, `seconds` each. */
export async function run({ redisUrl, seconds, log }) {
  const rows = []
  for (const contender of contenders(redisUrl, `bench${process.pid}`)) {
    const row = await serve(contender, seconds)
    log(`  [service] ${row.contender}: ${row['requests/s'].toFixed(0)} requests/s, ${row['database reads']} database reads`)
    rows.push(row)
  }
  return rows
}

/** The rows as printed: each RustoCache row beside the BentoCache row of the same tiers. */
export function table(rows) {
  const by = new Map(rows.map((r) => [r.contender, r]))
  return rows.map((r) => {
    const peer = by.get(r.contender.replace('RustoCache', 'BentoCache'))
    const mine = r.contender.startsWith('RustoCache') && peer
    return {
      contender: r.contender,
      'requests/s': r['requests/s'].toFixed(0),
      'database reads': r['database reads'].toLocaleString('en'),
      'per 1k requests': r['reads per 1k requests'].toFixed(1),
      'vs BentoCache (req/s, reads)': mine ? `${(r['requests/s'] / peer['requests/s']).toFixed(2)}x, ${(r['database reads'] / Math.max(1, peer['database reads'])).toFixed(2)}x` : '',
      failed: r.failed,
    }
  })
}
