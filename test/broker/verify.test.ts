// Corruption of sealed segments as a user meets it: reads of a bad batch fail with CorruptionError
// naming file and position while its neighbours stay readable; broker.verify() reports every bad
// batch (with progress) and changes nothing; repair happens only with recover: 'truncate'.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Broker, CorruptionError, decodeRecords, MemoryFileIO, type VerifyProgress } from '../../src/index.js'
import { listTree, tempDir, test } from '../fixtures/helpers.js'
import { mulberry32 } from '../fixtures/random.js'

const SEED = Number(process.env.KAFKALITE_SEED ?? Date.now() % 1e9)

interface Placed {
  base: number
  last: number
  file: string
  position: number
  size: number
}

/** Produces `n` sends of 1–4 records each (one batch per send) and returns where each batch went. */
async function fill(broker: Broker, topic: string, n: number): Promise<Placed[]> {
  const producer = broker.producer({ acks: 'all' })
  const p = broker.topic(topic).partition(0)
  const placed: Placed[] = []
  for (let i = 0; i < n; i++) {
    const count = 1 + (i % 4)
    const metas = await producer.send(topic, Array.from({ length: count }, (_, k) => ({ key: `k${i}`, value: `value-${i}-${k}`.padEnd(40, '.'), partition: 0 })))
    const r = p.log.read(metas[0]!.offset, 1)
    placed.push({ base: metas[0]!.offset, last: metas.at(-1)!.offset, file: r.file, position: r.position, size: 12 + r.bytes.readInt32BE(8) })
  }
  return placed
}

/** Flips one byte the batch CRC covers (attributes onwards) or its length, magic or crc field. */
function flipInside(b: Placed, random: () => number): number {
  const at = random() < 0.2 ? [8, 16, 17, 20][Math.floor(random() * 4)]! : 21 + Math.floor(random() * (b.size - 21))
  const bytes = readFileSync(b.file)
  bytes[b.position + at]! ^= 1 << Math.floor(random() * 8)
  writeFileSync(b.file, bytes)
  return at
}

function digest(dir: string): string {
  const h = createHash('sha256')
  for (const f of listTree(dir)) {
    h.update(f)
    try {
      h.update(readFileSync(join(dir, f)))
    } catch {
      // a directory
    }
  }
  return h.digest('hex')
}

test(`flipped bytes in sealed segments: reads fail with file and position, verify() finds every one, nothing is repaired (seed ${SEED})`, async (t) => {
  const random = mulberry32(SEED)
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('t', { segmentBytes: 4096, indexIntervalBytes: 256 })
  const placed = await fill(broker, 't', 300)
  await broker.close()

  const files = [...new Set(placed.map((b) => b.file))]
  const sealed = placed.filter((b) => b.file !== files.at(-1))
  const victims = new Set<Placed>()
  while (victims.size < 6) victims.add(sealed[Math.floor(random() * sealed.length)]!)
  const flips = [...victims].map((v) => `${v.base}@+${flipInside(v, random)}`)
  t.diagnostic(`flipped: ${flips.join(' ')}`)

  broker = await Broker.open({ dir })
  const log = broker.topic('t').partition(0).log
  for (const b of placed) {
    if (victims.has(b)) {
      assert.throws(() => log.read(b.base, 1), (e) => e instanceof CorruptionError && e.file === b.file && e.position === b.position, `batch ${b.base}`)
    } else {
      const { bytes } = log.read(b.base, 1)
      assert.deepEqual(decodeRecords(bytes, 0).map((r) => r.offset), Array.from({ length: b.last - b.base + 1 }, (_, i) => b.base + i))
    }
  }

  const before = digest(dir)
  const progress: VerifyProgress[] = []
  const events: VerifyProgress[] = []
  broker.on('verifyProgress', (p: VerifyProgress) => events.push(p))
  const report = await broker.verify({ onProgress: (p) => progress.push(p) })
  assert.equal(report.ok, false)
  const found = report.problems.filter((p) => p.log === 't-0').map((p) => `${p.file}:${p.position}`).sort()
  assert.deepEqual(found, [...victims].map((v) => `${v.file}:${v.position}`).sort(), JSON.stringify(report.problems))
  assert.equal(report.problems.length, victims.size, 'no other log has problems')
  assert.ok(report.batches >= placed.length - victims.size)
  assert.ok(progress.length >= files.length, 'progress at least once per segment')
  assert.deepEqual(events, progress, 'the event carries the same progress')
  assert.equal(progress.at(-1)!.bytesChecked, progress.at(-1)!.bytesTotal)
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.bytesChecked >= progress[i - 1]!.bytesChecked)
  assert.equal(digest(dir), before, 'verify wrote nothing')
  await broker.close()
})

