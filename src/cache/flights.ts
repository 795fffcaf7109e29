import type { TagStamps } from './tags.js'

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
  /** Changes of this instance whose L2 side failed and waits in the retry queue: until then L2 is behind here. */
  behind: number
  lock: { released: Promise<void>; release: () => void } | undefined
}

/**
 * Work in flight for a key (a factory run or an L2 read), begun at stamp `since`. Whatever invalidates the key
 * after `since` (a delete, set, expire, clear or tag invalidation, here or from the bus) overtakes it: its result
 * may still answer its own callers, but is not stored.
 */
export interface Ticket {
  readonly key: string
  readonly since: number
  /** When the L2 commands of the call holding the ticket must be done by, together (see l2Timeout). */
  readonly deadline: number
}

/**
 * Per key, what is in flight, in one Map (a Map that empties and fills again reallocates its table, so one
 * map rather than two keeps a miss to one such cycle), and the clock that orders changes and work.
 *
 * Locks: one factory per key at a time. A held key has a promise that settles when its holder releases it.
 * Waiters do not queue for the lock; they wake together on release and re-read L1, so a filled key serves every
 * waiter at once instead of handing the lock down a chain of 10,000 callers.
 *
 * Tickets: a result is stored only if nothing changed its key (or one of its tags) since its ticket began. A
 * change is a write or an invalidation; a copy from L2 into L1 is not one (see L1.admit).
 */
export class Flights {
  private readonly flights = new Map<string, Flight>()
  private lastStamp = 0

  constructor(private readonly tags: TagStamps) {}

  /** A stamp for a write or an invalidation happening now: ms, but never equal to or below the last one. */
  stamp(now: number): number {
    this.lastStamp = now > this.lastStamp ? now : this.lastStamp + 1 / 1024
    return this.lastStamp
  }

  /** The next stamp, without reading the clock: only the order of stamps matters there. */
  private next(): number {
    return this.stamp(this.lastStamp)
  }

  /** True while anything is in flight (a lock, a ticket, a write on its way to L2). */
  get busy(): boolean {
    return this.flights.size > 0
  }

  /** The start of the oldest ticket open (Infinity: none): tag stamps after it must be kept. */
  oldestSince(): number {
    let floor = Infinity
    for (const flight of this.flights.values()) floor = Math.min(floor, flight.since)
    return floor
  }

  /** A ticket for work on `key` (end() it when done); the L2 commands of one call share one `deadline`. */
  ticket(key: string, deadline: number): Ticket {
    return { key, since: this.begin(key), deadline }
  }

  /** True when the key, or one of `tags`, changed after the ticket began: its result must not be stored. */
  overtaken(ticket: Ticket, tags: readonly string[] | undefined): boolean {
    const flight = this.flights.get(ticket.key)
    return (flight !== undefined && flight.changedAt > ticket.since) || (tags !== undefined && this.tags.changedSince(tags, ticket.since))
  }

  /** Tells work in flight for `key` that it changed. */
  changed(key: string): void {
    const flight = this.flights.get(key)
    if (flight && flight.tickets > 0) flight.changedAt = this.next()
  }

  /** Tells work in flight for every key starting with `prefix` ('' for all) that it changed. */
  changedUnder(prefix: string): void {
    for (const [k, flight] of this.flights) if (flight.tickets > 0 && k.startsWith(prefix)) flight.changedAt = this.next()
  }

  private open(key: string): Flight {
    let flight = this.flights.get(key)
    if (!flight) this.flights.set(key, (flight = { tickets: 0, since: Infinity, changedAt: -Infinity, writing: 0, landedAt: -Infinity, behind: 0, lock: undefined }))
    return flight
  }

  private close(key: string, flight: Flight): void {
    if (flight.tickets === 0 && flight.writing === 0 && flight.behind === 0 && flight.lock === undefined && this.flights.get(key) === flight) this.flights.delete(key)
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

  /** Resolves when the key's current holder releases it; undefined when nobody holds it. */
  released(key: string): Promise<void> | undefined {
    return this.flights.get(key)?.lock?.released
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

  /** Opens a ticket for `key`; returns its start stamp. Every begin is matched by one end. */
  begin(key: string): number {
    const since = this.next()
    const flight = this.open(key)
    flight.tickets++
    if (since < flight.since) flight.since = since
    return since
  }

  /**
   * Runs a change's L2 command (a set, a delete, an expire) with its keys marked as written to until it lands:
   * reads of those keys that overlap it answer but keep nothing in L1, since L2 may be about to change under them.
   */
  async writing<T>(keys: readonly string[], run: () => Promise<T>): Promise<T> {
    const release = this.hold(keys)
    try {
      return await run()
    } finally {
      release()
    }
  }

  /**
   * Marks keys as written to until the returned function is called (once: later calls do nothing). `behind`:
   * the retry queue holds the keys of a change whose L2 side failed until it is re-applied, since until then L2
   * is behind this instance for them: what it answers is neither kept nor answered here (see L2.admit).
   */
  hold(keys: readonly string[], behind = false): () => void {
    for (const key of keys) {
      const flight = this.open(key)
      flight.writing++
      if (behind) flight.behind++
    }
    let held = true
    return () => {
      if (!held) return
      held = false
      for (const key of keys) {
        const flight = this.flights.get(key)
        if (behind && flight && flight.behind > 0) flight.behind--
        this.endWrite(key)
      }
    }
  }

  /** True while a change of this instance to the key waits in the retry queue for its L2 side. */
  isBehind(key: string): boolean {
    const flight = this.flights.get(key)
    return flight !== undefined && flight.behind > 0
  }

  private endWrite(key: string): void {
    const flight = this.flights.get(key)
    if (!flight || flight.writing === 0) return
    flight.writing--
    if (flight.tickets > 0) flight.landedAt = this.next()
    this.close(key, flight)
  }

  /** True when a write of this instance to the key was on its way to L2 at some point after `since`. */
  wroteSince(key: string, since: number): boolean {
    const flight = this.flights.get(key)
    return flight !== undefined && (flight.writing > 0 || flight.landedAt > since)
  }

  end(ticket: Ticket): void {
    const key = ticket.key
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
