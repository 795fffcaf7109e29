// The hash index (open addressing over INDEX, linear probing, backward-shift deletion: no tombstones) and the
// entry lifecycle: allocate, write deadlines, evict, remove, grow.
import * as L from "./layout";
import { unlink, pushFront } from "./lru";
import { encode, NEVER, tickOf } from "./time";
import * as P from "./policy";

/** Told about every entry the core drops by itself, before its slot can be reused. */
@external("env", "evicted")
declare function evicted(slot: u32, reason: i32): void;

export const REASON_EVICT: i32 = 0;
export const REASON_EXPIRE: i32 = 1;
/** A candidate leaving the W-TinyLFU window that admission turned away. */
export const REASON_REJECT: i32 = 2;

@inline function home(h: u32): u32 {
  return <u32>((<u64>h * <u64>L.nbuckets) >> 32);
}
@inline function bucketAt(i: u32): u32 {
  return load<u32>(L.oIndex + (<usize>i << 2));
}
@inline function setBucket(i: u32, v: u32): void {
  store<u32>(L.oIndex + (<usize>i << 2), v);
}
@inline function nextBucket(i: u32): u32 {
  return i + 1 == L.nbuckets ? 0 : i + 1;
}

let cursor: u32 = 0;

const DIST_MAX: u32 = 7;

@inline function tagOf(h: u32): u32 {
  return h << (L.slotBits + 3);
}
@inline function tagMask(): u32 {
  return ~((<u32>8 << L.slotBits) - 1);
}
@inline function distOf(v: u32): u32 {
  return (v >> L.slotBits) & DIST_MAX;
}
@inline function withDist(v: u32, d: u32): u32 {
  return (v & ~(DIST_MAX << L.slotBits)) | ((d < DIST_MAX ? d : DIST_MAX) << L.slotBits);
}
/** Buckets from a to b, going forward with wrap-around. */
@inline function gap(a: u32, b: u32): u32 {
  return b >= a ? b - a : b + L.nbuckets - a;
}

/** Probes from bucket `i` for the next slot whose stored hash is `h`; -1 when the chain ends. */
function probeFrom(i: u32, h: u32): i32 {
  const tag = tagOf(h);
  const tags = tagMask();
  const mask = L.slotMask;
  while (true) {
    const v = bucketAt(i);
    if (v == 0) return -1;
    if ((v & tags) == tag) {
      const s = (v & mask) - 1;
      if (L.hashOf(s) == h) {
        cursor = i;
        return <i32>s;
      }
    }
    i = nextBucket(i);
  }
}

/** The first slot whose hash is `h`. The caller verifies the key and calls findNext on a mismatch. */
export function find(h: u32): i32 {
  return probeFrom(home(h), h);
}
export function findNext(h: u32): i32 {
  return probeFrom(nextBucket(cursor), h);
}

/** The longest distance of any entry from its home bucket: how far the longest probe walks (a test hook). */
export function longestProbe(): u32 {
  let longest: u32 = 0;
  const mask = L.slotMask;
  for (let i: u32 = 0; i < L.nbuckets; i++) {
    const v = bucketAt(i);
    if (v == 0) continue;
    const d = gap(home(L.hashOf((v & mask) - 1)), i);
    if (d > longest) longest = d;
  }
  return longest;
}

function indexInsert(s: u32, h: u32): void {
  let i = home(h);
  let d: u32 = 0;
  while (bucketAt(i) != 0) {
    i = nextBucket(i);
    d++;
  }
  setBucket(i, withDist(tagOf(h) | (s + 1), d));
}

function indexRemove(s: u32): void {
  const mask = L.slotMask;
  let i = home(L.hashOf(s));
  while ((bucketAt(i) & mask) != s + 1) i = nextBucket(i);
  // Backward shift: pull each later member of the cluster into the hole unless its home lies in (hole, j].
  let j = i;
  while (true) {
    j = nextBucket(j);
    const v = bucketAt(j);
    if (v == 0) break;
    let d = distOf(v);
    if (d == DIST_MAX) d = gap(home(L.hashOf((v & mask) - 1)), j);
    const g = gap(i, j);
    if (d < g) continue;
    setBucket(i, withDist(v, d - g));
    i = j;
  }
  setBucket(i, 0);
}

function rebuildIndex(): void {
  for (let s: u32 = 0; s < L.hiwater; s++) {
    if (L.prevOf(s) != L.FREE) indexInsert(s, L.hashOf(s));
  }
}

function relayoutKeepingEntries(newCap: u32, phys: bool): void {
  L.relayout(newCap, phys);
  rebuildIndex();
}

/** Drops a live slot; `reason` < 0 means the caller asked for it, so JS is not told. */
export function remove(s: u32, reason: i32): void {
  indexRemove(s);
  if (L.policy != 0) P.unlinkIn(s);
  else unlink(s);
  L.addBytes(-<f64>L.sizeOf(s));
  L.setCount(L.count - 1);
  L.setPrev(s, L.FREE);
  L.setNext(s, L.freeHead);
  L.setFreeHead(s);
  if (reason >= 0) evicted(s, reason);
}

@inline export function isLive(s: u32): bool {
  return s < L.hiwater && L.prevOf(s) != L.FREE;
}

@inline export function physicalDeadline(s: u32): u32 {
  return L.hasPhys ? L.physOf(s) : L.expOf(s);
}

function evictTail(): void {
  remove(L.tail, REASON_EVICT);
}

