// Transactions through the public API: commit and abort across topics and partitions, markers and
// the last stable offset, zombie fencing by a new producer with the same transactionalId, offsets
// committed with the transaction, and a transaction interrupted by a crash resolved at reopen.
import assert from 'node:assert/strict'
import { Broker, FencedError, MemoryFileIO, decodeRecords, readBatchHeader, type Partition } from '../../src/index.js'
import { AbortedTransactions } from '../../src/client/aborted-transactions.js'
import { test, waitFor } from '../fixtures/helpers.js'

/** Values of the partition's data records up to `isolation`'s end, and how many markers it holds. */
function view(p: Partition, isolation: 'read_committed' | 'read_uncommitted'): { values: string[]; markers: number } {
  const out = { values: [] as string[], markers: 0 }
  // The consumer's filter for the fetch's aborted transactions (Kafka's rule).
  const filter = new AbortedTransactions(p.readBatches({ offset: p.logStartOffset, maxBytes: 1 << 20, isolation }).abortedTransactions)
  let offset = p.logStartOffset
  const end = isolation === 'read_committed' ? p.lastStableOffset : p.highWatermark
  while (offset < end) {
    const { bytes } = p.readBatches({ offset, maxBytes: 1 << 20, isolation })
    if (bytes.length === 0) break
    for (let pos = 0; pos < bytes.length; pos += 12 + bytes.readInt32BE(pos + 8)) {
      const h = readBatchHeader(bytes, pos)
      const last = h.baseOffset + h.lastOffsetDelta
      const marker = h.isControl ? (decodeRecords(bytes, pos)[0]!.key!.readInt16BE(2) === 1 ? 'commit' : 'abort') : null
      const skip = h.producerId >= 0 && filter.skips(h, last, marker)
      if (h.isControl) out.markers++
      else if (!(isolation === 'read_committed' && skip)) for (const r of decodeRecords(bytes, pos)) out.values.push(String(r.value))
      offset = last + 1
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

test('the cleaner and transactions: aborted records go (never shadowing a committed value), markers stay, nothing past an open transaction', async (t) => {
  const broker = await Broker.open({ cleanerBackoffMs: 3_600_000 })
  t.after(() => broker.close())
  await broker.createTopic('kv', { cleanupPolicy: 'compact', segmentBytes: 1024, minCleanableDirtyRatio: 0.01 })
  const producer = broker.producer({ transactionalId: 'kv-writer' })
  const p = broker.topic('kv').partition(0)
  for (let round = 0; round < 6; round++) {
    const tx = await producer.transaction()
    await tx.send('kv', [{ key: 'a', value: `a${round}` }, { key: 'b', value: `b${round}` }, { key: `pad${round}`, value: 'x'.repeat(300) }])
    if (round % 2 === 0) await tx.commit()
    else await tx.abort()
  }
  // An aborted write of the latest 'a' must not remove the committed one before it.
  const aborted = await producer.transaction()
  await aborted.send('kv', { key: 'a', value: 'a-aborted' })
  await aborted.abort()
  const open = await producer.transaction()
  await open.send('kv', { key: 'b', value: 'b-open' })
  const lso = p.lastStableOffset
  await broker.producer().send('kv', { key: 'z', value: 'roll'.repeat(300) })
  const before = view(p, 'read_committed').values
  await broker.runCleaner()
  const after = view(p, 'read_committed').values
  assert.ok(after.includes('a4') && after.includes('b4'), `the latest committed values stay: ${after.join(',')}`)
  assert.ok(!after.includes('a0') && !after.includes('b2'), 'older committed values go')
  assert.ok(!view(p, 'read_uncommitted').values.includes('a1'), 'aborted records are removed')
  assert.ok(view(p, 'read_uncommitted').markers >= 7, 'markers stay')
  assert.ok(view(p, 'read_uncommitted').values.includes('b-open'), 'the open transaction is untouched')
  assert.equal(p.lastStableOffset, lso)
  assert.deepEqual(after.filter((v) => !before.includes(v)), [], 'nothing new appears')
  await open.commit()
  assert.ok(view(p, 'read_committed').values.includes('b-open'))
})

test('sendOffsets with a generation the group has since left behind is refused (KIP-447)', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('in', { partitions: 2 })
  const a = broker.consumer({ groupId: 'g', autoCommit: false })
  await a.subscribe('in')
  const started = a.run({ eachMessage: async () => {} })
  await started
  await waitFor(() => a.assignment().length === 2, 5000, 'a owns both partitions')
  const stale = a.groupMetadata()!
  const b = broker.consumer({ groupId: 'g', autoCommit: false })
  await b.subscribe('in')
  await b.run({ eachMessage: async () => {} })
  await waitFor(() => a.groupMetadata()!.generationId > stale.generationId && b.assignment().length > 0, 5000, 'the group rebalanced')
  const producer = broker.producer({ transactionalId: 'kip447' })
  const tx = await producer.transaction()
  const offsets = { consumerGroupId: 'g', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: 1 }] }] }
  await assert.rejects(tx.sendOffsets({ ...offsets, consumerGroupMetadata: stale }), { code: 'ILLEGAL_GENERATION' })
  await tx.sendOffsets({ ...offsets, consumerGroupMetadata: a.groupMetadata()! })
  await tx.commit()
})

