import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'

/** Serves the three WASM builds as the browser flavour fetches them; `failing` answers 503 to every request. */
export async function startWasmServer(): Promise<{ urls: { simd: URL; scalar: URL; strings: URL }; fetched: string[]; state: { failing: boolean }; close(): void }> {
  const fetched: string[] = []
  const state = { failing: false }
  const files: Record<string, string> = { '/simd.wasm': 'build/rustocache.wasm', '/scalar.wasm': 'build/rustocache-scalar.wasm', '/strings.wasm': 'build/rustocache-strings.wasm' }
  const server = createServer((req, res) => {
    fetched.push(req.url!)
    const file = files[req.url!]
    if (state.failing || !file) return res.writeHead(state.failing ? 503 : 404).end()
    // The strings build as application/wasm (compiled while streaming), the others as bytes.
    res.writeHead(200, { 'content-type': req.url === '/strings.wasm' ? 'application/wasm' : 'application/octet-stream' }).end(readFileSync(file))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const urls = { simd: new URL('/simd.wasm', base), scalar: new URL('/scalar.wasm', base), strings: new URL('/strings.wasm', base) }
  return { urls, fetched, state, close: () => server.close() }
}
