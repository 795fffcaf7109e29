// W-TinyLFU (policy 'tinylfu'): after Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
// Policy" (2017), and Caffeine's design. Three LRU lists over the same records (PREV/NEXT links):
//   WINDOW     new entries; at most windowMax of weight
//   PROBATION  entries that left the window or were demoted; the victims come from its LRU end
//   PROTECTED  entries hit while in probation; at most 80% of the main region (probation + protected)
// Regions are sized by weight, as Caffeine's weighted eviction: an entry weighs its byte size under a byte limit
// (maxBytes, which then is the capacity the regions share), else 1 (maxItems is the capacity). With maxBytes
// binding and regions sized by count, every entry sat in the window and the policy did nothing.
// An entry pushed out of the window (the candidate) stays only if the sketch says its key is used more often
// than probation's LRU entry (the victim); else it is dropped with reason 'rejected'. The window size is hill
// climbed on the hit rate. No doorkeeper: the paper has one, Caffeine does not, and measured here it lost more
// than it gained (README, "Hit ratio"). src/core/tinylfu.ts implements the same rules step for step.
//
// The frequency sketch: count-min, 4 rows of 4-bit counters, in 64-byte blocks (one cache line per key): row r
// of a block is its bytes [16r, 16r + 16), 32 counters. A key's block comes from its mixed hash, its counter in
// row r from the top 5 bits of (mixed * ROW_r). Every AGE_EVERY x capacity additions halve all counters (20
// measured better than Caffeine's 10 once the window is sized by the minis: recency-heavy traces keep their
// frequencies longer without losing the frequency-heavy ones).
// Aging runs only at writes, so a lookup's increment can be undone exactly (see undo).
import * as L from "./layout";
import { K0, K1, mix32 } from "./hash";
import * as M from "./minis";

export const WINDOW: u32 = 0;
export const PROBATION: u32 = 1;
export const PROTECTED: u32 = 2;

// Heads (most recent), tails and lengths of the three lists, in static data: the heap from __heap_base is the
// table's (layout.ts), so nothing here may allocate.
const LISTS = memory.data(36);
@inline function hd(r: u32): u32 { return load<u32>(LISTS + (<usize>r << 2)); }
@inline function setHd(r: u32, v: u32): void { store<u32>(LISTS + (<usize>r << 2), v); }
@inline function tl(r: u32): u32 { return load<u32>(LISTS + 12 + (<usize>r << 2)); }
@inline function setTl(r: u32, v: u32): void { store<u32>(LISTS + 12 + (<usize>r << 2), v); }
@inline function len(r: u32): u32 { return load<u32>(LISTS + 24 + (<usize>r << 2)); }
@inline function setLen(r: u32, v: u32): void { store<u32>(LISTS + 24 + (<usize>r << 2), v); }
// The weight each list holds (f64: byte sizes add up past 2^32).
const WEIGHTS = memory.data(24);
@inline function wt(r: u32): f64 { return load<f64>(WEIGHTS + (<usize>r << 3)); }
@inline function addWt(r: u32, d: f64): void { store<f64>(WEIGHTS + (<usize>r << 3), load<f64>(WEIGHTS + (<usize>r << 3)) + d); }
/** An entry's weight: its byte size under a byte limit, else 1. */
@inline function weightOf(s: u32): f64 { return L.trackSizes ? <f64>L.sizeOf(s) : 1; }
/** What the regions share: maxBytes under a byte limit, else maxItems. */
@inline function capacity(): f64 { return L.trackSizes ? L.maxBytes : <f64>L.maxItems; }

let windowMax: f64 = 1;
let protectedMax: f64 = 0;

// The window's size: by the mini-simulations (minis.ts) every SIM_PERIOD x maxItems requests, or under a byte
// limit by hill climbing (Caffeine's first rule): every 10 x maxItems requests, compare the hit rate with the
// last period's (see climbIfDue).
let sims: bool = false;
const SIM_PERIOD: u32 = 5;
const AGE_EVERY: u32 = 20;
let requests: u32 = 0;
let hits: u32 = 0;
let previousRate: f64 = 0;
let step: f64 = 0;

