/**
 * Fails calls that take longer than a timeout, with one coarse interval timer for all of them instead of a
 * timer per call (ioredis' `commandTimeout` arms one per command: 13 us a command here, 88 -> 102 us for a
 * loopback GET). A call fails between `ms` and 1.05 x `ms` after it started. The call itself is left to run:
 * it settles or fails on its own later, and its outcome is ignored. Runtime-neutral (setInterval only).
 */
export class Watchdog {
  private readonly inflight = new Set<{ deadline: number; reject: (error: Error) => void }>()
  private timer: ReturnType<typeof setInterval> | undefined
  private stopped = false

  constructor(
    private readonly ms: number,
    private readonly what = 'Redis',
  ) {}

  /** `deadline` (ms since the epoch) when several calls share one budget; by default `ms` from now. */
  guard<T>(call: Promise<T>, deadline = Date.now() + this.ms): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.stopped) {
        // The command still runs (or fails) on its own; its outcome has an owner here.
        call.catch(() => undefined)
        reject(new Error('closed by disconnect()'))
        return
      }
      const entry = { deadline, reject }
      this.inflight.add(entry)
      this.timer ??= this.start()
      if (this.inflight.size === 1) this.hold(true)
      call.then(
        (value) => {
          this.forget(entry)
          resolve(value)
        },
        (error: unknown) => {
          this.forget(entry)
          reject(error)
        },
      )
    })
  }

  private forget(entry: { deadline: number; reject: (error: Error) => void }): void {
    if (this.inflight.delete(entry) && this.inflight.size === 0) this.hold(false)
  }

  /**
   * The timer keeps a Node process alive only while a call waits on it: a call that hangs in an otherwise idle
   * process still fails at its timeout (instead of the process exiting under an await), and an idle watchdog
   * never holds a process open.
   */
  private hold(on: boolean): void {
    const timer = this.timer as { ref?: () => void; unref?: () => void } | undefined
    if (on) timer?.ref?.()
    else timer?.unref?.()
  }

  /** After disconnect(): every call still waiting fails now, and later ones at once, so none waits forever. */
  stop(): void {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    for (const entry of this.inflight) entry.reject(new Error('closed by disconnect()'))
    this.inflight.clear()
  }

  private start(): ReturnType<typeof setInterval> {
    const timer = setInterval(
      () => {
        if (this.inflight.size === 0) return
        const now = Date.now()
        for (const entry of this.inflight) {
          if (now < entry.deadline) continue
          this.forget(entry)
          entry.reject(new Error(`${this.what} did not answer in time (timeout ${this.ms} ms)`))
        }
      },
      Math.max(5, this.ms / 20),
    )
    // Held (ref) by guard() while calls wait; idle, it never keeps a process alive.
    ;(timer as { unref?: () => void }).unref?.()
    return timer
  }
}
