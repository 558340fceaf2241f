// The event store's crash loop: a child (children/crash-appender.ts) opens `EventStore.open({ dir })`
// and appends from concurrent workers with exact expected revisions (single-stream appends of 1–5
// events, appendToStreams across two or three streams, refused wrong expectations), sometimes with
// index checkpoints on a timer and a projection saving its checkpoint; this process kills it with
// SIGKILL at a random moment (sometimes while it opens), reopens the dir and checks:
//   - every acknowledged append is readable, its events in order at the acknowledged revisions;
//   - every stream's revisions are 0..n without a gap, getStreamRevision is the last one read, and
//     readAll holds the same events of each stream as readStream, each event once;
//   - no partial append is visible: every append seen has all its events (each event carries its
//     append's id and event count), at consecutive revisions of each of its streams;
//   - a refused append left nothing, and what an earlier run stored is still there unchanged;
//   - the index the store opened with (a checkpoint caught up from the log) reads the same as one
//     rebuilt from the log (the `*.index` files deleted);
//   - the projection's saved checkpoint is at least the last save that resolved and never past the
//     stored events, and a subscription from it reads exactly the events after it.
// The next run appends to the same dir, expecting the revisions verified here (the child fails when
// the store it opens disagrees). KAFKALITE_CRASH_ITERATIONS sets the number of runs (default 8);
// each run prints its seed, KAFKALITE_SEED=<n> repeats a whole loop's workloads and kill delays.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Broker } from '../../src/index.js'
import { EventStore, StreamNotFoundError, type Position, type RecordedEvent } from '../../src/eventstore/index.js'
import { exited, killIfRunning, startFixture, stderrOf } from '../fixtures/child.js'
import { deferred, tempDir, test, withDeadline } from '../fixtures/helpers.js'
import { mulberry32 } from '../fixtures/random.js'

const ITERATIONS = Number(process.env.KAFKALITE_CRASH_ITERATIONS ?? 8)
const TIMEOUT_MS = Number(process.env.KAFKALITE_TEST_TIMEOUT ?? 120_000)
const PARTITIONS = 3
const STREAMS = Array.from({ length: 10 }, (_, i) => `account-${i}`)
const PROJECTION = 'crash-projection'

interface Part {
  s: string
  from: number
  to: number
  ids: string[]
  pos: Position
}
type Line =
  | { k: 'opening' }
  | { k: 'ready'; partitions: number[] }
  | { k: 'ack'; a: string; n: number; parts: Part[] }
  | { k: 'rejected'; a: string; s: string }
  | { k: 'saved'; offsets: number[] }

interface EventData {
  a: string
  n: number
  i: number
  s: string
}

/** What one open of the store reads: each stream (readStream and getStreamRevision) and readAll. */
interface Snapshot {
  streams: Record<string, string[]>
  revisions: Record<string, number | null>
  all: string[]
}

const entry = (e: RecordedEvent): string => `${e.streamId}@${e.revision} ${e.id} p${e.position.partition}/${e.position.offset}`

/** The child's stdout, parsed line by line as it arrives; `closed` resolves at its end. */
function readLines(child: ChildProcess): { lines: Line[]; opening: Promise<void>; ready: Promise<void>; closed: Promise<void> } {
  const lines: Line[] = []
  const opening = deferred()
  const ready = deferred()
  const closed = deferred()
  let rest = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    rest += chunk
    let nl: number
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = JSON.parse(rest.slice(0, nl)) as Line
      rest = rest.slice(nl + 1)
      lines.push(line)
      if (line.k === 'opening') opening.resolve()
      if (line.k === 'ready') ready.resolve()
    }
  })
  // A line cut by the kill (no newline) was never reported: it is dropped.
  child.stdout!.on('close', () => closed.resolve())
  return { lines, opening: opening.promise, ready: ready.promise, closed: closed.promise }
}

