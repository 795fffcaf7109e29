import { afterAll, afterEach } from 'vitest'

// Zero unhandled rejections, for the whole suite: any rejection nobody handled fails the test it surfaced in
// (or the file, after its last test), naming the reason. Vitest would report it too, but without the test.
const seen: unknown[] = []
const record = (reason: unknown): void => {
  seen.push(reason)
}
process.on('unhandledRejection', record)

function check(): void {
  if (seen.length === 0) return
  const reasons = seen.splice(0).map((r) => (r instanceof Error ? `${r.name}: ${r.message}` : String(r)))
  throw new Error(`unhandled rejection(s): ${reasons.join('; ')}`)
}

afterEach(async () => {
  // A rejection is reported unhandled one macrotask after it happened.
  await new Promise((resolve) => setTimeout(resolve, 0))
  check()
})
afterAll(check)
