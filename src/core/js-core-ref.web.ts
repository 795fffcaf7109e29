// The browser flavour's js-core-ref.ts: the TypeScript core (7 KB gzipped) is a chunk of its own, fetched only
// for `core: 'js'` or where WebAssembly cannot run, so a page on the WASM core never downloads it.
import type { JsCore } from './js-core.js'

let loaded: typeof JsCore | undefined

export function jsCore(): typeof JsCore | undefined {
  return loaded
}

export async function loadJsCore(): Promise<void> {
  loaded ??= (await import('./js-core.js')).JsCore
}
