#!/usr/bin/env node
// Checks the package as users get it with attw, on a tarball packed without running `prepare`
// (the test script has just built dist/; building it again would only cost time).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync, spawnSync } from 'node:child_process'

const dir = mkdtempSync(join(tmpdir(), 'kafkalite-pack-'))
try {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { encoding: 'utf8' })
  const tarball = join(dir, out.trim().split('\n').pop())
  const r = spawnSync('npx', ['attw', tarball, '--no-emoji', '--no-color', '--format', 'ascii', '--quiet'], { stdio: 'inherit' })
  process.exitCode = r.status ?? 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
