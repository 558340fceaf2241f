// Consumer conformance (KafkaJS 2.2 docs): eachMessage and eachBatch payloads, run() resolving once
// the group is joined, subscribe forms, offsets committed by autoCommit and by commitOffsets as
// admin.fetchOffsets shows them, partitionsConsumedConcurrently, describeGroup.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import {
  AssignerProtocol,
  KafkaJSNonRetriableError,
  type EachBatchPayload,
  type EachMessagePayload,
} from '../fixtures/kafkajs-target.js'
import { deferred, withDeadline } from '../fixtures/helpers.js'
import {
  caught,
  collectingConsumer,
  connectedAdmin,
  connectedConsumer,
  connectedProducer,
  documentedGap,
  errorChain,
  newKafka,
  realKafkajs,
  waitForAsync,
  closeTargets,
  isWire,
  test,
} from '../fixtures/kafkajs.js'

after(() => closeTargets())

test('eachMessage payload: { topic, partition, message: { key, value, headers, offset, timestamp, attributes }, heartbeat, pause }', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const before = Date.now()
  await producer.send({ topic: 'shape', messages: [{ key: 'k1', value: 'hello', headers: { 'correlation-id': '42' } }] })
  const got = deferred<EachMessagePayload>()
  const consumer = await connectedConsumer(t, kafka, { groupId: 'shape-g' })
  await consumer.subscribe({ topic: 'shape', fromBeginning: true })
  await consumer.run({
    eachMessage: async (payload) => {
      got.resolve(payload)
    },
  })
  const payload = await withDeadline(got.promise, 5000, 'first message')
  assert.equal(payload.topic, 'shape', 'topic')
  assert.equal(payload.partition, 0, 'partition is a number')
  const { message } = payload
  assert.ok(Buffer.isBuffer(message.key), 'key is a Buffer')
  assert.equal(message.key!.toString(), 'k1', 'key')
  assert.ok(Buffer.isBuffer(message.value), 'value is a Buffer')
  assert.equal(message.value!.toString(), 'hello', 'value')
  assert.equal(message.offset, '0', 'offset is the string "0"')
  assert.equal(typeof message.timestamp, 'string', 'timestamp is a string')
  assert.ok(Number(message.timestamp) >= before - 1000 && Number(message.timestamp) <= Date.now() + 1000, 'timestamp is the produce time in ms')
  assert.equal(typeof message.attributes, 'number', 'attributes is a number')
  assert.ok(Buffer.isBuffer(message.headers!['correlation-id']), 'header values are Buffers')
  assert.equal(message.headers!['correlation-id']!.toString(), '42', 'header value')
  assert.equal(typeof payload.heartbeat, 'function', 'heartbeat()')
  await withDeadline(payload.heartbeat(), 2000, 'heartbeat() resolves')
  assert.equal(typeof payload.pause, 'function', 'pause()')
})

test('run() resolves after the group is joined: a message produced right after it is received (fromBeginning false), an older one is not', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'live', numPartitions: 2 }] })
  await producer.send({ topic: 'live', messages: [{ value: 'old', partition: 0 }, { value: 'old', partition: 1 }] })
  let joined = false
  const consumer = await connectedConsumer(t, kafka, { groupId: 'live-g' })
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true
  })
  await consumer.subscribe({ topic: 'live' })
  const received: string[] = []
  await withDeadline(
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push(`${partition}:${message.value}`)
      },
    }),
    5000,
    'run()',
  )
  assert.equal(joined, true, 'GROUP_JOIN was emitted before run() resolved')
  if (isWire) {
    // Real KafkaJS resolves the start offset of a partition without a committed offset ("latest",
    // ListOffsets) at its first fetch, after run() resolved, so against Kafka too a message produced
    // right after run() can land below that offset and be skipped: produce until each partition
    // delivered one, then check that no old message came.
    for (let i = 0; !(received.some((r) => r.startsWith('0:')) && received.some((r) => r.startsWith('1:'))); i++) {
      assert.ok(i < 50, `a new message on each partition arrives (got ${received.join(', ')})`)
      await producer.send({ topic: 'live', messages: [{ value: 'new', partition: 0 }, { value: 'new', partition: 1 }] })
      await waitForAsync(() => received.some((r) => r.startsWith('0:')) && received.some((r) => r.startsWith('1:')), 200, 'new messages').catch(() => {})
    }
    assert.ok(received.every((r) => r.endsWith(':new')), `only messages produced after run() resolved (got ${received.join(', ')})`)
    return
  }
  await producer.send({ topic: 'live', messages: [{ value: 'new', partition: 0 }, { value: 'new', partition: 1 }] })
  await waitForAsync(() => received.length >= 2, 5000, 'the two new messages')
  assert.deepEqual(received.sort(), ['0:new', '1:new'], 'only the messages produced after run() resolved')
})

