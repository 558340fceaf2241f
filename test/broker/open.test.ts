import assert from 'node:assert/strict'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Broker, LockError, Topic, encodeRecordBatch } from '../../src/index.js'
import { dirSnapshot, listTree, tempDir, test } from '../fixtures/helpers.js'

test('open with a missing dir creates it recursively; partitions get Kafka-named dirs', async (t) => {
  const root = tempDir(t)
  const dir = join(root, 'a', 'b', 'data')
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  assert.ok(statSync(dir).isDirectory())
  assert.equal(broker.inMemory, false)
  await broker.createTopic('orders', { partitions: 3 })
  for (const p of [0, 1, 2]) assert.ok(existsSync(join(dir, `orders-${p}`, '00000000000000000000.log')))
  assert.ok(existsSync(join(dir, '__cluster_metadata')))
})

test('open without a dir keeps everything in memory (nothing under the cwd or tmp)', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  assert.equal(broker.inMemory, true)
  const topic = await broker.createTopic('mem', { partitions: 2 })
  assert.equal(topic.partitions, 2)
  assert.ok(!existsSync(broker.dir), 'an in-memory broker writes no directory')
  const [m] = await broker.producer().send('mem', { value: Buffer.from('x'), partition: 1 })
  assert.deepEqual({ partition: m!.partition, offset: m!.offset }, { partition: 1, offset: 0 })
  assert.equal(topic.latestOffset(1), 1)
})

test('two in-memory brokers do not share topics', async (t) => {
  const a = await Broker.open()
  const b = await Broker.open()
  t.after(() => Promise.all([a.close(), b.close()]))
  await a.createTopic('only-a')
  assert.equal(a.hasTopic('only-a'), true)
  assert.equal(b.hasTopic('only-a'), false)
})

test('createTopic, topic, topics and hasTopic', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  assert.deepEqual(broker.topics(), [])
  const b = await broker.createTopic('b-topic', { partitions: 2, retentionMs: 1000, messageTimestampType: 'LogAppendTime' })
  const a = await broker.createTopic('a.topic_1')
  assert.ok(b instanceof Topic)
  assert.equal(b.name, 'b-topic')
  assert.equal(b.partitions, 2)
  assert.equal(b.config.retentionMs, 1000)
  assert.equal(b.config.messageTimestampType, 'LogAppendTime')
  assert.equal(b.config.segmentBytes, 1024 * 1024 * 1024, 'unset configs follow the defaults')
  assert.equal(a.partitions, 1)
  assert.match(a.id, /^[0-9a-f-]{36}$/)
  assert.notEqual(a.id, b.id)
  assert.equal(broker.topic('b-topic'), b)
  assert.deepEqual(broker.topics().map((x) => x.name), ['a.topic_1', 'b-topic'])
  assert.equal(broker.hasTopic('a.topic_1'), true)
  assert.equal(broker.hasTopic('nope'), false)
})

test('topic defaults of the broker apply to new topics, a topic override wins', async (t) => {
  const broker = await Broker.open({ topicDefaults: { segmentBytes: 4096, retentionMs: -1 } })
  t.after(() => broker.close())
  const x = await broker.createTopic('x')
  const y = await broker.createTopic('y', { segmentBytes: 8192 })
  assert.equal(x.config.segmentBytes, 4096)
  assert.equal(x.config.retentionMs, -1)
  assert.equal(y.config.segmentBytes, 8192)
})

test('concurrent createTopic of one name: one wins, the other gets TopicExistsError', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  const results = await Promise.allSettled([broker.createTopic('same'), broker.createTopic('same', { partitions: 3 })])
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
  const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
  assert.equal(rejected.reason.code, 'TOPIC_EXISTS')
  assert.equal(broker.topic('same').partitions, 1)
})

