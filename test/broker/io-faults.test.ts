// I/O faults through the public API: the file layer fails writes, fsyncs, renames, opens and
// directory syncs with ENOSPC or EIO at random while producers send. A failed write rejects its
// sends with a StorageError and leaves nothing of them visible; a failed fsync fails its partition
// until reopen (no ack after an fsync error); when the faults stop, appends continue; after a reopen
// (clean or after a simulated power loss) every send acknowledged with acks 'all' is there, once,
// at its offset. Seeded: KAFKALITE_SEED=<n> repeats a run.
import assert from 'node:assert/strict'
import { Broker, KafkaliteError, MemoryFileIO, StorageError, decodeRecords, type FaultOp, type Partition } from '../../src/index.js'
import { test } from '../fixtures/helpers.js'
import { mulberry32 } from '../fixtures/random.js'

const SEED = Number(process.env.KAFKALITE_SEED ?? Date.now() % 1e9)
const ROUNDS = Number(process.env.KAFKALITE_FAULT_ROUNDS ?? 100)
const FAULT_OPS: FaultOp[] = ['write', 'sync', 'rename', 'open', 'syncDir', 'truncate']

/** Every record of a partition, from its start to its end: offset → value. */
function contents(p: Partition): Map<number, string> {
  const out = new Map<number, string>()
  let offset = p.logStartOffset
  while (offset < p.highWatermark) {
    const { bytes } = p.readBatches({ offset, maxBytes: 1 << 20 })
    assert.ok(bytes.length > 0, `nothing read at ${offset} below ${p.highWatermark}`)
    for (let pos = 0; pos < bytes.length; pos += 12 + bytes.readInt32BE(pos + 8)) {
      for (const r of decodeRecords(bytes, pos)) {
        out.set(r.offset, r.value!.toString())
        offset = r.offset + 1
      }
    }
  }
  return out
}

interface Sent {
  partition: number
  offset: number
  value: string
  acks: 'all' | 'leader'
}

