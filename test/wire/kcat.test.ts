// librdkafka against the wire listener, through kcat (the command-line client built on it): a
// listener started in this process (`broker.listen({ port: 0 })`), kcat run as a child process with
// a deadline, and what it did checked in-process — metadata (-L), produce (-P with keys, headers,
// partitions, compression), consume (-C from the beginning, from an offset, a count) and consumer
// groups (-G: two kcat members, a kcat member next to an in-process consumer, committed offsets).
//
// kcat is a system package (`apt-get install -y kcat`; .ci/run installs it). Without it these tests
// are skipped locally and fail in CI (CI=true).
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import type { TestContext } from 'node:test'
import { Broker, decodeRecords, readBatchHeader, type Compression, type Consumer, type Message } from '../../src/index.js'
import { tempDir, test, waitFor, withDeadline } from '../fixtures/helpers.js'

const KCAT = 'kcat'
/** `kcat -V`'s first lines, or null when kcat does not run here. */
const KCAT_VERSION: string | null = (() => {
  const r = spawnSync(KCAT, ['-V'], { encoding: 'utf8', timeout: 5_000 })
  return r.status === 0 ? r.stdout.trim().split('\n').slice(0, 4).join(' ') : null
})()

/** True when kcat runs; otherwise skips the test (locally) or fails it (CI). */
function haveKcat(t: TestContext): boolean {
  if (KCAT_VERSION !== null) return true
  if (process.env.CI === 'true') assert.fail('kcat is not installed: CI must run these tests (.ci/run installs it with apt-get install -y kcat)')
  t.skip('kcat is not installed (apt-get install -y kcat): the librdkafka interoperability tests did not run')
  return false
}

/** How long one kcat command may run before it is killed and the test fails. */
const KCAT_MS = 10_000

/** librdkafka timeouts shortened so that a failure shows within the test's deadline. */
const COMMON = ['-m', '5', '-X', 'socket.timeout.ms=5000', '-X', 'topic.metadata.refresh.interval.ms=1000']
const PRODUCE = [...COMMON, '-X', 'message.timeout.ms=5000', '-X', 'linger.ms=5']
/** A short fetch wait: `-e` exits at the first fetch that finds a partition's end. */
const CONSUME = [...COMMON, '-X', 'fetch.wait.max.ms=50']
const GROUP = [
  ...CONSUME,
  '-X', 'session.timeout.ms=6000',
  '-X', 'heartbeat.interval.ms=200',
  '-X', 'auto.offset.reset=earliest',
]

interface KcatResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

interface KcatProcess {
  child: ChildProcess
  stdout(): string
  /** Resolves when kcat has exited and its output is read; kills it and rejects after `ms`. */
  exit(ms?: number): Promise<KcatResult>
}

