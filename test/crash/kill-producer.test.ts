// Crash test: a child produces with acks 'all' (several partitions, varied sizes, small segments that
// roll) and reports every acknowledged record; the parent kills it with SIGKILL at a random moment,
// reopens the dir and checks that every acknowledged record is there exactly once, at its offset, in
// order, and that every partition reads to its end. Seeded: KAFKALITE_SEED=<n> repeats a run.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { Broker, decodeRecords, type Partition } from '../../src/index.js'
import { exited, killIfRunning, startFixture, stderrOf } from '../fixtures/child.js'
import { tempDir, test, withDeadline } from '../fixtures/helpers.js'
import { mulberry32 } from '../fixtures/random.js'

const ITERATIONS = 10


interface Ack {
  partition: number
  offset: number
  id: number
}

/** Reads the child's stdout lines; resolves `ready` on its first line. */
function watch(child: ChildProcess): { acks: Ack[]; ready: Promise<void> } {
  const acks: Ack[] = []
  let rest = ''
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`child exited early (${code ?? signal}): ${stderrOf(child)}`)))
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (rest + d).split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        if (line === 'ready') resolve()
        const m = /^ack (\d+) (\d+) (\d+)$/.exec(line)
        if (m) acks.push({ partition: Number(m[1]), offset: Number(m[2]), id: Number(m[3]) })
      }
    })
  })
  ready.catch(() => {})
  return { acks, ready }
}

/** Every record of the partition from its start to the high watermark: [offset, id]. */
function readToEnd(p: Partition): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let offset = p.logStartOffset
  while (offset < p.highWatermark) {
    const { bytes } = p.readBatches({ offset, maxBytes: 64 * 1024 })
    assert.ok(bytes.length > 0, `${p.topic}-${p.index}: nothing read at ${offset} below the high watermark ${p.highWatermark}`)
    for (let pos = 0; pos < bytes.length; pos += 12 + bytes.readInt32BE(pos + 8)) {
      for (const r of decodeRecords(bytes, pos)) {
        assert.equal(r.value!.readUInt32BE(4), r.value!.length, `record ${r.offset} has its full size`)
        out.push([r.offset, r.value!.readUInt32BE(0)])
        offset = r.offset + 1
      }
    }
  }
  return out
}

test(`SIGKILL during acks 'all' produce loses no acknowledged record (${ITERATIONS} runs)`, async (t) => {
  const seed = Number(process.env.KAFKALITE_SEED ?? Date.now() % 1e9)
  t.diagnostic(`seed ${seed} (KAFKALITE_SEED=${seed} repeats this run)`)
  const random = mulberry32(seed)
  const dir = tempDir(t)
  const setup = await Broker.open({ dir })
  await setup.createTopic('crash', { partitions: 3, segmentBytes: 4096 })
  await setup.close()
  let totalAcks = 0
  let nextId = 0
  for (let i = 0; i < ITERATIONS; i++) {
    const child = startFixture('crash-producer.ts', [dir, String(Math.floor(random() * 2 ** 31)), String(nextId)])
    t.after(() => killIfRunning(child))
    const { acks, ready } = watch(child)
    // Mostly while producing; sometimes earlier, while the child opens and recovers the dir.
    const early = random() < 0.25
    if (!early) await withDeadline(ready, 15_000, `child ${i} ready`)
    const delay = Math.floor(random() * 600)
    await new Promise((r) => setTimeout(r, delay))
    child.kill('SIGKILL')
    const exit = await exited(child, 5000)
    assert.equal(exit.signal, 'SIGKILL', `child ${i} died by itself: ${stderrOf(child)}`)
    await ready.catch(() => {})
    totalAcks += acks.length

    const started = Date.now()
    const broker = await Broker.open({ dir })
    try {
      assert.ok(Date.now() - started < 2000, 'reopen after a crash does not wait for the lock to go stale')
      const topic = broker.topic('crash')
      const ids = new Set<number>()
      for (let p = 0; p < topic.partitions; p++) {
        const records = readToEnd(topic.partition(p))
        const byOffset = new Map(records)
        records.forEach(([offset, id], k) => {
          assert.equal(offset, records[0]![0] + k, `partition ${p}: offsets without gaps`)
          assert.ok(k === 0 || id > records[k - 1]![1], `partition ${p}: ids in send order at offset ${offset}`)
          assert.ok(!ids.has(id), `id ${id} stored twice`)
          ids.add(id)
        })
        for (const a of acks.filter((x) => x.partition === p)) {
          assert.equal(byOffset.get(a.offset), a.id, `iteration ${i}: acknowledged id ${a.id} at ${p}:${a.offset}`)
        }
        for (const [, id] of records) nextId = Math.max(nextId, id + 1)
      }
      t.diagnostic(`run ${i}: killed ${delay} ms after ${early ? 'start' : 'ready'}, ${acks.length} acks, ${ids.size} records in the log, recovery cut ${broker.recovery.reduce((n, r) => n + r.truncatedBytes, 0)} bytes`)
      // The reopened broker appends after the recovered tail (ids stay in order for the next run).
      const value = Buffer.alloc(8)
      value.writeUInt32BE(nextId++, 0)
      value.writeUInt32BE(8, 4)
      const end = topic.latestOffset(0)
      const [meta] = await broker.producer().send('crash', { value, partition: 0 })
      assert.equal(meta!.offset, end)
    } finally {
      await broker.close()
    }
  }
  assert.ok(totalAcks > ITERATIONS, `only ${totalAcks} acknowledged records over ${ITERATIONS} runs`)
}, 90_000)