async function snapshot(store: EventStore): Promise<{ snap: Snapshot; events: Map<string, RecordedEvent[]>; all: RecordedEvent[] }> {
  const snap: Snapshot = { streams: {}, revisions: {}, all: [] }
  const events = new Map<string, RecordedEvent[]>()
  for (const s of STREAMS) {
    const list: RecordedEvent[] = []
    try {
      for await (const e of store.readStream(s)) list.push(e)
    } catch (err) {
      if (!(err instanceof StreamNotFoundError)) throw err
    }
    events.set(s, list)
    snap.streams[s] = list.map(entry)
    snap.revisions[s] = store.getStreamRevision(s)
  }
  const all: RecordedEvent[] = []
  for await (const e of store.readAll()) all.push(e)
  snap.all = all.map(entry)
  return { snap, events, all }
}

/** Removes every `*.index` file under the store's dir (the stream index checkpoints). */
function deleteIndexCheckpoints(dir: string): number {
  let n = 0
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.index')) {
        rmSync(p)
        n++
      }
    }
  }
  walk(join(dir, '__eventstore'))
  return n
}

test(`event store crash loop: kill -9 during appends, ${ITERATIONS} runs, every acknowledged append readable, no partial append`, async (t) => {
  const baseSeed = Number(process.env.KAFKALITE_SEED ?? Date.now() % 1e9)
  t.diagnostic(`seed ${baseSeed} (KAFKALITE_SEED=${baseSeed} repeats this loop)`)
  const random = mulberry32(baseSeed)
  const dir = tempDir(t, 'kafkalite-es-crash-')
  // The model: every acknowledged append of every run, the refused ones, what each stream held at
  // the last check, and the last checkpoint the projection saved.
  const acked = new Map<string, { n: number; parts: Part[] }>()
  const rejected = new Set<string>()
  const stored = new Map<string, string[]>(STREAMS.map((s) => [s, []]))
  const state: Record<string, number | null> = Object.fromEntries(STREAMS.map((s) => [s, null]))
  let checkpointFloor: number[] | null = null
  const totals = { acks: 0, events: 0, unacked: 0, rejected: 0, saves: 0, killsDuringOpen: 0, crossPartition: 0 }

  for (let run = 0; run < ITERATIONS; run++) {
    const seed = Math.floor(random() * 2 ** 31)
    const r = mulberry32(seed)
    const spawned = Date.now()
    const child = startFixture('../eventstore/children/crash-appender.ts', [dir, String(seed), String(run), String(PARTITIONS), JSON.stringify(state)])
    t.after(() => killIfRunning(child))
    const out = readLines(child)
    const died = new Promise<never>((_, reject) => child.once('exit', (code, sig) => reject(new Error(`child exited by itself (${code ?? sig}): ${stderrOf(child)}`))))
    died.catch(() => undefined)
    const duringOpen = r() < 0.15
    const delayMs = duringOpen ? Math.floor(r() * 30) : 20 + Math.floor(r() ** 2 * 600)
    const context = `run ${run} (seed ${seed}, KAFKALITE_SEED=${baseSeed}), killed ${delayMs} ms after ${duringOpen ? 'opening began' : 'ready'}`
    await withDeadline(Promise.race([duringOpen ? out.opening : out.ready, died]), 20_000, `${context}: child start`)
    const startMs = Date.now() - spawned
    await new Promise((res) => setTimeout(res, delayMs))
    assert.equal(child.exitCode, null, `${context}: the child is still running before the kill: ${stderrOf(child)}`)
    child.kill('SIGKILL')
    const exit = await exited(child, 10_000)
    assert.equal(exit.signal, 'SIGKILL', `${context}: the child died by itself (${exit.code}): ${stderrOf(child)}`)
    await withDeadline(out.closed, 10_000, `${context}: child's stdout`)
    if (!out.lines.some((l) => l.k === 'ready')) totals.killsDuringOpen++

    let lastSaved: number[] | null = null
    let runAcks = 0
    for (const line of out.lines) {
      if (line.k === 'ack') {
        acked.set(line.a, { n: line.n, parts: line.parts })
        runAcks++
        if (new Set(line.parts.map((p) => p.pos.partition)).size > 1) totals.crossPartition++
      } else if (line.k === 'rejected') {
        rejected.add(line.a)
        totals.rejected++
      } else if (line.k === 'saved') {
        lastSaved = line.offsets
        totals.saves++
      }
    }
    totals.acks += runAcks
    if (lastSaved) checkpointFloor = lastSaved

    const checking = Date.now()
    // 1. Reopen as a restarted service would: the index from its checkpoint, caught up from the log.
    const store = await withDeadline(EventStore.open({ dir }, { partitions: PARTITIONS }), 10_000, `${context}: reopen`)
    let first: Snapshot
    let firstAll: RecordedEvent[]
    try {
      const { snap, events, all } = await snapshot(store)
      first = snap
      firstAll = all
      for (const s of STREAMS) {
        const list = events.get(s)!
        assert.deepEqual(list.map((e) => e.revision), list.map((_, i) => i), `${context}: stream ${s} has revisions 0..${list.length - 1} without a gap`)
        assert.equal(store.getStreamRevision(s), list.length === 0 ? null : list.length - 1, `${context}: getStreamRevision(${s}) is the last revision readStream gives`)
        assert.ok(list.every((e) => e.streamId === s && e.position.partition === store.partitionOf(s)), `${context}: stream ${s}'s events are its own, on its partition`)
        const before = stored.get(s)!
        assert.deepEqual(list.slice(0, before.length).map((e) => e.id), before, `${context}: stream ${s} still holds what the earlier runs stored`)
        const fromAll = all.filter((e) => e.streamId === s).map(entry)
        assert.deepEqual(fromAll, list.map(entry), `${context}: readAll holds the same events of ${s} as readStream, in order`)
      }
      assert.equal(new Set(all.map((e) => e.id)).size, all.length, `${context}: every event id is read once by readAll`)
      assert.ok(all.every((e) => STREAMS.includes(e.streamId)), `${context}: readAll reads only the streams written`)

      // Every acknowledged append at its revisions, with its ids in order.
      for (const [a, ack] of acked) {
        for (const part of ack.parts) {
          const list = events.get(part.s)!
          const got = list.slice(part.from, part.to + 1)
          assert.deepEqual(got.map((e) => e.id), part.ids, `${context}: acknowledged append ${a} is in ${part.s} at revisions ${part.from}..${part.to}`)
          assert.ok(got.every((e) => (e.data as EventData).a === a), `${context}: revisions ${part.from}..${part.to} of ${part.s} are append ${a}'s events`)
          assert.deepEqual(got[got.length - 1]!.position, part.pos, `${context}: append ${a}'s result position is where its last event of ${part.s} is`)
        }
      }
      // No partial append: every append seen has all its events, at consecutive revisions per stream.
      const byAppend = new Map<string, RecordedEvent[]>()
      for (const e of all) {
        const d = e.data as EventData
        assert.equal(d.s, e.streamId, `${context}: event ${e.id} of append ${d.a} is in the stream it was appended to`)
        byAppend.set(d.a, [...(byAppend.get(d.a) ?? []), e])
      }
      for (const [a, list] of byAppend) {
        const n = (list[0]!.data as EventData).n
        assert.deepEqual(
          list.map((e) => (e.data as EventData).i).sort((x, y) => x - y),
          Array.from({ length: n }, (_, i) => i),
          `${context}: append ${a} is whole: all ${n} of its events are stored (found ${list.map((e) => `${e.streamId}@${e.revision}`).join(', ')})`,
        )
        for (const s of new Set(list.map((e) => e.streamId))) {
          const revs = list.filter((e) => e.streamId === s).map((e) => e.revision)
          assert.deepEqual(revs, revs.map((_, i) => revs[0]! + i), `${context}: append ${a}'s events in ${s} are at consecutive revisions`)
        }
        assert.ok(!rejected.has(a), `${context}: append ${a} was refused (wrong expected revision) yet its events are stored`)
        if (!acked.has(a)) totals.unacked++
      }
      totals.events = all.length
    } finally {
      await store.close()
    }

    // 2. The same reads from an index rebuilt from the log alone.
    const removed = deleteIndexCheckpoints(dir)
    assert.ok(removed >= 1, `${context}: the store wrote its index checkpoints at close (found ${removed})`)
    const broker = await Broker.open({ dir })
    try {
      const rebuilt = await EventStore.open({ broker })
      try {
        const { snap } = await snapshot(rebuilt)
        assert.deepEqual(snap, first, `${context}: the index the store opened with reads the same as one rebuilt from the log`)

        // 3. The projection's checkpoint: not behind the last save that resolved, never past the
        // stored events, and a subscription from it reads exactly the events after it.
        const loaded = rebuilt.checkpoints.load(PROJECTION)
        if (checkpointFloor) {
          assert.ok(loaded, `${context}: the projection's saved checkpoint is loaded`)
          loaded.offsets.forEach((o, p) => assert.ok(o >= checkpointFloor![p]!, `${context}: checkpoint offset ${o} of partition ${p} is not behind the last save reported (${checkpointFloor![p]})`))
        }
        if (loaded) {
          const topic = broker.topic('events')
          assert.equal(loaded.offsets.length, PARTITIONS, `${context}: the checkpoint has an offset per partition`)
          loaded.offsets.forEach((o, p) =>
            assert.ok(o <= topic.partition(p).lastStableOffset, `${context}: checkpoint offset ${o} of partition ${p} is not past the stored events (end ${topic.partition(p).lastStableOffset})`),
          )
          const expected = firstAll.filter((e) => e.position.offset >= loaded.offsets[e.position.partition]!).map(entry).sort()
          const sub = rebuilt.subscribeToAll({ fromPosition: loaded })
          const caught = deferred()
          sub.once('caughtUp', () => caught.resolve())
          const got: string[] = []
          const reading = (async () => {
            for await (const e of sub) got.push(entry(e))
          })()
          await withDeadline(caught.promise, 10_000, `${context}: subscription from the checkpoint catching up`)
          sub.unsubscribe()
          await withDeadline(reading, 5000, `${context}: subscription ending`)
          assert.deepEqual(got.sort(), expected, `${context}: a subscription from the saved checkpoint reads exactly the events after it`)
          checkpointFloor = loaded.offsets
        }
      } finally {
        await rebuilt.close()
      }
    } finally {
      await broker.close()
    }

    for (const s of STREAMS) {
      const ids = first.streams[s]!.map((x) => x.split(' ')[1]!)
      stored.set(s, ids)
      state[s] = ids.length === 0 ? null : ids.length - 1
    }
    t.diagnostic(`${context}: ${runAcks} appends acknowledged, ${first.all.length} events stored; child start ${startMs} ms, checks ${Date.now() - checking} ms`)
  }
  const summary =
    `event store crash loop (seed ${baseSeed}): ${ITERATIONS} runs (${totals.killsDuringOpen} killed before ready), ${totals.acks} acknowledged appends ` +
    `(${totals.crossPartition} across partitions), ${totals.unacked} appends stored without an ack, ${totals.rejected} refused, ` +
    `${totals.saves} checkpoint saves, ${totals.events} events stored`
  t.diagnostic(summary)
  console.log(summary)
  assert.ok(totals.acks > ITERATIONS, `only ${totals.acks} acknowledged appends over ${ITERATIONS} runs`)
}, TIMEOUT_MS)

