// The entry for runtimes that refuse to compile WebAssembly from bytes (Cloudflare workerd, Vercel Edge): the
// package's `workerd` and `edge-light` export conditions point here. It imports the core as a .wasm module,
// which those runtimes compile at deploy time, and hands it to the loader; everything else is the core entry.
import wasmModule from './rustocache.wasm'
import { useWasmModule } from './core/wasm-module.js'
import { preciseClock } from './now.js'

useWasmModule(wasmModule)
// A timer set in one request may not outlive it here: read the clock on every call (see now.ts).
preciseClock()

export * from './index.js'
