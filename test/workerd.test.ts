import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from './helpers/redis-server.js'

// The built package inside Cloudflare's workerd (the `workerd` npm package), which refuses to compile
// WebAssembly from bytes: the `workerd` export condition's entry (dist/edge/index.js) imports the .wasm file as a
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

/**
 * Serves `worker` in workerd with a flavour of the built package beside it: 'edge' is dist/edge/ (what the
 * `workerd` export condition resolves), 'node' the default dist/ build. The worker imports `./entry.js` (the
 * core entry) and any other entry by its file name (`./otel.js`); `extra` adds modules by name (a dependency).
 */
async function runInWorkerd(flavour: 'edge' | 'node', worker = WORKER, paths: string[] = ['/'], extra: Record<string, string> = {}): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'rustocache-workerd-'))
  const from = flavour === 'edge' ? 'dist/edge' : 'dist'
  const files = readdirSync(from).filter((f) => f.endsWith('.js') && (flavour === 'edge' || f === 'index.js' || f.startsWith('chunk-')))
  for (const file of files) copyFileSync(resolve(from, file), join(dir, file))
  copyFileSync(resolve('dist/edge/rustocache.wasm'), join(dir, 'rustocache.wasm'))
  writeFileSync(join(dir, 'entry.js'), "export * from './index.js'\n")
  writeFileSync(join(dir, 'worker.js'), worker)
  for (const [name, code] of Object.entries(extra)) writeFileSync(join(dir, name.replace(/\W/g, '_')), code)
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
${files.map((c) => `    (name = "${c}", esModule = embed "${c}"),\n`).join('')}${Object.keys(extra)
      .map((name) => `    (name = "${name}", esModule = embed "${name.replace(/\W/g, '_')}"),\n`)
      .join('')}  ],
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
      const answers: unknown[] = []
      for (const path of paths) answers.push(await (await fetch(`http://127.0.0.1:${port}${path}`)).json())
      return paths.length === 1 ? answers[0] : answers
    } catch (error) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`workerd did not answer:\n${log}`, { cause: error })
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

// A cache at module scope lives across requests; each request hands its background work to ctx.waitUntil.
const REFRESH_WORKER = `import { RustoCache } from './entry.js'
const cache = new RustoCache({ ttl: 50, grace: '1h' })
let version = 0
export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname
    if (path === '/seed') {
      await cache.set({ key: 'k', value: 'v0' })
      await new Promise((r) => setTimeout(r, 80))
      return Response.json({ seeded: true })
    }
    // A later request: the refresh behind the last answer has had time to finish, if it was let to.
    if (path === '/later') await new Promise((r) => setTimeout(r, 100))
    // Stale now: answered at once with what L1 holds, refreshed behind the answer.
    const value = await cache.getOrSet({
      key: 'k',
      waitUntil: new URL(request.url).searchParams.has('plain') ? undefined : ctx.waitUntil.bind(ctx),
      factory: async () => {
        await new Promise((r) => setTimeout(r, 30))
        return 'v' + ++version
      },
    })
    return Response.json({ value })
  },
}`

// rustocache/otel beside the core entry, in one flavour: instrument() takes the cache (one copy of every class).
const OTEL_WORKER = `import { RustoCache } from './entry.js'
import { instrument } from './otel.js'
import { metrics } from '@opentelemetry/api'
export default {
  async fetch() {
    const made = []
    metrics.setGlobalMeterProvider({ getMeter: () => ({
      createCounter: (name) => (made.push(name), { add() {} }),
      createHistogram: (name) => (made.push(name), { record() {} }),
      createUpDownCounter: (name) => (made.push(name), { add() {} }),
      createObservableGauge: (name) => (made.push(name), { addCallback() {}, removeCallback() {} }),
      createObservableCounter: (name) => (made.push(name), { addCallback() {}, removeCallback() {} }),
      createObservableUpDownCounter: (name) => (made.push(name), { addCallback() {}, removeCallback() {} }),
      createGauge: (name) => (made.push(name), { record() {} }),
      addBatchObservableCallback() {}, removeBatchObservableCallback() {},
    }) })
    const cache = new RustoCache()
    const stop = instrument(cache, { spans: false })
    await cache.getOrSet({ key: 'k', factory: () => 1 })
    stop()
    return Response.json({ instrumented: made.includes('cache.requests'), core: cache.stats().core })
  },
}`

describe('workerd (edge runtime)', () => {
  it('instruments a cache of the workerd entry with rustocache/otel: one copy of every class in the flavour', async () => {
    const { build } = await import('esbuild')
    const api = await build({ stdin: { contents: "export * from '@opentelemetry/api'", resolveDir: process.cwd() }, bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' })
    expect(await runInWorkerd('edge', OTEL_WORKER, ['/'], { '@opentelemetry/api': api.outputFiles[0]!.text })).toEqual({ instrumented: true, core: 'wasm' })
    // Both entries import the classes from the flavour's shared chunks, not each its own copy.
    const chunkOf = (file: string) => [...readFileSync(resolve('dist/edge', file), 'utf8').matchAll(/from ['"]\.\/(chunk-\w+\.js)['"]/g)].map((m) => m[1])
    expect(chunkOf('otel.js').some((c) => chunkOf('index.js').includes(c))).toBe(true)
  })

  it('runs the WASM core through the workerd entry, which imports the .wasm file as a module', async () => {
    expect(await runInWorkerd('edge')).toEqual({ core: 'wasm', value: { hello: 'edge' }, lru: ['c', 'b'], many: [{ hello: 'edge' }, null], tracing: false, answers: 3 })
  })

  it('falls back to the TypeScript core with the default entry, whose inline bytes workerd will not compile', async () => {
    expect(await runInWorkerd('node')).toMatchObject({ core: 'js', value: { hello: 'edge' }, lru: ['c', 'b'] })
  })

  it('hands a refresh behind a stale answer to ctx.waitUntil, so the next request sees it', async () => {
    // The cache is made in the module's global scope, where workerd refuses random values: its core is made by
    // the first request. The first read answers stale (v0) and refreshes; a later one answers v1.
    expect(await runInWorkerd('edge', REFRESH_WORKER, ['/seed', '/read', '/later'])).toEqual([{ seeded: true }, { value: 'v0' }, { value: 'v1' }])
    // Without waitUntil, workerd cancels the refresh once the response is sent: the next request gets v0 again.
    expect(await runInWorkerd('edge', REFRESH_WORKER, ['/seed', '/read?plain', '/later?plain'])).toEqual([{ seeded: true }, { value: 'v0' }, { value: 'v0' }])
  })
})
