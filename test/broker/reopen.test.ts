// Persistence across close and reopen: topics with their configs, records and offsets.
import assert from 'node:assert/strict'
import { appendFileSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pack } from 'msgpackr'
import { Broker, MemoryFileIO, encodeRecordBatch, type Message } from '../../src/index.js'
import { tempDir, test } from '../fixtures/helpers.js'

/** Every record of a partition, read through a consumer that stops at the high watermark. */
async function readAll(broker: Broker, topic: string, partition: number): Promise<Message[]> {
  const end = broker.topic(topic).latestOffset(partition)
  const out: Message[] = []
  if (end === broker.topic(topic).earliestOffset(partition)) return out
  const consumer = broker.consumer()
  consumer.assign([{ topic, partition, offset: broker.topic(topic).earliestOffset(partition) }])
  for await (const m of consumer) {
    out.push(m)
    if (m.offset === end - 1) break
  }
  await consumer.close()
  return out
}

test('reopen keeps topics (with configs), records, headers, timestamps and offsets', async (t) => {
  const dir = tempDir(t)
  const first = await Broker.open({ dir })
  await first.createTopic('orders', { partitions: 3, retentionMs: 86_400_000, segmentBytes: 2048, messageTimestampType: 'CreateTime' })
  await first.createTopic('audit', { cleanupPolicy: 'compact', maxMessageBytes: 5000 })
  const producer = first.producer()
  const sent = await producer.send(
    'orders',
    Array.from({ length: 60 }, (_, i) => ({ key: `k${i % 7}`, value: Buffer.from(`v${i}`), headers: { i: String(i) }, timestamp: 1000 + i })),
  )
  await producer.send('audit', { key: 'a', value: null })
  const ids = { orders: first.topic('orders').id, audit: first.topic('audit').id }
  const offsets = first.topic('orders').offsets()
  await first.close()

  const second = await Broker.open({ dir })
  t.after(() => second.close())
  assert.deepEqual(second.topics().map((x) => x.name), ['audit', 'orders'])
  const orders = second.topic('orders')
  assert.equal(orders.id, ids.orders)
  assert.equal(second.topic('audit').id, ids.audit)
  assert.equal(orders.partitions, 3)
  assert.equal(orders.config.retentionMs, 86_400_000)
  assert.equal(orders.config.segmentBytes, 2048)
  assert.equal(second.topic('audit').config.cleanupPolicy, 'compact')
  assert.equal(second.topic('audit').config.maxMessageBytes, 5000)
  assert.deepEqual(orders.offsets(), offsets)
  for (let p = 0; p < 3; p++) {
    const got = await readAll(second, 'orders', p)
    const want = sent.map((m, i) => ({ ...m, i })).filter((m) => m.partition === p)
    assert.deepEqual(
      got.map((m) => [m.offset, m.value.toString(), String(m.headers.i), m.timestamp]),
      want.map((m) => [m.offset, `v${m.i}`, String(m.i), 1000 + m.i]),
    )
  }
  const [tomb] = await readAll(second, 'audit', 0)
  assert.equal(tomb!.value, null)
  assert.equal(tomb!.key.toString(), 'a')
  // Appends continue at the old high watermark.
  const [next] = await second.producer().send('orders', { value: Buffer.from('after'), partition: 0 })
  assert.equal(next!.offset, offsets[0]!.latest)
})

test('reopen twice, creating topics and producing in each reopened broker', async (t) => {
  const dir = tempDir(t)
  let broker = await Broker.open({ dir })
  await broker.createTopic('t0', { partitions: 2 })
  await broker.producer().send('t0', { value: Buffer.from('r0'), partition: 1 })
  await broker.close()

  broker = await Broker.open({ dir })
  await broker.createTopic('t1', { segmentBytes: 1024 })
  await broker.producer().send('t0', { value: Buffer.from('r1'), partition: 1 })
  await broker.producer().send('t1', { value: Buffer.from('x') })
  await broker.close()

  broker = await Broker.open({ dir })
  await broker.createTopic('t2')
  await broker.close()

  broker = await Broker.open({ dir })
  t.after(() => broker.close())
  assert.deepEqual(broker.topics().map((x) => x.name), ['t0', 't1', 't2'])
  assert.equal(broker.topic('t1').config.segmentBytes, 1024)
  assert.deepEqual(broker.topic('t0').offsets(), [
    { partition: 0, earliest: 0, latest: 0 },
    { partition: 1, earliest: 0, latest: 2 },
  ])
  assert.deepEqual((await readAll(broker, 't0', 1)).map((m) => m.value.toString()), ['r0', 'r1'])
  assert.equal(broker.topic('t1').latestOffset(0), 1)
  assert.equal(broker.topic('t2').latestOffset(0), 0)
})

