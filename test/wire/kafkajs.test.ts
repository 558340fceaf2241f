// The unmodified kafkajs 2.2.4 package talking TCP to `broker.listen()`: produce at each acks level,
// consume from the beginning, a 3-member group that rebalances, transactions seen by read_committed
// and read_uncommitted consumers, and admin calls; checked against the in-process API on the same
// broker (records, lag, committed offsets).
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import type { TestContext } from 'node:test'
import type { Consumer, EachMessagePayload, Kafka as KafkaType } from 'kafkajs'
import { Broker, decodeRecords, readBatchHeader, type WireServer } from '../../src/index.js'
import { test, waitFor, withDeadline } from '../fixtures/helpers.js'

const { Kafka, logLevel } = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs')

const FAST_CONSUMER = { sessionTimeout: 6_000, heartbeatInterval: 100, rebalanceTimeout: 5_000, maxWaitTimeInMs: 100, retry: { retries: 3, initialRetryTime: 50 } }

const clients = new WeakMap<TestContext, Array<{ disconnect(): Promise<void> }>>()

/** A broker and its listener; after the test its kafkajs clients disconnect first, then it closes. */
async function served(t: TestContext): Promise<{ broker: Broker; server: WireServer; kafka: KafkaType }> {
  const broker = await Broker.open()
  const server = await broker.listen({ port: 0 })
  const mine: Array<{ disconnect(): Promise<void> }> = []
  clients.set(t, mine)
  t.after(async () => {
    await withDeadline(Promise.all(mine.map((c) => c.disconnect())), 10_000, 'kafkajs clients disconnect')
    await withDeadline(broker.close(), 10_000, 'broker.close()')
  })
  const kafka = new Kafka({ clientId: 'wire-test', brokers: [`127.0.0.1:${server.port}`], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 50 } })
  return { broker, server, kafka }
}

function disconnectAfter<T extends { disconnect(): Promise<void> }>(t: TestContext, client: T): T {
  clients.get(t)!.push(client)
  return client
}

/** Every record of a topic, read in process: "partition/offset key=value". */
function stored(broker: Broker, topic: string): string[] {
  const out: string[] = []
  const tp = broker.topic(topic)
  for (let p = 0; p < tp.partitions; p++) {
    const part = tp.partition(p)
    let offset = part.logStartOffset
    while (offset < part.highWatermark) {
      const { bytes } = part.readBatches({ offset, maxBytes: 1 << 20 })
      const recs = decode(bytes).filter((r) => r.offset >= offset)
      for (const r of recs) out.push(`${p}/${r.offset} ${r.key}=${r.value}`)
      offset = (recs.at(-1)?.offset ?? offset) + 1
    }
  }
  return out
}

function decode(bytes: Buffer): Array<{ offset: number; key: string | null; value: string | null }> {
  const out: Array<{ offset: number; key: string | null; value: string | null }> = []
  for (let pos = 0; pos < bytes.length; ) {
    const h = readBatchHeader(bytes, pos)
    if (!h.isControl) for (const r of decodeRecords(bytes, pos)) out.push({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null })
    pos += 12 + h.batchLength
  }
  return out
}

test('produce with acks -1, 1 and 0: offsets come back for -1 and 1, and every record is stored', async (t) => {
  const { broker, kafka } = await served(t)
  await broker.createTopic('acks', { partitions: 1 })
  const producer = disconnectAfter(t, kafka.producer())
  await producer.connect()
  const all = await producer.send({ topic: 'acks', acks: -1, messages: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] })
  assert.deepEqual(all.map((m) => [m.partition, m.errorCode, m.baseOffset]), [[0, 0, '0']], 'acks -1: base offset 0')
  const leader = await producer.send({ topic: 'acks', acks: 1, messages: [{ key: 'c', value: '3' }] })
  assert.deepEqual(leader.map((m) => [m.partition, m.baseOffset]), [[0, '2']], 'acks 1: base offset 2')
  const none = await producer.send({ topic: 'acks', acks: 0, messages: [{ key: 'd', value: '4' }] })
  assert.deepEqual(none, [], 'acks 0: no response, nothing to report')
  await waitFor(() => broker.topic('acks').partition(0).highWatermark === 4, 5_000, 'the acks=0 record is stored')
  assert.deepEqual(stored(broker, 'acks'), ['0/0 a=1', '0/1 b=2', '0/2 c=3', '0/3 d=4'], 'the records in order, as sent')
})

