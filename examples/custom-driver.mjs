// Writing your own L2 driver: a small one over a Map (a stand-in for your store), used by a cache, then run
// through rustocache/test-suite under node:test, which prints its TAP report (# pass, # fail) when the file ends.
import { describe, it } from 'node:test'
import { RustoCache } from 'rustocache'
import { l2DriverSuite } from 'rustocache/test-suite'

/** One Map shared by every cache the factory serves, as a server would be. */
function mapDriver(store = new Map()) {
  return {
    kind: 'map',
    create: ({ prefix }) => {
      const full = (key) => `${prefix}:${key}`
      const tagKey = (tag) => `${prefix}#tag:${tag}`
      const live = (key) => {
        const row = store.get(full(key))
        return row && row.until > Date.now() ? row : undefined
      }
      const read = (key) => {
        const row = live(key)
        if (!row) return undefined
        const head = JSON.parse(row.payload.header)
        // A copy each read, as a real store's deserialization would give.
        return { value: structuredClone(row.payload.value), expiresAt: head.e ?? Infinity, createdAt: head.c, tags: head.t }
      }
      return {
        lateWrites: 'may-land', // no conditional writes here
        // What set() stores: here the value itself (a structured clone, so the caller's later changes do not reach it).
        encode: (entry) => ({
          header: JSON.stringify({ e: entry.expiresAt === Infinity ? null : entry.expiresAt, c: entry.createdAt, t: entry.tags }),
          value: structuredClone(entry.value),
        }),
        get: async (key) => read(key),
        getMany: async (keys) => keys.map(read),
        set: async (key, payload, ttlMs) => void store.set(full(key), { payload, until: Date.now() + ttlMs }),
        setMany: async (items) => void items.forEach((i) => store.set(full(i.key), { payload: i.payload, until: Date.now() + i.ttlMs })),
        delete: async (key) => {
          const was = live(key) !== undefined
          store.delete(full(key))
          return was
        },
        deleteMany: async (keys) => [...new Set(keys)].filter((key) => live(key) && store.delete(full(key))).length,
        expire: async (key, now) => {
          const row = live(key)
          if (!row) return false
          const head = JSON.parse(row.payload.header)
          if (head.e === null || head.e > now) head.e = now
          row.payload = { ...row.payload, header: JSON.stringify(head) }
          return true
        },
        clear: async (path) => {
          for (const k of [...store.keys()]) if (k.startsWith(full(path)) || (path === '' && k.startsWith(`${prefix}#tag:`))) store.delete(k)
        },
        invalidateTags: async (tags, how, stamp) => {
          for (const tag of tags) {
            const stamps = store.get(tagKey(tag)) ?? { deleted: -Infinity, expired: -Infinity }
            store.set(tagKey(tag), { ...stamps, [how === 'delete' ? 'deleted' : 'expired']: Math.max(stamp, stamps[how === 'delete' ? 'deleted' : 'expired']) })
          }
        },
        tagStamps: async (tags) => tags.map((tag) => store.get(tagKey(tag)) ?? { deleted: -Infinity, expired: -Infinity }),
        disconnect: async () => {},
      }
    },
  }
}

const shared = mapDriver()
const [a, b] = [new RustoCache({ l2: shared }), new RustoCache({ l2: shared })]
await a.set({ key: 'user:1', value: { name: 'Ada', since: new Date(0) } })
const read = await b.get({ key: 'user:1' })
console.log('b reads through the custom driver:', read.name, read.since instanceof Date)

// The contract, checked: every test of the suite passes, or the file exits 1.
l2DriverSuite({ name: 'mapDriver', driver: () => mapDriver(), describe, it })
