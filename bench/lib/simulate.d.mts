// Types for test/hitratio.test.ts, which checks the simulator.
export function replayCore(stream: Uint32Array, size: number, options?: { kind?: 'auto' | 'wasm' | 'js'; simd?: boolean; policy?: 'lru' | 'tinylfu' }): number
export function replayLruCache(stream: Uint32Array, size: number): number
export function replayReferenceLru(stream: Uint32Array, size: number): number
export function replayBelady(stream: Uint32Array, size: number): number
export function replayArc(stream: Uint32Array, size: number): number
