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

/** Polls `check` every 20 ms until it holds; throws `message` after `ms`. Returns how long it took. */
export async function waitUntil(check: () => Promise<boolean>, ms: number, message = `not within ${ms} ms`): Promise<number> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(message)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return Date.now() - started
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

export interface RedisClusterServers {
  readonly ports: number[]
  stop(): Promise<void>
}

/** Three cluster-enabled redis-servers on free ports, joined with redis-cli --cluster create. */
export async function startRedisCluster(masters = 3): Promise<RedisClusterServers> {
  assertRedisInstalled()
  const { mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'rustocache-cluster-'))
  const ports: number[] = []
  const children: ChildProcess[] = []
  for (let i = 0; i < masters; i++) {
    const port = await freePort()
    ports.push(port)
    children.push(
      spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '3000', '--dir', dir],
        { stdio: 'ignore' },
      ),
    )
  }
  for (const port of ports) await waitForPing(port)
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
    encoding: 'utf8',
  })
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stderr || create.stdout}`)
  const until = Date.now() + 15_000
  for (;;) {
    const info = spawnSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'], { encoding: 'utf8' }).stdout
    if (info.includes('cluster_state:ok')) break
    if (Date.now() > until) throw new Error('the test cluster did not reach cluster_state:ok')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    ports,
    async stop() {
      await Promise.all(
        children.map((child) => (child.exitCode !== null ? undefined : new Promise<void>((resolve) => (child.once('exit', () => resolve()), child.kill('SIGKILL'))))),
      )
    },
  }
}
