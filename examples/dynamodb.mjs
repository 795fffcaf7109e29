// DynamoDB as the L2, here against dynalite, a local DynamoDB emulator (npm install dynalite
// @aws-sdk/client-dynamodb); give `client` your AWS region and credentials to use the real service.
import dynalite from 'dynalite'
import { RustoCache } from 'rustocache'
import { dynamoDriver } from 'rustocache/dynamodb'

const server = dynalite({ createTableMs: 0 })
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const client = { endpoint: `http://127.0.0.1:${server.address().port}`, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
const make = () => new RustoCache({ prefix: 'example', l2: dynamoDriver({ client, table: 'rustocache-example', createTable: true }) })
const [a, b] = [make(), make()]

await a.set({ key: 'user:1', value: { name: 'Ada' }, tags: ['users'] })
console.log('b reads from DynamoDB:', await b.get({ key: 'user:1' }), '| l2Hits:', b.stats().l2Hits)
await b.deleteByTag({ tags: ['users'] })
console.log('a fresh instance after deleteByTag:', await make().get({ key: 'user:1' }))
const big = await a.set({ key: 'big', value: 'x'.repeat(500_000) }).catch((error) => error.code)
console.log('an entry over 400 KB:', big)
await Promise.all([a.disconnect(), b.disconnect()])
server.close()
