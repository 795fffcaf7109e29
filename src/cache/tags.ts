/** How a read found a key: gone, fresh, or stale (past its ttl, within its grace). */
export const Found = { Missing: 0, Fresh: 1, Stale: 2 } as const
export type Found = (typeof Found)[keyof typeof Found]

/** The stamps another tier holds for the same tags, in the same order (L2's record of other instances' calls). */
export type RemoteTagStamps = ReadonlyArray<{ deleted: number; expired: number } | undefined>

/**
 * How far apart (ms) an L2 entry's creation and a tag invalidation, stamped by two instances, must be for the
 * entry to count as made after it. Instances stamp in ms plus a per-instance sub-ms counter, so within one ms
 * their stamps do not order their calls (found by the L2-only model test). Clock skew between machines beyond
 * this is not covered: see docs/guarantees.md.
 */
export const REMOTE_TIE_MS = 1

/** One invalidation of a tag, twice stamped: when this cache heard of it, and when its caller made it. */
interface Stamp {
  /** This cache's stamp on arrival: compared with when an entry entered this L1 (Entry.at). */
  local: number
  /** The invalidating instance's stamp: compared with an L2 entry's createdAt, from the writer's clock. */
  origin: number
}

/**
 * When each tag was last deleted and last expired. An entry carries the stamp it was written at; a tag
 * invalidated at or after that stamp makes it gone (deleted) or stale (expired). So deleteByTag costs O(tags),
 * and every read of a tagged entry compares.
 *
 * Each invalidation keeps two stamps, because instances' clocks differ: an L1 entry is judged by when it entered
 * this L1 against when this cache heard of the invalidation (one clock), and an entry read from L2 by when it
 * was made against when the invalidation was made (the clocks of the instances that did them, as L2 records
 * them too). For a call made here both are the same.
 *
 * A stamp is needed only while something written before it can still be judged: an L1 entry, a factory or L2
 * read in flight, a change waiting in the retry queue. `retain` drops the others once the cache has applied them
 * to every L1 entry (see CacheStack.sweepTags), which bounds these maps under churn.
 */
export class TagStamps {
  private readonly deleted = new Map<string, Stamp>()
  private readonly expired = new Map<string, Stamp>()
  /** The newest origin stamp ever recorded (see writableAfter). */
  private newest = -Infinity

  get size(): number {
    return this.deleted.size + this.expired.size
  }

  record(tags: readonly string[], how: 'delete' | 'expire', local: number, origin = local): void {
    if (origin > this.newest) this.newest = origin
    const map = how === 'delete' ? this.deleted : this.expired
    for (const tag of tags) {
      const known = map.get(tag)
      if (!known) map.set(tag, { local, origin })
      else {
        if (local > known.local) known.local = local
        if (origin > known.origin) known.origin = origin
      }
    }
  }

  /** `found` made worse by the tags of an L1 entry that entered this L1 at `at` (this cache's stamps). */
  judge(tags: readonly string[], at: number, found: Found): Found {
    for (let i = 0; i < tags.length; i++) {
      if ((this.deleted.get(tags[i]!)?.local ?? -Infinity) >= at) return Found.Missing
      if ((this.expired.get(tags[i]!)?.local ?? -Infinity) >= at) found = Found.Stale
    }
    return found
  }

  /**
   * `found` made worse by the tags of an L2 entry made at `createdAt`; `remote` adds L2's own record. The two
   * stamps come from different instances, whose sub-millisecond counters say nothing about which came first: an
   * invalidation covers every entry made up to REMOTE_TIE_MS after it (a value written just after an
   * invalidation may be refetched once; one written just before is never served after it).
   */
  judgeRemote(tags: readonly string[], createdAt: number, found: Found, remote: RemoteTagStamps): Found {
    const covered = createdAt - REMOTE_TIE_MS
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i]!
      const deleted = Math.max(this.deleted.get(tag)?.origin ?? -Infinity, remote[i]?.deleted ?? -Infinity)
      if (deleted >= covered) return Found.Missing
      const expired = Math.max(this.expired.get(tag)?.origin ?? -Infinity, remote[i]?.expired ?? -Infinity)
      if (expired >= covered) found = Found.Stale
    }
    return found
  }

  /**
   * The time the clock must pass before a tagged entry is stamped (undefined: it may be now): more than
   * REMOTE_TIE_MS after every tag invalidation this cache knows of, so no instance reads a write that followed
   * an invalidation as covered by it (the writer's own L1 keeps it: they would disagree for its ttl). Compared
   * with the newest invalidation of any tag, which clear() and retain() do not forget.
   */
  writableAfter(now: number): number | undefined {
    const after = this.newest + REMOTE_TIE_MS
    return now > after ? undefined : after
  }

  /** True when this cache heard of an invalidation of one of the tags after `since` (its own stamps). */
  changedSince(tags: readonly string[], since: number): boolean {
    for (const tag of tags) {
      if ((this.deleted.get(tag)?.local ?? -Infinity) > since || (this.expired.get(tag)?.local ?? -Infinity) > since) return true
    }
    return false
  }

  /** Forgets every invalidation this cache heard of before `floor`. */
  retain(floor: number): void {
    for (const map of [this.deleted, this.expired]) for (const [tag, stamp] of map) if (stamp.local < floor) map.delete(tag)
  }

  clear(): void {
    this.deleted.clear()
    this.expired.clear()
  }
}