// What the crash loop finds when a kill lands inside a cross-partition append: the reopen aborts that
// append's transaction (the coordinator aborts every Ongoing one), and the store's next cross-partition
// append commits a transaction of the same transactional id, so of the same producer id. Made
// deterministic here: a transaction of the store's id (`kafkalite-eventstore-<topic>`) holding event
// records of two streams is aborted, as the reopen does, before the store's own appends.
/** An event record as the store writes it (record-format.ts), for a transaction that is then aborted. */
function eventRecordOf(streamId: string, revision: number, partition: number, id: string): { key: string; value: string; headers: Record<string, string>; partition: number } {
  return {
    key: streamId,
    value: JSON.stringify({ aborted: true }),
    headers: { 'es.type': 'Aborted', 'es.id': id, 'es.revision': String(revision), 'es.content-type': 'application/json' },
    partition,
  }
}

async function abortedAppend(broker: Broker, records: ReturnType<typeof eventRecordOf>[]): Promise<void> {
  const producer = broker.producer({ transactionalId: 'kafkalite-eventstore-events' })
  try {
    const tx = await producer.transaction()
    await tx.send('events', records)
    await tx.abort()
  } finally {
    await producer.close()
  }
}

async function readAllOf(store: EventStore): Promise<string[]> {
  const out: string[] = []
  for await (const e of store.readAll()) out.push(`${e.streamId}@${e.revision} ${e.type}`)
  return out
}

