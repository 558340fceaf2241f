// A read-only broker in this process follows a writer in another: a consumer reads every record the
// writer appends, in order and once, while segments roll and retention deletes; a topic the writer
// creates meanwhile appears; the reader never takes the writer's lock.
import assert from 'node:assert/strict'
import { Broker, LockError, type PartitionOffsets } from '../../src/index.js'
import { exited, killIfRunning, nextMessage, startFixture } from '../fixtures/child.js'
import { tempDir, test, waitFor, withDeadline } from '../fixtures/helpers.js'

const COUNT = 5000

test(`a read-only broker in another process tails the writer: ${COUNT} records in order, rolls, retention, a new topic`, async (t) => {
  const dir = tempDir(t)
  const seed = Number(process.env.KAFKALITE_SEED ?? Date.now() % 1e9)
  t.diagnostic(`seed ${seed}`)
  const writer = startFixture('tail-writer.ts', [dir, String(COUNT), String(seed)])
  t.after(() => killIfRunning(writer))
  await nextMessage<{ ready: true }>(writer, 15_000)
  const reader = await Broker.open({ dir, readOnly: true, tailIntervalMs: 10 })
  t.after(() => reader.close())
  await assert.rejects(Broker.open({ dir }), (e) => e instanceof LockError && e.pid === writer.pid, 'the writer still holds the lock')

  const consumer = reader.consumer({ fromBeginning: true })
  await consumer.subscribe('feed')
  const next = [0, 0]
  const reading = (async () => {
    let total = 0
    for await (const m of consumer) {
      const id = Number(String(m.value).replace(/\.+$/, ''))
      assert.equal(id % 2, m.partition, `record ${id} on partition ${m.partition}`)
      assert.equal(id, next[m.partition]! * 2 + m.partition, `partition ${m.partition} offset ${m.offset}: in order, none missing or twice`)
      assert.equal(m.offset, next[m.partition])
      next[m.partition]!++
      if (++total === COUNT) break
    }
  })()
  const done = await nextMessage<{ done: true; offsets: PartitionOffsets[]; start: number }>(writer, 60_000)
  await withDeadline(reading, 30_000, `the reader sees all ${COUNT} records`)
  await consumer.close()
  assert.deepEqual(reader.topic('feed').offsets(), done.offsets)
  assert.ok(reader.topic('feed').partition(0).log.segmentCount > 3, 'the reader followed segment rolls')
  await waitFor(() => reader.hasTopic('later') && reader.topic('later').partition(0).highWatermark === 1, 5000, 'the new topic appears')
  assert.ok(done.start > 0, 'retention deleted segments in the writer')
  await waitFor(() => reader.topic('short').partition(0).logStartOffset >= done.start, 5000, 'the reader follows retention')
  writer.send('close')
  assert.equal((await exited(writer, 10_000)).code, 0)
})
