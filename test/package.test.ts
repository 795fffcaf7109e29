import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// The built package, as a user's Node resolves it through the exports map (npm test builds dist/ first).
const run = (args: string[]): string => execFileSync(process.execPath, args, { cwd: process.cwd(), encoding: 'utf8' }).trim()
const script = `const c = createCore({ maxItems: 2, policy: 'lru' }); c.set('a', 1, 0); c.set('b', 2, 0); c.set('c', 3, 0);
  console.log(JSON.stringify([c.kind, c.get('a', 0), c.get('c', 0)]))`

describe('the published package', () => {
  it('loads through require() (CJS) with the WASM core inlined', () => {
    expect(run(['-e', `const { createCore } = require('rustocache'); ${script}`])).toBe('["wasm",null,3]')
  })

  it('loads through import (ESM)', () => {
    expect(run(['--input-type=module', '-e', `import { createCore } from 'rustocache'; ${script}`])).toBe('["wasm",null,3]')
  })

  it('keeps the core entry free of Node-only imports', () => {
    const chunks = readdirSync('dist').filter((f) => /^chunk-.*\.c?js$/.test(f))
    // The edge and browser flavours: every file of theirs.
    const flavours = ['edge', 'web'].flatMap((dir) => readdirSync(`dist/${dir}`).filter((f) => f.endsWith('.js') && f !== 'otel.js').map((f) => `${dir}/${f}`))
    for (const file of ['index.js', 'index.cjs', 'chaos.js', 'chaos.cjs', 'browser.js', 'browser.cjs', 'edge-drivers.js', 'edge-drivers.cjs', 'keyv.js', 'keyv.cjs', ...chunks, ...flavours]) {
      const code = readFileSync(`dist/${file}`, 'utf8')
      expect(code, file).not.toMatch(/from ['"]node:|require\(['"]node:|['"](ioredis|@opentelemetry\/api|prom-client|pg|@aws-sdk\/client-dynamodb)['"]/)
    }
  })

  it('throws one RustoCacheError class from every entry, in CJS and ESM', () => {
    const check = `try { redisDriver({ connection: 'redis://x', tagRetention: 'soon' }) } catch (e) { console.log(e instanceof RustoCacheError, e.code) }`
    expect(run(['-e', `const { RustoCacheError } = require('rustocache'); const { redisDriver } = require('rustocache/redis'); ${check}`])).toBe('true E_INVALID_TTL')
    expect(run(['--input-type=module', '-e', `import { RustoCacheError } from 'rustocache'; import { redisDriver } from 'rustocache/redis'; ${check}`])).toBe('true E_INVALID_TTL')
  })

  it('takes a cache and its errors from the other format: instanceof asks a brand, so two copies agree', () => {
    const script = `const cjs = require('rustocache')
      import('rustocache').then((esm) => {
        const cache = new cjs.RustoCache()
        esm.observe(cache, {})()
        let e
        try { new cjs.RustoCache({ ttl: -1 }) } catch (x) { e = x }
        console.log([cache instanceof esm.RustoCache, e instanceof esm.RustoCacheError, e instanceof esm.InvalidTtlError, e instanceof esm.InvalidKeyError, {} instanceof esm.RustoCache].join(' '))
      })`
    expect(run(['-e', script])).toBe('true true true false false')
  })

  it('instruments a cache from the core entry with rustocache/otel and rustocache/prometheus, in CJS and ESM', () => {
    const body = `const cache = new RustoCache(); const stop = instrument(cache); collect(cache, { registry: new Registry() }); stop(); console.log('ok')`
    expect(run(['-e', `const { RustoCache } = require('rustocache'); const { instrument } = require('rustocache/otel'); const { collect } = require('rustocache/prometheus'); const { Registry } = require('prom-client'); ${body}`])).toBe('ok')
    expect(run(['--input-type=module', '-e', `import { RustoCache } from 'rustocache'; import { instrument } from 'rustocache/otel'; import { collect } from 'rustocache/prometheus'; import { Registry } from 'prom-client'; ${body}`])).toBe('ok')
  })

  it('loads rustocache/postgres and rustocache/test-suite in CJS and ESM, with one RustoCacheError class', () => {
    const body = `try { postgresDriver({ connection: 'postgres://x', table: 'bad name' }) } catch (e) { console.log(e instanceof RustoCacheError, e.code) }
      const d = postgresDriver({ connection: 'postgres://127.0.0.1:1/x', pruneInterval: null }).create({ prefix: 'p', logger: { warn() {}, error() {} }, rejected() {} })
      d.disconnect().then(() => console.log(typeof l2DriverSuite, typeof busSuite))`
    const expected = 'true E_INVALID_OPTION\nfunction function'
    expect(run(['-e', `const { RustoCacheError } = require('rustocache'); const { postgresDriver } = require('rustocache/postgres'); const { l2DriverSuite, busSuite } = require('rustocache/test-suite'); ${body}`])).toBe(expected)
    expect(run(['--input-type=module', '-e', `import { RustoCacheError } from 'rustocache'; import { postgresDriver } from 'rustocache/postgres'; import { l2DriverSuite, busSuite } from 'rustocache/test-suite'; ${body}`])).toBe(expected)
  })

  it('resolves the types of every subpath under moduleResolution node10 too (typesVersions)', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, unknown> }
    const subpaths = Object.keys(pkg.exports).filter((k) => k !== '.' && k !== './package.json').map((k) => k.slice(2))
    // A consumer with the package in its node_modules (node10 knows no self-reference).
    const dir = mkdtempSync(join(tmpdir(), 'rustocache-node10-'))
    mkdirSync(join(dir, 'node_modules'))
    symlinkSync(process.cwd(), join(dir, 'node_modules', 'rustocache'), 'dir')
    const lines = [`import { RustoCache } from 'rustocache'`, ...subpaths.map((s, i) => `import * as m${i} from 'rustocache/${s}'`), `export const all = [RustoCache, ${subpaths.map((_, i) => `m${i}`).join(', ')}]`]
    writeFileSync(join(dir, 'index.ts'), lines.join('\n'))
    const compilerOptions = { moduleResolution: 'node10', module: 'commonjs', target: 'es2022', noEmit: true, skipLibCheck: true, strict: true, types: [] }
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['index.ts'] }))
    const tsc = join(process.cwd(), 'node_modules/typescript/bin/tsc')
    const result = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' })
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  })

  it('uses no eval and no new Function in any built file (edge runtimes refuse them; .eval( is Redis EVAL)', () => {
    for (const file of readdirSync('dist').filter((f) => /\.c?js$/.test(f))) {
      const code = readFileSync(`dist/${file}`, 'utf8')
      expect(code, file).not.toMatch(/(?<![.\w])eval\s*\(|new\s+Function\s*\(/)
    }
  })
})
