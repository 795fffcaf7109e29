// Serves examples/browser/index.html and the built package (npm run build first): node examples/browser/serve.mjs
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'

const root = new URL('../../', import.meta.url)
const port = Number(process.env.PORT ?? 8080)
createServer((req, res) => {
  const path = req.url === '/' ? 'examples/browser/index.html' : req.url.slice(1)
  // The browser flavour (dist/web/): its modules, and the .wasm build loadWasm() fetches (application/wasm, so
  // it compiles while it downloads).
  if (path !== 'examples/browser/index.html' && !/^dist\/web\/[\w.-]+\.(js|wasm)$/.test(path)) return res.writeHead(404).end()
  const type = path.endsWith('.html') ? 'text/html' : path.endsWith('.wasm') ? 'application/wasm' : 'text/javascript'
  try {
    res.writeHead(200, { 'content-type': type }).end(readFileSync(fileURLToPath(new URL(path, root))))
  } catch {
    res.writeHead(404).end()
  }
}).listen(port, () => console.log(`open http://localhost:${port} in two tabs`))
