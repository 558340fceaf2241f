// `kafkalite produce` and `kafkalite consume` run as a user runs them (node dist/cli.js, stdin piped):
// lines in, records back as text and JSON; keys, headers, partitions, acks; the text layout of the
// --print-* options; --max-messages and start positions.
import assert from 'node:assert/strict'
import { assertExit, jsonLines, lines, show, withDataDir, type JsonRecord } from '../fixtures/cli.js'
import { test } from '../fixtures/helpers.js'

test('lines from stdin come back as text and as JSON objects, one per line', async (t) => {
  const { run } = withDataDir(t)
  assertExit(await run(['topics', 'create', 'greetings']), 0, 'topics create')
  const before = Date.now()
  // CRLF line ends are dropped and the last line needs no newline.
  const p = await run(['produce', 'greetings'], { input: 'one\ntwo\nthree\r\nfour\r\nfive' })
  assertExit(p, 0, 'produce')
  assert.equal(p.stdout, '', 'produce prints nothing on stdout')
  assert.equal(p.stderr, '', 'produce prints nothing on stderr (no progress bar off a terminal)')
  assertExit(await run(['produce', 'greetings'], { input: '' }), 0, 'produce of empty stdin')

  const text = await run(['consume', 'greetings', '--from-beginning'])
  assertExit(text, 0, 'consume')
  assert.equal(text.stdout, 'one\ntwo\nthree\nfour\nfive\n', `text: one value per line: ${show(text)}`)
  assert.equal(text.stderr, '', 'consume prints nothing on stderr off a terminal')

  const json = await run(['consume', 'greetings', '--from-beginning', '--format', 'json'])
  assertExit(json, 0, 'consume --format json')
  const records = jsonLines<JsonRecord>(json.stdout)
  assert.equal(records.length, 5, `five JSON lines: ${show(json)}`)
  records.forEach((r, i) => {
    assert.deepEqual(Object.keys(r), ['topic', 'partition', 'offset', 'timestamp', 'key', 'value', 'headers'], `record ${i}: the documented fields in order`)
    assert.equal(r.topic, 'greetings', `record ${i}: topic`)
    assert.equal(r.partition, 0, `record ${i}: partition`)
    assert.equal(r.offset, i, `record ${i}: offsets count from 0`)
    assert.equal(typeof r.timestamp, 'number', `record ${i}: timestamp is a number`)
    assert.ok(r.timestamp >= before - 1000 && r.timestamp <= Date.now() + 1000, `record ${i}: timestamp ${r.timestamp} is the time of the produce`)
    assert.equal(r.key, null, `record ${i}: no key is null, not "null"`)
    assert.deepEqual(r.headers, {}, `record ${i}: no headers`)
  })
  assert.deepEqual(records.map((r) => r.value), ['one', 'two', 'three', 'four', 'five'], 'values as UTF-8 strings')

  const alias = await run(['consume', 'greetings', '--from-beginning', '--json'])
  assert.equal(alias.stdout, json.stdout, '--json prints what --format json prints')
  const fromEnd = await run(['consume', 'greetings'])
  assertExit(fromEnd, 0, 'consume without --from-beginning')
  assert.equal(fromEnd.stdout, '', 'without --from-beginning consume starts at the end and prints nothing')
})

