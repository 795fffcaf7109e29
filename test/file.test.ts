// rustocache/file: the L2 on the file system, with the conformance suite on a temporary directory and two
// processes sharing one directory (this one and a child on the built package).
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { fileDriver } from '../src/file/index.js'
import { ErrorCodes, RustoCache } from '../src/index.js'
import { l2DriverSuite } from '../src/test-suite/index.js'

const root = mkdtempSync(join(tmpdir(), 'rustocache-file-'))
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url')
const open: RustoCache[] = []
afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect()))
})

l2DriverSuite({
  name: 'fileDriver',
  driver: () => fileDriver({ directory: root, pruneInterval: null }),
  writeRaw: async (prefix, key, text) => {
    mkdirSync(join(root, b64(prefix)), { recursive: true })
    writeFileSync(join(root, b64(prefix), b64(key)), `inf\n${key}\n${text}`)
  },
  describe,
  it,
})

describe('fileDriver', () => {
  it('shares a directory between two processes: entries, deletes and tag invalidations', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'rustocache-file2-'))
    const cache = new RustoCache({ prefix: 'shared', l2: fileDriver({ directory }) })
    open.push(cache)
    await cache.set({ key: 'user:1', value: { name: 'Ada' }, tags: ['users'] })
    const child = `import { RustoCache } from 'rustocache'
      import { fileDriver } from 'rustocache/file'
      const cache = new RustoCache({ prefix: 'shared', l2: fileDriver({ directory: ${JSON.stringify(directory)} }) })
      const read = await cache.get({ key: 'user:1' })
      await cache.set({ key: 'from-child', value: 'written by ' + process.pid, tags: ['users'] })
      console.log(JSON.stringify(read))
      await cache.disconnect()`
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', child], { timeout: 20_000 })
    expect(JSON.parse(stdout)).toEqual({ name: 'Ada' })
    expect(await cache.get({ key: 'from-child' })).toMatch(/^written by \d+$/)
    await cache.deleteByTag({ tags: ['users'] })
    const { stdout: after } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', child.replace("console.log(JSON.stringify(read))", "console.log(JSON.stringify(read ?? null))")], { timeout: 20_000 })
    expect(JSON.parse(after)).toBeNull()
  })

  it('names a long key by its hash and still clears it by namespace path', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'rustocache-file3-'))
    const cache = new RustoCache({ prefix: 'p', l2: fileDriver({ directory }) })
    open.push(cache)
    const long = `ns:${'k'.repeat(500)}`
    await cache.set({ key: long, value: 1 })
    expect(readdirSync(join(directory, b64('p'))).some((f) => f.endsWith('.h'))).toBe(true)
    expect(await new RustoCache({ prefix: 'p', l2: fileDriver({ directory }) }).get({ key: long })).toBe(1)
    await cache.namespace('ns').clear()
    expect(await new RustoCache({ prefix: 'p', l2: fileDriver({ directory }) }).get({ key: long })).toBeUndefined()
  })

  it('prunes expired files through cache.prune(), and leaves no temporary file behind', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'rustocache-file4-'))
    const cache = new RustoCache({ prefix: 'p', l2: fileDriver({ directory, pruneInterval: null }) })
    open.push(cache)
    await cache.set({ key: 'gone', value: 1, ttl: 5 })
    await cache.set({ key: 'kept', value: 2 })
    await new Promise((r) => setTimeout(r, 30))
    expect(await cache.prune()).toBe(1)
    expect(readdirSync(join(directory, b64('p')))).toEqual([b64('kept')])
  })

  it('classes permission and read-only errors as permanent, a full disk as transient; refuses bad options', () => {
    const driver = fileDriver({ directory: root }).create({ prefix: 'p', logger: console as never, rejected: () => undefined })
    const err = (code: string) => Object.assign(new Error(code), { code })
    expect(driver.isPermanent!(err('EACCES'))).toBe(true)
    expect(driver.isPermanent!(err('EROFS'))).toBe(true)
    expect(driver.isPermanent!(err('ENOSPC'))).toBe(false)
    expect(driver.isPermanent!(err('EMFILE'))).toBe(false)
    void driver.disconnect()
    expect(() => fileDriver({} as never)).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION }))
    expect(() => fileDriver({ directory: root, pruneIntervall: '1m' } as never)).toThrow(/did you mean 'pruneInterval'/)
  })
})
