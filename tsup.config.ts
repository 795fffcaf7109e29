import { defineConfig } from 'tsup'

// One line per public entry; each gets ESM, CJS and types.
const entry = {
  index: 'src/index.ts',
  redis: 'src/redis/index.ts',
}

export default defineConfig({
  entry,
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  treeshake: true,
})
