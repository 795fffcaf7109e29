import { copyFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { defineConfig, type Options } from 'tsup'

// One line per public entry; each gets ESM, CJS and types.
const entry = {
  index: 'src/index.ts',
  redis: 'src/redis/index.ts',
  chaos: 'src/chaos/index.ts',
  otel: 'src/otel/index.ts',
  prometheus: 'src/prometheus/index.ts',
  postgres: 'src/postgres/index.ts',
  'test-suite': 'src/test-suite/index.ts',
  browser: 'src/browser/index.ts',
  'edge-drivers': 'src/edge-drivers/index.ts',
  keyv: 'src/keyv/index.ts',
  file: 'src/file/index.ts',
  dynamodb: 'src/dynamodb/index.ts',
}

// The entries that run outside Node, built again for each flavour below, all in one build per flavour: one copy
// of every class per flavour, so rustocache/otel's instrument() takes the cache of the flavour's own entry.
const portable = {
  chaos: entry.chaos,
  otel: entry.otel,
  'test-suite': entry['test-suite'],
  browser: entry.browser,
  'edge-drivers': entry['edge-drivers'],
}

// Shared chunks, in CJS too: rustocache/redis, /chaos, /otel and /prometheus must throw the same RustoCacheError class as
// the core entry (a copy per entry would break instanceof).
const shared = { sourcemap: true, target: 'es2022', platform: 'neutral', treeshake: true, splitting: true } as const

/** Swaps a module for a flavour's own (the WASM builds' source, how the TypeScript core is reached). */
function swap(map: Record<string, string>): NonNullable<Options['esbuildPlugins']>[number] {
  return {
    name: 'flavour',
    setup(build) {
      for (const [from, to] of Object.entries(map)) build.onResolve({ filter: new RegExp(`${from.replace('.', '\\.')}$`) }, () => ({ path: resolve(to) }))
    },
  }
}

const copyWasm = (dir: string, builds: string[]) => async () => {
  for (const name of builds) copyFileSync(`build/${name}`, `${dir}/${name}`)
}

export default defineConfig([
  { ...shared, dts: true, entry, format: ['esm', 'cjs'] },
  {
    // workerd / edge-light (dist/edge/): ESM, the .wasm files beside it, imported as modules, which those
    // runtimes compile at deploy time; the inline base64 builds are left out (src/core/wasm-bytes.none.ts).
    ...shared,
    entry: { index: 'src/edge.ts', ...portable },
    outDir: 'dist/edge',
    format: ['esm'],
    external: ['./rustocache.wasm'],
    esbuildPlugins: [swap({ 'wasm-bytes.generated.js': 'src/core/wasm-bytes.none.ts' })],
    onSuccess: copyWasm('dist/edge', ['rustocache.wasm', 'rustocache-scalar.wasm']),
  },
  {
    // browser (dist/web/): ESM; the WASM builds are files fetched by loadWasm(), and the TypeScript core and the
    // bus room chunks loaded only where they are needed (src/web.ts).
    ...shared,
    entry: { index: 'src/web.ts', ...portable },
    outDir: 'dist/web',
    format: ['esm'],
    platform: 'browser',
    esbuildPlugins: [swap({ 'wasm-bytes.generated.js': 'src/core/wasm-bytes.none.ts', 'js-core-ref.js': 'src/core/js-core-ref.web.ts', 'coherence-ref.js': 'src/cache/coherence-ref.web.ts' })],
    onSuccess: copyWasm('dist/web', ['rustocache.wasm', 'rustocache-scalar.wasm', 'rustocache-strings.wasm']),
  },
])