let additions: u32 = 0;

// Admission against a hash flood (Caffeine's, narrowed): with a deterministic rule, keys an attacker keeps at
// the sketch's top count pin probation's tail, and a hot candidate that ties with it is refused forever. A warm
// candidate (estimate >= WARM) that loses to a victim at the top counts (>= PINNED) is admitted 1 time in 128,
// by a xorshift32 generator seeded from the hash key, so the two cores draw the same numbers and an attacker
// cannot predict them. Caffeine's rule (any warm loser) cost 8.3 points on a loop of 11k keys at 10k entries;
// asking the victim to be pinned too costs 2.5 there and nothing on the published traces.
const WARM: u32 = 6;
const PINNED: u32 = 14;
let rng: u32 = 0;

/** True when a candidate with estimate `freq` that lost to a victim with `victimFreq` is let in anyway (see WARM). */
export function admitWarm(freq: u32, victimFreq: u32): bool {
  if (freq < WARM || victimFreq < PINNED) return false;
  let x = rng;
  if (x == 0) x = (K0 ^ (K1 * 0x9e3779b9)) | 1;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng = x;
  return (x & 127) == 0;
}

@inline export function regionOf(s: u32): u32 { return <u32>load<u8>(L.oRegion + <usize>s); }
@inline function setRegion(s: u32, r: u32): void { store<u8>(L.oRegion + <usize>s, <u8>r); }

function firstStep(): f64 {
  return 0.0625 * capacity();
}

function setWindowMax(w: f64): void {
  windowMax = w;
  const main = capacity() > w ? capacity() - w : 0;
  protectedMax = Math.floor((main * 4) / 5);
}

/** Forgets entries and lists; the sketch and the climber keep what they learned. */
export function resetLists(): void {
  for (let r: u32 = 0; r < 3; r++) {
    setHd(r, L.NIL);
    setTl(r, L.NIL);
    setLen(r, 0);
    store<f64>(WEIGHTS + (<usize>r << 3), 0);
  }
}

export function configure(withSims: bool): void {
  sims = withSims;
  if (sims) M.configure(L.oReserved, L.maxItems);
  resetLists();
  const w = Math.floor((capacity() + 50) / 100);
  setWindowMax(w > 0 ? w : 1);
  requests = 0;
  hits = 0;
  previousRate = 0;
  step = -firstStep();
  clearSketch();
}

export function unlinkIn(s: u32): void {
  const r = regionOf(s);
  const p = L.prevOf(s), n = L.nextOf(s);
  if (p == L.NIL) setHd(r, n); else L.setNext(p, n);
  if (n == L.NIL) setTl(r, p); else L.setPrev(n, p);
  setLen(r, len(r) - 1);
  addWt(r, -weightOf(s));
}

/** Makes `s` the most recent entry of list `r`. */
export function pushFrontIn(r: u32, s: u32): void {
  const h = hd(r);
  L.setPrev(s, L.NIL);
  L.setNext(s, h);
  if (h == L.NIL) setTl(r, s); else L.setPrev(h, s);
  setHd(r, s);
  setRegion(s, r);
  setLen(r, len(r) + 1);
  addWt(r, weightOf(s));
}

/** An entry's size changes in place (an update): its list's weight follows (call before the size is stored). */
export function reweigh(s: u32, delta: f64): void {
  addWt(regionOf(s), delta);
}

/** Makes `s` the least recent entry of list `r` (only undo needs it). */
function pushBackIn(r: u32, s: u32): void {
  const t = tl(r);
  L.setNext(s, L.NIL);
  L.setPrev(s, t);
  if (t == L.NIL) setHd(r, s); else L.setNext(t, s);
  setTl(r, s);
  setRegion(s, r);
  setLen(r, len(r) + 1);
  addWt(r, weightOf(s));
}

/** Moves list `from`'s least recent entry to the front of list `to`; returns it (`from` must not be empty). */
function moveTail(from: u32, to: u32): u32 {
  const s = tl(from);
  unlinkIn(s);
  pushFrontIn(to, s);
  return s;
}

