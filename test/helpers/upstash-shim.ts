import { createServer, type Server } from 'node:http'
import { Redis } from 'ioredis'

// A small server speaking Upstash Redis' REST protocol in front of a real redis-server, as documented
// (https://upstash.com/docs/redis/features/restapi): POST / with a command as a JSON array, POST /pipeline and
// /multi-exec with an array of them, a bearer token, answers { result } or { error } (HTTP 400 for an error
// reply, 401 for a bad token), and with `Upstash-Encoding: base64` every string result base64-encoded but "OK".
// test/http-redis.test.ts checks it with the official @upstash/redis client before trusting it with the driver.

type Value = Buffer | number | null | Value[] | string

function shape(value: Value, base64: boolean): unknown {
  if (Buffer.isBuffer(value)) {
    const text = value.toString('utf8')
    return base64 && text !== 'OK' ? value.toString('base64') : text
  }
  if (typeof value === 'string') return base64 && value !== 'OK' ? Buffer.from(value).toString('base64') : value
  if (Array.isArray(value)) return value.map((v) => shape(v, base64))
  return value
}

export interface UpstashShim {
  url: string
  token: string
  /** Requests answered so far, by path. */
  requests: Map<string, number>
  /** Makes every request wait this long first (a slow network). */
  delayMs: number
  close(): Promise<void>
}

export async function startUpstashShim(redisUrl: string, token = 'test-token'): Promise<UpstashShim> {
  const redis = new Redis(redisUrl)
  const run = async (command: unknown, base64: boolean): Promise<{ result?: unknown; error?: string }> => {
    if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === 'string' || typeof a === 'number')) {
      return { error: 'ERR the command must be a non-empty JSON array of strings and numbers' }
    }
    const [name, ...args] = command as Array<string | number>
    try {
      return { result: shape((await redis.callBuffer(String(name), ...args.map(String))) as Value, base64) }
    } catch (error) {
      return { error: (error as Error).message }
    }
  }
  const shim: UpstashShim = { url: '', token, requests: new Map(), delayMs: 0, close: async () => undefined }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const path = (req.url ?? '/').split('?')[0]!
      shim.requests.set(path, (shim.requests.get(path) ?? 0) + 1)
      if (shim.delayMs > 0) await new Promise((r) => setTimeout(r, shim.delayMs))
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: 'Unauthorized' })
      if (req.method !== 'POST') return send(405, { error: 'ERR only POST is implemented by this shim' })
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        return send(400, { error: 'ERR failed to parse the request body as JSON' })
      }
      const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64'
      if (path === '/' || path === '') {
        const reply = await run(body, base64)
        return send(reply.error === undefined ? 200 : 400, reply)
      }
      if (path === '/pipeline' || path === '/multi-exec') {
        if (!Array.isArray(body)) return send(400, { error: 'ERR a pipeline is an array of commands' })
        const replies = []
        // Commands run in order; /multi-exec as one MULTI/EXEC would, which in-order on one connection matches for tests.
        for (const command of body) replies.push(await run(command, base64))
        return send(200, replies)
      }
      return send(404, { error: `ERR unknown path ${path}` })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  shim.url = `http://127.0.0.1:${port}`
  shim.close = async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    redis.disconnect()
  }
  return shim
}
