// Checks every link inside the repository in the README, CONTRIBUTING, ARCHITECTURE, CHANGELOG and docs/: the
// file exists and, for a #fragment, the heading does (GitHub's slugs). Links out of the repository (http:,
// https:, mailto:) cannot be reached here and are not checked. `node scripts/check-links.mjs` prints what is
// broken and exits 1; test/docs.test.ts runs it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const root = resolve(new URL('..', import.meta.url).pathname)
export const FILES = ['README.md', 'CONTRIBUTING.md', 'ARCHITECTURE.md', 'CHANGELOG.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-')
}

function anchors(file) {
  const seen = new Map()
  const out = new Set()
  let fenced = false
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    const m = !fenced && /^#{1,6} (.*)$/.exec(line)
    if (!m) continue
    const base = slug(m[1])
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** Every broken link: { file, link, why }. */
export function brokenLinks() {
  const broken = []
  for (const file of FILES) {
    const path = join(root, file)
    let fenced = false
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.startsWith('```')) fenced = !fenced
      if (fenced) continue
      for (const m of line.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const link = m[1]
        if (/^(https?:|mailto:)/.test(link)) continue
        const [target, fragment] = link.split('#')
        const resolved = target === '' ? path : resolve(dirname(path), target)
        if (!resolved.startsWith(root)) broken.push({ file, link, why: 'points out of the repository' })
        else if (!existsSync(resolved)) broken.push({ file, link, why: `no ${relative(root, resolved)}` })
        else if (fragment !== undefined && statSync(resolved).isFile() && resolved.endsWith('.md') && !anchors(resolved).has(fragment)) {
          broken.push({ file, link, why: `no heading #${fragment} in ${relative(root, resolved)}` })
        }
      }
    }
  }
  return broken
}

if (process.argv[1]?.endsWith('check-links.mjs')) {
  const broken = brokenLinks()
  for (const b of broken) console.log(`${b.file}: (${b.link}) ${b.why}`)
  console.log(`${FILES.length} files checked, ${broken.length} broken links`)
  process.exit(broken.length > 0 ? 1 : 0)
}
