// The entry for runtimes that refuse to compile WebAssembly from bytes (Cloudflare workerd, Vercel Edge): the
// package's `workerd` and `edge-light` export conditions point here. It imports the core as a .wasm module,
// which those runtimes compile at deploy time, and hands it to the loader; everything else is the core entry.
import wasmModule from './rustocache.wasm'
import { useWasmModule } from './core/wasm-module.js'

useWasmModule(wasmModule)

export * from './index.js'
