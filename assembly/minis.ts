// W-TinyLFU's window sizing by mini-simulations (after Caffeine's later work on adaptive window sizing, and the
// "sampled simulation" of Waldspurger et al., "Cache Modeling and Optimization using Miniature Simulations",
// USENIX ATC 17). Seven small W-TinyLFU caches, one per window share in SHARES, are fed a hash sample of the
// requests (one key in `rate`: each holds MINI_MIN to 2 x MINI_MIN entries, or half of a smaller cache, or all
// of one under SAMPLE_FROM entries) and share the main cache's frequency
// sketch: a key's frequency is the stream's, not the cache's. Every SIM_PERIOD x maxItems requests
// (policy.ts climbIfDue) the main window takes the share of the mini with the most hits, scores decaying by
// DECAY at each decision. Hill climbing on the main cache's own hit rate (the rule before, still used under a
// byte limit) lost up to 4 points to LRU on recency-heavy traces: a step at a time it never reached the window
// those traces want, and a move that helped looked like noise. The minis see every window at once.
//
// Keys are known by their 32-bit hash only (two keys with one hash are one key here, which a simulation
// tolerates). Sampled requests wait in RING and run at the next decision or when it is full, so a hit costs
// a sample test and a store, and the single-key lookup's undo (policy.ts undo) takes its request back.
// src/core/minis.ts implements the same steps; the differential test holds the two cores to the same
// evictions.
//
// Memory, from `at` (layout.ts reserves it below the table, which never moves it): per mini slot
// HASH u32, PREV i32, NEXT i32, FREE i32 (a stack of freed slots), REGION u8; then per mini an index of
// `buckets` i32 (slot + 1, 0 empty; linear probing, backward-shift deletion). 120-180 KB for any cache of
// 1,024 entries or more, a share of an entry's bytes that falls as the cache grows.
import { estimate } from "./policy";
import { mix32 } from "./hash";

const M: u32 = 7;
const SHARES = memory.data<f64>([0.01, 0.03, 0.1, 0.25, 0.5, 0.8, 1]);
const NIL: i32 = -1;
const WIN: u32 = 0;
const PROB: u32 = 1;
const PROT: u32 = 2;
const MINI_MIN: u32 = 512;
// From this many entries on, at least one key in two is left out: every request in every mini made a full
// cache of 1,000 entries 3.7x slower to read and 6x slower to write than under LRU; one in two lost nothing
// measurable on the traces, one in four 0.4 points on sprite at 708.
const SAMPLE_FROM: u32 = 256;
const DECAY: f64 = 0.9;
const RING: u32 = 64;

// Per mini (k): list k * 3 + region's head, tail and length; window and protected bounds; slots used; freed.
const HEADS = memory.data(4 * 3 * 7);
const TAILS = memory.data(4 * 3 * 7);
const LENS = memory.data(4 * 3 * 7);
const WMAX = memory.data(4 * 7);
const PMAX = memory.data(4 * 7);
const USED = memory.data(4 * 7);
const FREETOP = memory.data(4 * 7);
const SCORES = memory.data(8 * 7);
const RINGBUF = memory.data(4 * 64);

let rate: u32 = 1;
let mc: u32 = 1;
let buckets: u32 = 1;
let ringLength: u32 = 0;
let oHash: usize = 0;
let oPrev: usize = 0;
let oNext: usize = 0;
let oFree: usize = 0;
let oRegion: usize = 0;
let oIndex: usize = 0;

@inline function i32At(a: usize, i: u32): i32 { return load<i32>(a + (<usize>i << 2)); }
@inline function setI32(a: usize, i: u32, v: i32): void { store<i32>(a + (<usize>i << 2), v); }
@inline function hashOf(s: i32): u32 { return load<u32>(oHash + (<usize>s << 2)); }
@inline function regionOf(s: i32): u32 { return <u32>load<u8>(oRegion + <usize>s); }

/** One key in `rate` reaches the minis: the largest power of two with capacity / rate >= MINI_MIN, or 2. */
function sampleRate(capacity: u32): u32 {
  let r: u64 = 1;
  while (r * 2 * <u64>MINI_MIN <= <u64>capacity) r <<= 1;
  return r == 1 && capacity >= SAMPLE_FROM ? 2 : <u32>r;
}

