// A read-only broker follows a writer on the same files: appends across segment rolls, retention
// moving the log start, the cleaner swapping segments, and topics created, grown, reconfigured and
// deleted. Both brokers run in this process over one file layer (the real file system, or one shared
// MemoryFileIO); test/crash/read-only-process.test.ts does the same across processes.
import assert from 'node:assert/strict'
import { Broker, MemoryFileIO, decodeRecords, type Partition } from '../../src/index.js'
import { tempDir, test, waitFor, withDeadline } from '../fixtures/helpers.js'

type Pair = { writer: Broker; reader: Broker }

async function pair(t: { after(fn: () => Promise<void>): void }, kind: 'fs' | 'memory', clock?: () => number): Promise<Pair> {
  const where = kind === 'fs' ? { dir: tempDir(t) } : { fileIO: new MemoryFileIO(), dir: '/tail' }
  const writer = await Broker.open({ ...where, clock, retentionCheckIntervalMs: 3_600_000, cleanerBackoffMs: 3_600_000 })
  await writer.createTopic('t', { partitions: 2, segmentBytes: 1024 })
  const reader = await Broker.open({ ...where, readOnly: true, tailIntervalMs: 5, clock })
  t.after(async () => {
    await reader.close()
    await writer.close()
  })
  return { writer, reader }
}

/** Every record of a partition, offset:value, from its start to its end. */
function records(p: Partition): string[] {
  const out: string[] = []
  let offset = p.logStartOffset
  while (offset < p.highWatermark) {
    const { bytes } = p.readBatches({ offset, maxBytes: 1 << 20 })
    assert.ok(bytes.length > 0, `nothing read at ${offset}`)
    for (let pos = 0; pos < bytes.length; pos += 12 + bytes.readInt32BE(pos + 8)) {
      for (const r of decodeRecords(bytes, pos)) out.push(`${r.offset}:${r.value}`)
      // Past the whole batch: a compacted one may have lost its records.
      offset = bytes.readInt32BE(pos) * 2 ** 32 + bytes.readUInt32BE(pos + 4) + bytes.readInt32BE(pos + 23) + 1
    }
  }
  return out
}

