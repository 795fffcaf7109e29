// Signed bus messages: instances sharing a secret hear each other; a publisher without it is refused and counted.
import { memoryBus, RustoCache } from 'rustocache'

const bus = memoryBus({ secret: 'a shared secret of 16+ characters' })
const [a, b] = [new RustoCache({ bus }), new RustoCache({ bus })]
const settle = () => new Promise((r) => setTimeout(r, 20))

await b.set({ key: 'price', value: 10 })
await a.set({ key: 'price', value: 12 }) // signed: b drops its copy (no L2 here, so it is gone)
await settle()
console.log('b after a signed change:', await b.get({ key: 'price' }))

await b.set({ key: 'price', value: 12 })
// Someone on the channel without the secret tries to evict the key.
const rogue = bus.create({ channel: 'rustocache:bus', logger: console })
await rogue.publish(JSON.stringify({ v: 1, type: 'delete', keys: ['price'], from: 'rogue', seq: 1 }))
await settle()
console.log('b after an unsigned message:', await b.get({ key: 'price' }), '| refused:', b.stats().busRejected)
await Promise.all([a.disconnect(), b.disconnect(), rogue.disconnect()])