test('subscribe: { topic }, { topics } with strings and RegExps; the consumer gets every matching topic', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  for (const topic of ['metrics.cpu', 'metrics.mem', 'logs', 'other']) {
    await producer.send({ topic, messages: [{ value: topic }] })
  }
  const collector = await collectingConsumer(t, kafka, { groupId: 'sub-g', topics: [/^metrics\./, 'logs'] })
  await collector.waitForCount(3)
  assert.deepEqual(collector.received.map((r) => r.value).sort(), ['logs', 'metrics.cpu', 'metrics.mem'], 'the RegExp and the name matched; "other" did not')
  const single = await connectedConsumer(t, kafka, { groupId: 'sub-single' })
  await single.subscribe({ topic: 'other', fromBeginning: true })
  const got = deferred<string>()
  await single.run({ eachMessage: async ({ message }) => got.resolve(String(message.value)) })
  assert.equal(await withDeadline(got.promise, 5000, 'single-topic message'), 'other', 'the deprecated { topic } form works')
})

test('subscribe errors as in KafkaJS: missing topics, non-array topics, subscribe while running', async (t) => {
  const kafka = newKafka()
  const consumer = await connectedConsumer(t, kafka, { groupId: 'sub-err' })
  const missing = await caught(() => consumer.subscribe({} as never))
  assert.ok(missing instanceof KafkaJSNonRetriableError, `no topic/topics: KafkaJSNonRetriableError (got ${String(missing)})`)
  const notArray = await caught(() => consumer.subscribe({ topics: 'x' } as never))
  assert.ok(notArray instanceof KafkaJSNonRetriableError, `topics not an array: KafkaJSNonRetriableError (got ${String(notArray)})`)
  await consumer.subscribe({ topics: ['sub-err-t'] })
  await consumer.run({ eachMessage: async () => {} })
  const running = await caught(() => consumer.subscribe({ topics: ['another'] }))
  assert.ok(running instanceof KafkaJSNonRetriableError, `subscribe while running: KafkaJSNonRetriableError (got ${String(running)})`)
  await withDeadline(consumer.run({ eachMessage: async () => {} }), 2000, 'a second run() is a warning, not an error')
})

test('autoCommit (default): committed offsets show up in admin.fetchOffsets; a new member of the group resumes from them', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'ac', numPartitions: 2 }] })
  await producer.send({ topic: 'ac', messages: [0, 1, 2].map((i) => ({ value: `a${i}`, partition: 0 })) })
  await producer.send({ topic: 'ac', messages: [{ value: 'b0', partition: 1 }] })
  assert.deepEqual(
    await admin.fetchOffsets({ groupId: 'ac-g', topics: ['ac'] }),
    [{ topic: 'ac', partitions: [{ partition: 0, offset: '-1', metadata: null }, { partition: 1, offset: '-1', metadata: null }] }],
    'nothing committed yet: offset "-1"',
  )
  const first = await collectingConsumer(t, kafka, { groupId: 'ac-g', topics: ['ac'] })
  await first.waitForCount(4)
  await waitForAsync(
    async () => {
      const [row] = await admin.fetchOffsets({ groupId: 'ac-g', topics: ['ac'] })
      return row!.partitions.find((p) => p.partition === 0)?.offset === '3' && row!.partitions.find((p) => p.partition === 1)?.offset === '1'
    },
    5000,
    'committed offsets 3 and 1',
  )
  await withDeadline(first.consumer.disconnect(), 5000, 'disconnect first')
  await producer.send({ topic: 'ac', messages: [{ value: 'a3', partition: 0 }] })
  const second = await collectingConsumer(t, kafka, { groupId: 'ac-g', topics: ['ac'] })
  await second.waitForCount(1)
  assert.deepEqual(second.received.map((r) => [r.partition, r.offset, r.value]), [[0, '3', 'a3']], 'the second member starts at the committed offset')
})