test('recover: truncate cuts each log at its first bad batch, only when asked; verify() is clean afterwards', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('t', { segmentBytes: 2048 })
  await broker.createTopic('u')
  const placed = await fill(broker, 't', 120)
  const other = await fill(broker, 'u', 10)
  await broker.close()
  // A bad batch in the segment holding the recovery point, after an unclean close: corruption.
  const lastFile = placed.at(-1)!.file
  const victim = placed.filter((b) => b.file === lastFile)[1] ?? placed.at(-2)!
  flipInside(victim, mulberry32(7))
  rmSync(join(dir, '.kafka_cleanshutdown'))
  for (let i = 0; i < 2; i++) {
    await assert.rejects(Broker.open({ dir }), (e) => e instanceof CorruptionError && e.file === victim.file && e.position === victim.position)
  }
  await assert.rejects(Broker.open({ dir, recover: 'truncate', readOnly: true }), { code: 'INVALID_CONFIG' })
  await assert.rejects(Broker.open({ dir, recover: 'sometimes' as 'fail' }), { code: 'INVALID_CONFIG' })

  broker = await Broker.open({ dir, recover: 'truncate' })
  const cut = broker.recovery.find((r) => r.invalidAt)
  assert.ok(cut, 'the cut is reported')
  assert.deepEqual([cut.invalidAt!.file, cut.invalidAt!.position], [victim.file, victim.position])
  const p = broker.topic('t').partition(0)
  assert.equal(p.highWatermark, victim.base, 'the log ends just before the bad batch')
  for (const b of placed.filter((x) => x.base < victim.base)) assert.equal(decodeRecords(p.log.read(b.base, 1).bytes, 0)[0]!.offset, b.base)
  assert.equal(broker.topic('u').partition(0).highWatermark, other.at(-1)!.last + 1, 'a sound log is untouched')
  const report = await broker.verify({ deep: true })
  assert.ok(report.ok, JSON.stringify(report.problems))
  const [sent] = await broker.producer().send('t', { value: 'after', partition: 0 })
  assert.equal(sent!.offset, victim.base, 'appends continue at the cut')
  await broker.close()
  broker = await Broker.open({ dir })
  assert.equal(broker.recovery.length, 0, 'a clean reopen')
  assert.equal(broker.topic('t').partition(0).highWatermark, victim.base + 1)
  await broker.close()
})

test('verify() on a sound in-memory broker: every log, every batch, deep decode agrees on the record count', async (t) => {
  const broker = await Broker.open({ fileIO: new MemoryFileIO(), dir: '/v' })
  t.after(() => broker.close())
  await broker.createTopic('a', { partitions: 3, segmentBytes: 1024 })
  const producer = broker.producer({ compression: 'gzip' })
  for (let i = 0; i < 50; i++) await producer.send('a', Array.from({ length: 5 }, (_, k) => ({ key: `${i}-${k}`, value: 'x'.repeat(30) })))
  const shallow = await broker.verify()
  const deep = await broker.verify({ deep: true })
  assert.ok(shallow.ok && deep.ok)
  assert.equal(shallow.records, deep.records)
  assert.equal(shallow.logs, 4, 'the metadata log and three partitions')
  assert.ok(deep.records >= 250)
  assert.ok(shallow.segments > 4, 'segments rolled')
})
