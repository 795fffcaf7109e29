import { expect } from 'vitest'
import { RustoCacheError, type Logger } from '../../src/index.js'

export type LogLine = { level: string; fields: Record<string, unknown>; msg?: string }

/** The code of the RustoCacheError a call rejects with, or undefined when it resolves. */
export async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(RustoCacheError)
    return (error as RustoCacheError).code
  }
  return undefined
}

/** A pino-shaped logger that keeps every line, with its child bindings merged in. */
export function recordingLogger(lines: LogLine[]): Logger {
  const make = (bindings: Record<string, unknown>): Logger => {
    const at = (level: string) => (fields: Record<string, unknown>, msg?: string) => lines.push({ level, fields: { ...bindings, ...fields }, msg })
    return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), child: (b) => make({ ...bindings, ...b }) }
  }
  return make({})
}