test('autoCommit: false + consumer.commitOffsets([{ topic, partition, offset }]) commits exactly what was asked', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const admin = await connectedAdmin(t, kafka)
  await producer.send({ topic: 'manual', messages: [0, 1, 2, 3].map((i) => ({ value: `m${i}` })) })
  const collector = await collectingConsumer(t, kafka, { groupId: 'manual-g', topics: ['manual'], run: { autoCommit: false } })
  await collector.waitForCount(4)
  const [before] = await admin.fetchOffsets({ groupId: 'manual-g', topics: ['manual'] })
  assert.equal(before!.partitions[0]!.offset, '-1', 'autoCommit false: nothing committed by consuming')
  await withDeadline(collector.consumer.commitOffsets([{ topic: 'manual', partition: 0, offset: '2' }]), 5000, 'commitOffsets')
  const [afterCommit] = await admin.fetchOffsets({ groupId: 'manual-g', topics: ['manual'] })
  assert.equal(afterCommit!.partitions[0]!.offset, '2', 'the committed offset is the one given')
  await withDeadline(collector.consumer.disconnect(), 5000, 'disconnect')
  const [afterDisconnect] = await admin.fetchOffsets({ groupId: 'manual-g', topics: ['manual'] })
  assert.equal(afterDisconnect!.partitions[0]!.offset, '2', 'disconnect does not commit when autoCommit is false')
})

test('commitOffsets argument checks as in KafkaJS: a negative offset is KafkaJSNonRetriableError', async (t) => {
  const kafka = newKafka()
  const collector = await collectingConsumer(t, kafka, { groupId: 'commit-args', topics: ['commit-args'], run: { autoCommit: false } })
  const negative = await caught(() => collector.consumer.commitOffsets([{ topic: 'commit-args', partition: 0, offset: '-5' }]))
  assert.ok(negative instanceof KafkaJSNonRetriableError, `negative offset: KafkaJSNonRetriableError (got ${String(negative)})`)
  assert.equal((negative as Error).message, 'Offset must not be a negative number', 'KafkaJS\'s message')
  const garbage = await caught(() => collector.consumer.commitOffsets([{ topic: 'commit-args', partition: 0, offset: 'abc' }]))
  assert.ok(garbage instanceof KafkaJSNonRetriableError, `non-numeric offset: KafkaJSNonRetriableError (got ${String(garbage)})`)
})