function show(r: KcatResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}; stdout: ${JSON.stringify(r.stdout.slice(0, 1500))}; stderr: ${JSON.stringify(r.stderr.slice(-1500))}`
}

/** Starts `kcat -b <listener> ...args`; it is killed in t.after if it still runs then. */
function startKcat(t: TestContext, port: number, args: string[], input?: string): KcatProcess {
  const child = spawn(KCAT, ['-b', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await withDeadline(new Promise((r) => child.once('close', r)), 5_000, `kill of kcat ${args.join(' ')}`)
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  child.stdin.on('error', () => undefined)
  child.stdin.end(input ?? '')
  const closed = new Promise<KcatResult>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }))
  })
  return {
    child,
    stdout: () => out,
    exit: (ms = KCAT_MS) =>
      withDeadline(closed, ms, `kcat ${args.join(' ')}`).catch((e: Error) => {
        child.kill('SIGKILL')
        throw new Error(`${e.message}\nstdout: ${out.slice(-1500)}\nstderr: ${err.slice(-1500)}`)
      }),
  }
}

function kcat(t: TestContext, port: number, args: string[], input?: string): Promise<KcatResult> {
  return startKcat(t, port, args, input).exit()
}

function assertExit(r: KcatResult, code: number, what: string): void {
  assert.equal(r.code, code, `${what}: expected exit ${code}; ${show(r)}`)
}

function lines(text: string): string[] {
  const all = text.split('\n')
  if (all[all.length - 1] === '') all.pop()
  return all
}

/** An in-memory broker with a listener on a free port; both closed after the test. */
async function serve(t: TestContext): Promise<{ broker: Broker; port: number }> {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const server = await broker.listen({ port: 0, host: '127.0.0.1' })
  return { broker, port: server.port }
}

interface StoredRecord {
  offset: number
  key: string | null
  value: string | null
  headers: Array<[string, string | null]>
  compression: Compression
}

/** Every data record of a partition, decoded in-process from the stored batches. */
function stored(broker: Broker, topic: string, partition: number): StoredRecord[] {
  const p = broker.topic(topic).partition(partition)
  const out: StoredRecord[] = []
  let offset = p.logStartOffset
  while (offset < p.highWatermark) {
    const { bytes } = p.readBatches({ offset, maxBytes: 1 << 20, isolation: 'read_uncommitted' })
    assert.ok(bytes.length > 0, `${topic}-${partition}: no batch at offset ${offset} below the high watermark ${p.highWatermark}`)
    for (let pos = 0; pos < bytes.length; ) {
      const h = readBatchHeader(bytes, pos)
      if (!h.isControl) {
        for (const r of decodeRecords(bytes, pos)) {
          if (r.offset < offset) continue
          out.push({
            offset: r.offset,
            key: r.key === null ? null : r.key.toString(),
            value: r.value === null ? null : r.value.toString(),
            headers: r.headers.map((x) => [x.key, x.value === null ? null : x.value.toString()]),
            compression: h.compression,
          })
        }
      }
      offset = h.baseOffset + h.lastOffsetDelta + 1
      pos += 12 + h.batchLength
    }
  }
  return out
}

/** The group is Stable with `n` members, each holding at least one partition. */
function groupReady(broker: Broker, groupId: string, n: number): boolean {
  try {
    const d = broker.group(groupId).describe()
    return d.state === 'Stable' && d.members.length === n && d.members.every((m) => Object.values(m.assignment).flat().length > 0)
  } catch {
    return false // not known yet: nobody has joined
  }
}

function describeGroup(broker: Broker, groupId: string): string {
  try {
    return JSON.stringify(broker.group(groupId).describe())
  } catch (err) {
    return String(err)
  }
}

// ------------------------------------------------------------------------------------- metadata

test('kcat -L and -L -J: the one broker (node 0 at host:port, controller) and every topic with its partitions', async (t) => {
  if (!haveKcat(t)) return
  const { broker, port } = await serve(t)
  await broker.createTopic('orders', { partitions: 3 })
  await broker.createTopic('audit')

  const text = await kcat(t, port, ['-L', ...COMMON])
  assertExit(text, 0, 'kcat -L')
  assert.match(text.stdout, new RegExp(`from broker 0: 127\\.0\\.0\\.1:${port}/0`), `kcat -L names the broker it asked: ${show(text)}`)
  assert.match(text.stdout, / 1 brokers:\n {2}broker 0 at 127\.0\.0\.1:(\d+) \(controller\)\n/, `one broker, node 0, the controller: ${show(text)}`)
  assert.ok(text.stdout.includes(`broker 0 at 127.0.0.1:${port} (controller)`), `the broker is advertised at the listener's port ${port}: ${show(text)}`)
  assert.ok(text.stdout.includes('topic "orders" with 3 partitions:'), `orders has 3 partitions: ${show(text)}`)
  assert.ok(text.stdout.includes('topic "audit" with 1 partitions:'), `audit has 1 partition: ${show(text)}`)
  for (let p = 0; p < 3; p++) {
    assert.ok(text.stdout.includes(`partition ${p}, leader 0, replicas: 0, isrs: 0\n`), `orders partition ${p} is led by node 0: ${show(text)}`)
  }
  assert.doesNotMatch(text.stdout, /err|Broker:/i, `no topic or partition error: ${show(text)}`)

  const json = await kcat(t, port, ['-L', '-J', ...COMMON])
  assertExit(json, 0, 'kcat -L -J')
  const meta = JSON.parse(json.stdout) as {
    originating_broker: { id: number; name: string }
    controllerid: number
    brokers: Array<{ id: number; name: string }>
    topics: Array<{ topic: string; error?: string; partitions: Array<{ partition: number; leader: number; replicas: Array<{ id: number }>; isrs: Array<{ id: number }>; error?: string }> }>
  }
  assert.deepEqual(meta.brokers, [{ id: 0, name: `127.0.0.1:${port}` }])
  assert.equal(meta.controllerid, 0)
  assert.equal(meta.originating_broker.id, 0)
  const topics = meta.topics.filter((x) => !x.topic.startsWith('__')).sort((a, b) => a.topic.localeCompare(b.topic))
  assert.deepEqual(topics.map((x) => x.topic), ['audit', 'orders'])
  const partitions = (n: number): unknown[] => Array.from({ length: n }, (_, partition) => ({ partition, leader: 0, replicas: [{ id: 0 }], isrs: [{ id: 0 }] }))
  assert.deepEqual(topics[0], { topic: 'audit', partitions: partitions(1) })
  assert.deepEqual(topics[1], { topic: 'orders', partitions: partitions(3) })

  // -t asks for one topic only.
  const one = await kcat(t, port, ['-L', '-J', '-t', 'orders', ...COMMON])
  assertExit(one, 0, 'kcat -L -J -t orders')
  const oneMeta = JSON.parse(one.stdout) as { topics: Array<{ topic: string; partitions: unknown[] }> }
  assert.deepEqual(oneMeta.topics, [{ topic: 'orders', partitions: partitions(3) }])
})

