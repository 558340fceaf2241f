// Producer conformance, written as KafkaJS 2.2's docs use it: send/sendBatch results (strings,
// grouped per partition), partitioners (KafkaJS's own as the oracle), headers/keys/timestamps as a
// consumer sees them, auto topic creation, acks/idempotence rules, connection state and events.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import {
  CompressionCodecs,
  CompressionTypes,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
  KafkaJSProtocolError,
  Partitioners,
  type PartitionerArgs,
} from '../fixtures/kafkajs-target.js'
import { withDeadline } from '../fixtures/helpers.js'
import {
  caught,
  collectingConsumer,
  connectedAdmin,
  connectedProducer,
  documentedGap,
  errorChain,
  findProtocolError,
  kafkajsDefaultPartition,
  kafkajsLegacyPartition,
  newKafka,
  closeTargets,
  test,
} from '../fixtures/kafkajs.js'

after(() => closeTargets())

const byPartition = <T extends { topicName: string; partition: number }>(rows: T[]): T[] =>
  [...rows].sort((a, b) => a.topicName.localeCompare(b.topicName) || a.partition - b.partition)

test('send() resolves to one RecordMetadata per partition, offsets as strings', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  assert.equal(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] }), true, 'topic created')
  const producer = await connectedProducer(t, kafka)
  const first = await producer.send({
    topic: 'orders',
    messages: [
      { value: 'a', partition: 0 },
      { value: 'b', partition: 2 },
      { value: 'c', partition: 0 },
    ],
  })
  assert.deepEqual(
    byPartition(first),
    [
      { topicName: 'orders', partition: 0, errorCode: 0, baseOffset: '0', logAppendTime: '-1', logStartOffset: '0' },
      { topicName: 'orders', partition: 2, errorCode: 0, baseOffset: '0', logAppendTime: '-1', logStartOffset: '0' },
    ],
    'two partitions written, one row each',
  )
  const second = await producer.send({ topic: 'orders', messages: [{ value: 'd', partition: 0 }, { value: 'e', partition: 1 }] })
  assert.deepEqual(
    byPartition(second).map((r) => [r.partition, r.baseOffset]),
    [
      [0, '2'],
      [1, '0'],
    ],
    'baseOffset is the first offset written in each partition',
  )
  for (const row of [...first, ...second]) {
    assert.equal(typeof row.baseOffset, 'string', 'baseOffset is a string')
    assert.equal(typeof row.logAppendTime, 'string', 'logAppendTime is a string')
    assert.equal(typeof row.logStartOffset, 'string', 'logStartOffset is a string')
  }
})

test('sendBatch({ topicMessages }) writes to several topics and returns rows for each', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'sb-a', numPartitions: 2 }, { topic: 'sb-b' }] })
  const producer = await connectedProducer(t, kafka)
  const result = await producer.sendBatch({
    topicMessages: [
      { topic: 'sb-a', messages: [{ value: '1', partition: 1 }] },
      { topic: 'sb-b', messages: [{ value: '2' }, { value: '3' }] },
      { topic: 'sb-a', messages: [{ value: '4', partition: 1 }] },
    ],
  })
  assert.deepEqual(
    byPartition(result).map((r) => [r.topicName, r.partition, r.baseOffset, r.errorCode]),
    [
      ['sb-a', 1, '0', 0],
      ['sb-b', 0, '0', 0],
    ],
    'messages for the same topic are merged (KafkaJS merges topicMessages per topic)',
  )
  const offsets = await admin.fetchTopicOffsets('sb-a')
  assert.equal(offsets.find((o) => o.partition === 1)?.high, '2', 'both sb-a messages were written to partition 1')
})

