// Transactions through the public API: commit and abort across topics and partitions, markers and
// the last stable offset, zombie fencing by a new producer with the same transactionalId, offsets
// committed with the transaction, and a transaction interrupted by a crash resolved at reopen.
import assert from 'node:assert/strict'
import { Broker, FencedError, MemoryFileIO, decodeRecords, readBatchHeader, type Partition } from '../../src/index.js'
import { test } from '../fixtures/helpers.js'

/** Values of the partition's data records up to `isolation`'s end, and how many markers it holds. */
function view(p: Partition, isolation: 'read_committed' | 'read_uncommitted'): { values: string[]; markers: number } {
  const out = { values: [] as string[], markers: 0 }
  // Kafka's consumer-side rule: a producer's data from an aborted transaction's first offset up to
  // its next marker is skipped.
  const pending = p.readBatches({ offset: p.logStartOffset, maxBytes: 1 << 20, isolation }).abortedTransactions
  const skipping = new Set<number>()
  let offset = p.logStartOffset
  const end = isolation === 'read_committed' ? p.lastStableOffset : p.highWatermark
  while (offset < end) {
    const { bytes } = p.readBatches({ offset, maxBytes: 1 << 20, isolation })
    if (bytes.length === 0) break
    for (let pos = 0; pos < bytes.length; pos += 12 + bytes.readInt32BE(pos + 8)) {
      const h = readBatchHeader(bytes, pos)
      const i = pending.findIndex((a) => a.producerId === h.producerId && a.firstOffset <= h.baseOffset)
      if (i >= 0 && h.isTransactional && !h.isControl) skipping.add(pending.splice(i, 1)[0]!.producerId)
      if (h.isControl) {
        out.markers++
        skipping.delete(h.producerId)
      } else if (!(isolation === 'read_committed' && h.isTransactional && skipping.has(h.producerId))) {
        for (const r of decodeRecords(bytes, pos)) out.values.push(String(r.value))
      }
      offset = h.baseOffset + h.lastOffsetDelta + 1
    }
  }
  return out
}

test('commit makes a transaction visible at once on every partition; abort never; markers on each', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('a', { partitions: 2 })
  await broker.createTopic('b')
  const producer = broker.producer({ transactionalId: 'tx-1' })
  await assert.rejects(producer.send('a', { value: 'outside' }), { code: 'INVALID_CONFIG' })
  const tx = await producer.transaction()
  await tx.send('a', [{ value: 'a0', partition: 0 }, { value: 'a1', partition: 1 }])
  await tx.send('b', { value: 'b0' })
  const [a0, a1, b0] = [broker.topic('a').partition(0), broker.topic('a').partition(1), broker.topic('b').partition(0)]
  for (const p of [a0, a1, b0]) {
    assert.equal(p.lastStableOffset, 0, 'the open transaction holds the last stable offset')
    assert.deepEqual(view(p, 'read_committed').values, [])
    assert.equal(view(p, 'read_uncommitted').values.length, 1)
  }
  await tx.commit()
  assert.equal(tx.isActive(), false)
  for (const p of [a0, a1, b0]) {
    assert.equal(p.lastStableOffset, p.highWatermark)
    assert.equal(view(p, 'read_committed').values.length, 1)
    assert.equal(view(p, 'read_uncommitted').markers, 1)
  }
  const tx2 = await producer.transaction()
  await tx2.send('a', { value: 'gone', partition: 0 })
  await tx2.abort()
  assert.deepEqual(view(a0, 'read_committed').values, ['a0'])
  assert.deepEqual(view(a0, 'read_uncommitted').values, ['a0', 'gone'])
  assert.equal(a0.lastStableOffset, a0.highWatermark)
})

test('a new producer with the same transactionalId fences the old one and aborts its open transaction at once', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('z')
  const zombie = broker.producer({ transactionalId: 'same' })
  const old = await zombie.transaction()
  await old.send('z', { value: 'zombie' })
  const p = broker.topic('z').partition(0)
  assert.equal(p.lastStableOffset, 0)
  const fresh = broker.producer({ transactionalId: 'same' })
  const tx = await fresh.transaction()
  assert.equal(p.lastStableOffset, p.highWatermark, 'readers are not stuck behind the zombie')
  await assert.rejects(old.send('z', { value: 'late' }), FencedError)
  await assert.rejects(old.commit(), (e) => e instanceof FencedError || (e as { code?: string }).code === 'CLOSED')
  await assert.rejects(zombie.transaction(), FencedError)
  await tx.send('z', { value: 'new' })
  await tx.commit()
  assert.deepEqual(view(p, 'read_committed').values, ['new'])
})

test('sendOffsets: the group offsets count only when the transaction commits', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('in')
  await broker.createTopic('out')
  const producer = broker.producer({ transactionalId: 'ctp' })
  const abort = await producer.transaction()
  await abort.send('out', { value: 'x' })
  await abort.sendOffsets({ consumerGroupId: 'g', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: 5 }] }] })
  await abort.abort()
  assert.ok(!broker.groups().some((g) => g.groupId === 'g'), 'no offsets committed')
  const commit = await producer.transaction()
  await commit.send('out', { value: 'y' })
  await commit.sendOffsets({ consumerGroupId: 'g', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: 7 }] }] })
  await commit.commit()
  assert.equal(broker.group('g').lag().find((l) => l.topic === 'in')?.committed, 7)
})

test('a crash with a transaction open aborts it at reopen; one prepared to commit is committed', async (t) => {
  const fileIO = new MemoryFileIO()
  let broker = await Broker.open({ fileIO, dir: '/tx' })
  await broker.createTopic('c', { partitions: 2 })
  const open = await broker.producer({ transactionalId: 'open' }).transaction()
  await open.send('c', [{ value: 'open-0', partition: 0 }, { value: 'open-1', partition: 1 }])
  // The commit of the second one fails after its PrepareCommit (the marker to partition 1 cannot be written).
  const prepared = await broker.producer({ transactionalId: 'prep' }).transaction()
  await prepared.send('c', [{ value: 'prep-0', partition: 0 }, { value: 'prep-1', partition: 1 }])
  fileIO.injector = (op, file) => (op === 'sync' && file.includes('/c-1/') ? 'EIO' : undefined)
  await assert.rejects(prepared.commit())
  fileIO.injector = undefined
  await broker.simulateCrash()
  fileIO.crash()
  broker = await Broker.open({ fileIO, dir: '/tx' })
  t.after(() => broker.close())
  for (const i of [0, 1]) {
    const p = broker.topic('c').partition(i)
    assert.equal(p.lastStableOffset, p.highWatermark, `partition ${i}: nothing left open`)
    assert.deepEqual(view(p, 'read_committed').values, [`prep-${i}`], `partition ${i}: the prepared commit completed, the open one aborted`)
  }
})