// -------------------------------------------------------------------------------------- produce

test('kcat -P: stdin lines, -K: keys, -H headers, -p partition, -Z nulls — stored exactly as sent (and kept across a reopen)', async (t) => {
  if (!haveKcat(t)) return
  const dir = tempDir(t, 'kafkalite-kcat-')
  let broker = await Broker.open({ dir })
  t.after(() => broker.close())
  const port = (await broker.listen({ port: 0, host: '127.0.0.1' })).port
  await broker.createTopic('plain')
  await broker.createTopic('keyed')
  await broker.createTopic('parts', { partitions: 3 })

  // Plain lines: one record each, in order, without key or headers (kcat skips empty lines).
  const plain = await kcat(t, port, ['-P', '-t', 'plain', ...PRODUCE], 'alpha\nbeta gamma\n\ndelta\n')
  assertExit(plain, 0, 'kcat -P -t plain')
  assert.deepEqual(stored(broker, 'plain', 0).map(({ offset, key, value, headers }) => ({ offset, key, value, headers })), [
    { offset: 0, key: null, value: 'alpha', headers: [] },
    { offset: 1, key: null, value: 'beta gamma', headers: [] },
    { offset: 2, key: null, value: 'delta', headers: [] },
  ])

  // Keys split at ':' (the first one), two headers on every record; an empty key is an empty key, not null.
  const keyed = await kcat(t, port, ['-P', '-t', 'keyed', '-K:', '-H', 'trace=abc-1', '-H', 'tenant=t:1', ...PRODUCE], 'k1:v1\nk2:v2 with: colon\n:no key\nk4:\n')
  assertExit(keyed, 0, 'kcat -P -K: -H')
  const headers: Array<[string, string]> = [['trace', 'abc-1'], ['tenant', 't:1']]
  assert.deepEqual(stored(broker, 'keyed', 0).map(({ offset, key, value, headers }) => ({ offset, key, value, headers })), [
    { offset: 0, key: 'k1', value: 'v1', headers },
    { offset: 1, key: 'k2', value: 'v2 with: colon', headers },
    { offset: 2, key: '', value: 'no key', headers },
    { offset: 3, key: 'k4', value: '', headers },
  ])

  // -Z: an empty key or value is sent as null.
  const nulls = await kcat(t, port, ['-P', '-t', 'keyed', '-K:', '-Z', ...PRODUCE], 'tomb:\n:\n')
  assertExit(nulls, 0, 'kcat -P -K: -Z')
  assert.deepEqual(stored(broker, 'keyed', 0).slice(4).map(({ offset, key, value, headers }) => ({ offset, key, value, headers })), [
    { offset: 4, key: 'tomb', value: null, headers: [] },
    { offset: 5, key: null, value: null, headers: [] },
  ])

  // -p: every record to the partition named, none elsewhere.
  const parts = await kcat(t, port, ['-P', '-t', 'parts', '-p', '2', '-K:', ...PRODUCE], 'a:1\nb:2\nc:3\n')
  assertExit(parts, 0, 'kcat -P -p 2')
  assert.deepEqual(stored(broker, 'parts', 0), [], 'nothing in partition 0')
  assert.deepEqual(stored(broker, 'parts', 1), [], 'nothing in partition 1')
  assert.deepEqual(stored(broker, 'parts', 2).map(({ offset, key, value }) => ({ offset, key, value })), [
    { offset: 0, key: 'a', value: '1' },
    { offset: 1, key: 'b', value: '2' },
    { offset: 2, key: 'c', value: '3' },
  ])

  // A topic kcat produces to that does not exist yet is created (Metadata with auto-creation).
  const fresh = await kcat(t, port, ['-P', '-t', 'made-by-kcat', ...PRODUCE], 'first\n')
  assertExit(fresh, 0, 'kcat -P to a new topic')
  assert.ok(broker.hasTopic('made-by-kcat'), `the topic was created: ${show(fresh)}`)
  assert.deepEqual(stored(broker, 'made-by-kcat', 0).map((r) => r.value), ['first'])

  // What kcat wrote is in the data dir: a reopened broker reads the same records.
  const before = ['plain', 'keyed', 'parts'].map((name) => Array.from({ length: broker.topic(name).partitions }, (_, p) => stored(broker, name, p)))
  await broker.close()
  broker = await Broker.open({ dir })
  const after = ['plain', 'keyed', 'parts'].map((name) => Array.from({ length: broker.topic(name).partitions }, (_, p) => stored(broker, name, p)))
  assert.deepEqual(after, before)
})

