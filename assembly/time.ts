// Deadlines are u32 "ticks" relative to `epoch`, so a TTL check is one u32 compare and a deadline costs 4 bytes
// instead of 8. The encoding is monotonic:
//   t < 2^31 ms after epoch   -> t, in whole ms (rounded up: an entry never expires early)
//   later                     -> 2^31 + whole seconds past that (rounded up), saturating at NEVER - 1 (~68 years)
//   no deadline               -> NEVER
// The current time is always in the ms range: once it passes 2^30 ms (~12 days) after epoch, epoch moves
// forward to the current whole second and every stored deadline is shifted (one pass, every ~12 days); a clock
// set back before epoch moves it back the same way. The shift is a multiple of 1000, so seconds-range deadlines
// shift exactly. Every timed call reads the clock first, found key or not, so both cores rebase at the same
// calls. src/core/clock.ts implements the same rules for JsCore.
import * as L from "./layout";

export const NEVER: u32 = 0xffffffff;
const MS_RANGE: f64 = 2147483648; // 2^31
const REBASE_AT: f64 = 1073741824; // 2^30

let epoch: f64 = 0;
let epochSet: bool = false;

export function encode(rel: f64): u32 {
  if (rel <= 0) return 0;
  if (rel < MS_RANGE) return <u32>Math.ceil(rel);
  if (rel == Infinity) return NEVER;
  const secs = Math.ceil((rel - MS_RANGE) / 1000);
  return secs >= <f64>(NEVER - 1 - <u32>MS_RANGE) ? NEVER - 1 : <u32>MS_RANGE + <u32>secs;
}

function decode(v: u32): f64 {
  return v < <u32>MS_RANGE ? <f64>v : MS_RANGE + <f64>(v - <u32>MS_RANGE) * 1000;
}

function shift(v: u32, by: f64): u32 {
  // 0 is "at or before epoch": it stays passed when epoch moves back.
  if (v == NEVER || v == 0) return v;
  return encode(decode(v) - by);
}

function rebase(by: f64): void {
  epoch += by;
  for (let s: u32 = 0; s < L.hiwater; s++) {
    if (L.prevOf(s) == L.FREE) continue;
    L.setExp(s, shift(L.expOf(s), by));
    if (L.hasPhys) L.setPhys(s, shift(L.physOf(s), by));
  }
}

/** Milliseconds of `now` after epoch (fractional), rebasing first when needed. */
export function relative(now: f64): f64 {
  if (!epochSet) {
    epoch = Math.floor(now);
    epochSet = true;
  }
  // Forward every ~12 days; back at once when the clock goes back past epoch, or a deadline written then
  // (rel + ttl <= 0) would read as passed.
  const ahead = now - epoch;
  if (ahead >= REBASE_AT || ahead < 0) rebase(Math.floor(ahead / 1000) * 1000);
  return now - epoch;
}

/** The current tick: an entry whose deadline is <= this has passed it. */
@inline export function tickOf(rel: f64): u32 {
  return rel <= 0 ? 0 : <u32>Math.floor(rel);
}

export function resetClock(): void {
  epochSet = false;
  epoch = 0;
}
