type LogFn = (obj: Record<string, unknown>, msg?: string) => void

/** Any pino-compatible logger: the six level methods taking (fields, message), and child(). */
export interface Logger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  fatal: LogFn
  /** A logger whose lines carry `bindings` too. */
  child(bindings: Record<string, unknown>): Logger
}

const noop: LogFn = () => {}

/** The default: says nothing. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => silentLogger,
}

/**
 * `logger`, with the `key` and `keys` fields of every line shown as traceKeys shows keys (redacted, or left
 * out): log lines leave the process, and keys often carry user ids. Its children redact too.
 */
export function redactingLogger(logger: Logger, show: (key: string) => string | undefined): Logger {
  const fix = (fields: Record<string, unknown>): Record<string, unknown> => {
    if (typeof fields !== 'object' || fields === null || (!('key' in fields) && !('keys' in fields))) return fields
    const out = { ...fields }
    if (typeof out.key === 'string') out.key = show(out.key)
    if (Array.isArray(out.keys)) out.keys = out.keys.map((k: unknown) => (typeof k === 'string' ? show(k) : undefined))
    return out
  }
  const at = (level: LogFn): LogFn => (fields, msg) => level(fix(fields), msg)
  return {
    trace: at(logger.trace.bind(logger)),
    debug: at(logger.debug.bind(logger)),
    info: at(logger.info.bind(logger)),
    warn: at(logger.warn.bind(logger)),
    error: at(logger.error.bind(logger)),
    fatal: at(logger.fatal.bind(logger)),
    child: (bindings) => redactingLogger(logger.child(bindings), show),
  }
}
