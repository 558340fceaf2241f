// `kafkalite produce` and `kafkalite consume` with other encodings and sources: binary bytes through
// --encoding base64, --format raw, a topic copied through a `consume --format json | produce
// --format json` pipe, and --file input with and without a progress bar.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { assertExit, jsonLines, lines, show, withDataDir, type JsonRecord } from '../fixtures/cli.js'
import { test } from '../fixtures/helpers.js'

test('--encoding base64 round-trips binary keys, values and headers; --format raw prints the value bytes alone', async (t) => {
  const { run } = withDataDir(t)
  assertExit(await run(['topics', 'create', 'bin', '--partitions', '2']), 0, 'topics create')
  const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i)) // every byte, invalid UTF-8 included
  const key = Buffer.from([0xff, 0x00, 0xfe, 0x0a])
  const header = Buffer.from([0x80, 0x0d, 0x0a])
  const line = JSON.stringify({ key: key.toString('base64'), value: value.toString('base64'), headers: { h: header.toString('base64') }, partition: 0 })
  const nullValue = JSON.stringify({ key: 'AA==', value: null, partition: 0 })
  assertExit(await run(['produce', 'bin', '--format', 'json', '--encoding', 'base64'], { input: `${line}\n${nullValue}\n` }), 0, 'produce base64')

  const c = await run(['consume', 'bin', '--partition', '0', '--from-beginning', '--json', '--encoding', 'base64'])
  assertExit(c, 0, 'consume base64')
  const [r0, r1] = jsonLines<JsonRecord>(c.stdout)
  assert.ok(r0 && r1, `two records: ${show(c)}`)
  assert.ok(Buffer.from(r0.value!, 'base64').equals(value), 'the value bytes come back unchanged')
  assert.ok(Buffer.from(r0.key!, 'base64').equals(key), 'the key bytes come back unchanged')
  assert.ok(Buffer.from(r0.headers.h!, 'base64').equals(header), 'the header bytes come back unchanged')
  assert.equal(r1.value, null, 'a null value stays null in base64')
  assert.equal(r1.key, 'AA==', 'a one-byte zero key')

  const hex = jsonLines<JsonRecord>((await run(['consume', 'bin', '--partition', '0', '--from-beginning', '--json', '--encoding', 'hex'])).stdout)
  assert.equal(hex[0]!.key, 'ff00fe0a', '--encoding hex')

  const raw = await run(['consume', 'bin', '--partition', '0', '--from-beginning', '--format', 'raw', '--max-messages', '1'])
  assertExit(raw, 0, 'consume --format raw')
  assert.ok(raw.stdoutBytes.equals(value), `raw prints the value bytes and nothing else (${raw.stdoutBytes.length} bytes)`)

  assertExit(await run(['produce', 'bin', '--partition', '1'], { input: 'ab\ncd\n' }), 0, 'produce text to partition 1')
  const rawText = await run(['consume', 'bin', '--partition', '1', '--from-beginning', '--format', 'raw'])
  assert.equal(rawText.stdout, 'abcd', 'raw adds no separator between values')

  const notString = await run(['produce', 'bin', '--format', 'json', '--encoding', 'base64'], { input: '{"value":{"a":1}}\n' })
  assertExit(notString, 1, 'a non-string value with --encoding base64')
  assert.equal(notString.stderr, 'kafkalite: line 1: value must be a base64 string\n', `one line: ${show(notString)}`)
  // A send that fails (no partition 5) while others may be in flight: one error line, not a crash.
  const noSuchPartition = await run(['produce', 'bin', '--format', 'json'], { input: '{"value":"a","partition":5}\n' })
  assertExit(noSuchPartition, 1, 'a record for a partition that does not exist')
  assert.equal(noSuchPartition.stderr, 'kafkalite: partition 5 does not exist in topic bin (it has 2)\n', `one line, no stack: ${show(noSuchPartition)}`)
  const notJson = await run(['produce', 'bin', '--format', 'json'], { input: '\n{"value":"ok"}\nnot json\n' })
  assertExit(notJson, 1, 'a line that is not JSON')
  assert.match(notJson.stderr, /^kafkalite: line 3: not JSON/, `the error names line 3: ${show(notJson)}`)
})

