// rustocache/dynamodb: an L2 on Amazon DynamoDB (BentoCache's dynamodb driver), through @aws-sdk/client-dynamodb
// (an optional peer dependency). One item per key in a table whose partition key is `k` (a string):
//   k  `<prefix>:<key>`        p: the entry text (the Redis driver's format), or d: a delete's tombstone stamp;
//                              c: when it was made (the entry's createdAt, or the stamp); u: physical expiry (ms);
//                              x: the same in seconds, for DynamoDB's own TTL (enable it on `x` to reclaim space)
//   k  `<prefix>#tag:<tag>`    t: the tag's stamps {"d","e"}; u, x as above
//   k  `<prefix>#lock:<key>`   o: the owner's token; u, x as above
// Writes are conditional on `c` (lateWrites 'refused', as the Redis driver's): a write made REMOTE_TIE_MS or more
// before what the key holds (an entry or a tombstone) is refused, so a late write cannot bring a deleted value back.
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb'
import { REMOTE_TIE_MS } from '../cache/tags.js'
import { InvalidOptionError, L2LimitError, shown } from '../errors.js'
import { refuseUnknown } from '../known-options.js'
import { CoalescedReads } from '../l2/coalesce.js'
import { createdAtOf, encodeEntry, nextTagRecord, readStored, readTagRecord, restamp } from '../l2/envelope.js'
import { jsonSerializer, type L2Driver, type L2DriverContext, type L2DriverFactory, type L2Entry, type Serializer } from '../l2/types.js'
import { toMs, type Duration } from '../ttl.js'

/** Options of dynamoDriver(): the client, the table, whether to create it, the serializer and tag retention. */
export interface DynamoDriverOptions {
  /** Your DynamoDBClient (not closed by the cache), or its configuration (region, endpoint, credentials). */
  client: DynamoDBClient | DynamoDBClientConfig
  /** The table: partition key `k` of type string, no sort key. */
  table: string
  /** Create the table (on demand billing) when it is missing. @default false: a missing table is an error */
  createTable?: boolean
  /** @default JSON */
  serializer?: Serializer
  /** How long a tag invalidation is kept. @default '7d' */
  tagRetention?: Duration
}

/** DynamoDB's documented limits (docs.aws.amazon.com, "Service, account, and table quotas"). */
export const DYNAMO_LIMITS = {
  /** Largest item, in bytes (attribute names and values together). */
  itemBytes: 400 * 1024,
  /** Longest partition key, in bytes. */
  keyBytes: 2048,
  /** Most keys one BatchGetItem takes. */
  batchGet: 100,
  /** Most requests one BatchWriteItem takes. */
  batchWrite: 25,
} as const

/** How long a delete's tombstone refuses writes made before it (as the Redis driver's). */
const TOMBSTONE_MS = 60_000
/** Room kept in an item for its other attributes and their names. */
const ITEM_OVERHEAD = 256

/** Errors the same request meets again: it is invalid, not allowed, or too large. */
const PERMANENT = new Set(['ValidationException', 'AccessDeniedException', 'ResourceNotFoundException', 'ItemCollectionSizeLimitExceededException', 'SerializationException'])

const utf8 = (text: string) => new TextEncoder().encode(text).length
const S = (value: string): AttributeValue => ({ S: value })
const N = (value: number): AttributeValue => ({ N: String(value) })
type Item = Record<string, AttributeValue>
const num = (item: Item | undefined, name: string) => (item?.[name]?.N === undefined ? undefined : Number(item[name]!.N))

class DynamoDriver implements L2Driver {
  readonly lateWrites = 'refused'
  readonly target: string
  readonly maxKeyBytes: number
  readonly maxEntryBytes = DYNAMO_LIMITS.itemBytes - ITEM_OVERHEAD
  private ready: Promise<void> | undefined

  constructor(
    private readonly client: DynamoDBClient,
    private readonly owned: boolean,
    private readonly table: string,
    private readonly create: boolean,
    private readonly prefix: string,
    private readonly serializer: Serializer,
    private readonly rejected: L2DriverContext['rejected'],
    readonly tagRetentionMs: number,
  ) {
    this.target = `DynamoDB table ${table}`
    this.maxKeyBytes = DYNAMO_LIMITS.keyBytes - utf8(`${prefix}#lock:`)
  }

