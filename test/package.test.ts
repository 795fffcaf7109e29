import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
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
    for (const file of ['index.js', 'index.cjs', 'chaos.js', 'chaos.cjs', 'browser.js', 'browser.cjs', 'edge-drivers.js', 'edge-drivers.cjs', ...chunks, ...flavours]) {
      const code = readFileSync(`dist/${file}`, 'utf8')
      expect(code, file).not.toMatch(/from ['"]node:|require\(['"]node:|['"](ioredis|@opentelemetry\/api|prom-client|pg)['"]/)
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

  it('uses no eval and no new Function in any built file (edge runtimes refuse them; .eval( is Redis EVAL)', () => {
    for (const file of readdirSync('dist').filter((f) => /\.c?js$/.test(f))) {
      const code = readFileSync(`dist/${file}`, 'utf8')
      expect(code, file).not.toMatch(/(?<![.\w])eval\s*\(|new\s+Function\s*\(/)
    }
  })
})
