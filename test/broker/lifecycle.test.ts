// Topic lifecycle through the public API: delete (crash-safe), createPartitions, alterTopicConfig,
// describeTopic, deleteRecords, retention by time and size.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import * as path from 'node:path'
import { Broker } from '../../src/index.js'
import { tempDir, waitFor } from '../fixtures/helpers.js'

async function fill(broker: Broker, topic: string, n: number, opts: { timestamp?: number; partition?: number } = {}): Promise<void> {
  const producer = broker.producer()
  for (let i = 0; i < n; i++) await producer.send(topic, { value: Buffer.alloc(200, i % 256), partition: opts.partition ?? 0, timestamp: opts.timestamp })
}

test('deleteTopic removes only its directories, survives reopen, drops committed offsets; the name can be reused', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('keep', { partitions: 1 })
  await broker.createTopic('gone', { partitions: 3 })
  await fill(broker, 'gone', 5)
  await broker.group('g').resetOffsets({ topic: 'gone', to: 'latest' })
  mkdirSync(path.join(dir, 'my-notes'))
  await broker.deleteTopic('gone')
  assert.equal(broker.hasTopic('gone'), false)
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('gone')), [])
  assert.ok(existsSync(path.join(dir, 'keep-0')) && existsSync(path.join(dir, 'my-notes')))
  assert.deepEqual(broker.groups(), [], "the group's only offsets were for the deleted topic")
  await assert.rejects(broker.deleteTopic('gone'), { code: 'UNKNOWN_TOPIC' })
  await assert.rejects(broker.deleteTopic('__consumer_offsets'), { code: 'INVALID_CONFIG' })
  await broker.close()
  broker = await Broker.open({ dir })
  assert.equal(broker.hasTopic('gone'), false)
  const again = await broker.createTopic('gone', { partitions: 2 })
  assert.deepEqual(again.offsets().map((o) => o.latest), [0, 0], 'a recreated topic starts empty')
  await broker.close()
})

test('a crash in the middle of deleteTopic: reopen removes the leftovers, never a foreign folder', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('gone', { partitions: 2 })
  await fill(broker, 'gone', 3)
  await broker.deleteTopic('gone')
  await broker.close()
  // What a crash after the metadata record but before (or during) the directory removal leaves:
  for (const name of ['gone-0', 'gone-1.0123abcd-delete']) {
    mkdirSync(path.join(dir, name))
    writeFileSync(path.join(dir, name, '00000000000000000000.log'), Buffer.alloc(100, 1))
  }
  mkdirSync(path.join(dir, 'backup-1'))
  writeFileSync(path.join(dir, 'backup-1', 'notes.txt'), 'mine')
  broker = await Broker.open({ dir })
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('gone')), [])
  assert.ok(existsSync(path.join(dir, 'backup-1', 'notes.txt')), 'a folder kafkalite did not make stays')
  const t2 = await broker.createTopic('gone', { partitions: 2 })
  assert.equal(t2.latestOffset(0), 0)
  await broker.close()
})

test('createPartitions only increases, persists, and a group rebalances onto the new partitions', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('t', { partitions: 2 })
  const consumer = broker.consumer({ groupId: 'g', heartbeatIntervalMs: 10 })
  await consumer.subscribe('t')
  await consumer.run({ eachMessage: async () => {} })
  assert.equal(consumer.assignment().length, 2)
  await assert.rejects(broker.createPartitions('t', 2), { code: 'INVALID_CONFIG' })
  await assert.rejects(broker.createPartitions('nope', 3), { code: 'UNKNOWN_TOPIC' })
  await broker.createPartitions('t', 5)
  assert.equal(broker.topic('t').partitions, 5)
  await waitFor(() => consumer.assignment().length === 5, 5000, 'the group takes the new partitions')
  await broker.producer().send('t', { value: 'x', partition: 4 })
  await broker.close()
  broker = await Broker.open({ dir })
  assert.equal(broker.topic('t').partitions, 5)
  assert.equal(broker.topic('t').latestOffset(4), 1)
  await broker.close()
})

test('alterTopicConfig validates, persists, applies at once; null resets to the default; describeTopic shows it', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('t', { partitions: 2, retentionMs: 1000 })
  await assert.rejects(broker.alterTopicConfig('t', { segmentBytes: 10 }), { code: 'INVALID_CONFIG' })
  await assert.rejects(broker.alterTopicConfig('t', { bogus: 1 } as never), { code: 'INVALID_CONFIG' })
  await broker.alterTopicConfig('t', { segmentBytes: 2048, retentionMs: null })
  assert.equal(broker.topic('t').config.segmentBytes, 2048)
  await fill(broker, 't', 40)
  const d = broker.describeTopic('t')
  assert.ok(d.partitions[0]!.segments > 1, 'the new segmentBytes applies to appends at once')
  assert.equal(d.partitions[0]!.latest, 40)
  assert.ok(d.partitions[0]!.sizeBytes > 8000)
  assert.deepEqual(d.overrides, { segmentBytes: 2048 })
  assert.equal(d.config.retentionMs, 7 * 24 * 3600 * 1000)
  await broker.close()
  broker = await Broker.open({ dir })
  assert.deepEqual(broker.describeTopic('t').overrides, { segmentBytes: 2048 })
  await broker.close()
})

