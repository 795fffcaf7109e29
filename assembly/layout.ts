// Memory layout and state of the L1 table. Everything the core knows lives here; the other files only read
// and write through it. All per-slot data is struct-of-arrays, u32 per field, so a field of slot s is at
// `offset + (s << 2)`. Regions, in order from `base` (16-byte aligned, after AssemblyScript's static data):
//
//   HASH  u32[cap]   the key's 32-bit hash (kept so growth and deletion never need the key itself)
//   PREV  u32[cap]   LRU link towards the head (most recent); FREE marks a slot on the free list
//   NEXT  u32[cap]   LRU link towards the tail; for a free slot, the next free slot
//   EXP   u32[cap]   logical deadline (encoded tick, see time.ts): at or past it the entry is stale
//   PHYS  u32[cap]   physical deadline (logical + grace): at or past it the entry is gone.
//                    Only present once an entry with grace was written; until then PHYS == EXP.
//   SIZE  u32[cap]   the entry's byte size. Only present when a byte limit is set.
//   INDEX u32[nbuckets]  open addressing, linear probing: slot + 1, or 0 for an empty bucket
//   SCRATCH          batch input and output (layout in batch.ts); rewritten by every batch call
//
// Invariants: count live slots are linked from head to tail; every live slot is in INDEX exactly once;
// slots in [0, hiwater) are live or on the free list; nbuckets >= cap * 3 / 2, so the load stays <= 2/3.

export const NIL: u32 = 0xffffffff;
export const FREE: u32 = 0xfffffffe;
/** Buckets per slot of capacity: 1.5 keeps linear probing short at 6 bytes per entry for the index. */
@inline export function bucketsFor(cap: u32): u32 {
  return cap + (cap >> 1) + 1;
}

export let base: usize = 0;
export let cap: u32 = 0;
export let nbuckets: u32 = 0;
export let maxItems: u32 = 0;
export let maxBytes: f64 = Infinity;
export let trackSizes: bool = false;
export let hasPhys: bool = false;

export let count: u32 = 0;
export let hiwater: u32 = 0;
export let freeHead: u32 = NIL;
export let head: u32 = NIL;
export let tail: u32 = NIL;
export let totalBytes: f64 = 0;

export let oHash: usize = 0;
export let oPrev: usize = 0;
export let oNext: usize = 0;
export let oExp: usize = 0;
export let oPhys: usize = 0;
export let oSize: usize = 0;
export let oIndex: usize = 0;
export let oScratch: usize = 0;
export let scratchBytes: usize = 0;

@inline export function hashOf(s: u32): u32 { return load<u32>(oHash + (<usize>s << 2)); }
@inline export function prevOf(s: u32): u32 { return load<u32>(oPrev + (<usize>s << 2)); }
@inline export function nextOf(s: u32): u32 { return load<u32>(oNext + (<usize>s << 2)); }
@inline export function expOf(s: u32): u32 { return load<u32>(oExp + (<usize>s << 2)); }
@inline export function physOf(s: u32): u32 { return load<u32>(oPhys + (<usize>s << 2)); }
@inline export function sizeOf(s: u32): u32 { return trackSizes ? load<u32>(oSize + (<usize>s << 2)) : 0; }
@inline export function setHash(s: u32, v: u32): void { store<u32>(oHash + (<usize>s << 2), v); }
@inline export function setPrev(s: u32, v: u32): void { store<u32>(oPrev + (<usize>s << 2), v); }
@inline export function setNext(s: u32, v: u32): void { store<u32>(oNext + (<usize>s << 2), v); }
@inline export function setExp(s: u32, v: u32): void { store<u32>(oExp + (<usize>s << 2), v); }
@inline export function setPhys(s: u32, v: u32): void { store<u32>(oPhys + (<usize>s << 2), v); }
@inline export function setSize(s: u32, v: u32): void { store<u32>(oSize + (<usize>s << 2), v); }

export function setCount(v: u32): void { count = v; }
export function setHiwater(v: u32): void { hiwater = v; }
export function setFreeHead(v: u32): void { freeHead = v; }
export function setHead(v: u32): void { head = v; }
export function setTail(v: u32): void { tail = v; }
export function addBytes(v: f64): void { totalBytes += v; }

function ensureMemory(end: usize): void {
  const need = <i32>((end + 0xffff) >> 16);
  const have = memory.size();
  if (need > have && memory.grow(need - have) < 0) unreachable();
}

export function configure(items: u32, bytes: f64, initialCap: u32): void {
  base = (__heap_base + 15) & ~<usize>15;
  maxItems = items;
  maxBytes = bytes;
  trackSizes = bytes < Infinity;
  hasPhys = false;
  cap = 0;
  scratchBytes = 0;
  relayout(initialCap < items ? initialCap : items, false);
  resetEntries();
}

/** Forget every entry; the capacity stays, so a cleared cache refills without growing again. */
export function resetEntries(): void {
  count = 0;
  hiwater = 0;
  freeHead = NIL;
  head = NIL;
  tail = NIL;
  totalBytes = 0;
  memory.fill(oIndex, 0, <usize>nbuckets << 2);
}

function regionEnd(c: u32, phys: bool): usize {
  let fields: usize = 4 + (phys ? 1 : 0) + (trackSizes ? 1 : 0);
  return base + fields * (<usize>c << 2);
}

/**
 * Moves the slot arrays to the layout for capacity `newCap` (>= cap) and rebuilds the index. New offsets are
 * never below old ones, so copying the last array first never overwrites data still to be moved.
 */
export function relayout(newCap: u32, phys: bool): void {
  const live = <usize>hiwater << 2;
  const c = <usize>newCap << 2;
  const nHash = base, nPrev = nHash + c, nNext = nPrev + c, nExp = nNext + c;
  const nPhys: usize = phys ? nExp + c : nExp;
  const nSize: usize = phys ? nPhys + c : nExp + c;
  const nIndex = regionEnd(newCap, phys);
  const buckets = bucketsFor(newCap);
  const nScratch = (nIndex + (<usize>buckets << 2) + 15) & ~<usize>15;
  ensureMemory(nScratch + scratchBytes);
  if (cap > 0) {
    if (trackSizes) memory.copy(nSize, oSize, live);
    if (phys) memory.copy(nPhys, hasPhys ? oPhys : oExp, live);
    memory.copy(nExp, oExp, live);
    memory.copy(nNext, oNext, live);
    memory.copy(nPrev, oPrev, live);
  }
  oHash = nHash; oPrev = nPrev; oNext = nNext; oExp = nExp; oPhys = nPhys; oSize = nSize;
  oIndex = nIndex; oScratch = nScratch;
  cap = newCap;
  nbuckets = buckets;
  hasPhys = phys;
  memory.fill(oIndex, 0, <usize>buckets << 2);
}

/** Makes the scratch region at least `bytes` long and returns its address (memory may have grown). */
export function ensureScratch(bytes: usize): usize {
  if (bytes > scratchBytes) {
    ensureMemory(oScratch + bytes);
    scratchBytes = bytes;
  }
  return oScratch;
}
