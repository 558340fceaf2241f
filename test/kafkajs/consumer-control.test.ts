// Consumer flow control as in KafkaJS 2.2: seek (also out of range), pause/resume/paused (also the
// pause() handed to eachMessage), stop and run again, and a handler that throws: retried with the
// same message, then a CRASH event when the retries are used up.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import { KafkaJSNonRetriableError } from '../fixtures/kafkajs-target.js'
import { deferred, withDeadline } from '../fixtures/helpers.js'
import { caught, collectingConsumer, connectedAdmin, connectedConsumer, connectedProducer, newKafka, closeTargets, test } from '../fixtures/kafkajs.js'

after(() => closeTargets())

const values = (n: number, tag = 'm') => Array.from({ length: n }, (_, i) => ({ value: `${tag}${i}` }))

test('seek({ topic, partition, offset }) moves a running consumer; the messages from there are delivered again', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'seek', messages: values(5) })
  const collector = await collectingConsumer(t, kafka, { groupId: 'seek-g', topics: ['seek'] })
  await collector.waitForCount(5)
  collector.consumer.seek({ topic: 'seek', partition: 0, offset: '1' })
  await collector.waitForCount(9)
  assert.deepEqual(
    collector.received.map((r) => r.offset),
    ['0', '1', '2', '3', '4', '1', '2', '3', '4'],
    'after seek to "1", offsets 1..4 again',
  )
})

test('seek argument checks and seek before run(), as in KafkaJS', async (t) => {
  const kafka = newKafka()
  const consumer = await connectedConsumer(t, kafka, { groupId: 'seek-args' })
  await consumer.subscribe({ topics: ['seek-args'] })
  const beforeRun = await caught(() => consumer.seek({ topic: 'seek-args', partition: 0, offset: '0' }))
  assert.ok(beforeRun instanceof KafkaJSNonRetriableError, `seek before run: KafkaJSNonRetriableError (got ${String(beforeRun)})`)
  assert.match((beforeRun as Error).message, /consumer#run must be called first/, 'KafkaJS\'s message')
  await consumer.run({ eachMessage: async () => {} })
  const negative = await caught(() => consumer.seek({ topic: 'seek-args', partition: 0, offset: '-5' }))
  assert.ok(negative instanceof KafkaJSNonRetriableError, `negative offset: KafkaJSNonRetriableError (got ${String(negative)})`)
  const garbage = await caught(() => consumer.seek({ topic: 'seek-args', partition: 0, offset: 'abc' }))
  assert.ok(garbage instanceof KafkaJSNonRetriableError, `non-numeric offset: KafkaJSNonRetriableError (got ${String(garbage)})`)
  const noTopic = await caught(() => consumer.seek({ topic: '', partition: 0, offset: '0' }))
  assert.ok(noTopic instanceof KafkaJSNonRetriableError, `empty topic: KafkaJSNonRetriableError (got ${String(noTopic)})`)
})

test('seek past the end (OFFSET_OUT_OF_RANGE): KafkaJS resets to the default offset (earliest when subscribed fromBeginning)', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'oor', messages: values(3) })
  const crashed: unknown[] = []
  const collector = await collectingConsumer(t, kafka, { groupId: 'oor-g', topics: ['oor'], fromBeginning: true })
  collector.consumer.on(collector.consumer.events.CRASH, (e) => {
    crashed.push(e.payload.error)
  })
  await collector.waitForCount(3)
  collector.consumer.seek({ topic: 'oor', partition: 0, offset: '1000' })
  await collector.waitForCount(6, 8000)
  assert.deepEqual(collector.received.map((r) => r.offset), ['0', '1', '2', '0', '1', '2'], 'reset to the earliest offset and read again')
  assert.deepEqual(crashed, [], 'no crash')
})

test('seek past the end with fromBeginning false: reset to the latest offset (the old messages are not read again)', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'oor-latest', messages: values(2) })
  const collector = await collectingConsumer(t, kafka, { groupId: 'oor-latest-g', topics: ['oor-latest'], fromBeginning: false })
  collector.consumer.seek({ topic: 'oor-latest', partition: 0, offset: '50' })
  // The reset happens at the consumer's next fetch; until then a new message may be skipped by it
  // (it lands below the latest offset the consumer resets to), so keep producing until one arrives.
  for (let i = 0; collector.received.length === 0; i++) {
    assert.ok(i < 40, 'a message produced after the reset arrives')
    await producer.send({ topic: 'oor-latest', messages: [{ value: `new${i}` }] })
    await collector.waitForCount(1, 200).catch(() => {})
  }
  assert.ok(
    collector.received.every((r) => Number(r.offset) >= 2 && r.value!.startsWith('new')),
    `only messages produced after the seek: ${collector.received.map((r) => `${r.offset}:${r.value}`).join(', ')}`,
  )
})