test('keyed messages land where KafkaJS\'s DefaultPartitioner puts them (and the consumer sees key, value, headers, timestamp)', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'keyed', numPartitions: 7 }] })
  const producer = await connectedProducer(t, kafka, { createPartitioner: Partitioners.DefaultPartitioner })
  const keys = Array.from({ length: 30 }, (_, i) => `user-${i * 37}`)
  await producer.send({
    topic: 'keyed',
    messages: keys.map((key, i) => ({ key, value: `v${i}`, headers: { idx: String(i), bin: Buffer.from([i]) }, timestamp: String(1_700_000_000_000 + i) })),
  })
  const collector = await collectingConsumer(t, kafka, { groupId: 'keyed-g', topics: ['keyed'] })
  await collector.waitForCount(keys.length)
  for (const r of collector.received) {
    const i = Number(r.value!.slice(1))
    assert.equal(r.key, keys[i], 'key comes back as sent')
    assert.equal(r.partition, kafkajsDefaultPartition(keys[i], 7), `partition of ${keys[i]}`)
    const headers = r.payload.message.headers!
    assert.ok(Buffer.isBuffer(headers.idx), 'header values are Buffers')
    assert.equal(headers.idx!.toString(), String(i), 'string header value')
    assert.deepEqual(headers.bin, Buffer.from([i]), 'Buffer header value')
    assert.equal(r.payload.message.timestamp, String(1_700_000_000_000 + i), 'timestamp as sent, a string')
  }
})

test('LegacyPartitioner and a custom createPartitioner are honoured', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'legacy', numPartitions: 5 }, { topic: 'custom', numPartitions: 4 }] })
  const legacy = await connectedProducer(t, kafka, { createPartitioner: Partitioners.LegacyPartitioner })
  const keys = ['a', 'bb', 'ccc', 'user-42', 'ключ', 'zzzzzzzzzzzz']
  for (const key of keys) {
    const [row] = await legacy.send({ topic: 'legacy', messages: [{ key, value: key }] })
    assert.equal(row!.partition, kafkajsLegacyPartition(key, 5), `LegacyPartitioner partition of ${key}`)
  }
  const calls: PartitionerArgs[] = []
  const custom = await connectedProducer(t, kafka, {
    createPartitioner: () => (args: PartitionerArgs) => {
      calls.push(args)
      return Number(args.message.value!.toString()) % args.partitionMetadata.length
    },
  })
  const rows = await custom.send({ topic: 'custom', messages: [{ value: '1' }, { value: '2' }, { value: '7' }] })
  assert.deepEqual(byPartition(rows).map((r) => r.partition), [1, 2, 3], 'the custom partitioner chose the partitions')
  assert.equal(calls.length, 3, 'called once per message')
  assert.equal(calls[0]!.topic, 'custom', 'partitioner args: topic')
  assert.deepEqual(
    calls[0]!.partitionMetadata.map((p) => p.partitionId).sort(),
    [0, 1, 2, 3],
    'partitioner args: partitionMetadata lists every partition',
  )
  assert.equal(typeof calls[0]!.partitionMetadata[0]!.leader, 'number', 'partitionMetadata entries have a leader')
})

test('key-less messages, null keys and null values (tombstones) round-trip; repeated headers become arrays', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({
    topic: 'nulls',
    messages: [
      { value: 'no key' },
      { key: null, value: 'null key' },
      { key: 'k', value: null },
      { value: 'multi', headers: { rep: ['1', Buffer.from('2')], single: 's' } },
    ],
  })
  const collector = await collectingConsumer(t, kafka, { groupId: 'nulls-g', topics: ['nulls'] })
  await collector.waitForCount(4)
  const [noKey, nullKey, tombstone, multi] = collector.received.sort((a, b) => Number(a.offset) - Number(b.offset))
  assert.equal(noKey!.payload.message.key, null, 'a message without key has key null')
  assert.equal(noKey!.value, 'no key', 'value')
  assert.equal(nullKey!.payload.message.key, null, 'key null stays null')
  assert.equal(tombstone!.payload.message.value, null, 'a null value is a tombstone: value null')
  assert.equal(tombstone!.key, 'k', 'tombstone key')
  const headers = multi!.payload.message.headers!
  assert.ok(Array.isArray(headers.rep), 'a header sent as an array comes back as an array (repeated header)')
  assert.deepEqual((headers.rep as Buffer[]).map(String), ['1', '2'], 'repeated header values in order')
  assert.equal(headers.single!.toString(), 's', 'single header')
  assert.deepEqual(noKey!.payload.message.headers, {}, 'no headers: {}')
})

