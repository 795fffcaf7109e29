// A Web Locks API (navigator.locks) for Node 20, which has none: exclusive locks, ifAvailable, query, and a
// close() per "tab" that lets its locks go as a browser does when a tab closes. Only what the IndexedDB driver uses.
interface Held {
  name: string
  tab: FakeLocks
  release: () => void
}

export class LockRegistry {
  readonly held = new Map<string, Held>()
  tab(): FakeLocks {
    return new FakeLocks(this)
  }
}

export class FakeLocks {
  constructor(private readonly registry: LockRegistry) {}

  request(name: string, options: { ifAvailable?: boolean }, callback: (lock: { name: string } | null) => unknown): Promise<unknown> {
    if (!options.ifAvailable) throw new Error('the fake grants ifAvailable requests only')
    if (this.registry.held.has(name)) return Promise.resolve(callback(null))
    let release!: () => void
    const gone = new Promise<void>((r) => (release = r))
    this.registry.held.set(name, { name, tab: this, release })
    const result = Promise.race([Promise.resolve(callback({ name })), gone])
    return result.finally(() => {
      if (this.registry.held.get(name)?.tab === this) this.registry.held.delete(name)
    })
  }

  async query(): Promise<{ held: Array<{ name: string }>; pending: never[] }> {
    return { held: [...this.registry.held.values()].map((h) => ({ name: h.name })), pending: [] }
  }

  /** The tab closes: its locks go, whatever their callbacks are doing. */
  close(): void {
    for (const h of [...this.registry.held.values()]) {
      if (h.tab === this) {
        this.registry.held.delete(h.name)
        h.release()
      }
    }
  }
}