function miniCapacity(capacity: u32, r: u32): u32 {
  const c = <u32>((<u64>capacity + <u64>(r >> 1)) / <u64>r);
  return c > 0 ? c : 1;
}

function bucketsFor(c: u32): u32 {
  let b: u32 = 1;
  while (b < 2 * (c + 1)) b <<= 1;
  return b;
}

/** Bytes the minis need for a cache of `capacity` entries (layout.ts reserves them). */
export function bytesFor(capacity: u32): usize {
  const c = miniCapacity(capacity, sampleRate(capacity));
  const slots = <usize>M * (<usize>c + 1);
  return ((slots * 17 + 15) & ~<usize>15) + <usize>M * (<usize>bucketsFor(c) << 2);
}

export function configure(at: usize, capacity: u32): void {
  rate = sampleRate(capacity);
  mc = miniCapacity(capacity, rate);
  buckets = bucketsFor(mc);
  const slots = <usize>M * (<usize>mc + 1);
  oHash = at;
  oPrev = oHash + (slots << 2);
  oNext = oPrev + (slots << 2);
  oFree = oNext + (slots << 2);
  oRegion = oFree + (slots << 2);
  oIndex = (oRegion + slots + 15) & ~<usize>15;
  memory.fill(oIndex, 0, <usize>M * (<usize>buckets << 2));
  for (let k: u32 = 0; k < M; k++) {
    const w = <i32>Math.floor(<f64>mc * load<f64>(SHARES + (<usize>k << 3)) + 0.5);
    setI32(WMAX, k, w);
    setI32(PMAX, k, <i32>Math.floor(<f64>((<i32>mc - w) * 4) / 5));
    setI32(USED, k, 0);
    setI32(FREETOP, k, 0);
    store<f64>(SCORES + (<usize>k << 3), 0);
    for (let r: u32 = 0; r < 3; r++) {
      setI32(HEADS, k * 3 + r, NIL);
      setI32(TAILS, k * 3 + r, NIL);
      setI32(LENS, k * 3 + r, 0);
    }
  }
  ringLength = 0;
}

@inline function sampleMix(h: u32): u32 {
  return mix32(h, 0x5f3759df, 0x85ebca6b, 13, 0xc2b2ae35);
}

/** Queues one request for key hash `h` if its key is in the sample; true if it did (see unrecord). */
export function record(h: u32): bool {
  if ((sampleMix(h) & (rate - 1)) != 0) return false;
  if (ringLength == RING) drain();
  store<u32>(RINGBUF + (<usize>ringLength << 2), h);
  ringLength++;
  return true;
}

/** Takes back the request record() queued last (the single-key lookup's undo). */
export function unrecord(): void {
  ringLength--;
}

/** The share of the mini with the most hits, decayed over past decisions (the first of equals). */
export function best(): f64 {
  drain();
  let b: u32 = 0;
  for (let k: u32 = 1; k < M; k++) {
    if (load<f64>(SCORES + (<usize>k << 3)) > load<f64>(SCORES + (<usize>b << 3))) b = k;
  }
  for (let k: u32 = 0; k < M; k++) store<f64>(SCORES + (<usize>k << 3), load<f64>(SCORES + (<usize>k << 3)) * DECAY);
  return load<f64>(SHARES + (<usize>b << 3));
}

function drain(): void {
  for (let i: u32 = 0; i < ringLength; i++) {
    const h = load<u32>(RINGBUF + (<usize>i << 2));
    for (let k: u32 = 0; k < M; k++) {
      const p = SCORES + (<usize>k << 3);
      store<f64>(p, load<f64>(p) + <f64>step(k, h));
    }
  }
  ringLength = 0;
}

@inline function home(h: u32): u32 {
  return (h * 0x9e3779b1) & (buckets - 1);
}

@inline function bucketAt(k: u32, b: u32): usize {
  return oIndex + ((<usize>k * <usize>buckets + <usize>b) << 2);
}

function find(k: u32, h: u32): i32 {
  const mask = buckets - 1;
  for (let b = home(h); ; b = (b + 1) & mask) {
    const v = load<i32>(bucketAt(k, b));
    if (v == 0) return NIL;
    if (hashOf(v - 1) == h) return v - 1;
  }
  return NIL;
}

function indexAdd(k: u32, s: i32): void {
  const mask = buckets - 1;
  let b = home(hashOf(s));
  while (load<i32>(bucketAt(k, b)) != 0) b = (b + 1) & mask;
  store<i32>(bucketAt(k, b), s + 1);
}