// -------------------------------------------------------------------------------------- consume

test('kcat -C: -o beginning -e prints exactly what the in-process producer wrote; -o <offset>, -o -<n> and -c <n> bound it', async (t) => {
  if (!haveKcat(t)) return
  const { broker, port } = await serve(t)
  await broker.createTopic('src', { partitions: 3 })
  const producer = broker.producer()
  // Partition 0: keys, null key, null value, headers; partition 1: six plain records; partition 2: empty.
  await producer.send('src', [
    { partition: 0, key: 'k0', value: Buffer.from('v0'), headers: { h1: 'x', h2: 'y' }, timestamp: 1_700_000_000_000 },
    { partition: 0, key: null, value: Buffer.from('no key'), timestamp: 1_700_000_000_001 },
    { partition: 0, key: 'gone', value: null, timestamp: 1_700_000_000_002 },
  ])
  for (let i = 0; i < 6; i++) await producer.send('src', { partition: 1, key: `key-${i}`, value: Buffer.from(`value-${i}`), timestamp: 1_700_000_001_000 + i })

  // %K and %S print -1 for null, so null and empty are told apart.
  const fmt = '%p|%o|%T|%K|%k|%S|%s|%h\n'
  const all = await kcat(t, port, ['-C', '-t', 'src', '-o', 'beginning', '-e', '-q', '-f', fmt, ...CONSUME])
  assertExit(all, 0, 'kcat -C -o beginning -e')
  const expected = [
    '0|0|1700000000000|2|k0|2|v0|h1=x,h2=y',
    '0|1|1700000000001|-1||6|no key|',
    '0|2|1700000000002|4|gone|-1||',
    ...Array.from({ length: 6 }, (_, i) => `1|${i}|${1_700_000_001_000 + i}|5|key-${i}|7|value-${i}|`),
  ]
  // Partitions are fetched concurrently: the order holds within a partition only.
  const got = lines(all.stdout)
  assert.deepEqual([...got].sort(), [...expected].sort(), `every record exactly once: ${show(all)}`)
  for (const p of ['0', '1']) {
    assert.deepEqual(got.filter((l) => l.startsWith(`${p}|`)), expected.filter((l) => l.startsWith(`${p}|`)), `partition ${p} in offset order`)
  }

  // -J: the JSON envelope, with null key and payload as null.
  const json = await kcat(t, port, ['-C', '-t', 'src', '-p', '0', '-o', 'beginning', '-e', '-q', '-J', ...CONSUME])
  assertExit(json, 0, 'kcat -C -J')
  const envelopes = lines(json.stdout).map((l) => JSON.parse(l) as Record<string, unknown>)
  assert.deepEqual(envelopes.map(({ topic, partition, offset, tstype, ts, key, payload, headers }) => ({ topic, partition, offset, tstype, ts, key, payload, headers })), [
    { topic: 'src', partition: 0, offset: 0, tstype: 'create', ts: 1_700_000_000_000, key: 'k0', payload: 'v0', headers: ['h1', 'x', 'h2', 'y'] },
    { topic: 'src', partition: 0, offset: 1, tstype: 'create', ts: 1_700_000_000_001, key: null, payload: 'no key', headers: undefined },
    { topic: 'src', partition: 0, offset: 2, tstype: 'create', ts: 1_700_000_000_002, key: 'gone', payload: null, headers: undefined },
  ])

  // An absolute offset with a count: exactly offsets 2 and 3, and kcat stops by itself.
  const slice = await kcat(t, port, ['-C', '-t', 'src', '-p', '1', '-o', '2', '-c', '2', '-q', '-f', '%o:%s\n', ...CONSUME])
  assertExit(slice, 0, 'kcat -C -o 2 -c 2')
  assert.deepEqual(lines(slice.stdout), ['2:value-2', '3:value-3'])

  // -o -2: the last two records of the partition.
  const tail = await kcat(t, port, ['-C', '-t', 'src', '-p', '1', '-o', '-2', '-e', '-q', '-f', '%o:%s\n', ...CONSUME])
  assertExit(tail, 0, 'kcat -C -o -2 -e')
  assert.deepEqual(lines(tail.stdout), ['4:value-4', '5:value-5'])

  // -c without -p: the count is over all partitions.
  const counted = await kcat(t, port, ['-C', '-t', 'src', '-o', 'beginning', '-c', '4', '-q', '-f', '%p:%o\n', ...CONSUME])
  assertExit(counted, 0, 'kcat -C -c 4')
  assert.equal(lines(counted.stdout).length, 4, `four records: ${show(counted)}`)

  // The empty partition and -o end: nothing, and -e still exits.
  for (const args of [['-p', '2', '-o', 'beginning'], ['-o', 'end']]) {
    const none = await kcat(t, port, ['-C', '-t', 'src', ...args, '-e', '-q', '-f', '%p:%o\n', ...CONSUME])
    assertExit(none, 0, `kcat -C ${args.join(' ')} -e`)
    assert.equal(none.stdout, '', `nothing to read with ${args.join(' ')}`)
  }

  // Records appended while kcat waits at the end reach it (Fetch long polls wake on append).
  const follower = startKcat(t, port, ['-C', '-t', 'src', '-p', '2', '-o', 'end', '-c', '2', '-q', '-u', '-f', '%o:%s\n', ...CONSUME])
  // kcat says nothing when it has found the end: append one record at a time until it has printed two.
  const deadline = Date.now() + KCAT_MS
  for (let i = 0; lines(follower.stdout()).length < 2 && follower.child.exitCode === null; i++) {
    assert.ok(Date.now() < deadline, `kcat -o end printed ${JSON.stringify(follower.stdout())} after ${i} appends`)
    const before = lines(follower.stdout()).length
    await producer.send('src', { partition: 2, value: Buffer.from(`late-${i}`) })
    await waitFor(() => lines(follower.stdout()).length > before || follower.child.exitCode !== null, 250, 'kcat to print the record').catch(() => undefined)
  }
  const followed = await follower.exit()
  assertExit(followed, 0, 'kcat -C -o end -c 2')
  const printed = lines(followed.stdout)
  assert.equal(printed.length, 2, `two records appended after kcat started: ${show(followed)}`)
  const [first] = printed[0]!.split(':')
  const base = Number(first)
  assert.deepEqual(printed, [`${base}:late-${base}`, `${base + 1}:late-${base + 1}`], `consecutive records from where kcat joined: ${show(followed)}`)
})