test('consume --format json | produce --format json copies a topic: partitions, offsets, timestamps, keys, values, headers', async (t) => {
  const { run } = withDataDir(t)
  assertExit(await run(['topics', 'create', 'src', '--partitions', '3']), 0, 'topics create src')
  assertExit(await run(['topics', 'create', 'dst', '--partitions', '3']), 0, 'topics create dst')
  const keyed = Array.from({ length: 30 }, (_, i) => `user-${i % 7}\t{"n":${i},"s":"é ✓"}`).join('\n')
  assertExit(await run(['produce', 'src', '--key-separator', '\t', '--header', 'origin=test'], { input: keyed }), 0, 'produce keyed')
  assertExit(await run(['produce', 'src', '--format', 'json'], { input: '{"key":"nil","value":null,"headers":{"x":"1"},"partition":1}\n' }), 0, 'produce null value')

  const src = await run(['consume', 'src', '--from-beginning', '--format', 'json'])
  assertExit(src, 0, 'consume src')
  assert.equal(lines(src.stdout).length, 31, `31 records in src: ${show(src)}`)
  const copy = await run(['produce', 'dst', '--format', 'json'], { input: src.stdout })
  assertExit(copy, 0, 'produce dst from the JSON')
  const dst = await run(['consume', 'dst', '--from-beginning', '--format', 'json'])
  const strip = (text: string): string[] =>
    jsonLines<JsonRecord>(text)
      .map(({ topic: _topic, ...rest }) => JSON.stringify(rest))
      .sort()
  assert.deepEqual(strip(dst.stdout), strip(src.stdout), 'dst holds the same records at the same partitions and offsets')
})

test('--file reads lines from a file; --progress forces a progress bar onto a non-terminal stderr', async (t) => {
  const { run, tmp } = withDataDir(t)
  assertExit(await run(['topics', 'create', 'filed']), 0, 'topics create')
  const file = join(tmp, 'lines.txt')
  writeFileSync(file, Array.from({ length: 500 }, (_, i) => `line-${i}`).join('\n') + '\n')
  const quiet = await run(['produce', 'filed', '--file', file])
  assertExit(quiet, 0, 'produce --file')
  assert.equal(quiet.stderr, '', 'no progress bar when stderr is not a terminal')
  const loud = await run(['produce', 'filed', '--file', file, '--progress'])
  assertExit(loud, 0, 'produce --file --progress')
  assert.match(loud.stderr, /100% .*500 records/, `the bar reaches 100% with the records count: ${show(loud)}`)
  assert.equal(loud.stdout, '', 'the bar goes to stderr, not stdout')

  const c = await run(['consume', 'filed', '--from-beginning'])
  const got = lines(c.stdout)
  assert.equal(got.length, 1000, 'both files were produced')
  assert.deepEqual(got.slice(0, 500), Array.from({ length: 500 }, (_, i) => `line-${i}`), 'in file order')

  const missing = await run(['produce', 'filed', '--file', join(tmp, 'nope.txt')])
  assertExit(missing, 1, 'a missing --file')
  assert.equal(lines(missing.stderr).length, 1, `one line on stderr, no stack: ${show(missing)}`)
  assert.match(missing.stderr, /^kafkalite: ENOENT: no such file or directory/, `the error says why: ${show(missing)}`)
  const dirAsFile = await run(['produce', 'filed', '--file', tmp])
  assertExit(dirAsFile, 1, 'a directory as --file')
  assert.equal(lines(dirAsFile.stderr).length, 1, `one line on stderr, no stack: ${show(dirAsFile)}`)
})
