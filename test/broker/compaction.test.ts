// Log compaction through the public API: a compacted topic keeps the latest value per key, offsets
// stay, tombstones go after deleteRetentionMs, and it all survives a reopen.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Broker, type Message } from '../../src/index.js'
import { tempDir } from '../fixtures/helpers.js'

async function readAll(broker: Broker, topic: string): Promise<Message[]> {
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe(topic)
  const out: Message[] = []
  const end = broker.topic(topic).latestOffset(0)
  if (end === broker.topic(topic).earliestOffset(0)) return out
  for await (const m of consumer) {
    out.push(m)
    if (m.offset >= end - 1) break
  }
  await consumer.close()
  return out
}

test('runCleaner keeps the latest value per key with its offset; tombstones expire; reopen keeps it', async (t) => {
  const dir = tempDir(t)
  let now = 1_000_000
  let broker = await Broker.open({ dir, clock: () => now })
  await broker.createTopic('state', { cleanupPolicy: 'compact', segmentBytes: 1024, deleteRetentionMs: 10_000, minCleanableDirtyRatio: 0.01 })
  const producer = broker.producer()
  const latest = new Map<string, { offset: number; value: string | null }>()
  for (let i = 0; i < 300; i++) {
    const key = `k${i % 17}`
    const value = i % 50 === 49 ? null : `v${i}`
    const [meta] = await producer.send('state', { key, value, timestamp: now })
    latest.set(key, { offset: meta!.offset, value })
  }
  const before = broker.describeTopic('state').partitions[0]!
  const results = await broker.runCleaner()
  assert.ok(results.some((r) => r.recordsRemoved > 0), 'the cleaner removed records')
  const after = broker.describeTopic('state').partitions[0]!
  assert.ok(after.sizeBytes < before.sizeBytes, `${after.sizeBytes} < ${before.sizeBytes}`)
  assert.equal(after.latest, 300, 'the high watermark does not move')

  const seen = await readAll(broker, 'state')
  const lastSeen = new Map<string, Message>()
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.offset > seen[i - 1]!.offset, 'offsets increase')
  for (const m of seen) lastSeen.set(m.key!.toString(), m)
  for (const [key, want] of latest) {
    const m = lastSeen.get(key)
    assert.ok(m, `${key} is still there (value or tombstone)`)
    assert.equal(m.offset, want.offset, `${key} keeps its offset`)
    assert.equal(m.value === null ? null : m.value.toString(), want.value)
  }
  await broker.close()

  now += 60_000 // tombstones older than deleteRetentionMs go at the next pass
  broker = await Broker.open({ dir, clock: () => now })
  // One more append seals the segment that was active, so every earlier record becomes cleanable.
  await broker.producer().send('state', Array.from({ length: 40 }, (_, i) => ({ key: `x${i}`, value: 'roll', timestamp: 1_000_000 })))
  await broker.runCleaner()
  const again = await readAll(broker, 'state')
  for (const [key, want] of latest) {
    const m = again.find((x) => x.key!.toString() === key)
    if (want.value === null) assert.equal(m, undefined, `tombstone of ${key} removed after deleteRetentionMs`)
    else assert.equal(m?.value?.toString(), want.value)
  }
  await broker.close()
})

test('__consumer_offsets is compacted: repeated commits collapse to the latest per partition', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  await broker.createTopic('t', { partitions: 2 })
  for (let i = 0; i < 200; i++) await broker.group('g').resetOffsets({ topic: 't', to: 'earliest' })
  await broker.alterTopicConfig('__consumer_offsets', { segmentBytes: 4096, minCleanableDirtyRatio: 0.01 })
  for (let i = 0; i < 200; i++) await broker.group('g').resetOffsets({ topic: 't', to: 'latest' })
  const before = broker.describeTopic('__consumer_offsets').partitions[0]!.sizeBytes
  await broker.runCleaner()
  assert.ok(broker.describeTopic('__consumer_offsets').partitions[0]!.sizeBytes < before)
  assert.deepEqual(broker.group('g').lag().map((l) => l.committed), [0, 0])
})