// ------------------------------------------------------------------------------- consumer groups

/** A kcat -G member printing `partition:offset:value` lines, unbuffered. */
function groupMember(t: TestContext, port: number, groupId: string, topic: string, extra: string[] = []): KcatProcess {
  return startKcat(t, port, ['-G', groupId, '-q', '-u', '-f', '%p:%o:%s\n', ...GROUP, ...extra, topic])
}

test('kcat -G: two members share a 4-partition topic, every record read once, offsets committed; a rerun of the group reads only what is new', async (t) => {
  if (!haveKcat(t)) return
  const { broker, port } = await serve(t)
  await broker.createTopic('jobs', { partitions: 4 })
  const a = groupMember(t, port, 'workers', 'jobs', ['-X', 'partition.assignment.strategy=range'])
  const b = groupMember(t, port, 'workers', 'jobs', ['-X', 'partition.assignment.strategy=range'])
  await waitFor(() => groupReady(broker, 'workers', 2), 10_000, 'two kcat members with partitions each').catch((e: Error) => {
    throw new Error(`${e.message}: ${describeGroup(broker, 'workers')}`)
  })
  const description = broker.group('workers').describe()
  assert.equal(description.protocol, 'range')
  const owned = description.members.map((m) => m.assignment.jobs ?? []).flat().sort()
  assert.deepEqual(owned, [0, 1, 2, 3], `the 4 partitions split between the members: ${JSON.stringify(description)}`)

  const producer = broker.producer()
  const expected: string[] = []
  for (let i = 0; i < 40; i++) {
    const [meta] = await producer.send('jobs', { partition: i % 4, value: Buffer.from(`job-${i}`) })
    expected.push(`${meta!.partition}:${meta!.offset}:job-${i}`)
  }
  const total = (): number => lines(a.stdout()).length + lines(b.stdout()).length
  await waitFor(() => total() >= 40, 10_000, 'the members to print 40 records').catch((e: Error) => {
    throw new Error(`${e.message}: a printed ${JSON.stringify(a.stdout())}, b printed ${JSON.stringify(b.stdout())}`)
  })
  // SIGTERM: kcat closes its consumer, which commits the offsets it stored and leaves the group.
  a.child.kill('SIGTERM')
  b.child.kill('SIGTERM')
  const [ra, rb] = await Promise.all([a.exit(), b.exit()])
  assertExit(ra, 0, 'member a after SIGTERM')
  assertExit(rb, 0, 'member b after SIGTERM')
  const seenA = lines(ra.stdout)
  const seenB = lines(rb.stdout)
  assert.ok(seenA.length > 0 && seenB.length > 0, `both members read records: a ${seenA.length}, b ${seenB.length}`)
  assert.deepEqual([...seenA, ...seenB].sort(), [...expected].sort(), 'together they read every record exactly once')
  const partitionsOf = (seen: string[]): number[] => [...new Set(seen.map((l) => Number(l.split(':')[0])))].sort()
  const assignedTo = description.members.map((m) => [...(m.assignment.jobs ?? [])].sort())
  assert.ok(assignedTo.some((p) => JSON.stringify(p) === JSON.stringify(partitionsOf(seenA))), `a read only its partitions: ${JSON.stringify(partitionsOf(seenA))} vs ${JSON.stringify(assignedTo)}`)
  assert.ok(assignedTo.some((p) => JSON.stringify(p) === JSON.stringify(partitionsOf(seenB))), `b read only its partitions: ${JSON.stringify(partitionsOf(seenB))} vs ${JSON.stringify(assignedTo)}`)

  const group = broker.group('workers')
  assert.deepEqual(group.lag().map(({ partition, committed, end, lag }) => ({ partition, committed, end, lag })), [0, 1, 2, 3].map((partition) => ({ partition, committed: 10, end: 10, lag: 0 })))
  assert.deepEqual(group.committed().map(({ topic, partition, offset }) => ({ topic, partition, offset })), [0, 1, 2, 3].map((partition) => ({ topic: 'jobs', partition, offset: 10 })))
  await waitFor(() => group.describe().members.length === 0, 5_000, 'both members to leave')

  // Same group again: it starts at the committed offsets, so there is nothing to read.
  const again = await groupMember(t, port, 'workers', 'jobs', ['-e']).exit()
  assertExit(again, 0, 'a rerun of the group with -e')
  assert.equal(again.stdout, '', `nothing already consumed is read again: ${show(again)}`)

  // Records appended since: the next run reads exactly those, and commits them.
  await producer.send('jobs', [{ partition: 1, value: Buffer.from('new-1') }, { partition: 3, value: Buffer.from('new-3') }])
  const next = await groupMember(t, port, 'workers', 'jobs', ['-e']).exit()
  assertExit(next, 0, 'a third run of the group with -e')
  assert.deepEqual(lines(next.stdout).sort(), ['1:10:new-1', '3:10:new-3'])
  assert.deepEqual(group.lag().map(({ partition, committed, lag }) => ({ partition, committed, lag })), [
    { partition: 0, committed: 10, lag: 0 },
    { partition: 1, committed: 11, lag: 0 },
    { partition: 2, committed: 10, lag: 0 },
    { partition: 3, committed: 11, lag: 0 },
  ])
})