test('send to an unknown topic creates it (allowAutoTopicCreation defaults to true)', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const [row] = await producer.send({ topic: 'auto-created', messages: [{ value: 'x' }] })
  assert.equal(row!.topicName, 'auto-created', 'written')
  assert.equal(row!.baseOffset, '0', 'first offset')
  const admin = await connectedAdmin(t, kafka)
  assert.ok((await admin.listTopics()).includes('auto-created'), 'the topic now exists')
})

test('allowAutoTopicCreation: false: send to an unknown topic fails with UNKNOWN_TOPIC_OR_PARTITION (code 3, retriable)', async (t) => {
  const kafka = newKafka({ retry: { initialRetryTime: 10, retries: 1 } })
  const producer = await connectedProducer(t, kafka, { allowAutoTopicCreation: false, retry: { initialRetryTime: 10, retries: 1 } })
  const error = await caught(() => producer.send({ topic: 'not-there', messages: [{ value: 'x' }] }), 10_000, 'send to unknown topic')
  assert.ok(error instanceof KafkaJSError, `a KafkaJSError (got ${String(error)})`)
  // KafkaJS retries the retriable protocol error and then rejects with it, or with
  // KafkaJSNumberOfRetriesExceeded whose cause is it.
  const protocol = findProtocolError(error, 'UNKNOWN_TOPIC_OR_PARTITION')
  assert.ok(protocol, `the error (or its cause) has type UNKNOWN_TOPIC_OR_PARTITION: ${errorChain(error).map((e) => `${e.name}:${e.type}`).join(' <- ')}`)
  assert.ok(protocol instanceof KafkaJSProtocolError, 'the protocol error is a KafkaJSProtocolError')
  assert.equal(protocol.code, 3, 'code 3')
  assert.equal(protocol.retriable, true, 'UNKNOWN_TOPIC_OR_PARTITION is retriable')
  const admin = await connectedAdmin(t, kafka)
  assert.ok(!(await admin.listTopics()).includes('not-there'), 'the topic was not created')
})

test('invalid sends are refused like KafkaJS: no value, no topic, idempotent with acks != -1', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const noValue = await caught(() => producer.send({ topic: 'v', messages: [{ key: 'k' } as never] }))
  assert.ok(noValue instanceof KafkaJSNonRetriableError, `message without value: KafkaJSNonRetriableError (got ${String(noValue)})`)
  assert.match((noValue as Error).message, /Invalid message without value/, 'KafkaJS\'s message')
  const noTopic = await caught(() => producer.send({ topic: '', messages: [{ value: 'x' }] }))
  assert.ok(noTopic instanceof KafkaJSNonRetriableError, `empty topic: KafkaJSNonRetriableError (got ${String(noTopic)})`)
  const idempotent = await connectedProducer(t, kafka, { idempotent: true })
  assert.equal(idempotent.isIdempotent(), true, 'isIdempotent()')
  assert.equal(producer.isIdempotent(), false, 'KafkaJS producers are not idempotent unless asked')
  const acks1 = await caught(() => idempotent.send({ topic: 'v', acks: 1, messages: [{ value: 'x' }] }))
  assert.ok(acks1 instanceof KafkaJSNonRetriableError, `idempotent + acks 1: KafkaJSNonRetriableError (got ${String(acks1)})`)
  const admin = await connectedAdmin(t, kafka)
  const offsets = await admin.fetchTopicOffsets('v').catch(() => [])
  assert.ok(offsets.every((o) => o.high === '0'), 'nothing was written by the refused sends')
})