/** Keys iterate window, protected, probation, each most recent first: the last key is the next victim. */
function headFrom(r: u32): u32 {
  if (r == WINDOW) {
    if (hd(WINDOW) != L.NIL) return hd(WINDOW);
    r = PROTECTED;
  }
  if (r == PROTECTED && hd(PROTECTED) != L.NIL) return hd(PROTECTED);
  return hd(PROBATION);
}
export function firstSlot(): u32 {
  return headFrom(WINDOW);
}
export function followingSlot(s: u32): u32 {
  const n = L.nextOf(s);
  if (n != L.NIL) return n;
  const r = regionOf(s);
  return r == WINDOW ? headFrom(PROTECTED) : r == PROTECTED ? hd(PROBATION) : L.NIL;
}

// ---- the sketch ----

const ROW0: u32 = 0x9e3779b1;
const ROW1: u32 = 0x85ebca77;
const ROW2: u32 = 0xc2b2ae3d;
const ROW3: u32 = 0x27d4eb2f;

@inline function mixed(h: u32): u32 {
  return mix32(h, 0x5bd1e995, 0x7feb352d, 15, 0x846ca68b);
}

@inline function blockOf(x: u32): usize {
  return L.oSketch + (<usize>(<u32>((<u64>x * <u64>L.sketchBlocks) >> 32)) << 6);
}

@inline function counterAt(block: usize, row: u32, idx: u32): u32 {
  return (<u32>load<u8>(block + (row << 4) + (idx >> 1)) >> ((idx & 1) << 2)) & 15;
}

/** Estimated uses of the key with hash `h` (0 to 15): the least of its four counters. */
export function estimate(h: u32): u32 {
  const x = mixed(h);
  const b = blockOf(x);
  let m = counterAt(b, 0, (x * ROW0) >> 27);
  let c = counterAt(b, 1, (x * ROW1) >> 27);
  m = c < m ? c : m;
  c = counterAt(b, 2, (x * ROW2) >> 27);
  m = c < m ? c : m;
  c = counterAt(b, 3, (x * ROW3) >> 27);
  return c < m ? c : m;
}

// The last increment, for undo: the byte of each row and what was added to it (0 where the counter was 15).
let undoByte0: usize = 0, undoByte1: usize = 0, undoByte2: usize = 0, undoByte3: usize = 0;
let undoAdd0: u32 = 0, undoAdd1: u32 = 0, undoAdd2: u32 = 0, undoAdd3: u32 = 0;

/** Adds one to a 4-bit counter unless it is 15, without a branch; returns what was added to its byte. */
@inline function bump(p: usize, idx: u32): u32 {
  const shift = (idx & 1) << 2;
  const v = <u32>load<u8>(p);
  const add = select<u32>(1 << shift, 0, ((v >> shift) & 15) != 15);
  store<u8>(p, <u8>(v + add));
  return add;
}

export function increment(h: u32): void {
  if (ASC_FEATURE_SIMD) {
    if (simdPositions) incrementV128(h);
    else incrementScalar(h);
  } else incrementScalar(h);
  additions++;
}

/** The four rows' byte offsets and nibble shifts from one i32x4 computation. */
function incrementV128(h: u32): void {
  const x = mixed(h);
  const b = blockOf(x);
  const idx = i32x4.shr_u(i32x4.mul(i32x4.splat(<i32>x), i32x4(<i32>ROW0, <i32>ROW1, <i32>ROW2, <i32>ROW3)), 27);
  const offs = i32x4.add(i32x4.shr_u(idx, 1), i32x4(0, 16, 32, 48));
  undoByte0 = b + <usize>i32x4.extract_lane(offs, 0);
  undoByte1 = b + <usize>i32x4.extract_lane(offs, 1);
  undoByte2 = b + <usize>i32x4.extract_lane(offs, 2);
  undoByte3 = b + <usize>i32x4.extract_lane(offs, 3);
  undoAdd0 = bump(undoByte0, <u32>i32x4.extract_lane(idx, 0));
  undoAdd1 = bump(undoByte1, <u32>i32x4.extract_lane(idx, 1));
  undoAdd2 = bump(undoByte2, <u32>i32x4.extract_lane(idx, 2));
  undoAdd3 = bump(undoByte3, <u32>i32x4.extract_lane(idx, 3));
}