test('a kafkajs consumer reads from the beginning what in-process producers wrote: keys, values, headers, timestamps', async (t) => {
  const { broker, kafka } = await served(t)
  await broker.createTopic('history', { partitions: 3 })
  const p = broker.producer()
  const sent = Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}`, headers: { n: String(i) }, timestamp: 1_700_000_000_000 + i }))
  for (const m of sent) await p.send('history', m)
  const consumer = disconnectAfter(t, kafka.consumer({ groupId: 'readers', ...FAST_CONSUMER }))
  await consumer.connect()
  await consumer.subscribe({ topic: 'history', fromBeginning: true })
  const got: EachMessagePayload[] = []
  await consumer.run({ eachMessage: async (payload) => void got.push(payload) })
  await waitFor(() => got.length >= 30, 10_000, 'the 30 records arrive')
  const seen = got.map(({ message: m }) => ({ key: m.key!.toString(), value: m.value!.toString(), headers: { n: m.headers!.n!.toString() }, timestamp: Number(m.timestamp) }))
  assert.deepEqual(seen.sort((a, b) => a.timestamp - b.timestamp), sent, 'every record exactly once, with its key, headers and timestamp')
  for (const partition of [0, 1, 2]) {
    const offsets = got.filter((x) => x.partition === partition).map((x) => Number(x.message.offset))
    assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${partition} in offset order from 0`)
  }
  await consumer.disconnect()
  const lag = broker.group('readers').lag()
  assert.ok(lag.every((l) => l.lag === 0 && l.committed === l.end), `the group committed up to the end: ${JSON.stringify(lag)}`)
})

test('three kafkajs members share a group; when one leaves the others take its partitions; nothing is lost', async (t) => {
  const { broker, kafka } = await served(t)
  await broker.createTopic('work', { partitions: 6 })
  const seen = new Map<string, string>()
  const members: Consumer[] = []
  const assigned = new Map<number, number[]>()
  for (let i = 0; i < 3; i++) {
    const c = disconnectAfter(t, kafka.consumer({ groupId: 'workers', ...FAST_CONSUMER }))
    c.on(c.events.GROUP_JOIN, (e) => assigned.set(i, (e.payload.memberAssignment.work ?? []).slice().sort()))
    await c.connect()
    await c.subscribe({ topic: 'work', fromBeginning: true })
    await c.run({ eachMessage: async ({ partition, message }) => void seen.set(`${partition}/${message.offset}`, `m${i}:${message.value}`) })
    members.push(c)
  }
  await waitFor(() => broker.group('workers').describe().members.length === 3 && broker.group('workers').describe().state === 'Stable', 15_000, 'three members, stable')
  await waitFor(() => [...assigned.values()].flat().length === 6 && assigned.size === 3, 15_000, 'every member has its partitions')
  assert.deepEqual([...assigned.values()].flat().sort(), [0, 1, 2, 3, 4, 5], 'the 6 partitions are split among the 3 members, none twice')
  const producer = disconnectAfter(t, kafka.producer())
  await producer.connect()
  await producer.send({ topic: 'work', messages: Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: `a${i}` })) })
  await waitFor(() => seen.size === 60, 15_000, 'the first 60 records are consumed')
  await members[2]!.disconnect()
  await waitFor(() => broker.group('workers').describe().members.length === 2 && broker.group('workers').describe().state === 'Stable', 15_000, 'two members left, stable')
  await producer.send({ topic: 'work', messages: Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: `b${i}` })) })
  await waitFor(() => seen.size === 120, 15_000, 'the next 60 records are consumed by the two remaining members')
  const late = [...seen.values()].filter((v) => v.includes(':b'))
  assert.ok(late.every((v) => !v.startsWith('m2:')), 'the member that left consumed nothing after leaving')
  assert.deepEqual(stored(broker, 'work').length, 120, 'all 120 records stored')
})