async function streamOf(store: EventStore, s: string): Promise<string[] | 'not found'> {
  const out: string[] = []
  try {
    for await (const e of store.readStream(s)) out.push(`${e.streamId}@${e.revision} ${e.type}`)
  } catch (err) {
    if (err instanceof StreamNotFoundError) return 'not found'
    throw err
  }
  return out
}

test('an append committed after an aborted cross-partition append (as a reopen after kill -9 leaves it) is read by readAll, subscriptions and a rebuilt index', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const store = await EventStore.open({ broker }, { partitions: 2 })
  t.after(() => store.close())
  const names = Array.from({ length: 40 }, (_, i) => `acct-${i}`)
  const [a, c] = names.filter((s) => store.partitionOf(s) === 0)
  const [b] = names.filter((s) => store.partitionOf(s) === 1)
  await abortedAppend(broker, [eventRecordOf(a!, 0, 0, 'x1'), eventRecordOf(b!, 0, 1, 'x2')])
  await store.appendToStreams([
    { streamId: a!, events: [{ type: 'Opened', data: 1 }, { type: 'Deposited', data: 2 }], expectedRevision: 'no_stream' },
    { streamId: b!, events: [{ type: 'Opened', data: 3 }], expectedRevision: 'no_stream' },
  ])
  await store.appendToStream(c!, { type: 'Opened', data: 4 })
  const expected = [`${a}@0 Opened`, `${a}@1 Deposited`, `${c}@0 Opened`, `${b}@0 Opened`]
  assert.deepEqual(await streamOf(store, a!), expected.slice(0, 2), `the store's own index reads ${a}`)
  assert.deepEqual(await readAllOf(store), expected, 'readAll reads the committed append after the aborted one (partition 0, then 1)')

  const sub = store.subscribeToAll({ fromPosition: 'start' })
  const caught = deferred()
  sub.once('caughtUp', () => caught.resolve())
  const seen: string[] = []
  const reading = (async () => {
    for await (const e of sub) seen.push(`${e.streamId}@${e.revision} ${e.type}`)
  })()
  await withDeadline(caught.promise, 5000, 'subscription catching up')
  sub.unsubscribe()
  await withDeadline(reading, 5000, 'subscription ending')
  assert.deepEqual(seen.sort(), [...expected].sort(), 'a subscription from the start hands out the committed append after the aborted one')

  const rebuilt = await EventStore.open({ broker })
  t.after(() => rebuilt.close())
  assert.deepEqual(await streamOf(rebuilt, a!), expected.slice(0, 2), `an index rebuilt from the log reads ${a}`)
  assert.equal(rebuilt.getStreamRevision(b!), 0, `an index rebuilt from the log has ${b} at revision 0`)
})

