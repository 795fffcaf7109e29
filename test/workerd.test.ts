import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from './helpers/redis-server.js'

// The built package inside Cloudflare's workerd (the `workerd` npm package), which refuses to compile
// WebAssembly from bytes: the `workerd` export condition's entry (dist/edge.js) imports the .wasm file as a
// module and runs the WASM core; the default entry still works there, on the TypeScript core.
const running: ChildProcess[] = []
afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL')
})

const WORKER = `import { RustoCache, createCore, observe, tracingChannelAvailable } from './entry.js'
export default {
  async fetch() {
    const cache = new RustoCache({ ttl: '1m' })
    // No diagnostics_channel here (no nodejs_compat): observers still work, nothing else changes.
    let answers = 0
    observe(cache, { request: () => void answers++ })
    const value = await cache.getOrSet({ key: 'k', factory: () => ({ hello: 'edge' }) })
    const core = createCore({ maxItems: 2, policy: 'lru' })
    core.set('a', 1, 0); core.set('b', 2, 0); core.set('c', 3, 0)
    const many = await cache.getMany({ keys: ['k', 'missing'] })
    return new Response(JSON.stringify({ core: cache.stats().core, value, lru: [...core.keys()], many, tracing: tracingChannelAvailable, answers }))
  },
}`

async function runInWorkerd(entry: 'edge.js' | 'index.js'): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'rustocache-workerd-'))
  copyFileSync(resolve('dist', entry), join(dir, 'entry.js'))
  copyFileSync(resolve('dist/rustocache.wasm'), join(dir, 'rustocache.wasm'))
  // The chunks an ESM entry imports (code the entries share), each a module of the worker.
  const chunks = readdirSync('dist').filter((f) => f.startsWith('chunk-') && f.endsWith('.js'))
  for (const chunk of chunks) copyFileSync(resolve('dist', chunk), join(dir, chunk))
  writeFileSync(join(dir, 'worker.js'), WORKER)
  const port = await freePort()
  writeFileSync(
    join(dir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "entry.js", esModule = embed "entry.js"),
    (name = "rustocache.wasm", wasm = embed "rustocache.wasm"),
${chunks.map((c) => `    (name = "${c}", esModule = embed "${c}"),\n`).join('')}  ],
  compatibilityDate = "2024-09-01",
);
`,
  )
  let log = ''
  const child = spawn(resolve('node_modules/.bin/workerd'), ['serve', 'config.capnp'], { cwd: dir })
  running.push(child)
  child.stderr.on('data', (d: Buffer) => (log += d.toString()))
  const until = Date.now() + 20_000
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`)
      return await response.json()
    } catch (error) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`workerd did not answer:\n${log}`, { cause: error })
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

describe('workerd (edge runtime)', () => {
  it('runs the WASM core through the workerd entry, which imports the .wasm file as a module', async () => {
    expect(await runInWorkerd('edge.js')).toEqual({ core: 'wasm', value: { hello: 'edge' }, lru: ['c', 'b'], many: [{ hello: 'edge' }, null], tracing: false, answers: 3 })
  })

  it('falls back to the TypeScript core with the default entry, whose inline bytes workerd will not compile', async () => {
    expect(await runInWorkerd('index.js')).toMatchObject({ core: 'js', value: { hello: 'edge' }, lru: ['c', 'b'] })
  })
})
