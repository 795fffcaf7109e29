// rustocache/dynamodb against dynalite, a DynamoDB emulator in Node (LevelDB in memory), through the official
// @aws-sdk/client-dynamodb: the conformance suite, two caches sharing a table, the limits, the table's creation.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import dynalite from 'dynalite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dynamoDriver, DYNAMO_LIMITS } from '../src/dynamodb/index.js'
import { ErrorCodes, RustoCache } from '../src/index.js'
import { l2DriverSuite } from '../src/test-suite/index.js'

let server: ReturnType<typeof dynalite>
let endpoint = ''
const config = () => ({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })
let client: DynamoDBClient
const open: RustoCache[] = []

beforeAll(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  client = new DynamoDBClient(config())
})
afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect()))
  client.destroy()
  await new Promise((resolve) => server.close(resolve))
})

l2DriverSuite({
  name: 'dynamoDriver on dynalite',
  driver: () => dynamoDriver({ client, table: 'rustocache-conformance', createTable: true }),
  describe,
  it,
})

describe('dynamoDriver', () => {
  it('shares a table between two caches: entries, tag invalidations, deletes', async () => {
    const make = () => {
      const c = new RustoCache({ prefix: 'shared', l2: dynamoDriver({ client: config(), table: 'rustocache-shared', createTable: true }) })
      open.push(c)
      return c
    }
    const a = make()
    const b = make()
    await a.set({ key: 'user:1', value: { name: 'Ada' }, tags: ['users'] })
    expect(await b.get({ key: 'user:1' })).toEqual({ name: 'Ada' })
    await b.deleteByTag({ tags: ['users'] })
    expect(await make().get({ key: 'user:1' })).toBeUndefined()
    await a.set({ key: 'k', value: 1 })
    await b.delete({ key: 'k' })
    expect(await make().get({ key: 'k' })).toBeUndefined()
  })

  it('refuses an entry over 400 KB with E_L2_LIMIT before anything is written, keeping what was cached', async () => {
    const c = new RustoCache({ prefix: 'limits', l2: dynamoDriver({ client, table: 'rustocache-limits', createTable: true }) })
    open.push(c)
    await c.set({ key: 'k', value: 'small' })
    await expect(c.set({ key: 'k', value: 'x'.repeat(DYNAMO_LIMITS.itemBytes) })).rejects.toMatchObject({ code: ErrorCodes.E_L2_LIMIT, message: expect.stringMatching(/400 KB/) })
    expect(await c.get({ key: 'k' })).toBe('small')
  })

  it('says a missing table is missing (without createTable), classed permanent; refuses bad options', async () => {
    const driver = dynamoDriver({ client, table: 'no-such-table' }).create({ prefix: 'p', logger: console as never, rejected: () => undefined })
    const error = await driver.get('k').catch((e: unknown) => e)
    expect((error as Error).name).toBe('ResourceNotFoundException')
    expect(driver.isPermanent!(error)).toBe(true)
    expect(driver.isPermanent!(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))).toBe(false)
    expect(() => dynamoDriver({ client, table: 'x' })).toThrow(expect.objectContaining({ code: ErrorCodes.E_INVALID_OPTION, message: expect.stringMatching(/table must be/) }))
    expect(() => dynamoDriver({ client, table: 'abc', tabel: 'x' } as never)).toThrow(/did you mean 'table'/)
  })
})