/** Backward-shift deletion: later entries of the cluster move into the hole unless that passes their home. */
function indexRemove(k: u32, s: i32): void {
  const mask = buckets - 1;
  let hole = home(hashOf(s));
  while (load<i32>(bucketAt(k, hole)) != s + 1) hole = (hole + 1) & mask;
  for (let j = (hole + 1) & mask; load<i32>(bucketAt(k, j)) != 0; j = (j + 1) & mask) {
    const v = load<i32>(bucketAt(k, j));
    const hm = home(hashOf(v - 1));
    if (((j - hm) & mask) >= ((j - hole) & mask)) {
      store<i32>(bucketAt(k, hole), v);
      hole = j;
    }
  }
  store<i32>(bucketAt(k, hole), 0);
}

function unlink(k: u32, s: i32): void {
  const r = k * 3 + regionOf(s);
  const p = i32At(oPrev, <u32>s), n = i32At(oNext, <u32>s);
  if (p == NIL) setI32(HEADS, r, n); else setI32(oNext, <u32>p, n);
  if (n == NIL) setI32(TAILS, r, p); else setI32(oPrev, <u32>n, p);
  setI32(LENS, r, i32At(LENS, r) - 1);
}

function push(k: u32, list: u32, s: i32): void {
  const r = k * 3 + list;
  const h = i32At(HEADS, r);
  setI32(oPrev, <u32>s, NIL);
  setI32(oNext, <u32>s, h);
  if (h == NIL) setI32(TAILS, r, s); else setI32(oPrev, <u32>h, s);
  setI32(HEADS, r, s);
  store<u8>(oRegion + <usize>s, <u8>list);
  setI32(LENS, r, i32At(LENS, r) + 1);
}

/** Takes a slot that is on no list out of the index and frees it. */
function forget(k: u32, s: i32): void {
  indexRemove(k, s);
  const top = i32At(FREETOP, k);
  setI32(oFree, k * (mc + 1) + <u32>top, s);
  setI32(FREETOP, k, top + 1);
}

@inline function total(k: u32): i32 {
  return i32At(LENS, k * 3) + i32At(LENS, k * 3 + 1) + i32At(LENS, k * 3 + 2);
}

/** One request in mini k: 1 for a hit, 0 for a miss (the key then enters its window, or is judged out). */
function step(k: u32, h: u32): u32 {
  const s = find(k, h);
  if (s != NIL) {
    const r = regionOf(s);
    unlink(k, s);
    if (r == PROB) {
      push(k, PROT, s);
      if (i32At(LENS, k * 3 + PROT) > i32At(PMAX, k)) {
        const x = i32At(TAILS, k * 3 + PROT);
        unlink(k, x);
        push(k, PROB, x);
      }
    } else push(k, r, s);
    return 1;
  }
  let n: i32;
  const top = i32At(FREETOP, k);
  if (top > 0) {
    setI32(FREETOP, k, top - 1);
    n = i32At(oFree, k * (mc + 1) + <u32>(top - 1));
  } else {
    const used = i32At(USED, k);
    n = <i32>(k * (mc + 1)) + used;
    setI32(USED, k, used + 1);
  }
  store<u32>(oHash + (<usize>n << 2), h);
  indexAdd(k, n);
  push(k, WIN, n);
  while (i32At(LENS, k * 3 + WIN) > i32At(WMAX, k)) {
    const c = i32At(TAILS, k * 3 + WIN);
    unlink(k, c);
    if (total(k) < <i32>mc) {
      push(k, PROB, c);
      continue;
    }
    const v = i32At(TAILS, k * 3 + (i32At(LENS, k * 3 + PROB) > 0 ? PROB : PROT));
    // The mini whose window is all of it has an empty main: its candidate just goes.
    if (v != NIL && estimate(hashOf(c)) > estimate(hashOf(v))) {
      unlink(k, v);
      forget(k, v);
      push(k, PROB, c);
    } else forget(k, c);
  }
  while (total(k) > <i32>mc) {
    const from = i32At(LENS, k * 3 + PROB) > 0 ? PROB : i32At(LENS, k * 3 + PROT) > 0 ? PROT : WIN;
    const v = i32At(TAILS, k * 3 + from);
    unlink(k, v);
    forget(k, v);
  }
  return 0;
}
