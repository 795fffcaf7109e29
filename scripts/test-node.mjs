// `npm run test:node -- 24`: the suite on another Node major, as users run it. The registry's `node` package
// ships the binary (`npm install --prefix build/node-24 node@24`, once; kept for the next run); the suite then
// runs under it, with its bin first on PATH, so child processes (the chaos run, the examples) use it too.
// Needs `npm run build` first (npm test does it): the tests load dist/ as well as src/.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, join, resolve } from 'node:path'

const major = process.argv[2]
if (!/^\d+$/.test(major ?? '')) {
  console.error('usage: npm run test:node -- <major>   (for example 24)')
  process.exit(2)
}
const prefix = resolve('build', `node-${major}`)
const bin = join(prefix, 'node_modules', '.bin')
const node = join(bin, process.platform === 'win32' ? 'node.cmd' : 'node')
if (!existsSync(node)) {
  console.log(`installing node@${major} into ${prefix} (the registry's node package)`)
  const npm = spawnSync('npm', ['install', '--prefix', prefix, `node@${major}`, '--no-audit', '--no-fund', '--no-save'], { stdio: 'inherit' })
  if (npm.status !== 0) process.exit(npm.status ?? 1)
}
const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
console.log(`vitest on Node ${version}`)
// Only this process's report: the JSON report CI reads is the machine's own run (npm test, npm run coverage).
const run = spawnSync(node, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', ...process.argv.slice(3)], {
  stdio: 'inherit',
  env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` },
})
process.exit(run.status ?? 1)
