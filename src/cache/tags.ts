/** How a read found a key: gone, fresh, or stale (past its ttl, within its grace). */
export const Found = { Missing: 0, Fresh: 1, Stale: 2 } as const
export type Found = (typeof Found)[keyof typeof Found]

/** The stamps another tier holds for the same tags, in the same order (L2's record of other instances' calls). */
export type RemoteTagStamps = ReadonlyArray<{ deleted: number; expired: number } | undefined>

/**
 * When each tag was last deleted and last expired, as write stamps. An entry carries the stamp it was written at;
 * a tag invalidated at or after that stamp makes it gone (deleted) or stale (expired). So deleteByTag costs
 * O(tags), and every read of a tagged entry compares.
 *
 * A stamp is needed only while something written before it can still be judged: an L1 entry, a factory or L2
 * read in flight, a change waiting in the retry queue. `retain` drops the others once the cache has applied them
 * to every L1 entry (see CacheStack.sweepTags), which bounds these maps under churn.
 */
export class TagStamps {
  private readonly deleted = new Map<string, number>()
  private readonly expired = new Map<string, number>()

  get size(): number {
    return this.deleted.size + this.expired.size
  }

  record(tags: readonly string[], how: 'delete' | 'expire', stamp: number): void {
    const map = how === 'delete' ? this.deleted : this.expired
    for (const tag of tags) if (!(map.get(tag)! >= stamp)) map.set(tag, stamp)
  }

  /** `found` made worse by the tags of an entry written at `stamp`; `remote` adds another tier's stamps. */
  judge(tags: readonly string[], stamp: number, found: Found, remote?: RemoteTagStamps): Found {
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i]!
      const deleted = Math.max(this.deleted.get(tag) ?? -Infinity, remote?.[i]?.deleted ?? -Infinity)
      if (deleted >= stamp) return Found.Missing
      const expired = Math.max(this.expired.get(tag) ?? -Infinity, remote?.[i]?.expired ?? -Infinity)
      if (expired >= stamp) found = Found.Stale
    }
    return found
  }

  /** True when one of the tags was deleted or expired after `since`. */
  changedSince(tags: readonly string[], since: number): boolean {
    for (const tag of tags) {
      if (this.deleted.get(tag)! > since || this.expired.get(tag)! > since) return true
    }
    return false
  }

  /** Forgets every stamp below `floor`. */
  retain(floor: number): void {
    for (const map of [this.deleted, this.expired]) for (const [tag, stamp] of map) if (stamp < floor) map.delete(tag)
  }

  clear(): void {
    this.deleted.clear()
    this.expired.clear()
  }
}