test('pause/resume/paused: a paused topic delivers nothing until resumed', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'pz-a', messages: values(1, 'a') })
  await producer.send({ topic: 'pz-b', messages: values(1, 'b') })
  const collector = await collectingConsumer(t, kafka, { groupId: 'pz-g', topics: ['pz-a', 'pz-b'] })
  const { consumer } = collector
  await collector.waitForCount(2)
  assert.deepEqual(consumer.paused(), [], 'nothing paused')
  consumer.pause([{ topic: 'pz-a' }])
  assert.deepEqual(consumer.paused(), [{ topic: 'pz-a', partitions: [0] }], 'paused() lists the paused topic-partitions')
  await producer.send({ topic: 'pz-a', messages: [{ value: 'a-while-paused' }] })
  await producer.send({ topic: 'pz-b', messages: [{ value: 'b-while-a-paused' }] })
  await collector.waitForCount(3)
  // pz-b's message arrived, so a fetch round has passed: pz-a's must not have been delivered.
  assert.deepEqual(collector.received.slice(2).map((r) => r.value), ['b-while-a-paused'], 'only the unpaused topic delivered')
  consumer.resume([{ topic: 'pz-a' }])
  await collector.waitForCount(4)
  assert.equal(collector.received[3]!.value, 'a-while-paused', 'delivered after resume')
  assert.deepEqual(consumer.paused(), [], 'nothing paused after resume')
  const invalid = await caught(() => consumer.pause([{ topic: 'pz-a', partitions: 'x' as never }]))
  assert.ok(invalid instanceof KafkaJSNonRetriableError, `invalid partitions: KafkaJSNonRetriableError (got ${String(invalid)})`)
})

test('pause() from eachMessage stops the partition after this message; the returned function resumes it', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'pz-self', messages: values(4) })
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'pz-self-witness' }] })
  let resume: (() => void) | undefined
  const collector = await collectingConsumer(t, kafka, {
    groupId: 'pz-self-g',
    topics: ['pz-self', 'pz-self-witness'],
    onMessage: ({ topic, message, pause }) => {
      if (topic === 'pz-self' && message.offset === '1') resume = pause()
    },
  })
  const fromSelf = () => collector.received.filter((r) => r.topic === 'pz-self').map((r) => r.offset)
  await collector.waitForCount(2)
  assert.deepEqual(collector.consumer.paused(), [{ topic: 'pz-self', partitions: [0] }], 'the partition is paused')
  await producer.send({ topic: 'pz-self-witness', messages: [{ value: 'x' }] })
  await collector.waitForCount(3)
  assert.deepEqual(fromSelf(), ['0', '1'], 'no message after the one that paused (the other topic went on)')
  assert.equal(typeof resume, 'function', 'pause() returned a resume function')
  resume!()
  await collector.waitForCount(5)
  assert.deepEqual(fromSelf(), ['0', '1', '2', '3'], 'the rest after resume, in order, no duplicates')
})

test('stop(): no more messages and a STOP event; subscribe and run again afterwards', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'stop', messages: values(2) })
  const collector = await collectingConsumer(t, kafka, { groupId: 'stop-g', topics: ['stop'] })
  const { consumer } = collector
  const stopped = deferred()
  consumer.on(consumer.events.STOP, () => stopped.resolve())
  await collector.waitForCount(2)
  await withDeadline(consumer.stop(), 5000, 'stop()')
  await withDeadline(stopped.promise, 1000, 'STOP event')
  await producer.send({ topic: 'stop', messages: [{ value: 'after-stop' }] })
  await consumer.subscribe({ topics: ['stop'] })
  const next = deferred<string>()
  await consumer.run({ eachMessage: async ({ message }) => next.resolve(`${message.offset}:${message.value}`) })
  assert.equal(await withDeadline(next.promise, 5000, 'message after run again'), '2:after-stop', 'resumes from the committed offset')
  assert.equal(collector.received.length, 2, 'the stopped run delivered nothing more')
})

test('a handler that throws is retried with the same message, then processing goes on', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'retry', messages: values(3) })
  const attempts: string[] = []
  let failures = 0
  const crashes: unknown[] = []
  const collector = await collectingConsumer(t, kafka, {
    groupId: 'retry-g',
    topics: ['retry'],
    config: { retry: { initialRetryTime: 10, retries: 5 } },
    onMessage: ({ message }) => {
      attempts.push(message.offset)
      if (message.offset === '1' && failures < 2) {
        failures++
        throw new Error('transient')
      }
    },
  })
  collector.consumer.on(collector.consumer.events.CRASH, (e) => {
    crashes.push(e.payload.error)
  })
  await collector.waitForCount(3, 8000)
  assert.deepEqual(collector.received.map((r) => r.offset), ['0', '1', '2'], 'each message handled successfully once')
  assert.deepEqual(attempts, ['0', '1', '1', '1', '2'], 'offset 1 delivered again after each failure (offset 0 was resolved, not repeated)')
  assert.deepEqual(crashes, [], 'no crash while retries remain')
})

