// The workerd entry's stand-in for wasm-bytes.generated.ts (tsup.config.ts swaps it in): that entry imports the
// .wasm file as a module, so the inline base64 builds (about 20 KB gzipped) would be dead weight. Empty builds
// do not validate, so only the module handed to useWasmModule runs.
export const WASM_BASE64 = ''
export const WASM_SCALAR_BASE64 = ''
export const WASM_STRINGS_BASE64 = ''
