// Types for test/hitratio.test.ts, which checks the trace reader.
export const PUBLISHED: Record<string, Record<number, { lru: number; arc: number }>>
export function arcTrace(name: 'OLTP' | 'P6', limit?: number): Uint32Array
export function zipfTrace(items: number, length: number, s: number, seed?: number): Uint32Array
export function scanMixTrace(items: number, length: number, scanLength: number, scanShare?: number, seed?: number): Uint32Array
export function loopTrace(items: number, length: number): Uint32Array
export function recencyTrace(length: number, window: number, seed?: number): Uint32Array
export function lirsTrace(name: 'loop' | 'multi2' | 'sprite' | 'web12'): Uint32Array
export function distinctIds(stream: Uint32Array): number
