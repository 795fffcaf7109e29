import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup/no-unhandled.ts'],
    // Memory figures (test/chaos.*) are taken after a full gc().
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // In CI also write a JSON report, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'build/vitest-report.json' }]] : ['default'],
    // `npm run coverage`: what the suite runs of src/ in this process and its workers (V8). Code other processes
    // or a browser run from dist/ (the chaos children, Chromium, workerd, the package test) does not count.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      exclude: ['src/core/wasm-bytes.generated.ts', 'src/**/*.d.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'build/coverage',
    },
  },
})
