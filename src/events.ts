/** What the bus events carry: the message's type, its full keys, and its tags or path. */
export interface BusEvent {
  type: string
  keys: readonly string[]
  tags?: readonly string[]
  path?: string
}

/** What each event carries. `namespace` is the namespace path ('users:admins'), absent at the root. */
export interface CacheEvents {
  /**
   * A read answered with a value. `tier`: which tier answered; `store`: 'memory' for L1, else the L2 driver's
   * kind ('redis', 'postgres', 'indexeddb', 'http-redis', 'workers-kv', or a custom driver's).
   */
  'cache:hit': { key: string; store: string; tier: 'l1' | 'l2'; graced: boolean; namespace?: string }
  'cache:miss': { key: string; store: 'memory'; namespace?: string }
  'cache:written': { key: string; store: 'memory'; namespace?: string }
  'cache:deleted': { key: string; store: 'memory'; namespace?: string }
  'cache:expired': { key: string; store: 'memory'; namespace?: string }
  'cache:cleared': { store: 'memory'; namespace?: string }
  /**
   * A message this instance sent (or re-sent from its retry queue) on the bus. Full keys and tags (namespace
   * path included); `tags` for tag invalidations, `path` for clears.
   */
  'bus:message:published': BusEvent
  /** A message from another instance, applied to this instance's L1. */
  'bus:message:received': BusEvent
}

/** The name of an event on() and once() take. */
export type CacheEventName = keyof CacheEvents

/** Other names accepted for an event (BentoCache's), for on/once/off. */
export const EVENT_ALIASES: Readonly<Record<string, CacheEventName>> = { 'cache:expire': 'cache:expired' }
type Listener<E extends CacheEventName> = (payload: CacheEvents[E]) => void

/**
 * A small typed emitter that runs anywhere (no node:events in the core entry). A listener that throws does not
 * break the cache operation that emitted: the error is handed to `onListenerError`.
 */
export class Emitter {
  private readonly listeners = new Map<CacheEventName, Set<Listener<CacheEventName>>>()

  constructor(private readonly onListenerError: (error: unknown, event: CacheEventName) => void) {}

  on<E extends CacheEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event)
    if (!set) this.listeners.set(event, (set = new Set()))
    set.add(listener as Listener<CacheEventName>)
    return () => this.off(event, listener)
  }

  once<E extends CacheEventName>(event: E, listener: Listener<E>): () => void {
    const wrapped: Listener<E> = (payload) => {
      this.off(event, wrapped)
      listener(payload)
    }
    return this.on(event, wrapped)
  }

  off<E extends CacheEventName>(event: E, listener: Listener<E>): void {
    const set = this.listeners.get(event)
    set?.delete(listener as Listener<CacheEventName>)
    if (set?.size === 0) this.listeners.delete(event)
  }

  /** True when someone listens, so hot paths build payloads only then. */
  has(event: CacheEventName): boolean {
    return this.listeners.has(event)
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    const set = this.listeners.get(event)
    if (!set) return
    for (const listener of [...set]) {
      try {
        listener(payload)
      } catch (error) {
        this.onListenerError(error, event)
      }
    }
  }
}