test('commitOffsets before run() is refused as in KafkaJS', async (t) => {
  const kafka = newKafka()
  const consumer = await connectedConsumer(t, kafka, { groupId: 'early' })
  const error = await caught(() => consumer.commitOffsets([{ topic: 'x', partition: 0, offset: '1' }]))
  assert.ok(error instanceof KafkaJSNonRetriableError, `KafkaJSNonRetriableError (got ${String(error)})`)
  assert.match((error as Error).message, /consumer#run must be called first/, 'KafkaJS\'s message')
})

test('eachBatch payload: batch { topic, partition, highWatermark, messages, isEmpty, firstOffset, lastOffset, offsetLag, offsetLagLow } and the helpers', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const admin = await connectedAdmin(t, kafka)
  await producer.send({ topic: 'batch', messages: [0, 1, 2, 3, 4].map((i) => ({ key: `k${i}`, value: `v${i}` })) })
  const got = deferred<{ payload: EachBatchPayload; snapshot: Record<string, unknown> }>()
  const consumer = await connectedConsumer(t, kafka, { groupId: 'batch-g' })
  await consumer.subscribe({ topics: ['batch'], fromBeginning: true })
  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async (payload) => {
      const { batch } = payload
      if (batch.firstOffset() !== '0') {
        // later batches (none expected here): just move on
        payload.resolveOffset(batch.lastOffset())
        return
      }
      const snapshot: Record<string, unknown> = {
        topic: batch.topic,
        partition: batch.partition,
        highWatermark: batch.highWatermark,
        offsets: batch.messages.map((m) => m.offset),
        values: batch.messages.map((m) => String(m.value)),
        isEmpty: batch.isEmpty(),
        firstOffset: batch.firstOffset(),
        lastOffset: batch.lastOffset(),
        offsetLag: batch.offsetLag(),
        offsetLagLow: batch.offsetLagLow(),
        isRunning: payload.isRunning(),
        isStale: payload.isStale(),
      }
      payload.resolveOffset(batch.messages[2]!.offset)
      const uncommitted = payload.uncommittedOffsets()
      snapshot.uncommitted = uncommitted.topics.map((tp) => ({ topic: tp.topic, partitions: tp.partitions.map((p) => ({ partition: Number(p.partition), offset: p.offset })) }))
      await payload.heartbeat()
      await payload.commitOffsetsIfNecessary({ topics: [{ topic: 'batch', partitions: [{ partition: 0, offset: '3' }] }] })
      snapshot.committedAfterCommitOffsetsIfNecessary = (await admin.fetchOffsets({ groupId: 'batch-g', topics: ['batch'] }))[0]!.partitions[0]!.offset
      got.resolve({ payload, snapshot })
    },
  })
  const { snapshot } = await withDeadline(got.promise, 5000, 'first batch')
  assert.deepEqual(
    snapshot,
    {
      topic: 'batch',
      partition: 0,
      highWatermark: '5',
      offsets: ['0', '1', '2', '3', '4'],
      values: ['v0', 'v1', 'v2', 'v3', 'v4'],
      isEmpty: false,
      firstOffset: '0',
      lastOffset: '4',
      offsetLag: '0',
      offsetLagLow: '4',
      isRunning: true,
      isStale: false,
      uncommitted: [{ topic: 'batch', partitions: [{ partition: 0, offset: '3' }] }],
      committedAfterCommitOffsetsIfNecessary: '3',
    },
    'the batch as KafkaJS builds it (one send = one batch; uncommittedOffsets after resolveOffset("2") is "3")',
  )
  // Real KafkaJS fetches from the resolved offset, so it delivers the unresolved 3 and 4 again in its
  // next batch (the branch above resolves them and the committed offset moves on to 5), as it does
  // against Kafka; the facade goes on after the batch, so the commit of "3" stays.
  if (isWire) return
  await waitForAsync(
    async () => (await admin.fetchOffsets({ groupId: 'batch-g', topics: ['batch'] }))[0]!.partitions[0]!.offset === '3',
    5000,
    'commitOffsetsIfNecessary(offsets) committed "3"',
  )
})

test('eachBatchAutoResolve: false without resolveOffset: the batch is delivered again after a restart of the group member', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'unresolved', messages: [{ value: 'x' }, { value: 'y' }] })
  const seen: string[] = []
  const first = await connectedConsumer(t, kafka, { groupId: 'unresolved-g' })
  await first.subscribe({ topics: ['unresolved'], fromBeginning: true })
  const firstBatch = deferred()
  await first.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch }) => {
      seen.push(...batch.messages.map((m) => m.offset))
      firstBatch.resolve()
    },
  })
  await withDeadline(firstBatch.promise, 5000, 'first batch')
  await withDeadline(first.disconnect(), 5000, 'disconnect')
  const second = await connectedConsumer(t, kafka, { groupId: 'unresolved-g' })
  await second.subscribe({ topics: ['unresolved'], fromBeginning: true })
  const again = deferred<string[]>()
  await second.run({ eachBatch: async ({ batch }) => again.resolve(batch.messages.map((m) => m.offset)) })
  assert.deepEqual(await withDeadline(again.promise, 5000, 'redelivery'), ['0', '1'], 'nothing was resolved, so nothing was committed')
  assert.deepEqual(seen.slice(0, 2), ['0', '1'], 'the first member saw both')
})

