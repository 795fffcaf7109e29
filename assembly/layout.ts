// Memory layout and state of the L1 table. Everything the core knows lives here; the other files only read
// and write through it. After AssemblyScript's static data come the bytes reserved at configure (W-TinyLFU's
// mini-simulations, minis.ts), then from `base` (64-byte aligned):
//
//   RECORDS  cap records of 16 bytes, one per slot, four to a cache line, so a lookup touches one line:
//            +0  HASH  u32  the key's 32-bit hash (growth and deletion never need the key itself)
//            +4  PREV  u32  LRU link towards the head (most recent); FREE marks a slot on the free list
//            +8  NEXT  u32  LRU link towards the tail; for a free slot, the next free slot
//            +12 EXP   u32  logical deadline (encoded tick, see time.ts): at or past it the entry is stale
//   PHYS     u32[cap]  physical deadline: at or past it the entry is gone. Only once an entry with grace was
//            written (hasPhys); until then PHYS == EXP. Kept apart so a fresh hit never reads it.
//   SIZE     u32[cap]  the entry's byte size; only when a byte limit is set (trackSizes)
//   INDEX    u32[nbuckets]  open addressing, linear probing; 0 is an empty bucket, else three fields:
//            bits [0, slotBits)            slot + 1
//            bits [slotBits, +3)           distance from the key's home bucket, 7 meaning "7 or more"
//            bits [slotBits + 3, 32)       the low bits of the key's hash, as a tag
//            The tag lets a probe pass other keys' buckets without reading their records; the distance lets a
//            deletion shift the cluster back without reading them either.
//   REGION   u8[cap]  which W-TinyLFU list the slot is on; only under policy 'tinylfu' (policy.ts)
//   SKETCH   sketchBlocks blocks of 64 bytes, 64-aligned: the frequency sketch; only under 'tinylfu'
//   SCRATCH  batch input and output (layout in batch.ts); rewritten by every batch call
//
// Invariants: count live slots are linked from head to tail; every live slot is in INDEX exactly once;
// slots in [0, hiwater) are live or on the free list; nbuckets > cap * 3 / 2, so the load stays below 2/3.

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
/** 0: LRU, one list from head to tail. 1: W-TinyLFU, three lists (policy.ts); head and tail are unused. */
export let policy: u32 = 0;
export let sketchBlocks: u32 = 0;

export let count: u32 = 0;
export let hiwater: u32 = 0;
export let freeHead: u32 = NIL;
export let head: u32 = NIL;
export let tail: u32 = NIL;
export let totalBytes: f64 = 0;

export let slotBits: u32 = 0;
export let slotMask: u32 = 0;
export let oPhys: usize = 0;
export let oSize: usize = 0;
export let oRegion: usize = 0;
export let oIndex: usize = 0;
export let oSketch: usize = 0;
export let oScratch: usize = 0;
export let scratchBytes: usize = 0;
@inline function rec(s: u32): usize { return base + (<usize>s << 4); }
@inline export function hashOf(s: u32): u32 { return load<u32>(rec(s)); }
@inline export function prevOf(s: u32): u32 { return load<u32>(rec(s), 4); }
@inline export function nextOf(s: u32): u32 { return load<u32>(rec(s), 8); }
@inline export function expOf(s: u32): u32 { return load<u32>(rec(s), 12); }
@inline export function physOf(s: u32): u32 { return load<u32>(oPhys + (<usize>s << 2)); }
@inline export function sizeOf(s: u32): u32 { return trackSizes ? load<u32>(oSize + (<usize>s << 2)) : 0; }
@inline export function setHash(s: u32, v: u32): void { store<u32>(rec(s), v); }
@inline export function setPrev(s: u32, v: u32): void { store<u32>(rec(s), v, 4); }
@inline export function setNext(s: u32, v: u32): void { store<u32>(rec(s), v, 8); }
@inline export function setExp(s: u32, v: u32): void { store<u32>(rec(s), v, 12); }
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

