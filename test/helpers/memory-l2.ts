import { decodeEntry, encodeEntry } from '../../src/l2/envelope.js'
import { jsonSerializer, type L2Driver, type L2DriverContext, type L2DriverFactory, type L2Entry } from '../../src/l2/types.js'

type Op = 'get' | 'set' | 'delete' | 'expire' | 'unlock'

/**
 * An in-process L2 for tests that need to hold an L2 command on the wire: `hold('get')` makes the next get()
 * calls wait until the returned function is called. Stores the same text as the Redis driver.
 */
export function memoryL2(): L2DriverFactory & { store: Map<string, string>; hold(op: Op): () => void; fail: Set<Op>; tries: Record<Op, number>; drivers: MemoryL2[] } {
  const store = new Map<string, string>()
  // Shared by every driver this factory makes, as one Redis is.
  const shared = { tagStamp: { delete: new Map<string, number>(), expire: new Map<string, number>() }, lockOwners: new Map<string, string>() }
  const gates = new Map<Op, Promise<void>>()
  const fail = new Set<Op>()
  // Commands tried per kind, failed ones included (by every driver this factory made).
  const tries: Record<Op, number> = { get: 0, set: 0, delete: 0, expire: 0, unlock: 0 }
  const drivers: MemoryL2[] = []
  return {
    kind: 'memory-test',
    store,
    fail,
    tries,
    drivers,
    hold(op) {
      let open!: () => void
      gates.set(op, new Promise<void>((resolve) => (open = resolve)))
      return () => {
        gates.delete(op)
        open()
      }
    },
    create(context) {
      const driver = new MemoryL2(store, shared, gates, fail, tries, context)
      drivers.push(driver)
      return driver
    },
  }
}

class MemoryL2 implements L2Driver {
  closed = false
  private readonly tagStamp: { delete: Map<string, number>; expire: Map<string, number> }
  private readonly lockOwners: Map<string, string>

  constructor(
    private readonly store: Map<string, string>,
    shared: { tagStamp: { delete: Map<string, number>; expire: Map<string, number> }; lockOwners: Map<string, string> },
    private readonly gates: Map<Op, Promise<void>>,
    private readonly fail: Set<Op>,
    private readonly tries: Record<Op, number>,
    private readonly context: L2DriverContext,
  ) {
    this.tagStamp = shared.tagStamp
    this.lockOwners = shared.lockOwners
  }

  private async pass(op: Op): Promise<void> {
    this.tries[op]++
    const gate = this.gates.get(op)
    if (gate) await gate
    if (this.closed) throw new Error('connection closed')
    if (this.fail.has(op)) throw new Error(`${op} failed (test)`)
  }

  private read(key: string): L2Entry | undefined {
    const text = this.store.get(key)
    if (text === undefined) return undefined
    const entry = decodeEntry(text, jsonSerializer)
    if (typeof entry !== 'string') return entry
    this.context.rejected(key, entry)
    return undefined
  }

  // Reads take their answer first, then wait at the gate: the answer is on the wire while the test acts.
  async get(key: string) {
    const entry = this.read(key)
    await this.pass('get')
    return entry
  }
  async getMany(keys: readonly string[]) {
    const entries = keys.map((k) => this.read(k))
    await this.pass('get')
    return entries
  }
  encode(entry: L2Entry): string {
    return encodeEntry(entry, jsonSerializer)
  }
  async set(key: string, payload: string) {
    await this.pass('set')
    this.store.set(key, payload)
  }
  async setMany(items: ReadonlyArray<{ key: string; payload: string; ttlMs: number }>) {
    await this.pass('set')
    for (const item of items) this.store.set(item.key, item.payload)
  }
  async delete(key: string) {
    await this.pass('delete')
    return this.store.delete(key)
  }
  async deleteMany(keys: readonly string[]) {
    return keys.filter((k) => this.store.delete(k)).length
  }
  async expire(key: string, now: number) {
    await this.pass('expire')
    const entry = this.read(key)
    if (!entry) return false
    if (entry.expiresAt > now) this.store.set(key, encodeEntry({ ...entry, expiresAt: now }, jsonSerializer))
    return true
  }
  async clear(path: string) {
    for (const key of [...this.store.keys()]) if (key.startsWith(path)) this.store.delete(key)
  }
  async invalidateTags(tags: readonly string[], how: 'delete' | 'expire', stamp: number) {
    for (const tag of tags) this.tagStamp[how].set(tag, stamp)
  }
  async tagStamps(tags: readonly string[]) {
    return tags.map((t) => ({ deleted: this.tagStamp.delete.get(t) ?? -Infinity, expired: this.tagStamp.expire.get(t) ?? -Infinity }))
  }
  async disconnect() {
    this.closed = true
  }
  readonly locks = {
    acquire: async (key: string, token: string) => {
      if (this.closed) throw new Error('connection closed')
      if (this.lockOwners.has(key)) return false
      this.lockOwners.set(key, token)
      return true
    },
    release: async (key: string, token: string) => {
      await this.pass('unlock')
      if (this.lockOwners.get(key) === token) this.lockOwners.delete(key)
    },
    held: async (key: string) => this.lockOwners.has(key),
  }
}