for (const { first, assignor } of [{ first: 'kafkalite', assignor: 'range' }, { first: 'kcat', assignor: 'roundrobin' }] as const) {
  test(`one group, a kcat member and an in-process consumer (${first} joins first and leads, ${assignor}): every record once, all offsets committed`, async (t) => {
    if (!haveKcat(t)) return
    const { broker, port } = await serve(t)
    const groupId = `mixed-${assignor}`
    await broker.createTopic('events', { partitions: 4 })
    const received: Message[] = []
    let consumer: Consumer | null = null
    const startConsumer = async (): Promise<void> => {
      consumer = broker.consumer({ groupId, fromBeginning: true, partitionAssigners: [assignor], sessionTimeoutMs: 6_000, heartbeatIntervalMs: 200 })
      await consumer.subscribe('events')
      void consumer.run({ eachMessage: (m) => void received.push(m) })
    }
    const startMember = (): KcatProcess => groupMember(t, port, groupId, 'events', ['-X', `partition.assignment.strategy=${assignor}`])
    let member: KcatProcess
    if (first === 'kafkalite') {
      await startConsumer()
      await waitFor(() => groupReady(broker, groupId, 1), 5_000, 'the in-process consumer to join')
      member = startMember()
    } else {
      member = startMember()
      await waitFor(() => groupReady(broker, groupId, 1), 10_000, 'the kcat member to join')
      await startConsumer()
    }
    await waitFor(() => groupReady(broker, groupId, 2), 10_000, 'both members with partitions each').catch((e: Error) => {
      throw new Error(`${e.message}: ${describeGroup(broker, groupId)}`)
    })
    const d = broker.group(groupId).describe()
    assert.equal(d.protocol, assignor)
    const kcatMember = d.members.find((m) => m.clientId === 'rdkafka')
    assert.ok(kcatMember, `a librdkafka member in the group: ${JSON.stringify(d)}`)
    const inProcess = consumer!.assignment().map((a) => a.partition).sort()
    const kcatPartitions = [...(kcatMember.assignment.events ?? [])].sort()
    assert.equal(inProcess.length, 2, `the in-process consumer holds 2 of 4 partitions: ${JSON.stringify(d)}`)
    assert.deepEqual([...inProcess, ...kcatPartitions].sort(), [0, 1, 2, 3], `the members hold disjoint halves: ${JSON.stringify(d)}`)

    const producer = broker.producer()
    const expected: string[] = []
    for (let i = 0; i < 40; i++) {
      const [meta] = await producer.send('events', { partition: i % 4, value: Buffer.from(`e${i}`) })
      expected.push(`${meta!.partition}:${meta!.offset}:e${i}`)
    }
    const total = (): number => received.length + lines(member.stdout()).length
    await waitFor(() => total() >= 40, 10_000, 'the two members to read 40 records').catch((e: Error) => {
      throw new Error(`${e.message}: in-process ${received.length}, kcat printed ${JSON.stringify(member.stdout())}`)
    })
    member.child.kill('SIGTERM')
    const r = await member.exit()
    assertExit(r, 0, 'the kcat member after SIGTERM')
    await consumer!.close()

    const byKcat = lines(r.stdout)
    const byConsumer = received.map((m) => `${m.partition}:${m.offset}:${(m.value as Buffer).toString()}`)
    assert.ok(byKcat.every((l) => kcatPartitions.includes(Number(l.split(':')[0]))), `kcat read only its partitions ${kcatPartitions}: ${byKcat}`)
    assert.ok(received.every((m) => inProcess.includes(m.partition)), `the in-process consumer read only its partitions ${inProcess}`)
    assert.deepEqual([...byKcat, ...byConsumer].sort(), [...expected].sort(), 'every record read exactly once by the group')
    assert.deepEqual(broker.group(groupId).lag().map(({ partition, committed, lag }) => ({ partition, committed, lag })), [0, 1, 2, 3].map((partition) => ({ partition, committed: 10, lag: 0 })))
  })
}