test('transactions: read_committed consumers see committed records only, read_uncommitted see aborted ones too', async (t) => {
  const { broker, kafka } = await served(t)
  await broker.createTopic('txn', { partitions: 2 })
  const producer = disconnectAfter(t, kafka.producer({ transactionalId: 'tx-1', idempotent: true, maxInFlightRequests: 1 }))
  await producer.connect()
  const keep = await producer.transaction()
  await keep.send({ topic: 'txn', messages: [{ key: 'a', value: 'kept-1' }, { key: 'b', value: 'kept-2' }] })
  await keep.commit()
  const drop = await producer.transaction()
  await drop.send({ topic: 'txn', messages: [{ key: 'a', value: 'aborted-1' }, { key: 'b', value: 'aborted-2' }] })
  await drop.abort()
  const last = await producer.transaction()
  await last.send({ topic: 'txn', messages: [{ key: 'c', value: 'kept-3' }] })
  await last.commit()

  const read = async (groupId: string, readUncommitted: boolean): Promise<string[]> => {
    const c = disconnectAfter(t, kafka.consumer({ groupId, readUncommitted, ...FAST_CONSUMER }))
    await c.connect()
    await c.subscribe({ topic: 'txn', fromBeginning: true })
    const values: string[] = []
    await c.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) })
    await waitFor(() => values.length >= (readUncommitted ? 5 : 3), 10_000, `${groupId} reads its records`)
    await c.disconnect()
    return values.sort()
  }
  assert.deepEqual(await read('committed', false), ['kept-1', 'kept-2', 'kept-3'], 'read_committed: the aborted records are hidden')
  assert.deepEqual(await read('uncommitted', true), ['aborted-1', 'aborted-2', 'kept-1', 'kept-2', 'kept-3'], 'read_uncommitted: every data record')

  const inProcess = broker.consumer({ isolation: 'read_committed', fromBeginning: true })
  t.after(() => inProcess.close())
  inProcess.assign([{ topic: 'txn', partition: 0 }, { topic: 'txn', partition: 1 }])
  const values: string[] = []
  for await (const m of inProcess) {
    values.push(m.value!.toString())
    if (values.length === 3) break
  }
  assert.deepEqual(values.sort(), ['kept-1', 'kept-2', 'kept-3'], 'an in-process read_committed consumer agrees')
})

test('admin: create, list, delete topics and fetch offsets agree with the in-process broker', async (t) => {
  const { broker, kafka } = await served(t)
  const admin = disconnectAfter(t, kafka.admin())
  await admin.connect()
  assert.equal(await admin.createTopics({ topics: [{ topic: 'a1', numPartitions: 4, configEntries: [{ name: 'retention.ms', value: '3600000' }] }, { topic: 'a2' }] }), true, 'created')
  assert.equal(broker.topic('a1').partitions, 4, 'a1 has 4 partitions in process')
  assert.equal(broker.topic('a1').config.retentionMs, 3_600_000, 'the config entry took effect')
  assert.equal(await admin.createTopics({ topics: [{ topic: 'a1' }] }), false, 'creating an existing topic reports false')
  assert.deepEqual((await admin.listTopics()).filter((n) => !n.startsWith('__')).sort(), ['a1', 'a2'], 'listTopics')
  const meta = await admin.fetchTopicMetadata({ topics: ['a1'] })
  assert.deepEqual(meta.topics[0]!.partitions.map((p) => [p.partitionId, p.leader]).sort(), [[0, 0], [1, 0], [2, 0], [3, 0]], 'partition metadata: node 0 leads all')
  await admin.createPartitions({ topicPartitions: [{ topic: 'a2', count: 3 }] })
  assert.equal(broker.topic('a2').partitions, 3, 'createPartitions')

  const producer = broker.producer()
  await producer.send('a1', [{ value: 'x', partition: 1 }, { value: 'y', partition: 1 }])
  await admin.setOffsets({ groupId: 'g', topic: 'a1', partitions: [{ partition: 1, offset: '1' }] })
  assert.deepEqual(broker.group('g').committed().map((c) => [c.topic, c.partition, c.offset]), [['a1', 1, 1]], 'setOffsets is the in-process group commit')
  const fetched = await admin.fetchOffsets({ groupId: 'g', topics: ['a1'] })
  assert.deepEqual(fetched[0]!.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '-1'], [1, '1'], [2, '-1'], [3, '-1']], 'fetchOffsets')
  const offsets = await admin.fetchTopicOffsets('a1')
  assert.deepEqual(offsets.find((o) => o.partition === 1), { partition: 1, offset: '2', high: '2', low: '0' }, 'fetchTopicOffsets')
  await admin.deleteTopics({ topics: ['a2'] })
  assert.equal(broker.hasTopic('a2'), false, 'deleteTopics')
  const groups = await admin.listGroups()
  assert.deepEqual(groups.groups.map((g) => g.groupId), ['g'], 'listGroups shows the group with committed offsets')
  await admin.deleteGroups(['g'])
  assert.deepEqual(broker.groups(), [], 'deleteGroups')
})