  /** The table exists (made here with createTable), checked once. */
  private table$(): Promise<void> {
    return (this.ready ??= this.client.send(new DescribeTableCommand({ TableName: this.table })).then(
      () => undefined,
      async (error: unknown) => {
        this.ready = undefined
        if ((error as { name?: string }).name !== 'ResourceNotFoundException' || !this.create) throw error
        await this.client
          .send(
            new CreateTableCommand({
              TableName: this.table,
              KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
              AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }],
              BillingMode: 'PAY_PER_REQUEST',
            }),
          )
          .catch((e: unknown) => {
            // Another instance made it meanwhile.
            if ((e as { name?: string }).name !== 'ResourceInUseException') throw e
          })
        this.ready = Promise.resolve()
      },
    ))
  }

  /** Sends a command once the table is there (the SDK's per-command types are not needed here). */
  private async send<T>(command: object): Promise<T> {
    await this.table$()
    return (await (this.client.send as (c: object) => Promise<unknown>).call(this.client, command)) as T
  }

  private key(key: string): string {
    return `${this.prefix}:${key}`
  }

  isPermanent(error: unknown): boolean {
    return error instanceof L2LimitError || PERMANENT.has((error as { name?: string } | null)?.name ?? '')
  }

  /** DynamoDB holds items up to 400 KB: a larger entry is refused before anything is written. */
  encode(entry: L2Entry): string {
    const text = encodeEntry(entry, this.serializer)
    if (text.length * 3 > this.maxEntryBytes) {
      const bytes = utf8(text)
      if (bytes > this.maxEntryBytes) throw new L2LimitError(`DynamoDB holds items up to 400 KB; this entry is ${bytes} bytes`)
    }
    return text
  }

  private decode(key: string, item: Item | undefined, now: number): L2Entry | undefined {
    if (!item || item.p?.S === undefined || (num(item, 'u') ?? Infinity) <= now) return undefined
    return readStored(key, item.p.S, undefined, this.serializer, this.rejected)
  }

  get(key: string): Promise<L2Entry | undefined> {
    return this.reads.get(key)
  }

  private readonly reads = new CoalescedReads(
    async (key) => {
      const out = await this.send<{ Item?: Item }>(new GetItemCommand({ TableName: this.table, Key: { k: S(this.key(key)) }, ConsistentRead: true }))
      return this.decode(key, out.Item, Date.now())
    },
    (keys) => this.getMany(keys),
  )

  /** Items by full key, in BatchGetItem calls of up to 100 keys (unprocessed keys asked again). */
  private async items(fullKeys: readonly string[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>()
    const unique = [...new Set(fullKeys)]
    for (let i = 0; i < unique.length; i += DYNAMO_LIMITS.batchGet) {
      let request: Record<string, { Keys: Item[]; ConsistentRead: boolean }> | undefined = {
        [this.table]: { Keys: unique.slice(i, i + DYNAMO_LIMITS.batchGet).map((k) => ({ k: S(k) })), ConsistentRead: true },
      }
      while (request && Object.keys(request).length > 0) {
        const out: { Responses?: Record<string, Item[]>; UnprocessedKeys?: typeof request } = await this.send(new BatchGetItemCommand({ RequestItems: request }))
        for (const item of out.Responses?.[this.table] ?? []) found.set(item.k!.S!, item)
        request = out.UnprocessedKeys && Object.keys(out.UnprocessedKeys).length > 0 ? out.UnprocessedKeys : undefined
      }
    }
    return found
  }

  async getMany(keys: readonly string[]): Promise<(L2Entry | undefined)[]> {
    if (keys.length === 0) return []
    const found = await this.items(keys.map((k) => this.key(k)))
    const now = Date.now()
    return keys.map((key) => this.decode(key, found.get(this.key(key)), now))
  }

  /** Puts `item` unless the key holds something live made at `limit` or later; false when refused. */
  private async putUnlessNewer(item: Item, limit: number, now: number, old = false): Promise<{ written: boolean; old?: Item }> {
    try {
      const out = await this.send<{ Attributes?: Item }>(
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(k) OR u <= :now OR c < :limit',
          ExpressionAttributeValues: { ':now': N(now), ':limit': N(limit) },
          ReturnValues: old ? 'ALL_OLD' : 'NONE',
        }),
      )
      return { written: true, old: out.Attributes }
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return { written: false }
      throw error
    }
  }

  async set(key: string, payload: string, ttlMs: number): Promise<boolean> {
    const now = Date.now()
    const made = createdAtOf(payload)
    const until = ttlMs === Infinity ? undefined : now + Math.max(1, Math.ceil(ttlMs))
    const item: Item = { k: S(this.key(key)), p: S(payload), c: N(Number.isFinite(made) ? made : now) }
    if (until !== undefined) Object.assign(item, { u: N(until), x: N(Math.ceil(until / 1000)) })
    return (await this.putUnlessNewer(item, (Number.isFinite(made) ? made : now) + REMOTE_TIE_MS, now)).written
  }

  /** Conditional puts, one per key (BatchWriteItem takes no conditions); a key given twice keeps its last item. */
  async setMany(items: ReadonlyArray<{ key: string; payload: string; ttlMs: number }>): Promise<boolean[]> {
    const last = new Map(items.map((item, i) => [item.key, i]))
    const written = await Promise.all(items.map((item, i) => (last.get(item.key) === i ? this.set(item.key, item.payload, item.ttlMs) : Promise.resolve(false))))
    return items.map((item, i) => (last.get(item.key) === i ? written[i]! : written[last.get(item.key)!]!))
  }

  async delete(key: string, stamp = Date.now()): Promise<boolean> {
    return (await this.deleteMany([key], stamp)) > 0
  }

  /** Tombstones (kept TOMBSTONE_MS); an entry made REMOTE_TIE_MS or more after the delete stays. */
  async deleteMany(keys: readonly string[], stamp = Date.now()): Promise<number> {
    const now = Date.now()
    const until = now + TOMBSTONE_MS
    const outcomes = await Promise.all(
      [...new Set(keys)].map((key) =>
        this.putUnlessNewer({ k: S(this.key(key)), d: N(stamp), c: N(stamp), u: N(until), x: N(Math.ceil(until / 1000)) }, stamp + REMOTE_TIE_MS, now, true),
      ),
    )
    return outcomes.filter((o) => o.written && o.old?.p?.S !== undefined && (num(o.old, 'u') ?? Infinity) > now).length
  }

  async expire(key: string, now: number): Promise<boolean> {
    const out = await this.send<{ Item?: Item }>(new GetItemCommand({ TableName: this.table, Key: { k: S(this.key(key)) }, ConsistentRead: true }))
    const item = out.Item
    if (!item?.p?.S || (num(item, 'u') ?? Infinity) <= Date.now()) return false
    const rewritten = restamp(item.p.S, now)
    if (rewritten === undefined) return false
    if (rewritten !== 'stale') await this.send(new PutItemCommand({ TableName: this.table, Item: { ...item, p: S(rewritten) } }))
    return true
  }

  /** Scans for the keys under `path` and deletes them 25 at a time. */
  async clear(path: string): Promise<void> {
    const starts = path === '' ? [`${this.prefix}:`, `${this.prefix}#tag:`] : [`${this.prefix}:${path}`]
    for (const start of starts) {
      let from: Item | undefined
      do {
        const page: { Items?: Item[]; LastEvaluatedKey?: Item } = await this.send(
          new ScanCommand({ TableName: this.table, ProjectionExpression: 'k', FilterExpression: 'begins_with(k, :s)', ExpressionAttributeValues: { ':s': S(start) }, ExclusiveStartKey: from }),
        )
        const doomed = (page.Items ?? []).map((item) => item.k!.S!)
        for (let i = 0; i < doomed.length; i += DYNAMO_LIMITS.batchWrite) {
          let request: Record<string, Array<{ DeleteRequest: { Key: Item } }>> | undefined = {
            [this.table]: doomed.slice(i, i + DYNAMO_LIMITS.batchWrite).map((k) => ({ DeleteRequest: { Key: { k: S(k) } } })),
          }
          while (request) {
            const out: { UnprocessedItems?: typeof request } = await this.send(new BatchWriteItemCommand({ RequestItems: request }))
            request = out.UnprocessedItems && Object.keys(out.UnprocessedItems).length > 0 ? out.UnprocessedItems : undefined
          }
        }
        from = page.LastEvaluatedKey
      } while (from)
    }
  }

  async invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp: number): Promise<void> {
    if (tags.length === 0) return
    const current = await this.tagStamps(tags)
    const until = this.tagRetentionMs === Infinity ? undefined : Date.now() + this.tagRetentionMs
    await Promise.all(
      tags.map((tag, i) => {
        const item: Item = { k: S(`${this.prefix}#tag:${tag}`), t: S(nextTagRecord(current[i]!, how, stamp)) }
        if (until !== undefined) Object.assign(item, { u: N(until), x: N(Math.ceil(until / 1000)) })
        return this.send(new PutItemCommand({ TableName: this.table, Item: item }))
      }),
    )
  }

  async tagStamps(tags: readonly string[]): Promise<Array<{ deleted: number; expired: number }>> {
    if (tags.length === 0) return []
    const found = await this.items(tags.map((tag) => `${this.prefix}#tag:${tag}`))
    const now = Date.now()
    return tags.map((tag) => {
      const item = found.get(`${this.prefix}#tag:${tag}`)
      return readTagRecord((num(item, 'u') ?? Infinity) > now ? item?.t?.S : undefined)
    })
  }

  readonly locks = {
    /** Takes the lock for `ttlMs` with an owner token; false when another owner holds it. */
    acquire: async (key: string, token: string, ttlMs: number): Promise<boolean> => {
      const now = Date.now()
      const until = now + Math.max(1, Math.ceil(ttlMs))
      try {
        await this.send(
          new PutItemCommand({
            TableName: this.table,
            Item: { k: S(this.lockKey(key)), o: S(token), u: N(until), x: N(Math.ceil(until / 1000)) },
            ConditionExpression: 'attribute_not_exists(k) OR u <= :now',
            ExpressionAttributeValues: { ':now': N(now) },
          }),
        )
        return true
      } catch (error) {
        if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false
        throw error
      }
    },
    /** Lets the lock go if `token` owns it. */
    release: async (key: string, token: string): Promise<void> => {
      try {
        await this.send(new DeleteItemCommand({ TableName: this.table, Key: { k: S(this.lockKey(key)) }, ConditionExpression: 'o = :t', ExpressionAttributeValues: { ':t': S(token) } }))
      } catch (error) {
        if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error
      }
    },
    /** True when someone holds the lock. */
    held: async (key: string): Promise<boolean> => {
      const out = await this.send<{ Item?: Item }>(new GetItemCommand({ TableName: this.table, Key: { k: S(this.lockKey(key)) }, ConsistentRead: true }))
      return out.Item !== undefined && (num(out.Item, 'u') ?? Infinity) > Date.now()
    },
  }

  private lockKey(key: string): string {
    return `${this.prefix}#lock:${key}`
  }

  async disconnect(): Promise<void> {
    if (this.owned) this.client.destroy()
  }
}