test('partitionsConsumedConcurrently: a slow partition does not hold up the others', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'conc', numPartitions: 3 }] })
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'conc', messages: [0, 1, 2].map((p) => ({ value: `p${p}`, partition: p })) })
  const othersDone = deferred()
  const done = deferred()
  const seen = new Set<number>()
  const order: number[] = []
  const consumer = await connectedConsumer(t, kafka, { groupId: 'conc-g' })
  await consumer.subscribe({ topics: ['conc'], fromBeginning: true })
  await consumer.run({
    partitionsConsumedConcurrently: 3,
    eachMessage: async ({ partition }) => {
      // bounded, so that a consumer that does not run partitions concurrently fails the test
      // instead of blocking its own disconnect
      if (partition === 0) await withDeadline(othersDone.promise, 3000, 'partitions 1 and 2 while 0 waits').catch(() => {})
      seen.add(partition)
      order.push(partition)
      if (seen.has(1) && seen.has(2)) othersDone.resolve()
      if (seen.size === 3) done.resolve()
    },
  })
  await withDeadline(done.promise, 5000, 'all three partitions consumed')
  assert.deepEqual(order.slice(0, 2).sort(), [1, 2], `partitions 1 and 2 were handled while partition 0's handler waited (order: ${order.join(', ')})`)
})

test('describeGroup(): Stable, one member, KafkaJS\'s round-robin protocol, decodable memberAssignment', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'desc', numPartitions: 3 }] })
  const collector = await collectingConsumer(t, kafka, { groupId: 'desc-g', topics: ['desc'] })
  const group = await withDeadline(collector.consumer.describeGroup(), 5000, 'describeGroup')
  assert.equal(group.groupId, 'desc-g', 'groupId')
  assert.equal(group.state, 'Stable', 'state')
  assert.equal(group.protocolType, 'consumer', 'protocolType')
  assert.equal(group.protocol, 'RoundRobinAssigner', 'KafkaJS\'s default assigner')
  assert.equal(group.members.length, 1, 'one member')
  const [member] = group.members
  assert.equal(typeof member!.memberId, 'string', 'memberId')
  assert.equal(member!.clientId, 'kafkajs-conformance', 'clientId from the Kafka config')
  assert.equal(typeof member!.clientHost, 'string', 'clientHost')
  const assignment = AssignerProtocol.MemberAssignment.decode(member!.memberAssignment)
  assert.deepEqual(assignment?.assignment, { desc: [0, 1, 2] }, 'memberAssignment decodes (facade decoder)')
  assert.deepEqual(realKafkajs.AssignerProtocol.MemberAssignment.decode(member!.memberAssignment)?.assignment, { desc: [0, 1, 2] }, 'memberAssignment decodes (KafkaJS decoder)')
  const metadata = realKafkajs.AssignerProtocol.MemberMetadata.decode(member!.memberMetadata)
  assert.deepEqual(metadata?.topics, ['desc'], 'memberMetadata lists the subscribed topics')
})

