// Type compatibility: test/kafkajs/types/usage.ts, a program written against KafkaJS's own type
// definitions, must compile (1) as is against 'kafkajs' and (2) with only its module specifier
// replaced by the facade's entry — so code typed for KafkaJS type-checks against kafkalite/kafkajs.
// Each compile runs `tsc --noEmit` on a small generated tsconfig in a temp dir (strict, NodeNext).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../fixtures/helpers.js'
import { facadeOnly } from '../fixtures/kafkajs.js'

// Type-checks the facade's declarations; nothing connects.
const test = facadeOnly('type test of the facade\'s declarations')

const require = createRequire(import.meta.url)
const root = fileURLToPath(new URL('../..', import.meta.url))
const tsc = require.resolve('typescript/bin/tsc')
const usage = readFileSync(join(root, 'test/kafkajs/types/usage.ts'), 'utf8')
const facadeEntry = join(root, 'src/kafkajs/index.ts')

/** A temp project: package.json (ESM), tsconfig.json, node_modules linked to the repo's, and `main.ts`. */
function project(t: Parameters<typeof tempDir>[0], source: string, extra: Record<string, unknown> = {}): string {
  const dir = tempDir(t, 'kafkalite-kafkajs-types-')
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'kafkajs-usage', private: true, type: 'module' }))
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        strict: true,
        skipLibCheck: true,
        noEmit: true,
        esModuleInterop: true,
        ...extra,
      },
      files: ['main.ts'],
    }),
  )
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  writeFileSync(join(dir, 'main.ts'), source)
  return dir
}

/** Runs `tsc --noEmit -p dir` with a 60 s deadline (killed past it); resolves to its exit code and output. */
function typecheck(dir: string): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '--noEmit', '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    let timedOut = false
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, 60_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, output, timedOut })
    })
  })
}

test('usage.ts compiles against kafkajs\'s own types', async (t) => {
  const dir = project(t, usage)
  const result = await typecheck(dir)
  assert.equal(result.timedOut, false, 'tsc finished within 60 s')
  assert.equal(result.code, 0, `tsc against kafkajs:\n${result.output}`)
}, 70_000)

test('usage.ts with only "kafkajs" replaced by the facade\'s entry compiles too', async (t) => {
  const specifier = /(from\s+)'kafkajs'/g
  assert.equal(usage.match(specifier)?.length, 1, 'usage.ts imports from \'kafkajs\' exactly once')
  const source = usage.replace(specifier, `$1${JSON.stringify(facadeEntry)}`)
  assert.notEqual(source, usage, 'the specifier was replaced')
  const dir = project(t, source, { allowImportingTsExtensions: true })
  const result = await typecheck(dir)
  assert.equal(result.timedOut, false, 'tsc finished within 60 s')
  // Errors inside the facade's own sources would come from this tsconfig, not from the usage: show them apart.
  const lines = result.output.split('\n').filter((l) => l.trim())
  const inUsage = lines.filter((l) => l.startsWith('main.ts'))
  assert.equal(result.code, 0, `tsc against the facade (${inUsage.length} errors in the KafkaJS-typed program):\n${lines.join('\n')}`)
}, 70_000)
