import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Miniflare, type MiniflareOptions } from 'miniflare'

/**
 * Serves `worker` (a module importing `./entry.js`, the core entry, and any other entry by its file name) in
 * workerd through miniflare, with the package's workerd flavour (dist/edge/, as the workerd export condition
 * resolves it) beside it. `options`: the bindings, KV namespaces and so on. `call` fetches a path and parses the
 * JSON answer, saying what the Worker answered when it is not JSON (an uncaught error).
 */
export function startEdgeWorker(worker: string, options: Partial<MiniflareOptions>): { mf: Miniflare; call(path: string): Promise<Record<string, unknown>> } {
  const dir = mkdtempSync(join(tmpdir(), 'rustocache-edge-'))
  const files = readdirSync('dist/edge').filter((f) => f.endsWith('.js'))
  for (const file of files) copyFileSync(resolve('dist/edge', file), join(dir, file))
  copyFileSync(resolve('dist/edge/rustocache.wasm'), join(dir, 'rustocache.wasm'))
  writeFileSync(join(dir, 'entry.js'), "export * from './index.js'\n")
  writeFileSync(join(dir, 'worker.js'), worker)
  const mf = new Miniflare({
    modules: [
      { type: 'ESModule', path: join(dir, 'worker.js') },
      { type: 'ESModule', path: join(dir, 'entry.js') },
      { type: 'CompiledWasm', path: join(dir, 'rustocache.wasm') },
      ...files.map((c) => ({ type: 'ESModule' as const, path: join(dir, c) })),
    ],
    modulesRoot: dir,
    compatibilityDate: '2025-06-01',
    ...options,
  } as MiniflareOptions)
  const call = async (path: string) => {
    const text = await (await mf.dispatchFetch(`http://localhost${path}`)).text()
    try {
      return JSON.parse(text) as Record<string, unknown>
    } catch {
      throw new Error(`the Worker answered ${text}`)
    }
  }
  return { mf, call }
}