test('two aborted cross-partition appends of the store leave no event visible', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const store = await EventStore.open({ broker }, { partitions: 2 })
  t.after(() => store.close())
  const names = Array.from({ length: 40 }, (_, i) => `acct-${i}`)
  const a = names.find((s) => store.partitionOf(s) === 0)!
  const b = names.find((s) => store.partitionOf(s) === 1)!
  await abortedAppend(broker, [eventRecordOf(a, 0, 0, 'y1'), eventRecordOf(b, 0, 1, 'y2')])
  await abortedAppend(broker, [eventRecordOf(a, 0, 0, 'y3'), eventRecordOf(b, 0, 1, 'y4')])
  assert.deepEqual(await readAllOf(store), [], 'readAll reads no event of an aborted append')
  const rebuilt = await EventStore.open({ broker })
  t.after(() => rebuilt.close())
  assert.equal(rebuilt.getStreamRevision(a), null, `an index rebuilt from the log has no revision of ${a} (only aborted records)`)
  assert.deepEqual(await streamOf(rebuilt, a), 'not found', `${a} has no events to read`)
  const r = await rebuilt.appendToStream(a, { type: 'Opened', data: 1 }, { expectedRevision: 'no_stream' }).catch((err: Error) => err)
  assert.ok(!(r instanceof Error), `'no_stream' holds for ${a} (got ${(r as Error).message})`)
})
