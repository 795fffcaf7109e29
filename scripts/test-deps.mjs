// Runs before `npm test`: the tests need programs npm cannot install, Debian's `chromium` (the browser test),
// `redis-server` (+ redis-cli, for the cluster tests) and a PostgreSQL (DATABASE_URL, a server on
// 127.0.0.1:5432, or the `postgresql` package's initdb and pg_ctl to start one). When one is missing and this
// user can install packages (root with apt-get), install it and say so; otherwise stop at once with the exact
// command to run.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { createConnection } from 'node:net'

const has = (bin) => spawnSync('/bin/sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0
const wanted = [
  ['chromium', 'chromium'],
  ['redis-server', 'redis-server'],
  ['redis-cli', 'redis-tools'],
]
const missing = [...new Set(wanted.filter(([bin]) => !has(bin)).map(([, pkg]) => pkg))]

/** True when something listens on 127.0.0.1:5432 (the machine's PostgreSQL). */
const listening = () =>
  new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: 5432 })
    socket.setTimeout(1000)
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => (socket.destroy(), resolve(false)))
  })
const initdb = () => has('initdb') || (existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)))
if (!process.env.DATABASE_URL && !(await listening()) && !initdb()) missing.push('postgresql')
if (missing.length === 0) process.exit(0)

const install = `apt-get install -y ${missing.join(' ')}`
const root = typeof process.getuid === 'function' && process.getuid() === 0
if (!root || !has('apt-get')) {
  console.error(`npm test needs ${missing.join(', ')}, which npm cannot install. Run:\n\n  sudo apt-get update && sudo ${install}\n`)
  console.error('(elsewhere: install Chromium, Redis and PostgreSQL with your package manager; REDIS_URL and DATABASE_URL may point at servers the tests may write to)')
  process.exit(1)
}
console.log(`test set-up: installing ${missing.join(', ')} with apt-get (missing on this machine)`)
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env })
