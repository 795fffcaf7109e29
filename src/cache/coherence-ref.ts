// How rooms.ts makes the bus room. Here, statically; the browser flavour swaps in coherence-ref.web.ts
// (tsup.config.ts), which loads Coherence as a chunk of its own, only for a cache with a bus.
import type { BusRoom } from './bus-room.js'
import { Coherence } from './coherence.js'
import type { L1 } from './l1.js'
import type { BusSettings } from './options.js'
import type { Common } from './rooms.js'

export function makeCoherence(settings: BusSettings, common: Common, l1: L1, hasL2: boolean): BusRoom {
  return new Coherence(settings, common, l1, hasL2)
}

/** Nothing to wait for here. */
export function busLoading(_bus: BusRoom): Promise<void> | undefined {
  return undefined
}