// ---------------------------------------------------------------------------------- compression

/** 30 lines of 200 repeated bytes each: a batch every codec shrinks. */
const COMPRESSIBLE = Array.from({ length: 30 }, (_, i) => `${String(i).padStart(2, '0')}-${'x'.repeat(200)}`)

// librdkafka decides from the broker's ApiVersions whether it may compress a batch, and sends it
// uncompressed otherwise, logging "Broker does not support compression type <codec>: not
// compressing batch". `-d msg` shows that line; a test would pass vacuously without this check.
const NOT_COMPRESSED = /Broker does not support compression type (\w+): not compressing batch/

/**
 * librdkafka sent `codec` batches. Before the fix of confluentinc/librdkafka#4956 (so in 2.0.2) it
 * checks gzip, snappy and lz4 against Produce v0 in the broker's ApiVersions: a broker that
 * advertises Produce from v3 gets them uncompressed. Kafka 4 advertises Produce from v0 for this
 * reason (KAFKA-18659) while it refuses v0-v2 requests.
 */
function assertCompressed(r: KcatResult, codec: string): void {
  const line = NOT_COMPRESSED.exec(r.stderr)
  assert.ok(line === null, `librdkafka sent the ${codec} batch uncompressed ("${line?.[0]}"): the listener's ApiVersions must advertise Produce from v0, ` +
    'as Kafka does since KAFKA-18659, or librdkafka before the fix of confluentinc/librdkafka#4956 never compresses gzip, snappy or lz4')
}

