import { copyFileSync } from 'node:fs'
import { defineConfig } from 'tsup'

// One line per public entry; each gets ESM, CJS and types.
const entry = {
  index: 'src/index.ts',
  redis: 'src/redis/index.ts',
}

// No shared chunks: each entry file stands alone (the workerd test loads one file).
const shared = { dts: true, sourcemap: true, target: 'es2022', platform: 'neutral', treeshake: true, splitting: false } as const

export default defineConfig([
  { ...shared, entry, format: ['esm', 'cjs'] },
  {
    // workerd / edge-light: ESM only, the .wasm file beside it, imported as a module
    ...shared,
    entry: { edge: 'src/edge.ts' },
    format: ['esm'],
    external: ['./rustocache.wasm'],
    onSuccess: async () => copyFileSync('build/rustocache.wasm', 'dist/rustocache.wasm'),
  },
])
