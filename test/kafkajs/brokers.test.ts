// Where the facade's data lives: Kafka instances with the same brokers list share one in-memory broker
// (and other lists are isolated), closeSharedBrokers() forgets them, `kafkalite: { dir }` keeps data
// across instances, and `kafkalite: { broker }` works on the caller's open kafkalite Broker.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import { Broker } from '../../src/index.js'
import { closeSharedBrokers } from '../../src/kafkajs/index.js'
import { deferred, tempDir, withDeadline } from '../fixtures/helpers.js'
import { collectingConsumer, connectedAdmin, connectedProducer, facadeOnly, newKafka, uniqueBrokers } from '../fixtures/kafkajs.js'

after(() => closeSharedBrokers())

// All of this is about where the facade keeps its data: skipped in wire mode (where the fixture gives
// each brokers list its own listener).
const sharedByList = facadeOnly('in-memory brokers shared by brokers list are a facade feature')
const closeShared = facadeOnly('closeSharedBrokers() is a kafkalite extra of the facade')
const kafkaliteOption = facadeOnly('the kafkalite: { dir | broker } option is a facade feature')

sharedByList('two Kafka instances with the same brokers list share one broker; another list is a separate one', async (t) => {
  const brokers = uniqueBrokers('shared')
  const producerSide = newKafka({ brokers, clientId: 'producer-app' })
  const consumerSide = newKafka({ brokers: [...brokers], clientId: 'consumer-app' })
  const producer = await connectedProducer(t, producerSide)
  await producer.send({ topic: 'shared-topic', messages: [{ value: 'across instances' }] })
  const collector = await collectingConsumer(t, consumerSide, { groupId: 'shared-g', topics: ['shared-topic'] })
  await collector.waitForCount(1)
  assert.equal(collector.received[0]!.value, 'across instances', 'the consumer of the other instance got it')
  const elsewhere = await connectedAdmin(t, newKafka())
  assert.ok(!(await elsewhere.listTopics()).includes('shared-topic'), 'a different brokers list does not see the topic')
})

closeShared('closeSharedBrokers() closes and forgets the shared brokers: the same list starts empty afterwards', async (t) => {
  const brokers = uniqueBrokers('forget')
  const producer = newKafka({ brokers }).producer()
  await producer.connect()
  await producer.send({ topic: 'forgotten', messages: [{ value: 'x' }] })
  await producer.disconnect()
  await withDeadline(closeSharedBrokers(), 5000, 'closeSharedBrokers')
  const admin = await connectedAdmin(t, newKafka({ brokers }))
  assert.ok(!(await admin.listTopics()).includes('forgotten'), 'a fresh in-memory broker')
})

kafkaliteOption('kafkalite: { dir } keeps topics, messages and committed offsets across Kafka instances', async (t) => {
  const dir = tempDir(t, 'kafkalite-kafkajs-')
  {
    const kafka = newKafka({ kafkalite: { dir } })
    const admin = kafka.admin()
    const producer = kafka.producer()
    const consumer = kafka.consumer({ groupId: 'durable-g' })
    try {
      await admin.connect()
      await producer.connect()
      await admin.createTopics({ topics: [{ topic: 'durable', numPartitions: 2 }] })
      await producer.send({ topic: 'durable', messages: [{ key: 'a', value: 'one', partition: 0 }, { key: 'b', value: 'two', partition: 1 }] })
      await consumer.connect()
      await consumer.subscribe({ topics: ['durable'], fromBeginning: true })
      const done = deferred()
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value?.toString() === 'one') done.resolve()
        },
      })
      await withDeadline(done.promise, 5000, 'consumed "one"')
    } finally {
      // the last client to disconnect closes the dir's broker (and releases its lock)
      await withDeadline(consumer.disconnect(), 5000, 'consumer.disconnect()')
      await withDeadline(producer.disconnect(), 5000, 'producer.disconnect()')
      await withDeadline(admin.disconnect(), 5000, 'admin.disconnect()')
    }
  }
  const kafka = newKafka({ kafkalite: { dir } })
  const admin = await connectedAdmin(t, kafka)
  assert.ok((await admin.listTopics()).includes('durable'), 'the topic survived')
  assert.deepEqual(
    (await admin.fetchTopicOffsets('durable')).map((o) => [o.partition, o.high]).sort(),
    [
      [0, '1'],
      [1, '1'],
    ],
    'the messages survived',
  )
  const [committed] = await admin.fetchOffsets({ groupId: 'durable-g', topics: ['durable'] })
  assert.equal(committed!.partitions.find((p) => p.partition === 0)?.offset, '1', 'the committed offset survived')
  const collector = await collectingConsumer(t, kafka, { groupId: 'durable-reader', topics: ['durable'] })
  await collector.waitForCount(2)
  assert.deepEqual(collector.received.map((r) => r.value).sort(), ['one', 'two'], 'a new consumer reads the old data')
})

kafkaliteOption('kafkalite: { broker } uses the caller\'s open Broker (core API and facade see the same data); disconnect leaves it open', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('core-made', { partitions: 2 })
  await broker.producer().send('core-made', [{ key: 'k', value: 'from core', partition: 1 }])
  const kafka = newKafka({ kafkalite: { broker } })
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'core-made', messages: [{ value: 'from facade', partition: 0 }] })
  const collector = await collectingConsumer(t, kafka, { groupId: 'core-g', topics: ['core-made'] })
  await collector.waitForCount(2)
  assert.deepEqual(collector.received.map((r) => `${r.partition}:${r.value}`).sort(), ['0:from facade', '1:from core'], 'both writers seen by the facade consumer')
  await withDeadline(collector.consumer.disconnect(), 5000, 'disconnect consumer')
  await withDeadline(producer.disconnect(), 5000, 'disconnect producer')
  assert.equal(broker.topic('core-made').latestOffset(0), 1, 'the core API sees the facade\'s message (and the broker is still open)')
  const [committed] = await (await connectedAdmin(t, kafka)).fetchOffsets({ groupId: 'core-g', topics: ['core-made'] })
  assert.deepEqual(committed!.partitions.map((p) => p.offset).sort(), ['1', '1'], 'the facade group committed through the caller\'s broker')
})
