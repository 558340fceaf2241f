// Consumer instrumentation events with KafkaJS's names and payloads: CONNECT, GROUP_JOIN,
// START_BATCH_PROCESS/END_BATCH_PROCESS, COMMIT_OFFSETS, HEARTBEAT, STOP, DISCONNECT; on() returns a
// remover; a listener that throws does not break consumption.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import {
  type ConsumerCommitOffsetsEvent,
  type ConsumerEndBatchProcessEvent,
  type ConsumerStartBatchProcessEvent,
  type InstrumentationEvent,
} from '../fixtures/kafkajs-target.js'
import { deferred, withDeadline } from '../fixtures/helpers.js'
import { connectedProducer, documentedGap, newKafka, waitForAsync, closeTargets, isWire, test } from '../fixtures/kafkajs.js'

after(() => closeTargets())

test('a consumer\'s life in events: connect, group_join, start/end_batch_process, commit_offsets, stop, disconnect', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'life', messages: [0, 1, 2].map((i) => ({ value: `v${i}` })) })
  const consumer = kafka.consumer({ groupId: 'life-g' })
  t.after(() => withDeadline(consumer.disconnect(), 5000, 'disconnect'))
  const types: string[] = []
  const starts: ConsumerStartBatchProcessEvent[] = []
  const ends: ConsumerEndBatchProcessEvent[] = []
  const commits: ConsumerCommitOffsetsEvent[] = []
  const all = (e: InstrumentationEvent<unknown>) => {
    types.push(e.type)
  }
  for (const name of [consumer.events.CONNECT, consumer.events.GROUP_JOIN, consumer.events.STOP, consumer.events.DISCONNECT]) {
    consumer.on(name, all)
  }
  consumer.on(consumer.events.START_BATCH_PROCESS, (e) => {
    types.push(e.type)
    starts.push(e)
  })
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    types.push(e.type)
    ends.push(e)
  })
  consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
    types.push(e.type)
    commits.push(e)
  })
  await consumer.connect()
  await consumer.subscribe({ topics: ['life'], fromBeginning: true })
  let handled = 0
  await consumer.run({
    eachMessage: async () => {
      handled++
    },
  })
  await waitForAsync(() => handled === 3 && ends.length >= 1 && commits.length >= 1, 5000, 'batch processed and committed')

  const start = starts[0]!.payload
  assert.deepEqual(
    { ...start },
    { topic: 'life', partition: 0, highWatermark: '3', offsetLag: '0', offsetLagLow: '2', batchSize: 3, firstOffset: '0', lastOffset: '2' },
    'START_BATCH_PROCESS payload',
  )
  const end = ends[0]!.payload
  assert.equal(typeof end.duration, 'number', 'END_BATCH_PROCESS has a duration')
  const { duration: _duration, ...endRest } = end
  assert.deepEqual(endRest, { ...start }, 'END_BATCH_PROCESS repeats the batch fields')

  const commit = commits.at(-1)!.payload
  assert.equal(commit.groupId, 'life-g', 'COMMIT_OFFSETS groupId')
  assert.equal(typeof commit.memberId, 'string', 'COMMIT_OFFSETS memberId')
  assert.equal(typeof commit.groupGenerationId, 'number', 'COMMIT_OFFSETS groupGenerationId')
  assert.deepEqual(
    commit.topics.map((tp) => ({ topic: tp.topic, partitions: tp.partitions.map((p) => ({ partition: Number(p.partition), offset: String(p.offset) })) })),
    [{ topic: 'life', partitions: [{ partition: 0, offset: '3' }] }],
    'COMMIT_OFFSETS topics: the next offset to read',
  )

  await withDeadline(consumer.disconnect(), 5000, 'disconnect')
  assert.deepEqual(
    // KafkaJS emits consumer.connect again when run() connects the group, hence the Set
    [...new Set(types.filter((x) => !x.endsWith('batch_process') && x !== 'consumer.commit_offsets'))],
    ['consumer.connect', 'consumer.group_join', 'consumer.stop', 'consumer.disconnect'],
    'lifecycle events in order',
  )
  assert.ok(types.indexOf('consumer.start_batch_process') > types.indexOf('consumer.group_join'), 'batches after the join')
  assert.ok(types.indexOf('consumer.end_batch_process') > types.indexOf('consumer.start_batch_process'), 'end after start')
})

