// JsCore's copy of assembly/time.ts: deadlines as monotonic u32 ticks relative to an epoch that moves forward
// every ~12 days. Both cores must round and rebase identically; the differential test holds them together.
export const NEVER = 0xffffffff
const MS_RANGE = 2147483648 // 2^31
const REBASE_AT = 1073741824 // 2^30

export function encodeDeadline(rel: number): number {
  if (rel <= 0) return 0
  if (rel < MS_RANGE) return Math.ceil(rel)
  if (rel === Infinity) return NEVER
  const secs = Math.ceil((rel - MS_RANGE) / 1000)
  return secs >= NEVER - 1 - MS_RANGE ? NEVER - 1 : MS_RANGE + secs
}

function decodeDeadline(v: number): number {
  return v < MS_RANGE ? v : MS_RANGE + (v - MS_RANGE) * 1000
}

export function shiftDeadline(v: number, by: number): number {
  return v === NEVER || v === 0 ? v : encodeDeadline(decodeDeadline(v) - by)
}

export function tickOf(rel: number): number {
  return rel <= 0 ? 0 : Math.floor(rel)
}

export class Clock {
  private epoch = 0
  private started = false

  /** Milliseconds of `now` after the epoch; calls `rebase(by)` first when the epoch must move. */
  relative(now: number, rebase: (by: number) => void): number {
    if (!this.started) {
      this.epoch = Math.floor(now)
      this.started = true
    }
    const ahead = now - this.epoch
    if (ahead >= REBASE_AT || ahead < 0) {
      const by = Math.floor(ahead / 1000) * 1000
      this.epoch += by
      rebase(by)
    }
    return now - this.epoch
  }
}