test('deleteRecords moves the log start; reads below fail; consumers behind follow autoOffsetReset; it survives reopen', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('t', { segmentBytes: 1024 })
  await fill(broker, 't', 30)
  const behind = broker.consumer({ fromBeginning: true })
  await behind.subscribe('t')
  await assert.rejects(broker.deleteRecords('t', { partition: 0, beforeOffset: 31 }), { code: 'OFFSET_OUT_OF_RANGE' })
  const r = await broker.deleteRecords('t', { partition: 0, beforeOffset: 17 })
  assert.equal(r.logStartOffset, 17)
  assert.equal(broker.topic('t').earliestOffset(0), 17)
  assert.throws(() => broker.topic('t').partition(0).readBatches({ offset: 16 }), { code: 'OFFSET_OUT_OF_RANGE' })
  assert.ok(broker.describeTopic('t').partitions[0]!.segments < 10, 'segments below the start are deleted')
  for await (const m of behind) {
    assert.equal(m.offset, 17, 'a consumer behind the log start resets to it (earliest)')
    break
  }
  await broker.close()
  broker = await Broker.open({ dir })
  assert.equal(broker.topic('t').earliestOffset(0), 17)
  await broker.close()
})

test('retention by time with an injected clock: expired segments go, the log start moves, a quiet topic expires too', async (t) => {
  let now = 1_000_000
  const broker = await Broker.open({ dir: tempDir(t), clock: () => now })
  await broker.createTopic('t', { segmentBytes: 1024, retentionMs: 10_000 })
  await fill(broker, 't', 20, { timestamp: now })
  now += 5_000
  await fill(broker, 't', 20, { timestamp: now })
  const segments = broker.describeTopic('t').partitions[0]!.segments
  assert.equal(await broker.enforceRetention(), 0, 'nothing expired yet')
  now += 6_000 // the first 20 records are 11 s old, the next 20 only 6 s
  const deleted = await broker.enforceRetention()
  assert.ok(deleted > 0)
  const start = broker.topic('t').earliestOffset(0)
  assert.ok(start > 0 && start <= 20, `log start ${start}`)
  assert.equal(broker.topic('t').latestOffset(0), 40)
  assert.ok(broker.describeTopic('t').partitions[0]!.segments < segments)
  now += 60_000 // everything expired, including the active segment: it is rolled and deleted
  await broker.enforceRetention()
  assert.equal(broker.topic('t').earliestOffset(0), 40)
  assert.equal(broker.topic('t').latestOffset(0), 40)
  await fill(broker, 't', 1, { timestamp: now })
  assert.equal(broker.topic('t').latestOffset(0), 41, 'offsets go on after the log emptied')
  await broker.close()
})

test('retention by size keeps the partition near retentionBytes and never deletes the active segment', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  await broker.createTopic('t', { segmentBytes: 1024, retentionBytes: 3000 })
  await fill(broker, 't', 60)
  await broker.enforceRetention()
  const p = broker.describeTopic('t').partitions[0]!
  assert.ok(p.sizeBytes <= 3000 + 1024, `size ${p.sizeBytes}`)
  assert.ok(p.sizeBytes >= 3000 - 1024, `size ${p.sizeBytes}`)
  assert.equal(p.latest, 60)
  await broker.alterTopicConfig('t', { retentionBytes: 0 })
  await broker.enforceRetention()
  assert.ok(broker.describeTopic('t').partitions[0]!.segments >= 1)
  await broker.close()
})

test('the retention timer runs on its own (retentionCheckIntervalMs) and stops with close()', async (t) => {
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = timers()
  let now = 1_000_000
  const broker = await Broker.open({ dir: tempDir(t), clock: () => now, retentionCheckIntervalMs: 10 })
  await broker.createTopic('t', { segmentBytes: 1024, retentionMs: 1000 })
  await fill(broker, 't', 20, { timestamp: now })
  now += 5000
  await waitFor(() => broker.topic('t').earliestOffset(0) === 20, 5000, 'retention ran on its timer')
  await broker.close()
  assert.equal(timers(), before, 'close() stops every timer')
})

test('a compacted topic refuses key-less records, from producers and the raw API, writing nothing', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const topic = await broker.createTopic('c', { cleanupPolicy: 'compact' })
  const producer = broker.producer()
  await assert.rejects(producer.send('c', [{ key: 'k', value: 'v' }, { value: 'no key' }]), { code: 'INVALID_RECORD' })
  const { encodeRecordBatch } = await import('../../src/index.js')
  await assert.rejects(topic.partition(0).appendBatch(encodeRecordBatch([{ key: null, value: Buffer.from('x'), timestamp: 1 }])), { code: 'INVALID_RECORD' })
  assert.equal(topic.latestOffset(0), 0)
  await producer.send('c', { key: 'k', value: null })
  assert.equal(topic.latestOffset(0), 1, 'a tombstone with a key is fine')
})

test('a background retention failure is emitted as an error event and shown by health(), never swallowed', async () => {
  const { MemoryFileIO } = await import('../../src/util/file-io.js')
  let failUnlink = false
  const fileIO = new MemoryFileIO((op) => (failUnlink && op === 'unlink' ? 'EIO' : undefined))
  let now = 1_000_000
  const broker = await Broker.open({ fileIO, dir: '/d', clock: () => now, retentionCheckIntervalMs: 5 })
  await broker.createTopic('t', { segmentBytes: 1024, retentionMs: 1000 })
  await fill(broker, 't', 20, { timestamp: now })
  const errors: Error[] = []
  broker.on('error', (e: Error) => errors.push(e))
  assert.equal(broker.health().ok, true)
  failUnlink = true
  now += 10_000
  await waitFor(() => errors.length > 0, 5000, 'the retention failure reported')
  assert.equal(broker.health().ok, false)
  assert.match(broker.health().errors[0]!.message, /retention/)
  failUnlink = false
  await broker.close()
})