test('HEARTBEAT events arrive every heartbeatInterval while the consumer runs', async (t) => {
  const kafka = newKafka()
  const consumer = kafka.consumer({ groupId: 'hb-g', heartbeatInterval: 50, maxWaitTimeInMs: 100 })
  t.after(() => withDeadline(consumer.disconnect(), 5000, 'disconnect'))
  const beats: { groupId: string; memberId: string; groupGenerationId: number }[] = []
  consumer.on(consumer.events.HEARTBEAT, (e) => {
    beats.push(e.payload)
  })
  await consumer.connect()
  await consumer.subscribe({ topics: ['hb'] })
  await consumer.run({ eachMessage: async () => {} })
  await waitForAsync(() => beats.length >= 2, 5000, 'two heartbeats')
  assert.equal(beats[0]!.groupId, 'hb-g', 'HEARTBEAT groupId')
  assert.equal(typeof beats[0]!.memberId, 'string', 'HEARTBEAT memberId')
  assert.equal(typeof beats[0]!.groupGenerationId, 'number', 'HEARTBEAT groupGenerationId')
})

test('a listener removed with the function on() returned gets nothing more; a throwing listener does not stop consumption', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const consumer = kafka.consumer({ groupId: 'rm-g' })
  t.after(() => withDeadline(consumer.disconnect(), 5000, 'disconnect'))
  let removedCalls = 0
  const remove = consumer.on(consumer.events.START_BATCH_PROCESS, () => {
    removedCalls++
  })
  if (isWire) {
    // Real KafkaJS only catches a listener's rejected promise (Promise.resolve(listener(event)).catch):
    // a listener that throws synchronously throws out of its batch processing, against Kafka too.
    consumer.on(consumer.events.START_BATCH_PROCESS, async () => {
      throw new Error('listener failure')
    })
  } else {
    consumer.on(consumer.events.START_BATCH_PROCESS, () => {
      throw new Error('listener failure')
    })
  }
  remove()
  await consumer.connect()
  await consumer.subscribe({ topics: ['rm'], fromBeginning: true })
  const got = deferred<string>()
  await consumer.run({ eachMessage: async ({ message }) => got.resolve(String(message.value)) })
  await producer.send({ topic: 'rm', messages: [{ value: 'through' }] })
  assert.equal(await withDeadline(got.promise, 5000, 'message'), 'through', 'consumption went on')
  assert.equal(removedCalls, 0, 'the removed listener was not called')
})

documentedGap('FETCH_START and FETCH events around every fetch (KafkaJS emits them from its runner)', 'the FETCH and FETCH_START events', async (t) => {
  const kafka = newKafka()
  const consumer = kafka.consumer({ groupId: 'fetch-g', maxWaitTimeInMs: 50 })
  t.after(() => withDeadline(consumer.disconnect(), 5000, 'disconnect'))
  const starts: { nodeId: number }[] = []
  const fetches: { numberOfBatches: number; duration: number; nodeId: number }[] = []
  consumer.on(consumer.events.FETCH_START, (e) => {
    starts.push(e.payload)
  })
  consumer.on(consumer.events.FETCH, (e) => {
    fetches.push(e.payload)
  })
  await consumer.connect()
  await consumer.subscribe({ topics: ['fetch-t'] })
  await consumer.run({ eachMessage: async () => {} })
  await waitForAsync(() => starts.length >= 1 && fetches.length >= 1, 1000, 'a FETCH_START and a FETCH')
  assert.equal(typeof starts[0]!.nodeId, 'number', 'FETCH_START nodeId')
  assert.equal(typeof fetches[0]!.duration, 'number', 'FETCH duration')
})
