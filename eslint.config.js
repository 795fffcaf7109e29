import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'assembly/', 'bench/scratch/', 'src/core/wasm-bytes.generated.ts', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        globalThis: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        WebAssembly: 'readonly',
        TextEncoder: 'readonly',
        atob: 'readonly',
        URL: 'readonly',
        queueMicrotask: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: ['node:*', 'ioredis'] }],
    },
  },
  {
    // The browser bench page runs in a page, not in Node.
    files: ['bench/browser/**'],
    languageOptions: {
      globals: { document: 'readonly', location: 'readonly', navigator: 'readonly', performance: 'readonly', URLSearchParams: 'readonly' },
    },
  },
  {
    // A Worker module: the fetch API's globals.
    files: ['examples/worker.mjs'],
    languageOptions: { globals: { Request: 'readonly', Response: 'readonly' } },
  },
  {
    // Node-only subpaths: rustocache/redis (ioredis) and rustocache/file (the file system).
    files: ['test/**', 'bench/**', 'scripts/**', 'examples/**', '*.config.*', 'src/redis/**', 'src/file/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
)
