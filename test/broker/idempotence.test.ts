// The idempotent producer: producer ids from the broker (unique across reopens), per-partition
// sequence numbers in the batch header, a retried batch answered with its original offsets and never
// written twice, gaps and older epochs refused, and the state surviving a clean reopen (snapshot) and
// a crash (replay of the log).
import assert from 'node:assert/strict'
import { Broker, FencedError, MemoryFileIO, OutOfOrderSequenceError, encodeRecordBatch, readBatchHeader, type Partition } from '../../src/index.js'
import { tempDir, test } from '../fixtures/helpers.js'

const T0 = 1_700_000_000_000

function batch(producerId: number, baseSequence: number, count: number, producerEpoch = 0): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`p${producerId}-s${baseSequence + i}`), timestamp: T0 }))
  return encodeRecordBatch(records, { producerId, producerEpoch, baseSequence })
}

/** Every batch header of a partition: [producerId, baseSequence, recordCount, baseOffset]. */
function headers(p: Partition): Array<[number, number, number, number]> {
  const out: Array<[number, number, number, number]> = []
  let offset = p.logStartOffset
  while (offset < p.highWatermark) {
    const { bytes } = p.readBatches({ offset, maxBytes: 1 << 20 })
    for (let pos = 0; pos < bytes.length; pos += 12 + bytes.readInt32BE(pos + 8)) {
      const h = readBatchHeader(bytes, pos)
      out.push([h.producerId, h.baseSequence, h.recordCount, h.baseOffset])
      offset = h.baseOffset + h.lastOffsetDelta + 1
    }
  }
  return out
}

test('producers are idempotent by default: their own producer id, sequences per partition, ids unique across reopens', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('t', { partitions: 2 })
  const a = broker.producer()
  const b = broker.producer({ lingerMs: 2 })
  await a.send('t', [{ value: 'a0', partition: 0 }, { value: 'a1', partition: 0 }, { value: 'a2', partition: 1 }])
  await a.send('t', { value: 'a3', partition: 0 })
  await Promise.all([b.send('t', { value: 'b0', partition: 0 }), b.send('t', { value: 'b1', partition: 0 })])
  const plain = broker.producer({ idempotent: false })
  await plain.send('t', { value: 'x', partition: 0 })
  const h0 = headers(broker.topic('t').partition(0))
  const [pa, pb] = [h0[0]![0], h0[2]![0]]
  assert.ok(pa >= 0 && pb >= 0 && pa !== pb)
  assert.deepEqual(h0.map(([pid, seq, n]) => [pid, seq, n]), [[pa, 0, 2], [pa, 2, 1], [pb, 0, 2], [-1, -1, 1]])
  assert.deepEqual(headers(broker.topic('t').partition(1)).map(([pid, seq]) => [pid, seq]), [[pa, 0]])
  await broker.close()
  broker = await Broker.open({ dir })
  t.after(() => broker.close())
  await broker.producer().send('t', { value: 'c', partition: 1 })
  const pc = headers(broker.topic('t').partition(1)).at(-1)![0]
  assert.ok(pc > Math.max(pa, pb), 'a reopened broker never hands out an id again')
})

for (const where of ['dir', 'memory'] as const) {
  test(`a retried batch gets its original offsets and is not written again; gaps and old epochs are refused [${where}]`, async (t) => {
    const fileIO = new MemoryFileIO()
    const open = () => Broker.open(where === 'dir' ? { dir: dirPath } : { fileIO, dir: '/i' })
    const dirPath = tempDir(t)
    let broker = await open()
    await broker.createTopic('t')
    let p = broker.topic('t').partition(0)
    const pid = await broker.allocateProducerId()
    const first = await p.appendBatch(batch(pid, 0, 3))
    const second = await p.appendBatch(batch(pid, 3, 2))
    assert.deepEqual([first.baseOffset, first.lastOffset, second.baseOffset, second.lastOffset], [0, 2, 3, 4])
    const retry = await p.appendBatch(batch(pid, 3, 2))
    assert.deepEqual([retry.baseOffset, retry.lastOffset, retry.duplicate], [3, 4, true])
    assert.equal(p.highWatermark, 5, 'nothing written twice')
    await assert.rejects(p.appendBatch(batch(pid, 7, 1)), OutOfOrderSequenceError, 'a gap')
    await assert.rejects(p.appendBatch(batch(pid, 4, 1)), OutOfOrderSequenceError, 'an overlap that is no retry')
    await assert.rejects(p.appendBatch(batch(await broker.allocateProducerId(), 5, 1)), OutOfOrderSequenceError, 'a new producer starts at 0')
    await p.appendBatch(batch(pid, 0, 1, 1)) // a new epoch starts again at 0
    await assert.rejects(p.appendBatch(batch(pid, 5, 1, 0)), FencedError, 'the older epoch is fenced')
    assert.equal(p.highWatermark, 6)

    // Clean reopen: the snapshot remembers the last batches.
    await broker.close()
    broker = await open()
    p = broker.topic('t').partition(0)
    const again = await p.appendBatch(batch(pid, 0, 1, 1))
    assert.deepEqual([again.baseOffset, again.duplicate], [5, true])
    await p.appendBatch(batch(pid, 1, 2, 1))

    // A crash: the state is rebuilt from the log.
    if (where === 'memory') {
      await broker.simulateCrash()
      fileIO.crash()
    } else {
      await broker.simulateCrash()
    }
    broker = await open()
    t.after(() => broker.close())
    p = broker.topic('t').partition(0)
    const afterCrash = await p.appendBatch(batch(pid, 1, 2, 1))
    assert.deepEqual([afterCrash.baseOffset, afterCrash.lastOffset, afterCrash.duplicate], [6, 7, true])
    await assert.rejects(p.appendBatch(batch(pid, 0, 1, 0)), FencedError)
    assert.equal((await p.appendBatch(batch(pid, 3, 1, 1))).baseOffset, 8)
  })
}

test('a producer that keeps sending across a reopen of the dir never duplicates or skips', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('t', { partitions: 3 })
  for (let round = 0; round < 3; round++) {
    const producer = broker.producer({ lingerMs: round })
    await Promise.all(Array.from({ length: 50 }, (_, i) => producer.send('t', { key: `k${i}`, value: `r${round}-${i}` })))
    await broker.close()
    broker = await Broker.open({ dir })
  }
  t.after(() => broker.close())
  const total = broker.topic('t').partitionList.reduce((n, p) => n + p.highWatermark, 0)
  assert.equal(total, 150)
  for (const p of broker.topic('t').partitionList) {
    const byProducer = new Map<number, number>()
    for (const [pid, seq, n] of headers(p)) {
      assert.equal(seq, byProducer.get(pid) ?? 0, `partition ${p.index}: producer ${pid} sequences follow on`)
      byProducer.set(pid, seq + n)
    }
  }
})
