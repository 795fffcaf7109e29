import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { resolve } from 'node:path'
import type { BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../bench/lib/chromium.mjs'

// The built core entry in headless Chromium (Debian's chromium; .ci/run installs it when missing).
const PAGE = `<!doctype html><script type="module">
import { RustoCache, createCore, loadWasm, observe, tracingChannelAvailable, wasmSupported } from '/dist/web/index.js'
// The browser flavour fetches its WASM build in loadWasm(): before it, createCore says so.
let withoutLoad
try { createCore() } catch (e) { withoutLoad = e.code }
await loadWasm()
const cache = new RustoCache({ ttl: '1m', grace: '1h' })
let answers = 0
observe(cache, { request: () => void answers++ })
const value = await cache.getOrSet({ key: 'k', factory: async () => ({ hello: 'browser' }) })
await cache.setMany({ items: [{ key: 'a', value: 1 }, { key: 'b', value: 2 }] })
const core = createCore({ maxItems: 2, policy: 'lru' })
core.set('x', 1, 0); core.set('y', 2, 0); core.set('z', 3, 0)
window.result = { supported: wasmSupported(), withoutLoad, core: cache.stats().core, value,
  many: await cache.getMany({ keys: ['a', 'missing', 'b'] }), lru: [...core.keys()], tracing: tracingChannelAvailable, answers }
</script>`

// No loadWasm(): the cache loads its core by itself and its first call waits for it.
const LAZY_PAGE = `<!doctype html><script type="module">
import { RustoCache } from '/dist/web/index.js'
const cache = new RustoCache()
const value = await cache.getOrSet({ key: 'k', factory: () => 'lazy' })
window.result = { value, core: cache.stats().core, again: await cache.get({ key: 'k' }) }
</script>`

// A browser without WebAssembly (a CSP without wasm-unsafe-eval, some hardened modes): the TypeScript core,
// fetched as its own chunk.
const NO_WASM_PAGE = `<!doctype html><script>delete globalThis.WebAssembly</script><script type="module">
import { RustoCache } from '/dist/web/index.js'
const cache = new RustoCache()
const value = await cache.getOrSet({ key: 'k', factory: () => 'no wasm' })
window.result = { value, core: cache.stats().core }
</script>`

// A page with a cache on the BroadcastChannel bus (rustocache/browser), driven by the test through page.evaluate.
const BUS_PAGE = `<!doctype html><script type="module">
import { RustoCache } from '/dist/web/index.js'
import { broadcastBus } from '/dist/web/browser.js'
window.cache = new RustoCache({ bus: broadcastBus({ channel: 'pages' }) })
window.ready = true
</script>`

// IndexedDB as L2 and BroadcastChannel as the bus: the tiers of rustocache/browser together.
const TIERS_PAGE = `<!doctype html><script type="module">
import { RustoCache } from '/dist/web/index.js'
import { broadcastBus, indexedDbDriver } from '/dist/web/browser.js'
window.cache = new RustoCache({ ttl: '1h', l2: indexedDbDriver({ name: 'tiers' }), bus: broadcastBus({ channel: 'tiers' }) })
window.ready = true
</script>`

// lock: { distributed: true } over the Web Locks API: one page runs a cold key's factory.
const LOCKS_PAGE = `<!doctype html><script type="module">
import { RustoCache } from '/dist/web/index.js'
import { indexedDbDriver } from '/dist/web/browser.js'
window.cache = new RustoCache({ ttl: '1h', lock: { distributed: true }, l2: indexedDbDriver({ name: 'locks' }) })
window.runs = 0
window.ready = true
</script>`

let server: Server
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined
let context: BrowserContext
let base = ''
/** Every file of the package the pages fetched, in order. */
const fetched: string[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE)
    } else if (req.url === '/example') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(readFileSync('examples/browser/index.html'))
    } else if (req.url === '/locks') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(LOCKS_PAGE)
    } else if (req.url === '/tiers') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(TIERS_PAGE)
    } else if (req.url === '/bus') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(BUS_PAGE)
    } else if (req.url === '/lazy' || req.url === '/no-wasm') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(req.url === '/lazy' ? LAZY_PAGE : NO_WASM_PAGE)
    } else if (req.url && /^\/dist\/[\w/.-]+\.(js|wasm)$/.test(req.url) && !req.url.includes('..')) {
      fetched.push(req.url)
      res.writeHead(200, { 'content-type': req.url.endsWith('.wasm') ? 'application/wasm' : 'text/javascript' }).end(readFileSync(resolve('.' + req.url)))
    } else res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  browser = await launchChromium()
  context = browser.context
}, 60_000)