test('acks: 0 resolves to [] (no response expected); acks: 1 and -1 resolve to metadata', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  assert.deepEqual(await producer.send({ topic: 'acks', acks: 0, messages: [{ value: 'x' }] }), [], 'acks 0')
  const one = await producer.send({ topic: 'acks', acks: 1, messages: [{ value: 'y' }] })
  assert.equal(one.length, 1, 'acks 1: one row')
  const all = await producer.send({ topic: 'acks', acks: -1, timeout: 1000, messages: [{ value: 'z' }] })
  assert.equal(all[0]!.baseOffset, '2', 'acks -1: after the two earlier messages')
})

test('compression: GZIP round-trips; the consumer sees plain values', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const big = 'compress me '.repeat(500)
  await producer.send({ topic: 'gz', compression: CompressionTypes.GZIP, messages: [{ key: 'k', value: big }, { value: 'small' }] })
  await producer.sendBatch({ compression: CompressionTypes.GZIP, topicMessages: [{ topic: 'gz', messages: [{ value: 'batch' }] }] })
  const collector = await collectingConsumer(t, kafka, { groupId: 'gz-g', topics: ['gz'] })
  await collector.waitForCount(3)
  assert.deepEqual(collector.received.map((r) => r.value), [big, 'small', 'batch'], 'values decompressed, in order')
  assert.deepEqual(collector.received.map((r) => r.offset), ['0', '1', '2'], 'offsets')
})

test('send before connect and after disconnect is refused (KafkaJS: "The producer is disconnected")', async (t) => {
  const kafka = newKafka()
  const producer = kafka.producer()
  const before = await caught(() => producer.send({ topic: 'dc', messages: [{ value: 'x' }] }))
  assert.ok(before instanceof KafkaJSError, `before connect: a KafkaJSError (got ${String(before)})`)
  assert.match((before as Error).message, /disconnected/i, 'message says disconnected')
  await producer.connect()
  await producer.send({ topic: 'dc', messages: [{ value: 'ok' }] })
  await producer.disconnect()
  const afterwards = await caught(() => producer.send({ topic: 'dc', messages: [{ value: 'y' }] }))
  assert.ok(afterwards instanceof KafkaJSError, `after disconnect: a KafkaJSError (got ${String(afterwards)})`)
  await producer.connect()
  const again = await producer.send({ topic: 'dc', messages: [{ value: 'z' }] })
  assert.equal(again[0]!.baseOffset, '1', 'a producer can connect again after disconnect')
  await producer.disconnect()
})

test('producer events: CONNECT and DISCONNECT with KafkaJS\'s event shape; on() returns a remover', async (t) => {
  const kafka = newKafka()
  const producer = kafka.producer()
  const seen: { id: unknown; type: string; timestamp: number; payload: unknown }[] = []
  const removeConnect = producer.on(producer.events.CONNECT, (e) => {
    seen.push(e)
  })
  producer.on(producer.events.DISCONNECT, (e) => {
    seen.push(e)
  })
  assert.equal(typeof removeConnect, 'function', 'on() returns a function')
  await withDeadline(producer.connect(), 5000, 'connect')
  await withDeadline(producer.disconnect(), 5000, 'disconnect')
  assert.deepEqual(seen.map((e) => e.type), ['producer.connect', 'producer.disconnect'], 'event types')
  for (const e of seen) {
    assert.equal(typeof e.timestamp, 'number', 'timestamp is a number')
    assert.ok(e.id !== undefined, 'event id')
    assert.ok('payload' in e, 'payload present')
  }
  removeConnect()
  await producer.connect()
  await producer.disconnect()
  assert.deepEqual(seen.map((e) => e.type), ['producer.connect', 'producer.disconnect', 'producer.disconnect'], 'no CONNECT after the remover ran')
  t.after(() => producer.disconnect())
})

