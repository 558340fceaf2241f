// Imports and requires every subpath export of the built package, as users get it (needs `npm run build`).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { readFileSync, existsSync, statSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as path from 'node:path'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> }
const require = createRequire(path.join(root, 'package.json'))
const subpaths = Object.keys(pkg.exports).filter((p) => !p.endsWith('.json'))

test('the package is built', () => {
  assert.ok(existsSync(path.join(root, 'dist')), 'dist/ is missing: run npm run build')
})

for (const sub of subpaths) {
  const spec = sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`
  test(`import('${spec}') and require('${spec}') expose the same API`, async () => {
    const esm = (await import(spec)) as Record<string, unknown>
    const cjs = require(spec) as Record<string, unknown>
    assert.ok(Object.keys(esm).length > 0)
    assert.deepEqual(Object.keys(cjs).filter((k) => k !== 'default').sort(), Object.keys(esm).filter((k) => k !== 'default').sort())
  })
}

test('the CJS and ESM builds open a broker and round-trip a record', async () => {
  for (const mod of [(await import(pkg.name)) as typeof import('../../src/index.js'), require(pkg.name) as typeof import('../../src/index.js')]) {
    const broker = await mod.Broker.open()
    await broker.createTopic('smoke', { partitions: 2 })
    const [meta] = await broker.producer().send('smoke', { key: 'k', value: 'v' })
    const consumer = broker.consumer({ fromBeginning: true })
    await consumer.subscribe(['smoke'])
    for await (const m of consumer) {
      assert.equal(m.offset, meta!.offset)
      assert.equal(m.value?.toString(), 'v')
      break
    }
    await broker.close()
  }
})

test('every bin is an executable node script that runs', () => {
  const { bin } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }
  assert.ok(Object.keys(bin).length > 0, 'package.json has a bin')
  for (const [name, file] of Object.entries(bin)) {
    const abs = path.join(root, file)
    assert.ok(existsSync(abs), `${name}: ${file} is missing: run npm run build`)
    assert.ok(readFileSync(abs, 'utf8').startsWith('#!/usr/bin/env node\n'), `${name}: ${file} starts with a node shebang`)
    assert.ok((statSync(abs).mode & 0o111) !== 0, `${name}: ${file} is executable`)
    const r = spawnSync(abs, ['--version'], { encoding: 'utf8', timeout: 20_000 })
    assert.equal(r.status, 0, `${name} --version exits 0: ${r.stderr}`)
    assert.equal(r.stdout.trim(), JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version, `${name} --version prints the package version`)
  }
})

test("the README's KafkaJS test double runs against the built package and its process exits by itself", () => {
  const r = spawnSync(process.execPath, ['--test', '--import', 'tsx', 'examples/kafkajs-test-double.test.ts'], { cwd: root, encoding: 'utf8', timeout: 30_000 })
  assert.equal(r.status, 0, `the example passes and exits (no open handles): ${r.stdout.slice(-800)}${r.stderr.slice(-800)}`)
})

test("the README's wire example: the real kafkajs produces over TCP to the built package, records read back, the process exits by itself", () => {
  const r = spawnSync(process.execPath, ['examples/serve-kafkajs.mjs'], { cwd: root, encoding: 'utf8', timeout: 30_000 })
  assert.equal(r.status, 0, `the example exits 0 by itself: ${r.stdout.slice(-800)}${r.stderr.slice(-800)}`)
  assert.deepEqual(r.stdout.trim().split('\n'), ['orders-0@0 user-1 hello', 'orders-0@1 user-2 world'], 'both records read back in process')
})
