// broadcastBus (rustocache/browser) keeps the L1 of every worker thread coherent, as it does every browser tab.
import { isMainThread, parentPort, Worker } from 'node:worker_threads'
import { RustoCache } from 'rustocache'
import { broadcastBus } from 'rustocache/browser'

const cache = new RustoCache({ bus: broadcastBus() })

if (isMainThread) {
  const worker = new Worker(new URL(import.meta.url))
  const ready = await new Promise((resolve) => worker.once('message', resolve))
  console.log('worker cached:', ready)
  await cache.set({ key: 'price', value: 12 }) // the worker's copy of price goes
  worker.postMessage('read')
  console.log('worker reads after main wrote:', await new Promise((resolve) => worker.once('message', resolve)))
  await cache.disconnect()
  await worker.terminate()
} else {
  parentPort.postMessage(await cache.getOrSet({ key: 'price', factory: () => 10 }))
  parentPort.once('message', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20))
    parentPort.postMessage((await cache.get({ key: 'price' })) ?? 'gone: no L2 to read it from, the next read computes it')
    await cache.disconnect()
  })
}
