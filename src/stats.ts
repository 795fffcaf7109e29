import type { CoreKind } from './core/types.js'

/** Counters since the cache was made; `stats()` returns a copy. */
export interface CacheStats {
  hits: number
  misses: number
  /** Answers served from a stale entry within its grace period. */
  gracedHits: number
  writes: number
  deletes: number
  /** Entries the L1 dropped to stay within maxItems / maxBytes (under policy 'tinylfu', also new entries it did not admit). */
  evictions: number
  /** Values not kept in L1 because their size exceeded l1.maxEntrySize. */
  oversized: number
  factoryCalls: number
  factoryErrors: number
  softTimeouts: number
  hardTimeouts: number
  /** Reads answered by L2 (then backfilled into L1), and reads L2 could not answer. */
  l2Hits: number
  l2Misses: number
  /** Failed L2 commands, suppressed or not, and calls skipped while the circuit breaker was open. */
  l2Errors: number
  /** L2 entries that were there but could not be read (another format, broken header, invalid tags, bad value). */
  l2Rejected: number
  /** Results of work overtaken by an invalidation while in flight (a factory or L2 read): answered, not stored. */
  discarded: number
  /**
   * Bus messages sent, heard from other instances, and dropped from the retry queue (full, or a change that kept
   * failing for its own reasons).
   */
  busPublished: number
  busReceived: number
  busDropped: number
  /** Bus messages heard but refused: malformed, oversized, unsigned or mis-signed, of an unknown version. */
  busRejected: number
  /** Bus messages found missing by their senders' sequence numbers (each gap revalidates L1 against L2). */
  busGaps: number
  /** Messages waiting in the retry queue now. */
  busQueued: number
  /** Which L1 core this cache runs on; 'none' in L2-only mode (`l1: false`). */
  core: CoreKind | 'none'
}

export function newStats(core: CoreKind | 'none'): CacheStats {
  return {
    hits: 0,
    misses: 0,
    gracedHits: 0,
    writes: 0,
    deletes: 0,
    evictions: 0,
    oversized: 0,
    factoryCalls: 0,
    factoryErrors: 0,
    softTimeouts: 0,
    hardTimeouts: 0,
    l2Hits: 0,
    l2Misses: 0,
    l2Errors: 0,
    l2Rejected: 0,
    discarded: 0,
    busPublished: 0,
    busReceived: 0,
    busDropped: 0,
    busRejected: 0,
    busGaps: 0,
    busQueued: 0,
    core,
  }
}
