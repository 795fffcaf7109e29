// How createCore reaches the TypeScript core. Here, statically; the browser flavour swaps in js-core-ref.web.ts
// (tsup.config.ts), which loads it as a chunk of its own only where it is needed.
import { JsCore } from './js-core.js'

export function jsCore(): typeof JsCore | undefined {
  return JsCore
}

export async function loadJsCore(): Promise<void> {}