test('property: commits and aborts of two transactional producers across partitions, plain sends between, against a model', async () => {
  const { default: fc } = await import('fast-check')
  type Op = { kind: 'send'; who: 0 | 1; partition: number } | { kind: 'end'; who: 0 | 1; commit: boolean } | { kind: 'plain'; partition: number }
  const op = fc.oneof(
    fc.record({ kind: fc.constant('send' as const), who: fc.constantFrom(0 as const, 1 as const), partition: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ kind: fc.constant('end' as const), who: fc.constantFrom(0 as const, 1 as const), commit: fc.boolean() }),
    fc.record({ kind: fc.constant('plain' as const), partition: fc.integer({ min: 0, max: 2 }) }),
  )
  interface Rec { value: string; offset: number; state: 'plain' | 'open' | 'committed' | 'aborted'; who?: number }
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops: Op[]) => {
      const broker = await Broker.open()
      try {
        await broker.createTopic('m', { partitions: 3 })
        const producers = [broker.producer({ transactionalId: 'p0' }), broker.producer({ transactionalId: 'p1' })]
        const plain = broker.producer()
        const open: Array<Awaited<ReturnType<(typeof producers)[0]['transaction']>> | null> = [null, null]
        const log: Rec[][] = [[], [], []]
        let n = 0
        for (const o of ops) {
          if (o.kind === 'plain') {
            const [m] = await plain.send('m', { value: `plain-${n}`, partition: o.partition })
            log[o.partition]!.push({ value: `plain-${n++}`, offset: m!.offset, state: 'plain' })
          } else if (o.kind === 'send') {
            open[o.who] ??= await producers[o.who]!.transaction()
            const [m] = await open[o.who]!.send('m', { value: `p${o.who}-${n}`, partition: o.partition })
            log[o.partition]!.push({ value: `p${o.who}-${n++}`, offset: m!.offset, state: 'open', who: o.who })
          } else if (open[o.who]) {
            await (o.commit ? open[o.who]!.commit() : open[o.who]!.abort())
            open[o.who] = null
            for (const r of log.flat()) if (r.state === 'open' && r.who === o.who) r.state = o.commit ? 'committed' : 'aborted'
          }
        }
        for (let p = 0; p < 3; p++) {
          const part = broker.topic('m').partition(p)
          // The last stable offset: the first record of the earliest open transaction, else the end.
          const firstOpen = log[p]!.find((r) => r.state === 'open')?.offset
          assert.equal(part.lastStableOffset, firstOpen ?? part.highWatermark, `partition ${p}: last stable offset`)
          // read_committed: plain and committed records below it, in log order; never aborted ones.
          const want = log[p]!.filter((r) => r.offset < part.lastStableOffset && (r.state === 'plain' || r.state === 'committed')).map((r) => r.value)
          assert.deepEqual(view(part, 'read_committed').values, want, `partition ${p}: read_committed`)
          assert.deepEqual(view(part, 'read_uncommitted').values, log[p]!.map((r) => r.value), `partition ${p}: read_uncommitted`)
        }
      } finally {
        await broker.close()
      }
    }),
    { numRuns: Number(process.env.KAFKALITE_MODEL_RUNS ?? 1000) >= 10_000 ? 1000 : 100 },
  )
}, 300_000)

test('transactionTimeoutMs: an abandoned transaction is aborted by the broker and its producer fenced', async (t) => {
  let now = 1_000_000
  const broker = await Broker.open({ clock: () => now })
  t.after(() => broker.close())
  await broker.createTopic('slow')
  const producer = broker.producer({ transactionalId: 'abandoned', transactionTimeoutMs: 5_000 })
  const tx = await producer.transaction()
  await tx.send('slow', { value: 'left behind' })
  const p = broker.topic('slow').partition(0)
  assert.equal(p.lastStableOffset, 0)
  now += 6_000
  await waitFor(() => p.lastStableOffset === p.highWatermark, 5_000, 'the broker aborts it (it checks every second)')
  assert.deepEqual(view(p, 'read_committed').values, [])
  await assert.rejects(tx.commit(), FencedError)
}, 20_000)
