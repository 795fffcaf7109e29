// Serves examples/browser/index.html and the built package (npm run build first): node examples/browser/serve.mjs
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'

const root = new URL('../../', import.meta.url)
const port = Number(process.env.PORT ?? 8080)
createServer((req, res) => {
  const path = req.url === '/' ? 'examples/browser/index.html' : req.url.slice(1)
  if (path !== 'examples/browser/index.html' && !/^dist\/[\w.-]+\.js$/.test(path)) return res.writeHead(404).end()
  try {
    res.writeHead(200, { 'content-type': path.endsWith('.html') ? 'text/html' : 'text/javascript' }).end(readFileSync(fileURLToPath(new URL(path, root))))
  } catch {
    res.writeHead(404).end()
  }
}).listen(port, () => console.log(`open http://localhost:${port} in two tabs`))