/**
 * The L2 on DynamoDB: `new RustoCache({ l2: dynamoDriver({ client: { region: 'eu-west-1' }, table: 'cache' }) })`.
 * Conditional writes and tombstones as the Redis driver's; distributed locks; items up to 400 KB (E_L2_LIMIT).
 */
export function dynamoDriver(options: DynamoDriverOptions): L2DriverFactory {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('dynamoDriver needs { client, table }')
  refuseUnknown(options, ['client', 'table', 'createTable', 'serializer', 'tagRetention'], 'dynamoDriver')
  const { client, table } = options
  if (typeof table !== 'string' || !/^[A-Za-z0-9_.-]{3,255}$/.test(table)) {
    throw new InvalidOptionError(`dynamoDriver: table must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -), got ${shown(table)}`)
  }
  if (typeof client !== 'object' || client === null) throw new InvalidOptionError('dynamoDriver: client must be a DynamoDBClient or its configuration')
  const tagRetention = toMs(options.tagRetention ?? '7d', 'tagRetention')
  return {
    kind: 'dynamodb',
    create: ({ prefix, rejected }) => {
      const owned = !(client instanceof DynamoDBClient)
      const made = owned ? new DynamoDBClient(client as DynamoDBClientConfig) : (client as DynamoDBClient)
      return new DynamoDriver(made, owned, table, options.createTable === true, prefix, options.serializer ?? jsonSerializer, rejected, tagRetention)
    },
  }
}
