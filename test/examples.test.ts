import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { promisify } from 'node:util'
import { describe, expect, inject, it } from 'vitest'

// Every example in examples/ runs against the built package (npm test builds dist/ first) and says what it
// promises in its comments.
const run = promisify(execFile)
const expected: Record<string, RegExp> = {
  'get-or-set.mjs': /1000 callers, 1 factory call, got Ada/,
  'grace.mjs': /again \(backing off, no factory call\): 42 \| factory calls: 1/,
  'timeouts.mjs': /soft timeout answer: yesterday[\s\S]*after the background run: today[\s\S]*hard timeout: E_FACTORY_HARD_TIMEOUT[\s\S]*late value cached: today/,
  'early-refresh.mjs': /hit past half the ttl: config v1[\s\S]*refreshed meanwhile: config v2/,
  'tags.mjs': /still served within grace: \{ name: 'Linus' \}[\s\S]*deleted: \[ undefined, undefined \]/,
  'namespaces.mjs': /after users.clear\(\): undefined undefined global/,
  'worker-threads.mjs': /worker cached: 10\nworker reads after main wrote: gone/,
  'worker.mjs': /first request: 10\nstale, answered at once: 10 \| handed to waitUntil: 1\nnext request: 11/,
  'events-stats-logging.mjs': /hit a \(graced\)/,
  'batch.mjs': /\[ 9, undefined, 64 \]/,
  'byte-limits.mjs': /a: 400, b: undefined, c: 400, huge: undefined/,
  'core.mjs': /dropped a evict\n(wasm|js) fresh 2 \[ 'b', 'c' \]/,
  'redis.mjs': /b read from L2: Ada true\nb after a changed it: Ada Lovelace\nb stats: \{"l2Hits":2,"busReceived":2\}/,
  'invalidation-and-errors.mjs': /gets: 100\nbut the cache did not keep it: undefined \| discarded: 1\nrefused: true E_INVALID_KEY\nrefused: true E_UNDEFINED_VALUE\nrefused: true E_INVALID_TTL\nstill there: safe/,
  'chaos.mjs': /during the outage: Ada \| l2Errors: [1-9][\s\S]*a hung L2 cost at most l2Timeout: true\nhealed, L2 has user:3: true \| faults injected: \{"calls":\d+,"errors":[1-9]\d*,"hangs":[1-9]/,
  'eviction-policy.mjs': /lru: 0 of 50 hot keys still in L1 \| evictions: 950\ntinylfu: (49|50) of 50 hot keys still in L1 \| evictions: 950/,
  'jitter-and-clone.mjs': /at 600 ms, between ttl and ttl \+ jitter: some of 100 still fresh\nwithout clone: changed by a caller\nwith clone: Ada\nrefused: E_UNCLONEABLE_VALUE/,
  'l2-only.mjs': /b reads: \{ version: 1 \}\nb reads after a changed it, no bus: \{ version: 2 \}\nb stats: \{"core":"none","l2Hits":2\}/,
  'observability.mjs': /channel: getOrSet key=user hit=false tier=- factory=true\nchannel: getOrSet key=user hit=true tier=l1 factory=false\nspans: db.query <- rustocache.factory, rustocache.factory <- rustocache.getOrSet, rustocache.getOrSet <- root\nrustocache_requests_total\{cache="users",namespace="",result="hit",tier="l1"\} 1\nrustocache_requests_total\{cache="users",namespace="",result="miss",tier="none"\} 1/,
  'postgres.mjs': /b reads from PostgreSQL: \{ name: 'Ada' \} \| l2Hits: 1\ngetMany, one query: \[ \{ name: 'Ada' \}, undefined \]\na fresh instance after deleteByTag: undefined/,
  'file.mjs': /a computes: \{ rows: 3 \} \| loads: 1\nb reads from the files: \{ rows: 3 \} \| l2Hits: 1\na fresh cache after deleteByTag: undefined\nexpired files pruned: 0/,
  // node:test's report: TAP on Node 20 and 22 (# pass), spec from Node 23 on (ℹ pass).
  'custom-driver.mjs': /b reads through the custom driver: Ada true[\s\S]*(#|ℹ) pass 17\n(#|ℹ) fail 0/,
  'signed-bus.mjs': /b after a signed change: undefined\nb after an unsigned message: 12 \| refused: 1/,
  'dynamodb.mjs': /b reads from DynamoDB: \{ name: 'Ada' \} \| l2Hits: 1\na fresh instance after deleteByTag: undefined\nan entry over 400 KB: E_L2_LIMIT/,
  'keyv.mjs': /b reads through Keyv: \{ name: 'Ada' \} \| l2Hits: 1\ncache-manager wrap: \{ theme: 'dark' \} \{ theme: 'dark' \} \| factory calls: 1 \| core: wasm/,
  'factory-context.mjs': /skipped: undefined false[\s\S]*kept the stale feed: \[ 'old post' \] \| onFactoryError saw: \[ 'E_FACTORY_ERROR feed background=false' \][\s\S]*forced: \{ eur: 1.09 \}/,
}

describe('examples', () => {
  const files = readdirSync('examples').filter((f) => f.endsWith('.mjs'))

  it('has an expectation for every example', () => {
    expect(files.sort()).toEqual(Object.keys(expected).sort())
  })

  it.each(Object.entries(expected))('%s runs and prints what it promises', async (file, pattern) => {
    const env = { ...process.env, REDIS_URL: inject('redisUrl'), DATABASE_URL: inject('databaseUrl') }
    const { stdout } = await run(process.execPath, [`examples/${file}`], { timeout: 20_000, env })
    expect(stdout).toMatch(pattern)
  })
})

describe('examples without their server', () => {
  it.each([
    ['redis.mjs', 'REDIS_URL', (port: number) => `redis://127.0.0.1:${port}`, 'Redis'],
    ['postgres.mjs', 'DATABASE_URL', (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres`, 'PostgreSQL'],
  ])('%s says which server it cannot reach, with a typed error, and exits 1', async (file, variable, url, server) => {
    const { freePort } = await import('./helpers/redis-server.js')
    const port = await freePort()
    const started = Date.now()
    const outcome = await run(process.execPath, [`examples/${file}`], { timeout: 20_000, env: { ...process.env, [variable]: url(port) } }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    )
    expect(outcome.code).toBe(1)
    expect(outcome.stderr).toContain(`E_L2_UNREACHABLE: cannot reach ${server} at 127.0.0.1:${port}`)
    // The default logger says it once too.
    expect(outcome.stderr.match(/^rustocache: cannot reach/gm)).toHaveLength(1)
    expect(Date.now() - started).toBeLessThan(10_000)
  })
})
