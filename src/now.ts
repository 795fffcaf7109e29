/**
 * The cache's clock. Reads (a lookup judging an entry fresh or stale) take recentMs(): Date.now(), read at most
 * once a millisecond where timers can be unref'd (Node, Bun), as lru-cache does (its ttlResolution), since
 * reading the clock costs ~40 ns on Node 24, a tenth of an L1 hit. It answers a time at most 1 ms old while the
 * event loop turns, and at most MAX_READS answers old when it does not (a long run of awaits); an entry may be
 * served that long past its ttl. Everything else (writes, ttls, stamps, invalidations) takes nowMs(), the exact
 * time, which also moves recentMs() on: a read after an expire() never sees a time before it.
 *
 * Every call reads the clock where that cannot hold: browsers (they throttle background timers), workerd (its
 * entry opts out: a timer may not outlive its request), and whenever Date.now is not the runtime's own (fake
 * timers in a test: vi.setSystemTime must be seen at once, with no timer advanced).
 */
const MAX_READS = 64

// Captured at import: a test's fake timers replace the globals later, and the reset must stay a real timer.
const nativeNow = Date.now
const realSetTimeout = setTimeout
const realClearTimeout = clearTimeout
let coarse: boolean | undefined = /\[native code\]/.test(Function.prototype.toString.call(nativeNow)) ? undefined : false

let cached = 0
let reads = 0
/** A reset is scheduled (one at a time, however often the clock is read meanwhile). */
let pending = false

function reset(): void {
  cached = 0
  pending = false
}

export function recentMs(): number {
  if (cached !== 0 && ++reads < MAX_READS && Date.now === nativeNow) return cached
  const time = Date.now()
  if (coarse === false || Date.now !== nativeNow) return time
  if (!pending) {
    const timer = realSetTimeout(reset, 1) as unknown as { unref?: () => void }
    if (coarse === undefined) coarse = typeof timer.unref === 'function'
    if (!coarse) {
      realClearTimeout(timer as unknown as ReturnType<typeof setTimeout>)
      return time
    }
    timer.unref!()
    pending = true
  }
  cached = time
  reads = 0
  return time
}

/** The exact time; a recentMs() after it answers no earlier time. */
export function nowMs(): number {
  const time = Date.now()
  if (cached !== 0 && time > cached && Date.now === nativeNow) cached = time
  return time
}

/** Every call reads the clock (runtimes whose timers do not outlive a request). */
export function preciseClock(): void {
  coarse = false
  cached = 0
}