test('a handler that always throws: CRASH after the retries (KafkaJSNumberOfRetriesExceeded caused by the error), restartOnFailure consulted', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'crash', messages: values(2) })
  let calls = 0
  const restartAsked: unknown[] = []
  const crash = deferred<{ error: Error & { cause?: unknown; retryCount?: number }; groupId: string; restart: boolean }>()
  const consumer = await connectedConsumer(t, kafka, {
    groupId: 'crash-g',
    retry: {
      initialRetryTime: 10,
      retries: 2,
      restartOnFailure: async (e) => {
        restartAsked.push(e)
        return false
      },
    },
  })
  consumer.on(consumer.events.CRASH, (e) => crash.resolve(e.payload))
  await consumer.subscribe({ topics: ['crash'], fromBeginning: true })
  const boom = new Error('boom')
  await consumer.run({
    eachMessage: async () => {
      calls++
      throw boom
    },
  })
  const payload = await withDeadline(crash.promise, 8000, 'CRASH event')
  assert.equal(payload.groupId, 'crash-g', 'crash payload groupId')
  assert.equal(payload.restart, false, 'restartOnFailure returned false: no restart')
  assert.equal(payload.error.name, 'KafkaJSNumberOfRetriesExceeded', 'KafkaJS wraps the handler error after the retries')
  assert.equal(payload.error.cause, boom, 'the cause is the handler\'s error')
  assert.equal(restartAsked.length, 1, 'restartOnFailure was called once')
  assert.equal(calls, 3, 'first attempt and two retries')
})

test('a crashed consumer restarts by default (restart: true) and gets the message again', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'restart', messages: values(1) })
  let calls = 0
  const crashes: { restart: boolean }[] = []
  const done = deferred()
  const consumer = await connectedConsumer(t, kafka, { groupId: 'restart-g', retry: { initialRetryTime: 10, retries: 1 } })
  consumer.on(consumer.events.CRASH, (e) => {
    crashes.push({ restart: e.payload.restart })
  })
  await consumer.subscribe({ topics: ['restart'], fromBeginning: true })
  await consumer.run({
    eachMessage: async () => {
      calls++
      if (calls <= 2) throw new Error('fails twice')
      done.resolve()
    },
  })
  await withDeadline(done.promise, 8000, 'delivered after the restart')
  assert.deepEqual(crashes, [{ restart: true }], 'one crash, restarting')
  assert.equal(calls, 3, 'two failures (attempt + 1 retry), then the restarted consumer succeeds')
})

test('eachBatch: isStale() turns true once the partition is sought during the batch; the batch is fetched again from there', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'stale', messages: values(5) })
  const consumer = await connectedConsumer(t, kafka, { groupId: 'stale-g' })
  await consumer.subscribe({ topics: ['stale'], fromBeginning: true })
  const batches: string[][] = []
  const staleness: boolean[] = []
  const twice = deferred()
  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, isStale, resolveOffset }) => {
      batches.push(batch.messages.map((m) => m.offset))
      if (batches.length === 1) {
        staleness.push(isStale())
        consumer.seek({ topic: 'stale', partition: 0, offset: '3' })
        staleness.push(isStale())
        return
      }
      for (const m of batch.messages) resolveOffset(m.offset)
      twice.resolve()
    },
  })
  await withDeadline(twice.promise, 5000, 'second batch')
  assert.deepEqual(staleness, [false, true], 'isStale() before and after the seek')
  assert.deepEqual(batches.slice(0, 2), [['0', '1', '2', '3', '4'], ['3', '4']], 'the next batch starts at the sought offset')
})

test('disconnect() waits for the handler in flight, then commits what it resolved (autoCommit)', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const admin = await connectedAdmin(t, kafka)
  await producer.send({ topic: 'inflight', messages: values(3) })
  const entered = deferred()
  const release = deferred()
  const order: string[] = []
  const consumer = await connectedConsumer(t, kafka, { groupId: 'inflight-g' })
  await consumer.subscribe({ topics: ['inflight'], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.offset !== '0') return
      entered.resolve()
      // bounded, so that a broken disconnect cannot leave the handler (and the test) hanging
      await withDeadline(release.promise, 5000, 'release').catch(() => {})
      order.push('handler done')
    },
  })
  await withDeadline(entered.promise, 5000, 'handler entered')
  const disconnected = consumer.disconnect().then(() => {
    order.push('disconnected')
  })
  await new Promise((r) => setImmediate(r))
  order.push('released')
  release.resolve()
  await withDeadline(disconnected, 5000, 'disconnect()')
  assert.deepEqual(order, ['released', 'handler done', 'disconnected'], 'disconnect resolved only after the handler returned')
  const [committed] = await admin.fetchOffsets({ groupId: 'inflight-g', topics: ['inflight'] })
  assert.equal(committed!.partitions[0]!.offset, '1', 'the message handled before the stop was committed, nothing after it')
})
