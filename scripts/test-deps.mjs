// Runs before `npm test`: the tests need two programs npm cannot install, Debian's `chromium` (the browser
// test) and `redis-server` (+ redis-cli, for the cluster tests). When one is missing and this user can install
// packages (root with apt-get), install it and say so; otherwise stop at once with the exact command to run.
import { execFileSync, spawnSync } from 'node:child_process'

const has = (bin) => spawnSync('/bin/sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0
const wanted = [
  ['chromium', 'chromium'],
  ['redis-server', 'redis-server'],
  ['redis-cli', 'redis-tools'],
]
const missing = [...new Set(wanted.filter(([bin]) => !has(bin)).map(([, pkg]) => pkg))]
if (missing.length === 0) process.exit(0)

const install = `apt-get install -y ${missing.join(' ')}`
const root = typeof process.getuid === 'function' && process.getuid() === 0
if (!root || !has('apt-get')) {
  console.error(`npm test needs ${missing.join(', ')}, which npm cannot install. Run:\n\n  sudo apt-get update && sudo ${install}\n`)
  console.error('(elsewhere: install Chromium and Redis with your package manager; REDIS_URL may point at a Redis the tests may write to)')
  process.exit(1)
}
console.log(`test set-up: installing ${missing.join(', ')} with apt-get (missing on this machine)`)
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env })