test(`random ENOSPC/EIO faults under load: typed errors, nothing partial, no ack after an fsync error, nothing acknowledged lost (seed ${SEED}, ${ROUNDS} rounds)`, async (t) => {
  const random = mulberry32(SEED)
  const totals = { faults: 0, acked: 0, rejected: 0, lost: 0 }
  for (let round = 0; round < ROUNDS; round++) {
    let faultRate = 0
    let faults = 0
    // Partitions whose log failed (an fsync of a segment, its indexes or its directory failed).
    const failedSync = new Set<number>()
    const fileIO = new MemoryFileIO((op, file) => {
      if (faultRate === 0 || !FAULT_OPS.includes(op) || random() >= faultRate) return undefined
      faults++
      return random() < 0.5 ? 'ENOSPC' : 'EIO'
    })
    let broker = await Broker.open({ fileIO, dir: '/f' })
    try {
      await broker.createTopic('t', { partitions: 3, segmentBytes: 2048 })
      const producers = { all: broker.producer({ acks: 'all' }), leader: broker.producer({ acks: 'leader' }) }
      const producer = producers.all
      const acked: Sent[] = []
      // Each producer takes its producer id (a metadata record) before the faults start: a failed
      // metadata fsync would otherwise leave it without one until the reopen.
      for (const acks of ['all', 'leader'] as const) {
        const [m] = await producers[acks].send('t', { value: `warm-${acks}`, partition: 0 })
        acked.push({ partition: 0, offset: m!.offset, value: `warm-${acks}`, acks })
      }
      const rejectedIds = new Set<string>()
      let id = 0
      faultRate = 0.002 + random() * 0.03
      for (let step = 0; step < 60; step++) {
        const sends = Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
          const partition = Math.floor(random() * 3)
          const acks = random() < 0.7 ? ('all' as const) : ('leader' as const)
          const values = Array.from({ length: 1 + Math.floor(random() * 3) }, () => `v${round}-${id++}`.padEnd(20 + Math.floor(random() * 200), '.'))
          const log = broker.topic('t').partition(partition).log
          const failedBefore = log.failure !== null
          return producers[acks].send('t', values.map((value) => ({ value, partition }))).then(
            (metas) => {
              assert.ok(!failedBefore, `a send to partition ${partition} started after its fsync failed was acknowledged`)
              metas.forEach((m, i) => acked.push({ partition, offset: m.offset, value: values[i]!, acks }))
            },
            (err) => {
              assert.ok(err instanceof KafkaliteError, `untyped error: ${err}`)
              if (err.code === 'STORAGE') assert.ok(err instanceof StorageError)
              for (const v of values) rejectedIds.add(v)
            },
          )
        })
        await Promise.all(sends)
        broker.topic('t').partitionList.forEach((p) => p.log.failure && failedSync.add(p.index))
      }
      // Topic creation under faults: a topic whose creation resolved exists after the reopen below.
      const created = await broker.createTopic(`x${round}`, { partitions: 2 }).then(
        () => true,
        (err) => assert.ok(err instanceof KafkaliteError, `untyped error: ${err}`),
      )
      faultRate = 0
      totals.faults += faults
      totals.acked += acked.length
      totals.rejected += rejectedIds.size

      // Nothing partial is visible, acknowledged records sit at their offsets, and a record shows up
      // at most once. Records of rejected sends may be visible only when their write succeeded and a
      // later fsync failed (their outcome is unknown, as Kafka's).
      const partitions = broker.topic('t').partitionList
      for (const p of partitions) {
        const seen = contents(p)
        const values = [...seen.values()]
        assert.equal(new Set(values).size, values.length, `a record appears twice in partition ${p.index}`)
        for (const v of values) assert.ok(!rejectedIds.has(v) || failedSync.has(p.index), `a rejected record is visible in healthy partition ${p.index}: ${v}`)
      }
      for (const a of acked) assert.equal(contents(partitions[a.partition]!).get(a.offset), a.value)

      // Partitions that never failed accept appends again, continuing their offsets.
      const healthy = [0, 1, 2].filter((i) => !failedSync.has(i) && !partitions[i]!.log.failure)
      for (const i of healthy) {
        const hw = partitions[i]!.highWatermark
        const [m] = await producer.send('t', { value: `after-${round}-${i}`, partition: i })
        assert.equal(m!.offset, hw)
        acked.push({ partition: i, offset: hw, value: `after-${round}-${i}`, acks: 'all' })
      }
      for (const i of failedSync) await assert.rejects(producer.send('t', { value: 'refused', partition: i }), StorageError)

      // Reopen: after a clean close everything written is there; after a power loss, whatever an
      // fsync covered (every acks 'all' record).
      const crash = random() < 0.5
      if (crash) {
        await broker.simulateCrash()
        fileIO.crash()
      } else await broker.close()
      broker = await Broker.open({ fileIO, dir: '/f' })
      if (created) assert.equal(broker.topic(`x${round}`).partitions, 2, 'a created topic survives')
      const after = broker.topic('t').partitionList.map(contents)
      for (const a of acked) {
        const survives = a.acks === 'all' || (!crash && !failedSync.has(a.partition))
        if (!survives) continue
        if (after[a.partition]!.get(a.offset) !== a.value) totals.lost++
      }
      assert.equal(totals.lost, 0, `round ${round}: acknowledged records lost`)
      const report = await broker.verify()
      assert.ok(report.ok, JSON.stringify(report.problems))
      const [m] = await broker.producer().send('t', { value: 'reopened', partition: 0 })
      assert.equal(m!.offset, broker.topic('t').partition(0).highWatermark - 1)
    } finally {
      await broker.close()
    }
  }
  t.diagnostic(`faults injected ${totals.faults}, records acknowledged ${totals.acked}, rejected ${totals.rejected}, acknowledged records lost ${totals.lost}`)
  assert.ok(totals.faults > ROUNDS, 'faults were injected')
}, 60_000)
