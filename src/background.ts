import type { Logger } from './logger.js'

/**
 * Gives a promise that nobody awaits an owner: a rejection is logged at error, never left unhandled (an
 * unhandled rejection ends a Node process by default). Every fire-and-forget promise in src/ goes through here.
 */
export function background(promise: Promise<unknown>, logger: Logger, what: string): void {
  promise.catch((error: unknown) => {
    try {
      logger.error({ err: error }, `${what} failed`)
    } catch {
      // A throwing logger must not turn a handled rejection into an unhandled one.
    }
  })
}
