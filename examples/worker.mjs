// A Cloudflare Worker with a cache shared by its requests: made in the global scope, refreshed behind stale
// answers with ctx.waitUntil. Deploy it as it is (wrangler), or run `node examples/worker.mjs`, which plays two
// requests against it with a ctx that keeps what waitUntil is given.
import { RustoCache } from 'rustocache'

const cache = new RustoCache({ ttl: 50, grace: '1h' })
let price = 10

const worker = {
  async fetch(request, env, ctx) {
    const value = await cache.getOrSet({
      key: 'price',
      waitUntil: ctx.waitUntil.bind(ctx),
      factory: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20)) // the origin, slow
        return price++
      },
    })
    return Response.json({ price: value })
  },
}
export default worker

if (typeof process !== 'undefined' && process.argv[1]?.endsWith('worker.mjs')) {
  const waiting = []
  const ctx = { waitUntil: (promise) => waiting.push(promise) }
  const ask = async () => (await (await worker.fetch(new Request('https://example.com/'), {}, ctx)).json()).price
  console.log('first request:', await ask())
  await new Promise((resolve) => setTimeout(resolve, 60)) // past the ttl: stale
  console.log('stale, answered at once:', await ask(), '| handed to waitUntil:', waiting.length)
  await Promise.all(waiting) // the platform waits for the refresh
  console.log('next request:', await ask())
}