test('autoCommitThreshold: offsets are committed within a batch once that many messages are resolved', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const admin = await connectedAdmin(t, kafka)
  await producer.send({ topic: 'threshold', messages: [0, 1, 2, 3, 4].map((i) => ({ value: `v${i}` })) })
  const committedAt: Record<string, string> = {}
  const fetchCommitted = async () => (await admin.fetchOffsets({ groupId: 'threshold-g', topics: ['threshold'] }))[0]!.partitions[0]!.offset
  const collector = await collectingConsumer(t, kafka, {
    groupId: 'threshold-g',
    topics: ['threshold'],
    run: { autoCommitThreshold: 2 },
    onMessage: async ({ message }) => {
      if (message.offset === '2' || message.offset === '4') {
        // bounded: the committed offset is polled while this message is being handled
        await waitForAsync(async () => (await fetchCommitted()) !== '-1', 2000, 'a commit inside the batch').catch(() => {})
        committedAt[message.offset] = await fetchCommitted()
      }
    },
  })
  await collector.waitForCount(5)
  assert.deepEqual(committedAt, { '2': '2', '4': '4' }, 'after two and four resolved messages (one batch of five)')
})

test('autoCommitInterval: 0 commits after every message', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const admin = await connectedAdmin(t, kafka)
  await producer.send({ topic: 'interval', messages: [0, 1, 2].map((i) => ({ value: `v${i}` })) })
  const committedAt: string[] = []
  const collector = await collectingConsumer(t, kafka, {
    groupId: 'interval-g',
    topics: ['interval'],
    run: { autoCommitInterval: 0 },
    onMessage: async () => {
      committedAt.push((await admin.fetchOffsets({ groupId: 'interval-g', topics: ['interval'] }))[0]!.partitions[0]!.offset)
    },
  })
  await collector.waitForCount(3)
  assert.deepEqual(committedAt, ['-1', '1', '2'], 'while handling offset n, n is committed (the previous message was)')
})

test('subscribe to a topic that does not exist yet creates it (allowAutoTopicCreation default); a later message arrives', async (t) => {
  const kafka = newKafka()
  const collector = await collectingConsumer(t, kafka, { groupId: 'later-g', topics: ['created-by-subscribe'] })
  const admin = await connectedAdmin(t, kafka)
  assert.ok((await admin.listTopics()).includes('created-by-subscribe'), 'the topic exists after subscribe')
  const producer = await connectedProducer(t, kafka, { allowAutoTopicCreation: false })
  await producer.send({ topic: 'created-by-subscribe', messages: [{ value: 'hi' }] })
  await collector.waitForCount(1)
  assert.equal(collector.received[0]!.value, 'hi', 'received')
})

test('allowAutoTopicCreation: false: subscribe to an unknown topic fails with UNKNOWN_TOPIC_OR_PARTITION', async (t) => {
  const kafka = newKafka({ retry: { initialRetryTime: 10, retries: 1 } })
  const consumer = await connectedConsumer(t, kafka, { groupId: 'no-auto', allowAutoTopicCreation: false, retry: { initialRetryTime: 10, retries: 1 } })
  const error = await caught(() => consumer.subscribe({ topics: ['never-created'] }), 10_000, 'subscribe to unknown topic')
  const protocol = errorChain(error).find((e) => e.type === 'UNKNOWN_TOPIC_OR_PARTITION')
  assert.ok(protocol, `UNKNOWN_TOPIC_OR_PARTITION in ${errorChain(error).map((e) => `${e.name}:${e.type}`).join(' <- ')}`)
  const admin = await connectedAdmin(t, kafka)
  assert.ok(!(await admin.listTopics()).includes('never-created'), 'not created')
})

test('commitOffsets with metadata: admin.fetchOffsets returns the metadata (KafkaJS\'s OffsetCommit/OffsetFetch carry it)', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  const collector = await collectingConsumer(t, kafka, { groupId: 'meta-g', topics: ['meta'], run: { autoCommit: false } })
  await collector.consumer.commitOffsets([{ topic: 'meta', partition: 0, offset: '0', metadata: 'checkpoint-7' }])
  const [row] = await admin.fetchOffsets({ groupId: 'meta-g', topics: ['meta'] })
  assert.deepEqual(row!.partitions[0], { partition: 0, offset: '0', metadata: 'checkpoint-7' }, 'offset and metadata as committed')
})