for (const kind of ['fs', 'memory'] as const) {
  test(`a read-only consumer tails the writer's appends across segment rolls, in order, none twice [${kind}]`, async (t) => {
    const { writer, reader } = await pair(t, kind)
    const consumer = reader.consumer({ fromBeginning: true })
    await consumer.subscribe('t')
    const seen: string[][] = [[], []]
    let total = 0
    const reading = (async () => {
      for await (const m of consumer) {
        seen[m.partition]!.push(`${m.offset}:${m.value}`)
        if (++total === 400) break
      }
    })()
    const producer = writer.producer({ acks: 'leader' })
    for (let i = 0; i < 40; i++) {
      await producer.send('t', Array.from({ length: 10 }, (_, k) => ({ value: `v${i * 10 + k}`.padEnd(40, '.'), partition: (i + k) % 2 })))
      if (i % 7 === 0) await new Promise((r) => setImmediate(r))
    }
    await withDeadline(reading, 10_000, 'the reader sees all 400 records')
    await consumer.close()
    for (const p of [0, 1]) assert.deepEqual(seen[p], records(writer.topic('t').partition(p)), `partition ${p}`)
    assert.ok(writer.topic('t').partition(0).log.segmentCount > 3, 'segments rolled')
    assert.deepEqual(reader.topic('t').offsets(), writer.topic('t').offsets())
  })

  test(`topics created, grown, reconfigured and deleted by the writer show up in the reader [${kind}]`, async (t) => {
    const { writer, reader } = await pair(t, kind)
    await writer.createTopic('b', { partitions: 1, retentionMs: 1000 })
    await writer.producer().send('b', { value: 'b0' })
    await waitFor(() => reader.hasTopic('b') && reader.topic('b').partition(0).highWatermark === 1, 5000, 'b appears')
    assert.deepEqual(records(reader.topic('b').partition(0)), ['0:b0'])
    await writer.createPartitions('b', 3)
    await writer.alterTopicConfig('b', { retentionMs: 2000 })
    await waitFor(() => reader.topic('b').partitions === 3 && reader.topic('b').config.retentionMs === 2000, 5000, 'b grows and changes')
    await writer.producer().send('b', { value: 'b2', partition: 2 })
    await waitFor(() => reader.topic('b').partition(2).highWatermark === 1, 5000, 'the new partition is tailed')
    const deleted: string[] = []
    reader.on('topicDeleted', (name: string) => deleted.push(name))
    await writer.deleteTopic('b')
    await waitFor(() => !reader.hasTopic('b'), 5000, 'b goes')
    assert.deepEqual(deleted, ['b'])
    await writer.createTopic('b', { partitions: 1 })
    await waitFor(() => reader.hasTopic('b'), 5000, 'a new b appears')
    assert.equal(reader.topic('b').partition(0).highWatermark, 0, 'the new b is empty')
  })

  test(`the reader's last stable offset follows the writer's transactions [${kind}]`, async (t) => {
    const { writer, reader } = await pair(t, kind)
    const producer = writer.producer({ transactionalId: 'tail-tx' })
    const tx = await producer.transaction()
    await tx.send('t', { value: 'pending', partition: 0 })
    const rp = (): ReturnType<typeof reader.topic> => reader.topic('t')
    await waitFor(() => rp().partition(0).highWatermark === 1, 5000, 'the reader sees the open transaction')
    assert.equal(rp().partition(0).lastStableOffset, 0, 'read_committed readers wait at it')
    await tx.abort()
    await waitFor(() => rp().partition(0).lastStableOffset === 2, 5000, 'the abort marker moves the last stable offset')
    assert.equal(rp().partition(0).readBatches({ offset: 0, isolation: 'read_committed' }).abortedTransactions.length, 1)
  })

  test(`retention and compaction by the writer: the reader's log start moves, reads stay whole [${kind}]`, async (t) => {
    let now = 1_000_000
    const { writer, reader } = await pair(t, kind, () => now)
    await writer.createTopic('r', { segmentBytes: 1024, retentionMs: 10_000 })
    await writer.createTopic('c', { segmentBytes: 1024, cleanupPolicy: 'compact', minCleanableDirtyRatio: 0.01 })
    const producer = writer.producer()
    for (let i = 0; i < 60; i++) {
      await producer.send('r', { value: `r${i}`.padEnd(50, '.'), timestamp: now })
      await producer.send('c', { key: `k${i % 5}`, value: `c${i}`.padEnd(50, '.') })
    }
    const hw = (name: string): number => (reader.hasTopic(name) ? reader.topic(name).partition(0).highWatermark : -1)
    await waitFor(() => hw('c') === 60 && hw('r') === 60, 5000, 'reader caught up')
    now += 60_000
    await producer.send('r', { value: 'fresh', timestamp: now })
    assert.ok((await writer.enforceRetention()) > 0)
    const cleaned = await writer.runCleaner()
    assert.ok(cleaned.length > 0, 'the cleaner ran')
    const w = writer.topic('r').partition(0)
    await waitFor(() => reader.topic('r').partition(0).logStartOffset === w.logStartOffset, 5000, 'the log start follows retention')
    assert.ok(w.logStartOffset > 0)
    assert.deepEqual(records(reader.topic('r').partition(0)), records(w))
    // After the swap the reader reads the compacted segments: the latest value of every key is there.
    await waitFor(() => records(reader.topic('c').partition(0)).length === records(writer.topic('c').partition(0)).length, 5000, 'the reader sees the compacted log')
    const latest = records(reader.topic('c').partition(0)).slice(-5)
    assert.deepEqual(latest.map((r) => r.split(':')[0]), ['55', '56', '57', '58', '59'])
  })
}
