#!/usr/bin/env node
// `npm test` builds dist/ only when a build input is newer than the last build (npm install's
// `prepare` has just built it on a fresh clone). Inputs: src/, package.json, tsconfig.json,
// tsup.config.ts. The build writes dist/.build-stamp when it succeeds.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

const root = new URL('..', import.meta.url).pathname
const stamp = join(root, 'dist', '.build-stamp')

function newest(path) {
  const s = statSync(path)
  if (!s.isDirectory()) return s.mtimeMs
  let max = s.mtimeMs
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)))
  return max
}

const inputs = ['src', 'package.json', 'tsconfig.json', 'tsup.config.ts'].map((p) => join(root, p)).filter((p) => existsSync(p))
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : -Infinity
if (Math.max(...inputs.map(newest)) < built) {
  console.log('dist/ is up to date (npm run build rebuilds it)')
  process.exit(0)
}
const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
process.exit(r.status ?? 1)
