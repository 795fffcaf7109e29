// The entry of the browser flavour (the package's `browser` export condition, dist/web/): the WASM builds are
// files beside it, fetched by loadWasm() (only the one this browser runs), and the TypeScript core is a chunk of
// its own, fetched only where WebAssembly cannot run. A RustoCache starts that load when it is made and its
// first calls wait for it; createCore needs `await loadWasm()` first. Bundlers (Vite, webpack 5, esbuild,
// Rollup with its URL plugin) copy files named by `new URL(..., import.meta.url)` into the build.
import { fetchWasmFrom } from './core/wasm-module.js'

fetchWasmFrom({
  simd: new URL('./rustocache.wasm', import.meta.url),
  scalar: new URL('./rustocache-scalar.wasm', import.meta.url),
  strings: new URL('./rustocache-strings.wasm', import.meta.url),
})

// Everything the core entry exports but JsCore, which would pull the TypeScript core into every page: here it
// is loaded on demand (loadJsCore, or a RustoCache by itself where WebAssembly cannot run).
export * from './api.js'
export { loadJsCore } from './core/js-core-ref.js'