test('reopen after many rolled segments reads every record in order', async (t) => {
  const dir = tempDir(t)
  const first = await Broker.open({ dir })
  await first.createTopic('rolls', { segmentBytes: 1024 })
  const producer = first.producer({ acks: 'leader' })
  for (let i = 0; i < 200; i++) await producer.send('rolls', { value: Buffer.from(`record-${i}`.padEnd(40, '.')) })
  const segments = first.topic('rolls').partition(0).log.segmentCount
  assert.ok(segments > 5, `only ${segments} segments`)
  await first.close()
  const second = await Broker.open({ dir })
  t.after(() => second.close())
  assert.equal(second.topic('rolls').partition(0).log.segmentCount, segments)
  const got = await readAll(second, 'rolls', 0)
  assert.deepEqual(got.map((m) => m.offset), Array.from({ length: 200 }, (_, i) => i))
  assert.equal(got[199]!.value.toString().trimEnd().replace(/\.+$/, ''), 'record-199')
})

test('an in-memory broker with a shared fileIO reopens like a dir', async (t) => {
  const fileIO = new MemoryFileIO()
  const a = await Broker.open({ fileIO, dir: '/d' })
  await a.createTopic('m', { partitions: 2 })
  await a.producer().send('m', { value: Buffer.from('x'), partition: 1 })
  await a.close()
  const b = await Broker.open({ fileIO, dir: '/d' })
  t.after(() => b.close())
  assert.deepEqual(b.topic('m').offsets().map((o) => o.latest), [0, 1])
})

/** Open file descriptors of this process. */
const fds = (): number => readdirSync('/proc/self/fd').length

async function threeTopics(dir: string): Promise<void> {
  const broker = await Broker.open({ dir })
  for (const name of ['a', 'b', 'c']) {
    await broker.createTopic(name)
    await broker.producer().send(name, Array.from({ length: 20 }, (_, i) => ({ value: Buffer.from(`${name}${i}`) })))
    await broker.producer().send(name, { value: Buffer.from('last') })
  }
  await broker.close()
}

test('an open that fails midway closes the logs it had opened and releases the lock', async (t) => {
  const dir = tempDir(t)
  await threeTopics(dir)
  // The last partition's directory is now a file: a, b and the metadata log open, then c-0 fails.
  rmSync(join(dir, 'c-0'), { recursive: true })
  writeFileSync(join(dir, 'c-0'), 'not a directory')
  const before = fds()
  for (let i = 0; i < 2; i++) {
    const err = await Broker.open({ dir }).then(
      (b) => (b.close(), null),
      (e: { code?: string }) => e,
    )
    assert.ok(err && err.code !== 'LOCKED', `attempt ${i}: ${String(err)}`)
  }
  assert.equal(fds(), before, 'file handles of the logs opened before the failure are closed')
})

test('a metadata log from a newer version → UnsupportedVersionError, nothing left open', async (t) => {
  const dir = tempDir(t)
  await threeTopics(dir)
  const file = join(dir, '__cluster_metadata', '00000000000000000000.log')
  // One record per batch: the version, three topics and the producer id blocks their producers took.
  const records = (() => {
    const bytes = readFileSync(file)
    let n = 0
    for (let pos = 0; pos < bytes.length; pos += 12 + bytes.readInt32BE(pos + 8)) n++
    return n
  })()
  const newer = encodeRecordBatch([{ key: null, value: pack({ t: 'version', version: 99 }), timestamp: Date.now() }], { baseOffset: records })
  appendFileSync(file, newer)
  const before = fds()
  for (let i = 0; i < 2; i++) await assert.rejects(Broker.open({ dir }), { code: 'UNSUPPORTED_VERSION' })
  assert.equal(fds(), before)
})

test('corruption below the recovery point → CorruptionError on every attempt (the lock is released)', async (t) => {
  const dir = tempDir(t)
  await threeTopics(dir)
  // Flip a byte inside the first batch of b-0 and make the next open unclean: the recovery point
  // (the log end) lies above the bad batch, so this is corruption, not a torn tail.
  const log = join(dir, 'b-0', '00000000000000000000.log')
  const bytes = readFileSync(log)
  bytes[70]! ^= 0xff
  writeFileSync(log, bytes)
  rmSync(join(dir, '.kafka_cleanshutdown'))
  for (let i = 0; i < 2; i++) {
    await assert.rejects(Broker.open({ dir }), (e: { code?: string; file?: string }) => e.code === 'CORRUPTION' && e.file === log)
  }
})
