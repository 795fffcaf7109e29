// What each entry costs a browser or edge bundle: what a bundler takes from dist/ for `import { RustoCache } from
// 'rustocache'` (or everything a subpath exports), bundled by esbuild with code splitting, minified, gzipped.
// A chunk the entry loads only by dynamic import (the browser flavour's TypeScript core) and the .wasm files it
// fetches are reported beside it, not in it. `node scripts/sizes.mjs` prints the table; test/sizes.test.ts holds
// the budgets. Run `npm run build` first.
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { gzipSync } from 'node:zlib'

export const ENTRIES = [
  { name: 'rustocache (browser)', file: 'dist/web/index.js', only: ['RustoCache'], platform: 'browser' },
  { name: 'rustocache (Node build in a browser bundle)', file: 'dist/index.js', only: ['RustoCache'], platform: 'browser' },
  { name: 'rustocache/browser', file: 'dist/web/browser.js', platform: 'browser' },
  { name: 'rustocache/edge-drivers', file: 'dist/edge/edge-drivers.js', platform: 'neutral' },
  { name: 'rustocache (workerd)', file: 'dist/edge/index.js', only: ['RustoCache'], platform: 'neutral', external: ['./rustocache.wasm'] },
]

/** The .wasm files the browser flavour fetches (loadWasm takes one of them). */
export const WASM_FILES = ['dist/web/rustocache.wasm', 'dist/web/rustocache-scalar.wasm', 'dist/web/rustocache-strings.wasm']

const gz = (bytes) => gzipSync(bytes, { level: 9 }).length

/** Minified and gzipped bytes of each entry, bundled alone; `lazy`: what it may load later by dynamic import. */
export async function sizes() {
  const out = []
  for (const e of ENTRIES) {
    const path = resolve(e.file)
    const result = await build({
      stdin: { contents: e.only ? `export { ${e.only.join(', ')} } from ${JSON.stringify(path)}` : `export * from ${JSON.stringify(path)}`, resolveDir: process.cwd(), loader: 'js' },
      bundle: true,
      splitting: true,
      outdir: 'sizes-out',
      minify: true,
      format: 'esm',
      platform: e.platform,
      write: false,
      metafile: true,
      external: e.external ?? [],
      logLevel: 'silent',
    })
    const files = new Map(result.outputFiles.map((f) => [f.path.slice(resolve('sizes-out').length + 1), f.contents]))
    const outputs = Object.fromEntries(Object.entries(result.metafile.outputs).map(([k, v]) => [k.replace(/^sizes-out\//, ''), v]))
    const entryFile = Object.keys(outputs).find((k) => outputs[k].entryPoint !== undefined && k.endsWith('.js'))
    // The entry and what it imports statically: what loads before the first line runs.
    const eager = new Set()
    const visit = (file) => {
      if (eager.has(file)) return
      eager.add(file)
      for (const i of outputs[file].imports) if (i.kind === 'import-statement' && !i.external) visit(i.path.replace(/^sizes-out\//, ''))
    }
    visit(entryFile)
    const sum = (names, f) => names.reduce((n, name) => n + f(files.get(name)), 0)
    const lazy = [...files.keys()].filter((k) => k.endsWith('.js') && !eager.has(k))
    out.push({ entry: e.name, minified: sum([...eager], (c) => c.length), gzipped: sum([...eager], gz), lazyGzipped: sum(lazy, gz) })
  }
  return out
}

/** Gzipped bytes of each .wasm file of the browser flavour. */
export function wasmSizes() {
  return WASM_FILES.map((file) => ({ file, bytes: readFileSync(file).length, gzipped: gz(readFileSync(file)) }))
}

if (process.argv[1]?.endsWith('sizes.mjs')) {
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`
  for (const s of await sizes()) {
    console.log(`${s.entry.padEnd(44)} ${kb(s.minified).padStart(9)} minified ${kb(s.gzipped).padStart(8)} gzipped${s.lazyGzipped ? ` (+ ${kb(s.lazyGzipped)} gzipped loaded only when needed)` : ''}`)
  }
  for (const w of wasmSizes()) console.log(`${w.file.padEnd(44)} ${kb(w.bytes).padStart(9)}          ${kb(w.gzipped).padStart(8)} gzipped`)
}
