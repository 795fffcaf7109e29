import type { L2Entry } from './types.js'

type Pending = { key: string; resolve: (e: L2Entry | undefined) => void; reject: (error: unknown) => void }

/**
 * Single reads asked for in the same tick, sent together as one batch read (an MGET, one query): concurrent
 * getOrSet misses on different keys cost one round trip instead of one each. A lone read waits one microtask
 * and goes out as a single read. Shared by the drivers; runtime-neutral.
 */
export class CoalescedReads {
  private pending: Pending[] | undefined

  constructor(
    private readonly one: (key: string) => Promise<L2Entry | undefined>,
    private readonly many: (keys: readonly string[]) => Promise<(L2Entry | undefined)[]>,
  ) {}

  get(key: string): Promise<L2Entry | undefined> {
    return new Promise((resolve, reject) => {
      if (!this.pending) {
        this.pending = []
        // flush settles every read it took and never rejects.
        queueMicrotask(() => void this.flush())
      }
      this.pending.push({ key, resolve, reject })
    })
  }

  private async flush(): Promise<void> {
    const batch = this.pending!
    this.pending = undefined
    try {
      if (batch.length === 1) {
        batch[0]!.resolve(await this.one(batch[0]!.key))
        return
      }
      const entries = await this.many(batch.map((b) => b.key))
      batch.forEach((b, i) => b.resolve(entries[i]))
    } catch (error) {
      for (const b of batch) b.reject(error)
    }
  }
}
