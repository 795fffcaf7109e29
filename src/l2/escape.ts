/**
 * Text that stores refusing NUL can hold (PostgreSQL's text, Keyv adapters on SQL): backslash and NUL get
 * escapes; every other character stands for itself, so the mapping keeps prefixes (a clear by path that matches
 * the start of escaped keys stays exact).
 */
export function escapeText(text: string): string {
  return text.includes('\\') || text.includes('\0') ? text.replace(/\\/g, '\\\\').replace(/\0/g, '\\0') : text
}

export function unescapeText(text: string): string {
  return text.includes('\\') ? text.replace(/\\(\\|0)/g, (_m, c: string) => (c === '0' ? '\0' : '\\')) : text
}