/** Writes both deadlines; the first entry with grace makes the core keep a PHYS array from then on. */
// An entry has grace exactly when PHYS > EXP (expire relies on it), so rounding or saturation that would make
// them equal moves PHYS one tick on, or EXP one tick back from NEVER.
export function writeDeadlines(s: u32, rel: f64, ttl: f64, grace: f64): void {
  let exp = encode(rel + ttl);
  let phys = exp;
  if (grace > 0) {
    if (!L.hasPhys) relayoutKeepingEntries(L.cap, true);
    phys = encode(rel + ttl + grace);
    if (phys <= exp) {
      if (exp == NEVER) exp = NEVER - 1;
      phys = exp + 1;
    }
  }
  L.setExp(s, exp);
  if (L.hasPhys) L.setPhys(s, phys);
}

function allocate(): u32 {
  const f = L.freeHead;
  if (f != L.NIL) {
    L.setFreeHead(L.nextOf(f));
    return f;
  }
  if (L.hiwater == L.cap) {
    const doubled = L.cap << 1;
    relayoutKeepingEntries(doubled < L.maxItems ? doubled : L.maxItems, L.hasPhys);
  }
  const s = L.hiwater;
  L.setHiwater(s + 1);
  return s;
}

/** Whether JS wants to hear of every eviction (it has a listener), or only of those that leave a value behind. */
let notifyEvictions: bool = true;
export function setNotifyEvictions(all: bool): void {
  notifyEvictions = all;
}

/** Makes room for `size` more bytes and one more entry, evicting from the LRU tail. */
function makeRoom(size: u32, extra: u32): void {
  if (L.count + extra > L.maxItems && !notifyEvictions && !L.trackSizes && extra == 1) {
    // Without a listener or a byte limit this frees exactly one slot, and allocate() hands that same slot to
    // the new entry, whose key and value JS writes over the old ones: nothing to tell JS.
    remove(L.tail, -1);
  }
  while (L.count + extra > L.maxItems) evictTail();
  if (L.trackSizes) {
    while (L.totalBytes + <f64>size > L.maxBytes) evictTail();
  }
}

/**
 * W-TinyLFU's eviction step: an expired candidate or victim goes first; else the candidate (just pushed out of
 * the window) and the victim are compared by estimated frequency and the loser goes, a tie against the
 * candidate. `keep` is never chosen. Returns the candidate still to be decided (NIL once it is).
 */
function evictOne(candidate: u32, keep: u32, t: u32, quiet: bool): u32 {
  if (candidate != L.NIL && physicalDeadline(candidate) <= t) {
    remove(candidate, REASON_EXPIRE);
    return L.NIL;
  }
  const v = P.victim(keep);
  if (physicalDeadline(v) <= t) {
    remove(v, REASON_EXPIRE);
    return candidate;
  }
  if (candidate == L.NIL || v == candidate) {
    remove(v, quiet ? -1 : REASON_EVICT);
    return L.NIL;
  }
  const freq = P.estimate(L.hashOf(candidate));
  const victimFreq = P.estimate(L.hashOf(v));
  if (freq <= victimFreq && !P.admitWarm(freq, victimFreq)) {
    remove(candidate, quiet ? -1 : REASON_REJECT);
    return L.NIL;
  }
  remove(v, quiet ? -1 : REASON_EVICT);
  return candidate;
}

/** makeRoom under W-TinyLFU, before an insert. */
function admit(size: u32, t: u32): void {
  P.climbIfDue();
  let candidate = P.makeWindowRoom(L.trackSizes ? <f64>size : 1);
  // As in makeRoom: without a listener or a byte limit exactly one entry goes, and its slot is the new one's.
  const quiet = !notifyEvictions && !L.trackSizes;
  while (L.count + 1 > L.maxItems || (L.trackSizes && L.totalBytes + <f64>size > L.maxBytes)) {
    candidate = evictOne(candidate, L.NIL, t, quiet);
  }
}

/** A new entry for a key known to be absent. Returns its slot, or -1 when `size` exceeds maxBytes. */
export function insert(h: u32, rel: f64, ttl: f64, grace: f64, size: u32): i32 {
  if (L.trackSizes && <f64>size > L.maxBytes) return -1;
  const tiny = L.policy != 0;
  if (tiny) admit(size, tickOf(rel));
  else makeRoom(size, 1);
  const s = allocate();
  L.setHash(s, h);
  indexInsert(s, h);
  // Sized before it joins a list: the policy weighs it there.
  if (L.trackSizes) {
    L.setSize(s, size);
    L.addBytes(<f64>size);
  }
  if (tiny) {
    P.inserted(h);
    P.pushFrontIn(P.WINDOW, s);
  } else pushFront(s);
  writeDeadlines(s, rel, ttl, grace);
  L.setCount(L.count + 1);
  return <i32>s;
}

/** New value for a live slot. Returns the slot, or -1 when `size` exceeds maxBytes (the entry is dropped). */
export function update(s: u32, rel: f64, ttl: f64, grace: f64, size: u32): i32 {
  if (L.trackSizes) {
    if (<f64>size > L.maxBytes) {
      remove(s, -1);
      return -1;
    }
    L.addBytes(<f64>size - <f64>L.sizeOf(s));
    if (L.policy != 0) P.reweigh(s, <f64>size - <f64>L.sizeOf(s));
    L.setSize(s, size);
  }
  if (L.policy != 0) {
    // A write is an access, as in Caffeine.
    P.ageIfDue();
    P.increment(L.hashOf(s));
    P.access(s);
    writeDeadlines(s, rel, ttl, grace);
    if (L.trackSizes) {
      const t = tickOf(rel);
      let candidate = L.NIL;
      while (L.totalBytes > L.maxBytes) candidate = evictOne(candidate, s, t, false);
    }
    return <i32>s;
  }
  if (L.head != s) {
    unlink(s);
    pushFront(s);
  }
  writeDeadlines(s, rel, ttl, grace);
  // The updated entry is the head, so eviction stops before reaching it: its own size fits.
  makeRoom(0, 0);
  return <i32>s;
}
