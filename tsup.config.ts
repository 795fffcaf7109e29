import { copyFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { defineConfig } from 'tsup'

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
}

// Shared chunks, in CJS too: rustocache/redis, /chaos, /otel and /prometheus must throw the same RustoCacheError class as
// the core entry (a copy per entry would break instanceof).
const shared = { dts: true, sourcemap: true, target: 'es2022', platform: 'neutral', treeshake: true, splitting: true } as const

export default defineConfig([
  { ...shared, entry, format: ['esm', 'cjs'] },
  {
    // workerd / edge-light: ESM only, the .wasm file beside it, imported as a module
    ...shared,
    entry: { edge: 'src/edge.ts' },
    format: ['esm'],
    external: ['./rustocache.wasm'],
    // It takes the .wasm file, so the inline base64 builds are left out (src/core/wasm-bytes.none.ts).
    esbuildPlugins: [
      {
        name: 'no-inline-wasm',
        setup(build) {
          build.onResolve({ filter: /wasm-bytes\.generated\.js$/ }, () => ({ path: resolve('src/core/wasm-bytes.none.ts') }))
        },
      },
    ],
    onSuccess: async () => {
      copyFileSync('build/rustocache.wasm', 'dist/rustocache.wasm')
      copyFileSync('build/rustocache-scalar.wasm', 'dist/rustocache-scalar.wasm')
    },
  },
])