test('--key-separator, --headers, --header and --partition shape the records; a bad line writes nothing', async (t) => {
  const { run } = withDataDir(t)
  assertExit(await run(['topics', 'create', 'kv', '--partitions', '3']), 0, 'topics create')
  // The first separator splits; the rest stays in the value.
  assertExit(await run(['produce', 'kv', '--key-separator', '::'], { input: 'alice::a1\nbob::b::1\nalice::a2\n' }), 0, 'produce keyed')
  const hdr = await run(['produce', 'kv', '--headers', '--key-separator', '|', '--header', 'src=cli', '--header', 'v=2', '--partition', '2'], {
    input: 'h1:x,h2:y\tcarol|c1\n\tdave|d1\n',
  })
  assertExit(hdr, 0, 'produce with headers')

  const before = await run(['consume', 'kv', '--from-beginning', '--json'])
  const all = jsonLines<JsonRecord>(before.stdout)
  assert.equal(all.length, 5, `five records: ${JSON.stringify(all)}`)
  const byKey = new Map(all.map((r) => [`${r.key}/${r.value}`, r]))
  assert.ok(byKey.has('alice/a1') && byKey.has('alice/a2') && byKey.has('bob/b::1'), `keys and values split at the first separator: ${JSON.stringify(all)}`)
  assert.equal(byKey.get('alice/a1')!.partition, byKey.get('alice/a2')!.partition, 'one key, one partition')
  assert.ok(byKey.get('alice/a2')!.offset > byKey.get('alice/a1')!.offset, "a key's records keep their order")
  const carol = byKey.get('carol/c1')!
  const dave = byKey.get('dave/d1')!
  assert.equal(carol.partition, 2, '--partition 2 puts the record in partition 2')
  assert.equal(dave.partition, 2, '--partition 2 puts every record in partition 2')
  assert.deepEqual(carol.headers, { src: 'cli', v: '2', h1: 'x', h2: 'y' }, '--header on every record, the line prefix added')
  assert.deepEqual(dave.headers, { src: 'cli', v: '2' }, 'an empty header prefix adds none')

  // A bad line stops produce before its batch is sent (the bad line comes first: a batch is one chunk of input).
  const noSep = await run(['produce', 'kv', '--key-separator', '='], { input: 'nosep\nk=v\n' })
  assertExit(noSep, 1, 'a line without the separator')
  assert.equal(noSep.stderr, "kafkalite: line 1: no key separator '='\n", `one line naming the line number: ${show(noSep)}`)
  const noTab = await run(['produce', 'kv', '--headers'], { input: 'a:b no tab\n' })
  assertExit(noTab, 1, 'a --headers line without a TAB')
  assert.match(noTab.stderr, /^kafkalite: line 1: no TAB after the headers/, `the error names the line: ${show(noTab)}`)
  const badPartition = await run(['produce', 'kv', '--partition', '9'], { input: 'x\n' })
  assertExit(badPartition, 1, '--partition beyond the topic')
  assert.equal(badPartition.stderr, 'kafkalite: topic kv has 3 partitions; --partition 9 does not exist\n', `one line: ${show(badPartition)}`)
  assert.equal((await run(['consume', 'kv', '--from-beginning', '--json'])).stdout, before.stdout, 'the failed produces wrote nothing')
})

test('each --acks value (all, the default, is used everywhere else) writes its records; an unknown one is a usage error', async (t) => {
  const { run } = withDataDir(t)
  assertExit(await run(['topics', 'create', 'acks']), 0, 'topics create')
  // 'all' is the default every other test uses.
  const values = ['-1', 'leader', '1', 'none', '0']
  for (const acks of values) assertExit(await run(['produce', 'acks', '--acks', acks], { input: `acks=${acks}\n` }), 0, `--acks ${acks}`)
  const c = await run(['consume', 'acks', '--from-beginning'])
  assert.deepEqual(lines(c.stdout), values.map((a) => `acks=${a}`), `one record per --acks value, in order: ${show(c)}`)
  const bad = await run(['produce', 'acks', '--acks', '2'], { input: 'x\n' })
  assertExit(bad, 2, '--acks 2')
  assert.match(bad.stderr, /argument '2' is invalid/, `the bad value is named: ${show(bad)}`)
  assert.match(bad.stderr, /^Usage: kafkalite produce \[options\] <topic>$/m, `the usage line: ${show(bad)}`)
})

test("--print-* options lay out text as Kafka's console consumer does", async (t) => {
  const { run } = withDataDir(t)
  assertExit(await run(['topics', 'create', 'layout', '--partitions', '2']), 0, 'topics create')
  const input = [
    { key: 'k1', value: 'v1', headers: { a: '1', b: '2' }, timestamp: 1_700_000_000_000, partition: 1 },
    { key: null, value: 'v2', timestamp: 1_700_000_000_001, partition: 1 },
  ]
  assertExit(await run(['produce', 'layout', '--format', 'json'], { input: input.map((m) => JSON.stringify(m)).join('\n') + '\n' }), 0, 'produce json')
  const full = await run(['consume', 'layout', '--from-beginning', '--print-key', '--print-headers', '--print-offset', '--print-partition', '--print-timestamp'])
  assertExit(full, 0, 'consume with every --print option')
  assert.equal(
    full.stdout,
    'CreateTime:1700000000000\tPartition:1\tOffset:0\ta:1,b:2\tk1\tv1\n' + 'CreateTime:1700000000001\tPartition:1\tOffset:1\tNO_HEADERS\tnull\tv2\n',
    `timestamp, partition, offset, headers, key, value, TAB-separated: ${show(full)}`,
  )
  const keyOnly = await run(['consume', 'layout', '--from-beginning', '--print-key'])
  assert.equal(keyOnly.stdout, 'k1\tv1\nnull\tv2\n', `--print-key alone: ${show(keyOnly)}`)

  assertExit(await run(['topics', 'create', 'appended', '--config', 'message.timestamp.type=LogAppendTime']), 0, 'topics create LogAppendTime')
  assertExit(await run(['produce', 'appended', '--format', 'json'], { input: '{"value":"x","timestamp":5}\n' }), 0, 'produce')
  const appended = await run(['consume', 'appended', '--from-beginning', '--print-timestamp'])
  assert.match(appended.stdout, /^LogAppendTime:\d{13}\tx\n$/, `a LogAppendTime topic prints the broker's time: ${show(appended)}`)
})

