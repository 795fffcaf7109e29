/** What is in flight for one key: the local lock of a factory run, and tickets of work that will store a result. */
export interface Flight {
  /** Tickets open on the key (a factory run, an L2 read), and the oldest one's start stamp. */
  tickets: number
  since: number
  /** Stamp of the key's last change while tickets were open. */
  changedAt: number
  /** Writes of this instance whose L2 side is still on the wire: until they land, L2 may hold an older value. */
  writing: number
  /** Stamp of the last such write's landing while tickets were open (a read begun before it may hold older). */
  landedAt: number
  lock: { released: Promise<void>; release: () => void } | undefined
}

/**
 * Per key, what is in flight, in one Map (a Map that empties and fills again reallocates its table, so one
 * map rather than two keeps a miss to one such cycle).
 *
 * Locks: one factory per key at a time. A held key has a promise that settles when its holder releases it.
 * Waiters do not queue for the lock; they wake together on release and re-read L1, so a filled key serves every
 * waiter at once instead of handing the lock down a chain of 10,000 callers.
 */
export class KeyFlights {
  private readonly flights = new Map<string, Flight>()

  get size(): number {
    return this.flights.size
  }

  values(): IterableIterator<Flight> {
    return this.flights.values()
  }

  entries(): IterableIterator<[string, Flight]> {
    return this.flights.entries()
  }

  get(key: string): Flight | undefined {
    return this.flights.get(key)
  }

  private open(key: string): Flight {
    let flight = this.flights.get(key)
    if (!flight) this.flights.set(key, (flight = { tickets: 0, since: Infinity, changedAt: -Infinity, writing: 0, landedAt: -Infinity, lock: undefined }))
    return flight
  }

  private close(key: string, flight: Flight): void {
    if (flight.tickets === 0 && flight.writing === 0 && flight.lock === undefined && this.flights.get(key) === flight) this.flights.delete(key)
  }

  isHeld(key: string): boolean {
    return this.flights.get(key)?.lock !== undefined
  }

  /** Takes the key (the caller checked it is free) and returns the function that releases it. */
  acquire(key: string): () => void {
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const lock = { released, release }
    const flight = this.open(key)
    flight.lock = lock
    return () => {
      if (flight.lock === lock) {
        flight.lock = undefined
        this.close(key, flight)
      }
      release()
    }
  }

  /** Resolves true when the key's current holder releases it, false after `ms` (Infinity: never gives up). */
  wait(key: string, ms: number): Promise<boolean> {
    const lock = this.flights.get(key)?.lock
    if (!lock) return Promise.resolve(true)
    if (ms === Infinity) return lock.released.then(() => true)
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms)
      // Never rejects: release() resolves it.
      lock.released.then(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }

  /** Opens a ticket started at `since`. */
  begin(key: string, since: number): void {
    const flight = this.open(key)
    flight.tickets++
    if (since < flight.since) flight.since = since
  }

  /** A write's L2 side goes out (every beginWrite is matched by one endWrite). */
  beginWrite(key: string): void {
    this.open(key).writing++
  }

  endWrite(key: string, stamp: number): void {
    const flight = this.flights.get(key)
    if (!flight || flight.writing === 0) return
    flight.writing--
    if (flight.tickets > 0) flight.landedAt = stamp
    this.close(key, flight)
  }

  /** True when a write of this instance to the key was on its way to L2 at some point after `since`. */
  wroteSince(key: string, since: number): boolean {
    const flight = this.flights.get(key)
    return flight !== undefined && (flight.writing > 0 || flight.landedAt > since)
  }

  end(key: string): void {
    const flight = this.flights.get(key)
    if (!flight || flight.tickets === 0) return
    if (--flight.tickets === 0) {
      flight.since = Infinity
      flight.changedAt = -Infinity
      flight.landedAt = -Infinity
    }
    this.close(key, flight)
  }
}