afterAll(async () => {
  await browser?.close()
  server?.close()
})

describe('Chromium', () => {
  it('runs the cache on the WASM core after loadWasm()', async () => {
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(base)
    const result = (await page.waitForFunction(() => (window as unknown as { result?: unknown }).result, undefined, { timeout: 20_000 })).jsonValue()
    expect(errors).toEqual([])
    expect(await result).toMatchObject({
      supported: true,
      withoutLoad: 'E_WASM_UNAVAILABLE',
      core: 'wasm',
      value: { hello: 'browser' },
      many: [1, undefined, 2],
      lru: ['z', 'y'],
      // No diagnostics_channel in a browser: observers still hear every answer (1 getOrSet + 3 getMany keys).
      tracing: false,
      answers: 4,
    })
  })

  it('loads its own core without loadWasm(): one .wasm file, never the TypeScript core', async () => {
    const page = await context.newPage()
    fetched.length = 0
    await page.goto(`${base}/lazy`)
    const result = await (await page.waitForFunction(() => (window as unknown as { result?: unknown }).result, undefined, { timeout: 20_000 })).jsonValue()
    expect(result).toEqual({ value: 'lazy', core: 'wasm', again: 'lazy' })
    // Chromium has SIMD and the js-string builtins: the strings build, alone.
    expect(fetched.filter((f) => f.endsWith('.wasm'))).toEqual(['/dist/web/rustocache-strings.wasm'])
    expect(fetched.some((f) => f.includes('js-core'))).toBe(false)
    await page.close()
  })

  it('falls back to the TypeScript core, fetched as its own chunk, where WebAssembly is missing', async () => {
    const page = await context.newPage()
    fetched.length = 0
    await page.goto(`${base}/no-wasm`)
    const result = await (await page.waitForFunction(() => (window as unknown as { result?: unknown }).result, undefined, { timeout: 20_000 })).jsonValue()
    expect(result).toEqual({ value: 'no wasm', core: 'js' })
    expect(fetched.some((f) => /\/dist\/web\/js-core-\w+\.js$/.test(f))).toBe(true)
    expect(fetched.filter((f) => f.endsWith('.wasm'))).toEqual([])
    await page.close()
  })

  it('keeps the L1 of three pages of one origin coherent over broadcastBus', async () => {
    const pages = await Promise.all([0, 1, 2].map(() => context.newPage()))
    const errors: string[] = []
    for (const page of pages) {
      page.on('pageerror', (e) => errors.push(e.message))
      await page.goto(`${base}/bus`)
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready, undefined, { timeout: 20_000 })
    }
    const [a, b, c] = pages as [(typeof pages)[number], (typeof pages)[number], (typeof pages)[number]]
    type Win = { cache: { set(o: object): Promise<boolean>; get(o: object): Promise<unknown>; getOrSet(o: object): Promise<unknown>; stats(): { busReceived: number } } }
    for (const [page, value] of [[b, 'b'], [c, 'c']] as const) {
      expect(await page.evaluate((v) => (window as unknown as Win).cache.getOrSet({ key: 'k', factory: () => v }), value)).toBe(value)
    }
    await a.evaluate(() => (window as unknown as Win).cache.set({ key: 'k', value: 'a' }))
    await a.waitForTimeout(100)
    for (const page of [b, c]) {
      // No L2: the copy is gone, not stale.
      expect(await page.evaluate(() => (window as unknown as Win).cache.get({ key: 'k' }))).toBeUndefined()
      expect(await page.evaluate(() => (window as unknown as Win).cache.stats().busReceived)).toBeGreaterThanOrEqual(1)
    }
    expect(errors).toEqual([])
    await Promise.all(pages.map((p) => p.close()))
  })

  it('shares IndexedDB between pages and across a reload, with invalidations heard over the bus', async () => {
    type Win = { cache: { set(o: object): Promise<boolean>; get(o: object): Promise<unknown>; delete(o: object): Promise<boolean>; getOrSet(o: object): Promise<unknown>; stats(): { l2Hits: number } } }
    const errors: string[] = []
    const openPage = async () => {
      const page = await context.newPage()
      page.on('pageerror', (e) => errors.push(e.message))
      await page.goto(`${base}/tiers`)
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready, undefined, { timeout: 20_000 })
      return page
    }
    const a = await openPage()
    const b = await openPage()
    await a.evaluate(() => (window as unknown as Win).cache.set({ key: 'user:1', value: { name: 'Ada' } }))
    // B never computed it: it comes from IndexedDB.
    expect(await b.evaluate(() => (window as unknown as Win).cache.get({ key: 'user:1' }))).toEqual({ name: 'Ada' })
    expect(await b.evaluate(() => (window as unknown as Win).cache.stats().l2Hits)).toBe(1)
    // A's copy is in its L1; B deletes, and once its delete has resolved and a message has had time to arrive, A misses.
    await b.evaluate(() => (window as unknown as Win).cache.delete({ key: 'user:1' }))
    await a.waitForTimeout(100)
    expect(await a.evaluate(() => (window as unknown as Win).cache.get({ key: 'user:1' }))).toBeUndefined()
    // A value written before a reload is there after it.
    await a.evaluate(() => (window as unknown as Win).cache.set({ key: 'kept', value: 42 }))
    await b.reload()
    await b.waitForFunction(() => (window as unknown as { ready?: boolean }).ready, undefined, { timeout: 20_000 })
    expect(await b.evaluate(() => (window as unknown as Win).cache.get({ key: 'kept' }))).toBe(42)
    expect(errors).toEqual([])
    await a.close()
    await b.close()
  })

  it('runs a cold key\'s factory in one page of three with Web Locks, and in another when that page closes', async () => {
    type Win = { runs: number; cache: { getOrSet(o: object): Promise<unknown> } }
    const errors: string[] = []
    const pages = await Promise.all(
      [0, 1, 2].map(async () => {
        const page = await context.newPage()
        page.on('pageerror', (e) => errors.push(e.message))
        await page.goto(`${base}/locks`)
        await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready, undefined, { timeout: 20_000 })
        return page
      }),
    )
    const slow = (page: (typeof pages)[number], key: string) =>
      page.evaluate(
        (k) =>
          (window as unknown as Win).cache.getOrSet({
            key: k,
            factory: async () => {
              ;(window as unknown as Win).runs++
              await new Promise((r) => setTimeout(r, 300))
              return 'made once'
            },
          }),
        key,
      )
    expect(await Promise.all(pages.map((p) => slow(p, 'report')))).toEqual(['made once', 'made once', 'made once'])
    const runs = await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as Win).runs)))
    expect(runs.reduce((a, b) => a + b, 0)).toBe(1)
    // The first page takes the lock with a factory that never ends, then closes: the second runs its own.
    const [first, second] = pages as [(typeof pages)[number], (typeof pages)[number]]
    void first.evaluate(() => (window as unknown as Win).cache.getOrSet({ key: 'stuck', factory: () => new Promise(() => {}) })).catch(() => undefined)
    await first.waitForFunction(() => navigator.locks.query().then((s) => (s.held ?? []).length > 0))
    const waiting = second.evaluate(() => (window as unknown as Win).cache.getOrSet({ key: 'stuck', factory: async () => 'from the second page' }))
    await second.waitForTimeout(100)
    await first.close()
    expect(await waiting).toBe('from the second page')
    expect(errors).toEqual([])
    await Promise.all(pages.slice(1).map((p) => p.close()))
  })

  it('runs examples/browser: two tabs show one report, computed once, and a change in one shows in the other', async () => {
    type Win = { factoryRuns: number; cache: { get(o: object): Promise<unknown> } }
    const errors: string[] = []
    const open = async () => {
      const page = await context.newPage()
      page.on('pageerror', (e) => errors.push(e.message))
      await page.goto(`${base}/example`)
      return page
    }
    const [a, b] = await Promise.all([open(), open()])
    for (const page of [a!, b!]) await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready, undefined, { timeout: 20_000 })
    const shown = (page: NonNullable<typeof a>) => page.evaluate(() => document.querySelector('#report')!.textContent)
    expect(await shown(a!)).toBe(await shown(b!))
    const runs = await Promise.all([a!, b!].map((p) => p.evaluate(() => (window as unknown as Win).factoryRuns)))
    expect(runs[0]! + runs[1]!).toBe(1)
    await a!.click('#change')
    await b!.waitForFunction(() => document.querySelector('#report')!.textContent!.startsWith('changed at'), undefined, { timeout: 5_000 })
    expect(errors).toEqual([])
    await a!.close()
    await b!.close()
  })
})
