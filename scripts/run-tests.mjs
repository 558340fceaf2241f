#!/usr/bin/env node
// Lists every test file under test/ (Node 20's `node --test` neither expands globs nor finds .ts files)
// and runs them with the built-in runner through tsx. Pass paths or substrings to run a subset.
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { spawnSync } from 'node:child_process'

const root = new URL('..', import.meta.url).pathname
function walk(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (name.endsWith('.test.ts')) out.push(relative(root, p))
  }
  return out
}
// The longest files start first, so two runners finish together instead of one waiting on a late
// crash loop (the rest keep their alphabetical order).
const SLOW_FIRST = [
  'test/crash/crash-loop', 'test/model/broker-model', 'test/crash/eos-crash', 'test/eventstore/crash', 'test/unit/storage/cleaner',
  'test/fuzz/decoders', 'test/fuzz/wire', 'test/eventstore/model', 'test/wire/', 'test/cli/',
]
const rank = (f) => {
  const i = SLOW_FIRST.findIndex((s) => f.startsWith(s))
  return i === -1 ? SLOW_FIRST.length : i
}
const filters = process.argv.slice(2)
let files = walk(join(root, 'test')).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1))
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)))
if (files.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
console.log(`running ${files.length} test files`)
const env = { ...process.env, KAFKALITE_VERIFY: process.env.KAFKALITE_VERIFY ?? '1' }
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', `--test-timeout=${process.env.KAFKALITE_TEST_TIMEOUT ?? 120000}`, ...files], {
  cwd: root, stdio: 'inherit', env,
})
process.exit(r.status ?? 1)
