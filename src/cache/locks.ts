/**
 * One factory per key at a time: a held key has a promise that settles when its holder releases it. Waiters do
 * not queue for the lock; they wake together on release and re-read L1, so a filled key serves every waiter at
 * once instead of handing the lock down a chain of 10,000 callers.
 */
export class KeyLocks {
  private readonly held = new Map<string, { released: Promise<void>; release: () => void }>()

  isHeld(key: string): boolean {
    return this.held.has(key)
  }

  /** Takes the key (the caller checked it is free) and returns the function that releases it. */
  acquire(key: string): () => void {
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const lock = { released, release }
    this.held.set(key, lock)
    return () => {
      if (this.held.get(key) === lock) this.held.delete(key)
      release()
    }
  }

  /** Resolves true when the key's current holder releases it, false after `ms` (Infinity: never gives up). */
  wait(key: string, ms: number): Promise<boolean> {
    const lock = this.held.get(key)
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
}
