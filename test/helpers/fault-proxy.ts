import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { freePort } from './redis-server.js'

/**
 * A TCP proxy between one cache instance and its redis-server, for fault runs (Node only, test helper). It
 * forwards bytes both ways, in order, and can add latency, stall (hold every byte, connections stay open), cut
 * every connection, and refuse new ones.
 */
export interface FaultProxy {
  readonly port: number
  readonly url: string
  /** Delay every chunk by this many ms (0: none). */
  latency(ms: number): void
  /** While on, bytes are held (not lost) and the connections stay open: a stalled, not a closed, server. */
  stall(on: boolean): void
  /** Closes every open connection now. */
  cut(): void
  /** While on, new connections are closed at once. */
  refuse(on: boolean): void
  readonly stats: { connections: number; cuts: number; refused: number }
  close(): Promise<void>
}

/** One direction of a connection: chunks leave in order, each no earlier than its arrival + latency. */
class Pipe {
  private readonly queue: Array<{ at: number; chunk: Buffer }> = []
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly to: Socket,
    private readonly proxy: { latencyMs: number; stalled: boolean },
  ) {}

  push(chunk: Buffer): void {
    this.queue.push({ at: Date.now() + this.proxy.latencyMs, chunk })
    this.pump()
  }

  pump(): void {
    if (this.timer || this.proxy.stalled) return
    while (this.queue.length > 0) {
      const wait = this.queue[0]!.at - Date.now()
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined
          this.pump()
        }, wait)
        return
      }
      if (!this.to.destroyed) this.to.write(this.queue.shift()!.chunk)
      else this.queue.shift()
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.queue.length = 0
  }
}

export async function startFaultProxy(target: { host?: string; port: number }): Promise<FaultProxy> {
  const port = await freePort()
  const state = { latencyMs: 0, stalled: false, refusing: false }
  const open = new Set<{ client: Socket; upstream: Socket; pipes: Pipe[] }>()
  const stats = { connections: 0, cuts: 0, refused: 0 }
  const server: Server = createServer((client) => {
    if (state.refusing) {
      stats.refused++
      client.destroy()
      return
    }
    stats.connections++
    const upstream = createConnection({ host: target.host ?? '127.0.0.1', port: target.port })
    const up = new Pipe(upstream, state)
    const down = new Pipe(client, state)
    const link = { client, upstream, pipes: [up, down] }
    open.add(link)
    const close = () => {
      open.delete(link)
      up.stop()
      down.stop()
      client.destroy()
      upstream.destroy()
    }
    client.on('data', (chunk: Buffer) => up.push(chunk))
    upstream.on('data', (chunk: Buffer) => down.push(chunk))
    client.on('error', close).on('close', close)
    upstream.on('error', close).on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stats,
    latency(ms) {
      state.latencyMs = ms
    },
    stall(on) {
      state.stalled = on
      if (!on) for (const link of open) for (const pipe of link.pipes) pipe.pump()
    },
    cut() {
      stats.cuts += open.size
      for (const link of [...open]) {
        link.client.destroy()
        link.upstream.destroy()
      }
    },
    refuse(on) {
      state.refusing = on
    },
    close() {
      for (const link of [...open]) {
        link.client.destroy()
        link.upstream.destroy()
      }
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
