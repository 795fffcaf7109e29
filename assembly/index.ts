// The exported surface of the L1 core. Every export takes and returns numbers only, so JS calls the raw
// instance exports with no glue (see README: "Why no bindings"). A lookup code is -1 for a miss, the slot for a
// fresh entry, or the slot | STALE for an entry past its logical deadline but within grace.
import * as L from "./layout";
import * as T from "./table";
import { relative, tickOf, resetClock } from "./time";
import { moveToFront, unlink } from "./lru";
import { slotsAt, probeBatch, hashBatch as hashOnly } from "./batch";
import * as P from "./policy";
import * as M from "./minis";
export { setHashMask, hashBatchScalar } from "./batch";
export { setHashSeed } from "./hash";

const STALE: i32 = 0x40000000;

export { find, findNext, longestProbe } from "./table";
export { ensureScratch } from "./layout";

/** `policy`: 0 LRU, 1 W-TinyLFU (policy.ts). */
export function configure(maxItems: u32, maxBytes: f64, initialCapacity: u32, notifyEvictions: bool, policy: u32): void {
  resetClock();
  T.setNotifyEvictions(notifyEvictions);
  // The window is sized by mini-simulations unless a byte limit is set (policy.ts climbIfDue).
  const sims = policy != 0 && maxBytes == Infinity;
  L.configure(maxItems, maxBytes, initialCapacity, policy, sims ? M.bytesFor(maxItems) : 0);
  if (policy != 0) P.configure(sims);
}

/** Fresh is decided from the record alone; only a stale entry reads its physical deadline. */
function state(s: u32, t: u32): i32 {
  if (L.expOf(s) > t) return <i32>s;
  return T.physicalDeadline(s) <= t ? -1 : <i32>s | STALE;
}

/** A verified hit: drops the entry if it is past its physical deadline, else makes it most recent. */
// Under W-TinyLFU every lookup of a key is one request for the climber: touch counts a slot that is not live
// (JS passes -1 for a key it did not find) as a miss.
export function touch(s: u32, now: f64): i32 {
  const t = tickOf(relative(now));
  const tiny = L.policy != 0;
  if (!T.isLive(s)) {
    if (tiny) P.miss();
    return -1;
  }
  const code = state(s, t);
  if (code < 0) {
    T.remove(s, T.REASON_EXPIRE);
    if (tiny) P.miss();
  } else if (tiny) {
    P.hit(s, L.hashOf(s));
    P.forgetUndo();
  } else moveToFront(s);
  return code;
}

let undoSlot: u32 = L.NIL;
let undoPrev: u32 = L.NIL;
let undoNext: u32 = L.NIL;

/**
 * The single-key hit path in one call: finds the first slot whose hash is `h` and touches it, expecting JS to
 * confirm the key (a different key with the same 32-bit hash is rare). On a mismatch JS calls undoLookup and
 * walks on with findNext. An entry past its physical deadline is left in place and returned as -2 - slot, for
 * JS to confirm and then drop with dropExpired.
 */
export function lookup(h: u32, now: f64): i32 {
  undoPrev = L.NIL;
  const t = tickOf(relative(now));
  const s = T.find(h);
  if (L.policy != 0) {
    P.forgetUndo();
    if (s < 0) {
      P.miss();
      return -1;
    }
    const c = state(<u32>s, t);
    if (c < 0) return -2 - s; // counted by dropExpired, or by the touch of JS's walk
    P.hit(<u32>s, h);
    return c;
  }
  if (s < 0) return -1;
  const code = state(<u32>s, t);
  if (code < 0) return -2 - s;
  undoSlot = <u32>s;
  undoPrev = L.prevOf(<u32>s);
  undoNext = L.nextOf(<u32>s);
  moveToFront(<u32>s);
  return code;
}

/** Puts the slot the last lookup moved back between its old neighbours. */
export function undoLookup(): void {
  if (L.policy != 0) {
    P.undo();
    return;
  }
  const s = undoSlot;
  if (undoPrev == L.NIL) return; // it was the head already: nothing moved
  unlink(s);
  L.setPrev(s, undoPrev);
  L.setNext(s, undoNext);
  L.setNext(undoPrev, s);
  if (undoNext == L.NIL) L.setTail(s); else L.setPrev(undoNext, s);
}

export function dropExpired(s: u32): void {
  T.remove(s, T.REASON_EXPIRE);
  if (L.policy != 0) P.miss();
}

/** Like touch, but changes nothing: no LRU move, no removal. */
export function peek(s: u32, now: f64): i32 {
  return T.isLive(s) ? state(s, tickOf(relative(now))) : -1;
}

/**
 * The single-key write path: inserts at once when no entry has hash `h` (returns the slot, or -1 when `size`
 * exceeds maxBytes). When one has, writes nothing and returns -2 - slot for JS to confirm the key and call write.
 */
export function set(h: u32, now: f64, ttl: f64, grace: f64, size: u32): i32 {
  const s = T.find(h);
  if (s >= 0) return -2 - s;
  return T.insert(h, relative(now), ttl, grace, size);
}

/** Writes an entry: `s` is its live slot, or -1 for a key known to be absent. Returns the slot, or -1. */
export function write(s: i32, h: u32, now: f64, ttl: f64, grace: f64, size: u32): i32 {
  const rel = relative(now);
  return s < 0 ? T.insert(h, rel, ttl, grace, size) : T.update(<u32>s, rel, ttl, grace, size);
}

export function remove(s: u32): void {
  T.remove(s, -1);
}

/** Makes a live entry stale now; it stays until its physical deadline. */
export function expire(s: u32, now: f64): void {
  const t = tickOf(relative(now));
  const exp = L.expOf(s);
  if (exp <= t) return;
  L.setExp(s, t);
  // An entry written without grace has PHYS == EXP: it has no grace to be kept for, so it goes now.
  if (L.hasPhys && L.physOf(s) == exp) L.setPhys(s, t);
}

export function clear(): void {
  L.resetEntries();
  if (L.policy != 0) P.resetLists();
}

export function hashBatch(n4: u32): void {
  hashOnly(n4);
}

export function lookupBatch(n: u32, n4: u32): void {
  probeBatch(n, n4);
}

/** After JS verified the keys (a slot it rejected is -1), turns each slot into a lookup code, in key order. */
export function touchBatch(n: u32, n4: u32, now: f64): void {
  relative(now); // read the clock even when no key was found
  const slots = slotsAt(n4);
  for (let i: u32 = 0; i < n; i++) {
    const p = slots + (<usize>i << 2);
    const s = load<i32>(p);
    if (s >= 0 || L.policy != 0) store<i32>(p, touch(<u32>s, now));
  }
}

/** Reads the clock (a read may rebase it): timed calls that find no key still read it, as in JsCore. */
export function tick(now: f64): u32 {
  return tickOf(relative(now));
}

export function size(): u32 { return L.count; }
export function bytes(): f64 { return L.totalBytes; }
export function capacity(): u32 { return L.cap; }
export function headSlot(): i32 { return <i32>(L.policy != 0 ? P.firstSlot() : L.head); }
export function nextSlot(s: u32): i32 { return <i32>(L.policy != 0 ? P.followingSlot(s) : L.nextOf(s)); }

/** Bench hooks for the W-TinyLFU sketch. */
export { setSimdPositions } from "./policy";
/** n increments and estimates of hashes h, h + step, ...: the sketch's cost without crossing into WASM. */
export function sketchLoop(n: u32, h: u32, step: u32): u32 {
  let sum: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    P.increment(h);
    sum += P.estimate(h);
    h += step;
  }
  return sum;
}