for (const idempotent of [false, true]) {
  test(`concurrent sends all succeed and offsets are dense per partition (idempotent: ${idempotent})`, async (t) => {
    const kafka = newKafka()
    const admin = await connectedAdmin(t, kafka)
    await admin.createTopics({ topics: [{ topic: 'conc', numPartitions: 2 }] })
    const producer = await connectedProducer(t, kafka, { idempotent })
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => producer.send({ topic: 'conc', messages: [{ value: `m${i}`, partition: i % 2 }] })),
    )
    const bases = results.flat().reduce<Record<number, number[]>>((acc, r) => {
      ;(acc[r.partition] ??= []).push(Number(r.baseOffset))
      return acc
    }, {})
    for (const p of [0, 1]) {
      assert.deepEqual(bases[p]!.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i), `partition ${p}: offsets 0..19, once each`)
    }
    const offsets = await admin.fetchTopicOffsets('conc')
    assert.deepEqual(offsets.map((o) => o.high).sort(), ['20', '20'], 'nothing written twice')
  })
}

test('a message larger than the topic\'s max.message.bytes is refused with MESSAGE_TOO_LARGE (code 10)', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'small', configEntries: [{ name: 'max.message.bytes', value: '2048' }] }] })
  const producer = await connectedProducer(t, kafka)
  const error = await caught(() => producer.send({ topic: 'small', messages: [{ value: 'x'.repeat(8192) }] }), 10_000, 'send too large')
  const protocol = findProtocolError(error, 'MESSAGE_TOO_LARGE')
  assert.ok(protocol, `MESSAGE_TOO_LARGE in ${errorChain(error).map((e) => `${e.name}:${e.type}`).join(' <- ')}`)
  assert.equal(protocol.code, 10, 'code 10')
  assert.equal(protocol.retriable, false, 'not retriable')
  assert.equal((await admin.fetchTopicOffsets('small'))[0]!.high, '0', 'nothing written')
  const [ok] = await producer.send({ topic: 'small', messages: [{ value: 'fits' }] })
  assert.equal(ok!.baseOffset, '0', 'a small message still goes through')
})

test('Snappy/LZ4/ZSTD without a registered codec: KafkaJSNotImplemented, as in KafkaJS', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  for (const [name, type] of [
    ['Snappy', CompressionTypes.Snappy],
    ['LZ4', CompressionTypes.LZ4],
    ['ZSTD', CompressionTypes.ZSTD],
  ] as const) {
    const error = await caught(() => producer.send({ topic: 'codec', compression: type, messages: [{ value: 'x' }] }), 5000, `send with ${name}`)
    const notImplemented = errorChain(error).find((e) => e instanceof KafkaJSNotImplemented)
    assert.ok(notImplemented, `${name}: KafkaJSNotImplemented in ${errorChain(error).map((e) => `${e.name}: ${e.message}`).join(' <- ')}`)
    assert.equal(notImplemented.message, `${name} compression not implemented`, `${name}: KafkaJS's message`)
  }
})

documentedGap('a pluggable codec registered in CompressionCodecs (as kafkajs-snappy does) is used to send and to read', 'Snappy/LZ4/ZSTD', async (t) => {
  const codecs = CompressionCodecs as Record<number, unknown>
  const previous = codecs[CompressionTypes.Snappy]
  t.after(() => {
    codecs[CompressionTypes.Snappy] = previous
  })
  let compressed = 0
  let decompressed = 0
  // KafkaJS's codec interface: a factory returning { compress(encoder), decompress(buffer) }.
  // This one stores the bytes reversed, so that a reader that skipped it would see garbage.
  codecs[CompressionTypes.Snappy] = () => ({
    async compress(encoder: { buffer: Buffer }) {
      compressed++
      return Buffer.from(encoder.buffer).reverse()
    },
    async decompress(buffer: Buffer) {
      decompressed++
      return Buffer.from(buffer).reverse()
    },
  })
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'snappy', compression: CompressionTypes.Snappy, messages: [{ key: 'k', value: 'through the codec' }] })
  assert.ok(compressed >= 1, 'the codec compressed the batch')
  const collector = await collectingConsumer(t, kafka, { groupId: 'snappy-g', topics: ['snappy'] })
  await collector.waitForCount(1)
  assert.equal(collector.received[0]!.value, 'through the codec', 'the value reads back')
  assert.ok(decompressed >= 1, 'the codec decompressed the batch')
})
