// `npm run bench:browser`: bundles bench/browser/page.mjs (the core and SIMD suites, with lru-cache and mnemonist)
// with esbuild, serves it on loopback with the cross-origin isolation headers (without them performance.now is
// coarsened to 100 us), runs it in headless Chromium (Debian's chromium on the PATH, or CHROMIUM_PATH) and prints
// the same tables as `npm run bench`, then a table of Node's figures (bench/results/core.json) beside
// Chromium's. A full run writes bench/results/browser.json; `--quick` checks that it runs.
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { createServer } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { launchChromium } from './lib/chromium.mjs'
import { printTable, ratioTable } from './lib/harness.mjs'
import { quick } from './lib/mode.mjs'
import { versusBest } from './lib/report.mjs'
import * as core from './suites/core.mjs'
import * as simd from './suites/simd.mjs'

const here = dirname(fileURLToPath(import.meta.url))

const bundle = await build({
  entryPoints: [join(here, 'browser', 'page.mjs')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  logLevel: 'error',
})
const pageJs = bundle.outputFiles[0].text
const html = readFileSync(join(here, 'browser', 'index.html'))

const server = createServer((req, res) => {
  const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
  const path = new URL(req.url, 'http://x').pathname
  if (path === '/') res.writeHead(200, { 'content-type': 'text/html', ...isolation }).end(html)
  else if (path === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript', ...isolation }).end(pageJs)
  else res.writeHead(404).end()
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const url = `http://127.0.0.1:${server.address().port}/${quick ? '?quick' : ''}`

const browser = await launchChromium(['--js-flags=--expose-gc'])
const context = browser.context
const startedAt = Date.now()
let outcome
try {
  const page = await context.newPage()
  const version = context.browser()?.version() ?? 'unknown'
  outcome = await new Promise((resolve, reject) => {
    page.on('pageerror', (error) => reject(error))
    page.exposeFunction('__report', (kind, json) => {
      const data = JSON.parse(json)
      if (kind === 'start') {
        console.log(`rustocache browser bench${quick ? ' (--quick: for checking, not quoting)' : ''}: Chromium ${version}, ${data.rounds} rounds x ${data.time} ms per task; WASM SIMD ${data.simd ? 'yes' : 'no'}, wasm:js-string builtins ${data.jsStringBuiltins ? 'yes' : 'no'}, cross-origin isolated ${data.crossOriginIsolated ? 'yes' : 'no'}, gc ${data.gc ? 'yes' : 'no'}`)
        if (!data.crossOriginIsolated) console.log('warning: the page is not cross-origin isolated, so performance.now is coarse')
      } else if (kind === 'progress') console.error(`  ${data}`)
      else if (kind === 'done') resolve({ ...data, version })
      else if (kind === 'error') reject(new Error(`the bench page failed: ${data}`))
    }).then(() => page.goto(url), reject)
  })
} finally {
  await browser.close()
  server.close()
}

const label = `Chromium ${outcome.version}`
printTable(ratioTable(outcome.core, core.columns), `${label}, L1 core: median ns/op over ${outcome.features.rounds} rounds (median per-round ratio vs lru-cache with ttl)`)
printTable(core.versusBestRows(outcome.core), `${label}, L1 core against the fastest JS contender of each row: median of per-round ratios`)
printTable(ratioTable(outcome.simd, simd.columns), `${label}, batch key hash: v128 against scalar WASM and JS (median ns per key, ratio vs JS hashKey)`)

// Node's last full run beside this one: the same rows, each runtime's WasmCore against its own fastest JS LRU.
const nodeFile = join(here, 'results', 'core.json')
if (existsSync(nodeFile)) {
  const node = JSON.parse(readFileSync(nodeFile, 'utf8'))
  const ratio = (by, name) => (by?.[name] ? versusBest(by, core.jsPeers, [name])[`${name} vs best JS`] : '')
  printTable(
    Object.entries(outcome.core).map(([scenario, by]) => ({
      scenario,
      [`Node ${node.machine.node}: WasmCore vs best JS`]: ratio(node.results[scenario], 'WasmCore'),
      [`${label}: WasmCore vs best JS`]: ratio(by, 'WasmCore'),
      [`${label}: scalar WasmCore vs best JS`]: ratio(by, 'WasmCore (scalar)'),
      [`${label}: JsCore vs best JS`]: ratio(by, 'JsCore'),
    })),
    `Node (bench/results/core.json, ${node.machine.date.slice(0, 10)}) beside ${label} (this run)`,
  )
}
console.log(`\nbrowser bench finished in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`)
if (!quick) {
  writeFileSync(join(here, 'results', 'browser.json'), JSON.stringify({ browser: label, date: new Date().toISOString(), ...outcome }, null, 2))
  console.log('wrote bench/results/browser.json')
}