function incrementScalar(h: u32): void {
  const x = mixed(h);
  const b = blockOf(x);
  const i0 = (x * ROW0) >> 27, i1 = (x * ROW1) >> 27, i2 = (x * ROW2) >> 27, i3 = (x * ROW3) >> 27;
  undoByte0 = b + (i0 >> 1);
  undoByte1 = b + 16 + (i1 >> 1);
  undoByte2 = b + 32 + (i2 >> 1);
  undoByte3 = b + 48 + (i3 >> 1);
  undoAdd0 = bump(undoByte0, i0);
  undoAdd1 = bump(undoByte1, i1);
  undoAdd2 = bump(undoByte2, i2);
  undoAdd3 = bump(undoByte3, i3);
}

function undoIncrement(): void {
  store<u8>(undoByte0, <u8>(<u32>load<u8>(undoByte0) - undoAdd0));
  store<u8>(undoByte1, <u8>(<u32>load<u8>(undoByte1) - undoAdd1));
  store<u8>(undoByte2, <u8>(<u32>load<u8>(undoByte2) - undoAdd2));
  store<u8>(undoByte3, <u8>(<u32>load<u8>(undoByte3) - undoAdd3));
  additions--;
}

/**
 * Whether the SIMD build computes the four positions with i32x4 (true) or with scalar i32 (false). Scalar by
 * default: `BENCH_ONLY=policy npm run bench` measured the v128 positions slower (the four lane extracts cost
 * more than the four multiplies they replace); the switch stays for that bench.
 */
let simdPositions: bool = false;
export function setSimdPositions(on: bool): void {
  simdPositions = on;
}

/** Halves every counter once sample additions have been made (at writes only: see the top of this file). */
export function ageIfDue(): void {
  if (additions < L.cap * AGE_EVERY) return;
  const end = L.oSketch + (<usize>L.sketchBlocks << 6);
  if (ASC_FEATURE_SIMD) {
    const m = i32x4.splat(0x77777777);
    for (let p = L.oSketch; p < end; p += 16) v128.store(p, v128.and(i32x4.shr_u(v128.load(p), 1), m));
  } else {
    for (let p = L.oSketch; p < end; p += 4) store<u32>(p, (load<u32>(p) >> 1) & 0x77777777);
  }
  additions >>= 1;
}

function clearSketch(): void {
  memory.fill(L.oSketch, 0, <usize>L.sketchBlocks << 6);
  additions = 0;
}

// ---- access, with undo for the single-key lookup (JS may find the slot holds another key) ----

let undoable: bool = false;
let undoSlot: u32 = L.NIL;
let undoRegion: u32 = 0;
let undoPrev: u32 = L.NIL;
let undoNext: u32 = L.NIL;
let undoDemoted: u32 = L.NIL;
let undoRecorded: bool = false;

/** Moves a hit entry: within window or protected to the front, from probation into protected. */
export function access(s: u32): void {
  undoDemoted = L.NIL;
  const r = regionOf(s);
  if (r == PROBATION) {
    unlinkIn(s);
    pushFrontIn(PROTECTED, s);
    if (wt(PROTECTED) > protectedMax) undoDemoted = moveTail(PROTECTED, PROBATION);
  } else if (hd(r) != s) {
    unlinkIn(s);
    pushFrontIn(r, s);
  }
}

/** A new entry's key: counted in the sketch and, as a request, by the mini-simulations. */
export function inserted(h: u32): void {
  ageIfDue();
  increment(h);
  if (sims) M.record(h);
}

/** A hit from a lookup: counted, its key's frequency raised, the entry moved; all of it undoable. */
export function hit(s: u32, h: u32): void {
  requests++;
  hits++;
  increment(h);
  undoRecorded = sims && M.record(h);
  undoSlot = s;
  undoRegion = regionOf(s);
  undoPrev = L.prevOf(s);
  undoNext = L.nextOf(s);
  access(s);
  undoable = true;
}

