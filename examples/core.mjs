// The L1 core on its own: exact string keys, two deadlines per entry; you pass the time in. Policy 'lru' here
// for a predictable order; the default, 'tinylfu', is in eviction-policy.mjs.
import { createCore, MISS, STALE } from 'rustocache'

const core = createCore({ maxItems: 2, policy: 'lru', onEvict: (key, _value, reason) => console.log('dropped', key, reason) })
const now = Date.now()
core.set('a', 1, now, 1_000, 60_000)
core.set('b', 2, now)
core.set('c', 3, now) // evicts a, the least recently used
const code = core.lookup('b', now + 5_000)
console.log(core.kind, code === MISS ? 'miss' : code & STALE ? 'stale' : 'fresh', core.valueAt(code & ~STALE), [...core.keys()])