/** Counters per entry of capacity: 16 x 4 bits = 8 bytes, as Caffeine (12 and 14 lost 0.6-1 point; README). */
export const SKETCH_COUNTERS: u32 = 16;
@inline function blocksFor(c: u32): u32 {
  return <u32>((<u64>c * SKETCH_COUNTERS + 127) >> 7);
}

/** Where the bytes `reserved` at configure start: below the table, which never moves them (minis.ts). */
export let oReserved: usize = 0;

export function configure(items: u32, bytes: f64, initialCap: u32, pol: u32, reserved: usize): void {
  oReserved = (__heap_base + 15) & ~<usize>15;
  base = (oReserved + reserved + 63) & ~<usize>63;
  ensureMemory(base);
  policy = pol;
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

/**
 * Moves the sketch to `to`, from `b` blocks to `nb` >= b. A key's block is floor(x * blocks / 2^32) of its mixed
 * hash, so new block j holds keys of old blocks lo..hi (one or two of them); it takes, counter by counter, the
 * larger of theirs, and no key's estimate drops as the table grows. Top down, so nothing is overwritten before
 * it is read (both addresses are 64-aligned and to >= from).
 */
function spreadSketch(from: usize, b: u32, to: usize, nb: u32): void {
  for (let i: u32 = 0; i < nb; i++) {
    const j = nb - 1 - i;
    const lo = <u32>((<u64>j * b) / nb);
    const hi = <u32>(((<u64>j + 1) * b - 1) / nb);
    const pl = from + (<usize>lo << 6), ph = from + (<usize>hi << 6), pn = to + (<usize>j << 6);
    for (let k: usize = 0; k < 64; k++) {
      const x = <u32>load<u8>(pl + k), y = <u32>load<u8>(ph + k);
      store<u8>(pn + k, <u8>(max(x & 0xf0, y & 0xf0) | max(x & 15, y & 15)));
    }
  }
}

/**
 * Lays the table out for capacity `newCap` (>= cap), with or without PHYS, and clears the index for the caller to
 * rebuild. Records never move (they start at base); the PHYS and SIZE arrays after them only move up, so copying
 * the last one first never overwrites data still to be read.
 */
export function relayout(newCap: u32, phys: bool): void {
  const live = <usize>hiwater << 2;
  const column = <usize>newCap << 2;
  const nPhys = base + (<usize>newCap << 4);
  const nSize = phys ? nPhys + column : nPhys;
  const nRegion = trackSizes ? nSize + column : nSize;
  const nIndex = policy != 0 ? nRegion + ((<usize>newCap + 3) & ~<usize>3) : nRegion;
  const buckets = bucketsFor(newCap);
  const nSketch = (nIndex + (<usize>buckets << 2) + 63) & ~<usize>63;
  // Sized for maxItems once the table is half full (as Caffeine), for the capacity before: a small cache that
  // never fills keeps a small sketch, and a full one gets its sketch while half its keys are still to come.
  const blocks = policy != 0 ? blocksFor(<u64>newCap * 2 >= <u64>maxItems ? maxItems : newCap) : 0;
  const nScratch = nSketch + (<usize>blocks << 6);
  ensureMemory(nScratch + scratchBytes);
  // Every region only moves up: copy the last one first.
  if (blocks > 0 && cap > 0) spreadSketch(oSketch, sketchBlocks, nSketch, blocks);
  if (cap > 0) {
    if (policy != 0) memory.copy(nRegion, oRegion, <usize>hiwater);
    if (trackSizes) memory.copy(nSize, oSize, live);
    if (phys && hasPhys) memory.copy(nPhys, oPhys, live);
    else if (phys) {
      for (let s: u32 = 0; s < hiwater; s++) store<u32>(nPhys + (<usize>s << 2), load<u32>(rec(s), 12));
    }
  }
  oPhys = nPhys;
  oSize = nSize;
  oRegion = nRegion;
  oSketch = nSketch;
  sketchBlocks = blocks;
  slotBits = 32 - clz<u32>(newCap);
  slotMask = (<u32>1 << slotBits) - 1;
  oIndex = nIndex;
  oScratch = nScratch;
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
