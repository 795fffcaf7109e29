import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

// The built package, as a user's Node resolves it through the exports map (npm test builds dist/ first).
const run = (args: string[]): string => execFileSync(process.execPath, args, { cwd: process.cwd(), encoding: 'utf8' }).trim()
const script = `const c = createCore({ maxItems: 2 }); c.set('a', 1, 0); c.set('b', 2, 0); c.set('c', 3, 0);
  console.log(JSON.stringify([c.kind, c.get('a', 0), c.get('c', 0)]))`

describe('the published package', () => {
  it('loads through require() (CJS) with the WASM core inlined', () => {
    expect(run(['-e', `const { createCore } = require('rustocache'); ${script}`])).toBe('["wasm",null,3]')
  })

  it('loads through import (ESM)', () => {
    expect(run(['--input-type=module', '-e', `import { createCore } from 'rustocache'; ${script}`])).toBe('["wasm",null,3]')
  })

  it('keeps the core entry free of Node-only imports', () => {
    for (const file of ['dist/index.js', 'dist/index.cjs', 'dist/edge.js']) {
      const code = readFileSync(file, 'utf8')
      expect(code).not.toMatch(/from ['"]node:|require\(['"]node:|['"]ioredis['"]/)
    }
  })
})
