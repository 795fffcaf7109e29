import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { freePort } from './redis-server.js'

// The PostgreSQL the tests use: DATABASE_URL when set, else the machine's server on 127.0.0.1:5432, else one
// started here (initdb + pg_ctl from Debian's postgresql package), else a clear failure with the install hint.

export interface PostgresServer {
  readonly url: string
  /** Stops a server this helper started (nothing for one it found). */
  stop(): Promise<void>
}

export const POSTGRES_HINT =
  'No PostgreSQL for the tests: set DATABASE_URL, run one on 127.0.0.1:5432 (user postgres, trust auth), or install the binaries so the tests start their own (Debian/Ubuntu: apt-get install -y postgresql; macOS: brew install postgresql).'

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** initdb and pg_ctl: on the PATH, or in Debian's versioned folder. */
export function postgresBinaries(): { initdb: string; pgCtl: string } | undefined {
  const onPath = (bin: string) => spawnSync('/bin/sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).stdout.trim()
  if (onPath('initdb') && onPath('pg_ctl')) return { initdb: onPath('initdb'), pgCtl: onPath('pg_ctl') }
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  for (const version of readdirSync(root).sort().reverse()) {
    const bin = join(root, version, 'bin')
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return { initdb: join(bin, 'initdb'), pgCtl: join(bin, 'pg_ctl') }
  }
  return undefined
}

/** Starts a throwaway server on a free port (as the postgres user when we are root: initdb refuses root). */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bins = postgresBinaries()
  if (!bins) throw new Error(POSTGRES_HINT)
  const dir = mkdtempSync(join(tmpdir(), 'rustocache-pg-'))
  const port = await freePort()
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  const as = (args: string[]) => (root ? ['runuser', ['-u', 'postgres', '--', ...args]] : [args[0]!, args.slice(1)]) as [string, string[]]
  if (root) {
    chmodSync(dir, 0o700)
    const { uid, gid } = userIds('postgres')
    chownSync(dir, uid, gid)
  }
  const data = join(dir, 'data')
  execFileSync(...as([bins.initdb, '-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync']), { stdio: 'ignore' })
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`
  execFileSync(...as([bins.pgCtl, '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']), { stdio: 'ignore' })
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      spawnSync(...as([bins.pgCtl, '-D', data, '-m', 'immediate', 'stop']), { stdio: 'ignore' })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function userIds(name: string): { uid: number; gid: number } {
  const line = spawnSync('id', [name], { encoding: 'utf8' }).stdout
  const uid = /uid=(\d+)/.exec(line)
  const gid = /gid=(\d+)/.exec(line)
  if (!uid || !gid) throw new Error(`initdb refuses to run as root and there is no '${name}' user to run it as. ${POSTGRES_HINT}`)
  return { uid: Number(uid[1]), gid: Number(gid[1]) }
}

/** DATABASE_URL, else the machine's server, else our own. */
export async function findPostgres(): Promise<PostgresServer> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => undefined }
  const local = 'postgres://postgres@127.0.0.1:5432/postgres'
  if (process.env.RUSTOCACHE_OWN_POSTGRES !== '1' && (await answers(local))) return { url: local, stop: async () => undefined }
  const own = await startPostgresServer()
  if (!(await answers(own.url))) {
    await own.stop()
    throw new Error(`started a PostgreSQL server but it does not answer. ${POSTGRES_HINT}`)
  }
  return own
}
