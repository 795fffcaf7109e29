// What each entry costs a browser or edge bundle: bundled from dist/ with esbuild (as a bundler takes it for
// `import ... from 'rustocache'` or a subpath), minified, gzipped. `node scripts/sizes.mjs` prints the table;
// test/sizes.test.ts holds the budgets. Run `npm run build` first.
import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'

export const ENTRIES = [
  { name: 'rustocache (browser)', file: 'dist/index.js', platform: 'browser' },
  { name: 'rustocache/browser', file: 'dist/browser.js', platform: 'browser' },
  { name: 'rustocache/edge-drivers', file: 'dist/edge-drivers.js', platform: 'neutral' },
  { name: 'rustocache (workerd)', file: 'dist/edge.js', platform: 'neutral', external: ['./rustocache.wasm'] },
]

/** Minified and gzipped bytes of each entry, bundled alone. */
export async function sizes() {
  const out = []
  for (const e of ENTRIES) {
    const result = await build({
      entryPoints: [e.file],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: e.platform,
      write: false,
      external: e.external ?? [],
      logLevel: 'silent',
    })
    const code = result.outputFiles[0].contents
    out.push({ entry: e.name, minified: code.length, gzipped: gzipSync(code, { level: 9 }).length })
  }
  return out
}

if (process.argv[1]?.endsWith('sizes.mjs')) {
  for (const s of await sizes()) console.log(`${s.entry.padEnd(24)} ${(s.minified / 1024).toFixed(1).padStart(7)} KB minified ${(s.gzipped / 1024).toFixed(1).padStart(6)} KB gzipped`)
}
