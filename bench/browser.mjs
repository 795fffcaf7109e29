// `npm run bench:browser`: bundles bench/browser/page.mjs (the core and SIMD suites, with lru-cache and mnemonist)
// with esbuild, serves it on loopback with the cross-origin isolation headers (without them performance.now is
// coarsened to 100 us), runs it in headless Chromium (Debian's chromium on the PATH, or CHROMIUM_PATH) and prints
// the same tables as `npm run bench`, then a table of Node's figures (bench/results/core.json) beside
// Chromium's. A full run writes bench/results/browser.json; `--quick` checks that it runs.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { printTable, ratioTable } from './lib/harness.mjs'
import { quick } from './lib/mode.mjs'
import { versusBest } from './lib/report.mjs'
import * as core from './suites/core.mjs'
import * as simd from './suites/simd.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const ours = ['WasmCore', 'WasmCore (scalar)', 'JsCore']

function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim()
    } catch {
      // try the next name
    }
  }
  throw new Error('bench:browser needs Chromium: sudo apt-get install -y chromium (or set CHROMIUM_PATH)')
}

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

const profile = mkdtempSync(join(tmpdir(), 'rustocache-bench-chromium-'))
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath(),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--js-flags=--expose-gc'],
})
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
  await context.close()
  server.close()
  rmSync(profile, { recursive: true, force: true })
}

const label = `Chromium ${outcome.version}`
printTable(ratioTable(outcome.core, core.columns), `${label}, L1 core: median ns/op over ${outcome.features.rounds} rounds (median per-round ratio vs lru-cache with ttl)`)
const best = Object.entries(outcome.core).map(([scenario, by]) => ({ scenario, ...versusBest(by, core.jsPeers, ours) }))
printTable(best, `${label}, L1 core against the fastest JS contender of each row: median of per-round ratios`)
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