test('--max-messages and the start positions --partition, --offset and --timestamp', async (t) => {
  const { run } = withDataDir(t)
  assertExit(await run(['topics', 'create', 'pos', '--partitions', '2']), 0, 'topics create')
  const input: string[] = []
  for (let i = 0; i < 5; i++) input.push(JSON.stringify({ value: `p0-${i}`, partition: 0, timestamp: 1000 * (i + 1) }))
  for (let i = 0; i < 3; i++) input.push(JSON.stringify({ value: `p1-${i}`, partition: 1, timestamp: 1500 + 1000 * i }))
  assertExit(await run(['produce', 'pos', '--format', 'json'], { input: input.join('\n') }), 0, 'produce json')
  const values = async (args: string[]): Promise<string[]> => {
    const r = await run(['consume', 'pos', ...args])
    assertExit(r, 0, `consume ${args.join(' ')}`)
    return lines(r.stdout)
  }

  // Read-only opens take no lock: these run side by side.
  const [three, none, at2, earliest, latest, both, ms2500, iso3000, future] = await Promise.all([
    values(['--from-beginning', '--max-messages', '3']),
    values(['--from-beginning', '--max-messages', '0']),
    values(['--partition', '0', '--offset', '2', '--print-offset']),
    values(['--partition', '0', '--offset', 'earliest', '--max-messages', '1']),
    values(['--partition', '1', '--offset', 'latest']),
    values(['--partition', '0,1', '--from-beginning']),
    values(['--timestamp', '2500']),
    values(['--timestamp', '1970-01-01T00:00:03.000Z']),
    values(['--timestamp', '99999999999999']),
  ])
  assert.equal(three.length, 3, '--max-messages 3 prints three records')
  assert.deepEqual(none, [], '--max-messages 0 prints none')
  assert.deepEqual(at2, ['Offset:2\tp0-2', 'Offset:3\tp0-3', 'Offset:4\tp0-4'], '--offset 2')
  assert.deepEqual(earliest, ['p0-0'], '--offset earliest')
  assert.deepEqual(latest, [], '--offset latest prints nothing')
  assert.deepEqual(both.sort(), input.map((l) => JSON.parse(l).value as string).sort(), 'comma-separated --partition')
  // Timestamps: p0 at 1000..5000, p1 at 1500, 2500, 3500.
  assert.deepEqual(ms2500.sort(), ['p0-2', 'p0-3', 'p0-4', 'p1-1', 'p1-2'], '--timestamp in epoch ms: the first record at or after it')
  assert.deepEqual(iso3000.sort(), ['p0-2', 'p0-3', 'p0-4', 'p1-2'], '--timestamp as ISO 8601')
  assert.deepEqual(future, [], 'a --timestamp after every record starts at the end')

  const outOfRange = await run(['consume', 'pos', '--partition', '0', '--offset', '100'])
  assertExit(outOfRange, 1, '--offset beyond the end')
  assert.equal(outOfRange.stderr, 'kafkalite: offset 100 is out of range [0, 5] for pos-0\n', `one line: ${show(outOfRange)}`)
  const noPartition = await run(['consume', 'pos', '--partition', '7'])
  assertExit(noPartition, 1, 'a partition that does not exist')
  assert.match(noPartition.stderr, /^kafkalite: topic pos has no partition 7/, `one line: ${show(noPartition)}`)
})