export function miss(): void {
  requests++;
}

export function forgetUndo(): void {
  undoable = false;
}

/** Reverts the last hit() exactly: the slot turned out to hold another key with the same hash. */
export function undo(): void {
  if (!undoable) return;
  undoable = false;
  const s = undoSlot;
  if (undoDemoted != L.NIL) {
    unlinkIn(undoDemoted);
    pushBackIn(PROTECTED, undoDemoted);
  }
  unlinkIn(s);
  const r = undoRegion;
  L.setPrev(s, undoPrev);
  L.setNext(s, undoNext);
  if (undoPrev == L.NIL) setHd(r, s); else L.setNext(undoPrev, s);
  if (undoNext == L.NIL) setTl(r, s); else L.setPrev(undoNext, s);
  setRegion(s, r);
  setLen(r, len(r) + 1);
  addWt(r, weightOf(s));
  undoIncrement();
  if (undoRecorded) M.unrecord();
  requests--;
  hits--;
}

/** After the window grew or shrank: entries move between window and main, nothing is evicted. */
function resizeWindow(target: f64): void {
  if (target > windowMax) {
    let quota = target - windowMax;
    setWindowMax(target);
    while (quota > 0 && wt(WINDOW) < windowMax) {
      let moved: u32 = L.NIL;
      if (len(PROBATION) > 0) moved = moveTail(PROBATION, WINDOW);
      else if (len(PROTECTED) > 0) moved = moveTail(PROTECTED, WINDOW);
      else break;
      quota -= weightOf(moved);
    }
  } else {
    setWindowMax(target);
    while (wt(WINDOW) > windowMax && len(WINDOW) > 0) moveTail(WINDOW, PROBATION);
  }
  demoteProtected();
}

function demoteProtected(): void {
  while (wt(PROTECTED) > protectedMax && len(PROTECTED) > 0) moveTail(PROTECTED, PROBATION);
}

/**
 * Runs at inserts: once a period of requests has passed, sets the window to the best mini's share (minis.ts),
 * or, under a byte limit, moves it by the step and sets the next step as Caffeine's hill climber does: the same direction while the hit rate does not fall, the other way when it
 * does; steps start at 6.25% of maxItems (first towards a smaller window), decay by 2% a period, and start again
 * when the rate moves by 5 points or more. The step is fractional; the window moves by its whole part.
 */
export function climbIfDue(): void {
  // maxItems is at most MAX_ITEMS (2^24): the period fits in a u32.
  if (requests < L.maxItems * (sims ? SIM_PERIOD : 10)) return;
  let target: f64;
  if (sims) target = Math.floor(capacity() * M.best() + 0.5);
  else {
    const rate = <f64>hits / <f64>requests;
    const change = rate - previousRate;
    const amount = change >= 0 ? step : -step;
    step = Math.abs(change) >= 0.05 ? firstStep() * (amount >= 0 ? 1 : -1) : 0.98 * amount;
    previousRate = rate;
    target = windowMax + trunc(amount);
  }
  const most: f64 = capacity() > 1 ? Math.floor(capacity()) - 1 : 1;
  if (target < 1) target = 1;
  if (target > most) target = most;
  if (target != windowMax) resizeWindow(target);
  requests = 0;
  hits = 0;
}

/**
 * The entry to evict next: probation's LRU, else protected's, else the window's, skipping `keep` (the entry a
 * write is making room for; it is at the front of its list, so it is the LRU only when alone there).
 */
export function victim(keep: u32): u32 {
  let v = tl(PROBATION);
  if (v != L.NIL && v != keep) return v;
  v = tl(PROTECTED);
  if (v != L.NIL && v != keep) return v;
  return tl(WINDOW);
}

/**
 * Before an insert of `weight`: the window's LRU entries move to probation until it fits (the last one moved is
 * the candidate).
 */
export function makeWindowRoom(weight: f64): u32 {
  let candidate = L.NIL;
  while (wt(WINDOW) + weight > windowMax && len(WINDOW) > 0) candidate = moveTail(WINDOW, PROBATION);
  return candidate;
}