for (const codec of ['gzip', 'snappy', 'lz4'] as const) {
  test(`kcat -P -z ${codec}: the batches arrive ${codec}-compressed, are stored as sent, and read back exactly`, async (t) => {
    if (!haveKcat(t)) return
    const { broker, port } = await serve(t)
    const topic = `zipped-${codec}`
    await broker.createTopic(topic)
    const r = await kcat(t, port, ['-P', '-t', topic, '-z', codec, '-d', 'msg', ...PRODUCE], COMPRESSIBLE.join('\n') + '\n')
    assertExit(r, 0, `kcat -P -z ${codec}`)
    assertCompressed(r, codec)
    const records = stored(broker, topic, 0)
    assert.deepEqual(records.map((x) => x.value), COMPRESSIBLE, 'the values, in order')
    assert.deepEqual([...new Set(records.map((x) => x.compression))], [codec], `stored as the ${codec} batches kcat sent`)

    const back = await kcat(t, port, ['-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o:%s\n', ...CONSUME])
    assertExit(back, 0, `kcat -C of the ${codec} batches`)
    assert.deepEqual(lines(back.stdout), COMPRESSIBLE.map((v, i) => `${i}:${v}`), 'read back exactly')
  })
}

for (const codec of ['zstd'] as const) {
  test(`kcat -P -z ${codec}: the broker refuses the batch with UNSUPPORTED_COMPRESSION_TYPE (76), kcat fails, nothing is stored`, async (t) => {
    if (!haveKcat(t)) return
    const { broker, port } = await serve(t)
    const topic = `z-${codec}`
    await broker.createTopic(topic)
    const r = await kcat(t, port, ['-P', '-t', topic, '-z', codec, '-d', 'msg', ...PRODUCE], COMPRESSIBLE.join('\n') + '\n')
    assertCompressed(r, codec)
    assert.notEqual(r.code, 0, `kcat reports failed deliveries with a non-zero exit: ${show(r)}`)
    const failures = r.stderr.split('\n').filter((l) => l.includes('Delivery failed for message: Broker: Unsupported compression type'))
    assert.equal(failures.length, COMPRESSIBLE.length, `every message failed with error 76: ${show(r)}`)
    const p = broker.topic(topic).partition(0)
    assert.equal(p.highWatermark, 0, 'nothing was appended')
    assert.equal(p.readBatches({ offset: 0, isolation: 'read_uncommitted' }).bytes.length, 0, 'no batch was stored')
  })
}
