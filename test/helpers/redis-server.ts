import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createConnection, createServer } from 'node:net'

// Tests run against a real redis-server: REDIS_URL when set, else one they start themselves on a free port.
// Tests that kill and restart Redis always start their own.

export interface RedisServer {
  readonly port: number
  readonly url: string
  stop(): Promise<void>
  start(): Promise<void>
}

const INSTALL_HINT =
  'redis-server was not found on the PATH. Install Redis (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis) or set REDIS_URL to a server the tests may write to.'

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    socket.setTimeout(200)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => {
      socket.destroy()
      resolve(data.toString().startsWith('+PONG'))
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

export async function waitForPing(port: number, ms = 10_000): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await ping(port)) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${ms} ms`)
}

export function assertRedisInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) throw new Error(INSTALL_HINT)
}

/** Starts a redis-server of our own on a free port (no persistence); stop() and start() kill and restart it. */
export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  assertRedisInstalled()
  const port = await freePort()
  let child: ChildProcess | undefined
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], {
        stdio: 'ignore',
      })
      await waitForPing(port)
    },
    async stop() {
      const running = child
      child = undefined
      if (!running || running.exitCode !== null) return
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve())
        running.kill('SIGKILL')
      })
    },
  }
  await server.start()
  return server
}
