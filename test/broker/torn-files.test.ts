// Torn files a crash can leave besides a torn segment tail: index files cut anywhere (they are
// derived data, rebuilt when they fail the sanity check) and a metadata log whose last record was cut
// mid-write (that record never counted: its topic does not exist, the earlier ones are whole).
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Broker, decodeRecords } from '../../src/index.js'
import { tempDir, test } from '../fixtures/helpers.js'

async function readValues(broker: Broker, topic: string): Promise<string[]> {
  const p = broker.topic(topic).partition(0)
  const out: string[] = []
  let offset = p.logStartOffset
  while (offset < p.highWatermark) {
    const { bytes } = p.readBatches({ offset, maxBytes: 1 })
    for (const r of decodeRecords(bytes, 0)) {
      out.push(`${r.offset}:${r.value}`)
      offset = r.offset + 1
    }
  }
  return out
}

test('index and time index files cut at every length: reads and timestamp lookups still find every record', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('t', { segmentBytes: 4096, indexIntervalBytes: 128 })
  const producer = broker.producer()
  for (let i = 0; i < 150; i++) await producer.send('t', { value: `r${i}`.padEnd(30, '.'), partition: 0, timestamp: 1_000_000 + i * 10 })
  const expected = await readValues(broker, 't')
  await broker.close()
  const pdir = join(dir, 't-0')
  // Every index file of the first two segments, cut at every length from 0 in steps of 5 bytes
  // (entries are 8 and 12 bytes, so each entry boundary and cuts inside entries are hit).
  const indexes = readdirSync(pdir).filter((f) => f.endsWith('.index') || f.endsWith('.timeindex')).slice(0, 4)
  assert.equal(indexes.length, 4)
  const originals = new Map(indexes.map((f) => [f, readFileSync(join(pdir, f))]))
  for (const [file, bytes] of originals) {
    for (let len = 0; len < bytes.length; len += 5) {
      truncateSync(join(pdir, file), len)
      for (const clean of [true, false]) {
        if (!clean) rmSync(join(dir, 'recovery-point-offset-checkpoint'), { force: true })
        if (!clean) rmSync(join(dir, '.kafka_cleanshutdown'), { force: true })
        broker = await Broker.open({ dir })
        const topic = broker.topic('t')
        const at = (ts: number): number | null => topic.partition(0).offsetForTimestamp(ts)
        try {
          assert.deepEqual(await readValues(broker, 't'), expected, `${file} cut to ${len} (${clean ? 'clean' : 'unclean'} open)`)
          assert.equal(at(1_000_000 + 77 * 10), 77, `${file} cut to ${len}, ${clean}`)
          assert.equal(at(1_000_000 + 149 * 10 + 1), null)
        } finally {
          await broker.close()
        }
      }
      writeFileSync(join(pdir, file), bytes)
    }
  }
}, 120_000)

test('a metadata log torn inside its last record: that topic is gone, earlier topics are whole', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('a', { partitions: 2 })
  await broker.producer().send('a', { value: 'a0', partition: 1 })
  const metaFile = join(dir, '__cluster_metadata', '00000000000000000000.log')
  const before = readFileSync(metaFile).length
  await broker.createTopic('b', { partitions: 3, retentionMs: 123_456 })
  await broker.close()
  const whole = readFileSync(metaFile)
  assert.ok(whole.length > before)
  for (let len = before; len < whole.length; len++) {
    writeFileSync(metaFile, whole.subarray(0, len))
    // A crash: no clean-shutdown marker, and the checkpoint never covered the torn record.
    rmSync(join(dir, '.kafka_cleanshutdown'), { force: true })
    rmSync(join(dir, 'recovery-point-offset-checkpoint'), { force: true })
    broker = await Broker.open({ dir })
    try {
      assert.deepEqual(broker.topics().map((x) => x.name), ['a'], `cut at ${len}`)
      assert.equal(broker.topic('a').partitions, 2)
      assert.equal((await readValues(broker, 'a')).length, 0)
      assert.equal(broker.topic('a').partition(1).highWatermark, 1)
      assert.ok(!readdirSync(dir).some((d) => d.startsWith('b-')), 'the torn topic left no directories')
      await broker.createTopic('b', { partitions: 1 })
      assert.equal(broker.topic('b').partitions, 1)
    } finally {
      await broker.close()
    }
    const reopened = await Broker.open({ dir })
    assert.deepEqual(reopened.topics().map((x) => x.name), ['a', 'b'])
    await reopened.close()
  }
}, 120_000)