test('Topic offsets: earliest, latest, offsets(), offsetForTimestamp', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  const topic = await broker.createTopic('ts', { partitions: 2 })
  assert.deepEqual(topic.offsets(), [
    { partition: 0, earliest: 0, latest: 0 },
    { partition: 1, earliest: 0, latest: 0 },
  ])
  assert.equal(topic.offsetForTimestamp(0, 0), null, 'an empty partition has no offset for any time')
  const producer = broker.producer()
  const base = 1_700_000_000_000
  await producer.send('ts', [0, 1, 2, 3, 4].map((i) => ({ value: Buffer.from(`v${i}`), partition: 0, timestamp: base + i * 1000 })))
  await producer.send('ts', { value: Buffer.from('p1'), partition: 1, timestamp: base })
  assert.equal(topic.earliestOffset(0), 0)
  assert.equal(topic.latestOffset(0), 5)
  assert.equal(topic.latestOffset(1), 1)
  assert.deepEqual(topic.offsets(), [
    { partition: 0, earliest: 0, latest: 5 },
    { partition: 1, earliest: 0, latest: 1 },
  ])
  assert.equal(topic.offsetForTimestamp(0, 0), 0)
  assert.equal(topic.offsetForTimestamp(0, base), 0)
  assert.equal(topic.offsetForTimestamp(0, base + 1), 1, 'first offset whose timestamp is >= t')
  assert.equal(topic.offsetForTimestamp(0, base + 3000), 3)
  assert.equal(topic.offsetForTimestamp(0, base + 4000), 4)
  assert.equal(topic.offsetForTimestamp(0, base + 4001), null)
  assert.equal(topic.offsetForTimestamp(1, base + 1), null)
})

test('offsetForTimestamp across rolled segments and batches of several records', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  const topic = await broker.createTopic('roll', { segmentBytes: 1024 })
  const producer = broker.producer()
  const base = 1_600_000_000_000
  for (let i = 0; i < 40; i++) {
    await producer.send('roll', [
      { value: Buffer.alloc(50, i), timestamp: base + i * 10 },
      { value: Buffer.alloc(50, i), timestamp: base + i * 10 + 5 },
    ])
  }
  assert.ok(topic.partition(0).log.segmentCount > 3, 'segments rolled')
  for (let i = 0; i < 40; i++) {
    assert.equal(topic.offsetForTimestamp(0, base + i * 10), 2 * i)
    assert.equal(topic.offsetForTimestamp(0, base + i * 10 + 1), 2 * i + 1)
    assert.equal(topic.offsetForTimestamp(0, base + i * 10 + 6), i < 39 ? 2 * i + 2 : null)
  }
  assert.equal(topic.latestOffset(0), 80)
})

test('the data dir holds only Kafka-named files: no stray files after create, produce and close', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  await broker.createTopic('files', { partitions: 1 })
  await broker.producer().send('files', { value: Buffer.from('x') })
  await broker.close()
  const names = listTree(dir)
  for (const n of names) {
    assert.match(n, /^(files-0|__cluster_metadata)(\/\d{20}\.(log|index|timeindex|snapshot))?$|^(recovery-point-offset-checkpoint|log-start-offset-checkpoint|\.kafka_cleanshutdown)$/, n)
  }
})

test('a read-only open sees the data, refuses writes with InvalidConfigError and writes nothing', async (t) => {
  const dir = tempDir(t)
  const writer = await Broker.open({ dir })
  t.after(() => writer.close())
  await writer.createTopic('ro', { partitions: 2 })
  await writer.producer().send('ro', [{ value: Buffer.from('a'), partition: 1 }])
  const before = dirSnapshot(dir)
  const reader = await Broker.open({ dir, readOnly: true })
  assert.deepEqual(reader.topic('ro').offsets().map((o) => o.latest), [0, 1])
  await assert.rejects(reader.createTopic('x'), { code: 'INVALID_CONFIG' })
  assert.throws(() => reader.producer(), { code: 'INVALID_CONFIG' })
  await assert.rejects(reader.topic('ro').partition(0).appendBatch(encodeRecordBatch([{ key: null, value: null, timestamp: 0 }])), {
    code: 'INVALID_CONFIG',
  })
  const consumer = reader.consumer({ fromBeginning: true })
  await consumer.subscribe('ro')
  for await (const m of consumer) {
    assert.equal(String(m.value), 'a')
    break
  }
  await reader.close()
  assert.deepEqual(dirSnapshot(dir), before)
})

test('two concurrent opens of one dir in one process: exactly one wins, the other gets LockError', async (t) => {
  const dir = tempDir(t)
  for (let round = 0; round < 5; round++) {
    const results = await Promise.allSettled([Broker.open({ dir }), Broker.open({ dir }), Broker.open({ dir })])
    const opened = results.filter((r): r is PromiseFulfilledResult<Broker> => r.status === 'fulfilled').map((r) => r.value)
    const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason)
    await Promise.all(opened.map((b) => b.close()))
    assert.equal(opened.length, 1, `round ${round}: ${opened.length} brokers opened the same dir`)
    for (const e of errors) assert.ok(e instanceof LockError && e.pid === process.pid, String(e))
  }
})
