// `kafkalite dump` of segments and indexes, and `kafkalite verify` of a data dir: healthy files
// dump and verify with exit 0; a byte flipped inside a record batch, or a segment cut inside a
// batch, makes verify exit 1 naming the file and position, and dump show `isvalid: false` and exit 1.
import assert from 'node:assert/strict'
import { cpSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { assertExit, jsonLines, lines, runCli, show } from '../fixtures/cli.js'
import { tempDir, test } from '../fixtures/helpers.js'

const SEGMENT = '00000000000000000000'

interface BatchJson {
  position: number
  baseOffset: number
  lastOffset: number
  count: number
  size: number
  producerId: number
  crc: number
  valid: boolean
  problem: string | null
  records?: Array<{ offset: number; key: string | null; value: string | null; headers: Record<string, string | null> }>
}

/**
 * A closed data dir with topic `d` (one partition, an index entry per batch) holding three batches:
 * [a, b], [k:v with header h=1], [c]. Each `produce` is one batch.
 */
async function closedDir(t: TestContext): Promise<{ tmp: string; data: string; log: string }> {
  const tmp = tempDir(t, 'kafkalite-cli-')
  const data = join(tmp, 'data')
  const run = (args: string[], input?: string) => runCli(t, [...args, '--dir', data], { input })
  assertExit(await run(['topics', 'create', 'd', '--config', 'index.interval.bytes=0']), 0, 'topics create')
  assertExit(await run(['produce', 'd'], 'a\nb\n'), 0, 'produce batch 1')
  assertExit(await run(['produce', 'd', '--key-separator', ':', '--header', 'h=1'], 'k:v\n'), 0, 'produce batch 2')
  assertExit(await run(['produce', 'd'], 'c\n'), 0, 'produce batch 3')
  return { tmp, data, log: join(data, 'd-0', `${SEGMENT}.log`) }
}

test('dump prints every batch of a healthy segment (text, --records, --json) and its indexes; verify exits 0', async (t) => {
  const { data, log } = await closedDir(t)
  const size = statSync(log).size
  const [text, records, json, recordsJson, index, timeindex, indexJson, verify, deep] = await Promise.all([
    runCli(t, ['dump', log]),
    runCli(t, ['dump', log, '--records']),
    runCli(t, ['dump', log, '--json']),
    runCli(t, ['dump', log, '--records', '--json']),
    runCli(t, ['dump', join(data, 'd-0', `${SEGMENT}.index`)]),
    runCli(t, ['dump', join(data, 'd-0', `${SEGMENT}.timeindex`)]),
    runCli(t, ['dump', join(data, 'd-0', `${SEGMENT}.index`), '--json']),
    runCli(t, ['verify', '--dir', data]),
    runCli(t, ['verify', '--dir', data, '--deep', '--json']),
  ])

  assertExit(text, 0, 'dump')
  assert.equal(text.stderr, '', 'dump of a healthy segment: nothing on stderr')
  const out = lines(text.stdout)
  assert.equal(out[0], `Dumping ${log} (${size} bytes)`, `a header line: ${show(text)}`)
  assert.equal(out.at(-1), 'every batch is valid', `a verdict line: ${show(text)}`)
  const batchLines = out.filter((l) => l.startsWith('baseOffset:'))
  assert.equal(batchLines.length, 3, `one line per batch: ${show(text)}`)
  assert.match(batchLines[0]!, /^baseOffset: 0 lastOffset: 1 count: 2 .*producerId: -?\d+ .*position: 0 CreateTime: \d+ .*crc: \d+ isvalid: true$/, `batch 1: ${batchLines[0]}`)
  assert.match(batchLines[1]!, /^baseOffset: 2 lastOffset: 2 count: 1 .*isvalid: true$/, `batch 2: ${batchLines[1]}`)
  assert.match(batchLines[2]!, /^baseOffset: 3 lastOffset: 3 count: 1 .*isvalid: true$/, `batch 3: ${batchLines[2]}`)

  assertExit(records, 0, 'dump --records')
  const recordLines = lines(records.stdout).filter((l) => l.startsWith('| '))
  assert.equal(recordLines.length, 4, `one line per record: ${show(records)}`)
  assert.match(recordLines[0]!, /^\| offset: 0 CreateTime: \d+ keySize: -1 valueSize: 1 headerKeys: \[\] key: null payload: a$/, `record 0: ${recordLines[0]}`)
  assert.match(recordLines[2]!, /^\| offset: 2 .*headerKeys: \[h\] headers: h:1 key: k payload: v$/, `record 2 with key and header: ${recordLines[2]}`)

  assertExit(json, 0, 'dump --json')
  const batches = jsonLines<BatchJson>(json.stdout)
  assert.deepEqual(batches.map((b) => [b.baseOffset, b.lastOffset, b.count, b.valid]), [[0, 1, 2, true], [2, 2, 1, true], [3, 3, 1, true]], 'one object per batch')
  for (const [i, b] of batches.entries()) {
    assert.equal(typeof b.crc, 'number', `batch ${i}: crc`)
    assert.equal(typeof b.producerId, 'number', `batch ${i}: producerId`)
    assert.equal(b.problem, null, `batch ${i}: no problem`)
    assert.equal(b.records, undefined, `batch ${i}: no records without --records`)
  }
  assert.equal(batches[0]!.position, 0, 'the first batch at position 0')
  assert.equal(batches[1]!.position, batches[0]!.size, 'batches follow each other')
  assert.equal(batches[2]!.position + batches[2]!.size, size, 'the last batch ends the file')
  const withRecords = jsonLines<BatchJson>(recordsJson.stdout)
  assert.deepEqual(withRecords.map((b) => b.records?.length), [2, 1, 1], '--records --json: the records of each batch')
  const { timestamp, ...record } = withRecords[1]!.records![0]! as NonNullable<BatchJson['records']>[number] & { timestamp: number }
  assert.deepEqual(record, { offset: 2, key: 'k', value: 'v', headers: { h: '1' } }, '--records --json: offset, key, value, headers')
  assert.equal(typeof timestamp, 'number', '--records --json: the timestamp')

  assertExit(index, 0, 'dump .index')
  assert.equal(lines(index.stdout)[0], `Dumping ${join(data, 'd-0', `${SEGMENT}.index`)} (${statSync(join(data, 'd-0', `${SEGMENT}.index`)).size} bytes, base offset 0)`, `index header: ${show(index)}`)
  const entries = jsonLines<{ offset: number; position: number }>(indexJson.stdout)
  assert.ok(entries.length >= 2, `index.interval.bytes=0: entries for the later batches: ${show(indexJson)}`)
  for (const e of entries) {
    const batch = batches.find((b) => b.position === e.position)
    assert.ok(batch && e.offset >= batch.baseOffset && e.offset <= batch.lastOffset, `index entry ${JSON.stringify(e)} points at its batch`)
  }
  assert.deepEqual(lines(index.stdout).slice(1), entries.map((e) => `offset: ${e.offset} position: ${e.position}`), 'text and JSON agree')
  assertExit(timeindex, 0, 'dump .timeindex')
  const timeEntries = lines(timeindex.stdout).slice(1)
  assert.ok(timeEntries.length >= 1, `time index entries: ${show(timeindex)}`)
  for (const e of timeEntries) assert.match(e, /^timestamp: \d{13} offset: [0-3]$/, `a time index entry: ${e}`)

  assertExit(verify, 0, 'verify of a healthy dir')
  assert.match(verify.stdout, /^ok: \d+ logs, \d+ segments, \d+ batches, \d+ records, .* checked in \d+ ms\n$/, `verify prints one summary line: ${show(verify)}`)
  assert.equal(verify.stderr, '', 'no progress bar off a terminal')
  assertExit(deep, 0, 'verify --deep --json')
  const report = JSON.parse(deep.stdout) as { ok: boolean; problems: unknown[]; records: number }
  assert.equal(report.ok, true, 'verify --deep --json: ok')
  assert.deepEqual(report.problems, [], 'verify --deep --json: no problems')
  assert.ok(report.records >= 4, `verify --deep --json: the records were read: ${deep.stdout}`)
})

test('a byte flipped inside a batch, or a segment cut inside one: verify exits 1 with the file and position; dump shows isvalid: false and exits 1', async (t) => {
  const { tmp, data, log } = await closedDir(t)
  const batches = jsonLines<BatchJson>((await runCli(t, ['dump', log, '--json'])).stdout)
  const [, b2, b3] = batches as [BatchJson, BatchJson, BatchJson]
  // Three copies of the closed dir: a byte of batch 2's record flipped (under its CRC), the file
  // cut inside batch 2's header, and the file cut inside the last batch's records.
  const copy = (name: string): { dir: string; file: string } => {
    const dir = join(tmp, name)
    cpSync(data, dir, { recursive: true })
    return { dir, file: join(dir, 'd-0', `${SEGMENT}.log`) }
  }
  const flipped = copy('flipped')
  const bytes = readFileSync(flipped.file)
  bytes[b2.position + b2.size - 2]! ^= 0xff
  writeFileSync(flipped.file, bytes)
  const cutHeader = copy('cut-header')
  truncateSync(cutHeader.file, b2.position + 30)
  const cutRecords = copy('cut-records')
  truncateSync(cutRecords.file, b3.position + b3.size - 5)

  const [verify, verifyJson, verifyProgress, dump, dumpJson] = await Promise.all([
    runCli(t, ['verify', '--dir', flipped.dir]),
    runCli(t, ['verify', '--dir', flipped.dir, '--json']),
    runCli(t, ['verify', '--dir', flipped.dir, '--progress']),
    runCli(t, ['dump', flipped.file]),
    runCli(t, ['dump', flipped.file, '--json']),
  ])
  assertExit(verify, 1, 'verify of a dir with a flipped byte')
  assert.match(verify.stdout, new RegExp(`^CORRUPT ${flipped.file} position ${b2.position}: .*crc`, 'm'), `the file and position of the bad batch: ${show(verify)}`)
  assert.match(verify.stdout, /^1 problem: /m, `a summary: ${show(verify)}`)
  assertExit(verifyJson, 1, 'verify --json of a dir with a flipped byte')
  const report = JSON.parse(verifyJson.stdout) as { ok: boolean; problems: Array<{ log: string; file: string; position: number; reason: string }> }
  assert.equal(report.ok, false, 'verify --json: not ok')
  assert.deepEqual(report.problems.map((p) => [p.log, p.file, p.position]), [['d-0', flipped.file, b2.position]], `verify --json: the problem: ${verifyJson.stdout}`)
  assertExit(verifyProgress, 1, 'verify --progress')
  assert.match(verifyProgress.stderr, /100% .*\b1 problems/, `--progress draws a bar on a non-terminal stderr, ending with the problem count: ${show(verifyProgress)}`)

  assertExit(dump, 1, 'dump of the segment with a flipped byte')
  const batchLines = lines(dump.stdout).filter((l) => l.startsWith('baseOffset:'))
  assert.deepEqual(batchLines.map((l) => /isvalid: (\w+)/.exec(l)?.[1]), ['true', 'false', 'true'], `only batch 2 is invalid, and the dump goes on past it: ${show(dump)}`)
  assert.match(batchLines[1]!, new RegExp(`position: ${b2.position} .*isvalid: false \\(.*crc.*\\)$`), `the bad batch says why: ${batchLines[1]}`)
  assert.equal(lines(dump.stdout).at(-1), 'some batches are bad', 'the verdict')
  assertExit(dumpJson, 1, 'dump --json of the segment with a flipped byte')
  assert.deepEqual(jsonLines<BatchJson>(dumpJson.stdout).map((b) => b.valid), [true, false, true], 'dump --json: valid per batch')

  for (const [{ dir, file }, position, whole] of [[cutHeader, b2.position, 1], [cutRecords, b3.position, 2]] as const) {
    const [cutVerify, cutDump] = await Promise.all([runCli(t, ['verify', '--dir', dir]), runCli(t, ['dump', file])])
    assertExit(cutVerify, 1, `verify of ${dir}`)
    assert.match(cutVerify.stdout, new RegExp(`^CORRUPT ${file} position ${position}: `, 'm'), `the file and the position of the cut batch: ${show(cutVerify)}`)
    assertExit(cutDump, 1, `dump of ${file}`)
    const out = lines(cutDump.stdout)
    assert.equal(out.filter((l) => l.includes('isvalid: true')).length, whole, `the whole batches before the cut are valid: ${show(cutDump)}`)
    assert.match(out.at(-1)!, new RegExp(`^position: ${position} isvalid: false \\(truncated batch`), `the cut batch: ${show(cutDump)}`)
    assert.match(cutDump.stderr, new RegExp(`^kafkalite: ${file} position ${position}: truncated batch`), `stderr names the file and position: ${show(cutDump)}`)
    assert.equal(lines(cutDump.stderr).length, 1, 'one line on stderr')
  }
})

test('dump of a missing file fails with one line', async (t) => {
  const tmp = tempDir(t, 'kafkalite-cli-')
  const r = await runCli(t, ['dump', join(tmp, `${SEGMENT}.log`)])
  assertExit(r, 1, 'dump of a missing file')
  assert.match(r.stderr, /^kafkalite: ENOENT: no such file or directory/, `the reason: ${show(r)}`)
  assert.equal(lines(r.stderr).length, 1, `one line: ${show(r)}`)
})
