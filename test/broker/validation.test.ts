// Bad input raises a typed error and writes nothing: after each one the data dir lists exactly the
// same files with the same sizes.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import {
  Broker,
  ClosedError,
  InvalidConfigError,
  InvalidPartitionError,
  InvalidTopicError,
  KafkaliteError,
  TopicExistsError,
  UnknownTopicError,
} from '../../src/index.js'
import { dirSnapshot, tempDir, test } from '../fixtures/helpers.js'

type ErrorClass = new (...args: any[]) => KafkaliteError

async function expectRejected(dir: string, fn: () => unknown, cls: ErrorClass, code: string, what: string): Promise<void> {
  const before = dirSnapshot(dir)
  let caught: unknown
  try {
    await fn()
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof cls, `${what}: expected ${cls.name}, got ${String(caught)}`)
  assert.equal((caught as KafkaliteError).code, code, what)
  assert.equal((caught as KafkaliteError).retriable, false, what)
  assert.deepEqual(dirSnapshot(dir), before, `${what}: the data dir changed`)
}

const badTopicNames: unknown[] = ['../x', 'a/b', '.', '..', '', 'x'.repeat(250), 'a b', 'ü', '..\\x', 42, null, undefined, {}]

test('bad topic names → InvalidTopicError, no directory created', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  for (const name of badTopicNames) {
    await expectRejected(dir, () => broker.createTopic(name as string), InvalidTopicError, 'INVALID_TOPIC', `name ${String(name).slice(0, 20)}`)
  }
  assert.ok(!existsSync(join(dir, '..', 'x-0')), 'nothing escaped the data dir')
  assert.deepEqual(broker.topics(), [])
  // The limits themselves are accepted.
  await broker.createTopic('x'.repeat(249))
  await broker.createTopic('..x')
  assert.equal(broker.topics().length, 2)
})

test('createTopic returns a rejected promise for bad input instead of throwing synchronously', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  let p: Promise<unknown> | undefined
  assert.doesNotThrow(() => {
    p = broker.createTopic('../x')
  })
  await assert.rejects(p!, { code: 'INVALID_TOPIC' })
  assert.doesNotThrow(() => {
    p = broker.createTopic('ok', { partitions: 0 })
  })
  await assert.rejects(p!, { code: 'INVALID_CONFIG' })
})

test('bad partition counts → InvalidConfigError, no directory created', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  for (const partitions of [0, -1, 1.5, 'x', null, NaN, Infinity, 10_001]) {
    await expectRejected(dir, () => broker.createTopic('t', { partitions: partitions as number }), InvalidConfigError, 'INVALID_CONFIG', `partitions ${String(partitions)}`)
  }
  assert.equal(broker.hasTopic('t'), false)
})

test('unknown config keys and bad values → InvalidConfigError, no directory created', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  const bad: Array<Record<string, unknown>> = [
    { retention: 1000 },
    { 'retention.ms': 1000 },
    { segmentBytes: 1023 },
    { segmentBytes: '1024' },
    { segmentBytes: 2 ** 31 },
    { retentionMs: -2 },
    { retentionMs: 1.5 },
    { maxMessageBytes: -1 },
    { messageTimestampType: 'AppendTime' },
    { cleanupPolicy: 'keep' },
    { minCleanableDirtyRatio: 2 },
    { minCleanableDirtyRatio: NaN },
    { segmentMs: 0 },
  ]
  for (const cfg of bad) {
    await expectRejected(dir, () => broker.createTopic('t', cfg), InvalidConfigError, 'INVALID_CONFIG', JSON.stringify(cfg))
  }
  await expectRejected(dir, () => broker.createTopic('t', null as never), InvalidConfigError, 'INVALID_CONFIG', 'null options')
  await expectRejected(dir, () => broker.createTopic('__cluster_metadata'), InvalidConfigError, 'INVALID_CONFIG', 'reserved name')
  assert.equal(broker.hasTopic('t'), false)
})

test('bad broker options → InvalidConfigError before the dir is created', async (t) => {
  const root = tempDir(t)
  const dir = join(root, 'never')
  const bad: Array<Record<string, unknown>> = [
    { dir, topicDefaults: { nope: 1 } },
    { dir, topicDefaults: { segmentBytes: 10 } },
    { dir, recoveryPointCheckpointIntervalMs: 0 },
    { dir: '' },
    { dir: 42 },
  ]
  for (const o of bad) {
    await assert.rejects(Broker.open(o as never), (err: KafkaliteError) => err instanceof InvalidConfigError && err.code === 'INVALID_CONFIG')
    assert.ok(!existsSync(dir), `${JSON.stringify(o)} created the dir`)
  }
  await assert.rejects(Broker.open({ dir, readOnly: true }), { code: 'INVALID_CONFIG' })
  assert.ok(!existsSync(dir), 'a read-only open does not create the dir')
})

test('createTopic twice → TopicExistsError; the first topic keeps its partitions and config', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  await broker.createTopic('dup', { partitions: 2, retentionMs: 5000 })
  await expectRejected(dir, () => broker.createTopic('dup', { partitions: 4 }), TopicExistsError, 'TOPIC_EXISTS', 'second create')
  assert.equal(broker.topic('dup').partitions, 2)
  assert.equal(broker.topic('dup').config.retentionMs, 5000)
})

test('unknown topics → UnknownTopicError from topic(), send() and subscribe(); nothing created', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  await broker.createTopic('known')
  const producer = broker.producer()
  const consumer = broker.consumer()
  for (const name of ['nope', '../x', 42]) {
    const what = String(name)
    await expectRejected(dir, () => broker.topic(name as string), UnknownTopicError, 'UNKNOWN_TOPIC', `topic(${what})`)
    await expectRejected(dir, () => producer.send(name as string, { value: Buffer.from('v') }), UnknownTopicError, 'UNKNOWN_TOPIC', `send(${what})`)
    await expectRejected(dir, () => consumer.subscribe([name as string]), UnknownTopicError, 'UNKNOWN_TOPIC', `subscribe(${what})`)
    await expectRejected(dir, () => consumer.assign([{ topic: name as string, partition: 0 }]), UnknownTopicError, 'UNKNOWN_TOPIC', `assign(${what})`)
  }
  await expectRejected(dir, () => consumer.subscribe(['known', 'nope']), UnknownTopicError, 'UNKNOWN_TOPIC', 'one unknown of two')
  assert.deepEqual(consumer.assignment(), [], 'a failed subscribe assigns nothing')
  assert.equal(broker.hasTopic('nope'), false)
})

test('bad partition numbers → InvalidPartitionError on Topic and raw API', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  const topic = await broker.createTopic('p', { partitions: 2 })
  for (const p of [2, -1, 1.5, 'x', NaN, null]) {
    const what = `partition ${String(p)}`
    await expectRejected(dir, () => topic.partition(p as number), InvalidPartitionError, 'INVALID_PARTITION', what)
    await expectRejected(dir, () => topic.latestOffset(p as number), InvalidPartitionError, 'INVALID_PARTITION', what)
    await expectRejected(dir, () => topic.earliestOffset(p as number), InvalidPartitionError, 'INVALID_PARTITION', what)
    await expectRejected(dir, () => topic.offsetForTimestamp(p as number, 0), InvalidPartitionError, 'INVALID_PARTITION', what)
  }
})

test('use after close → ClosedError (broker, producer, consumer, topic handles)', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  const topic = await broker.createTopic('c')
  const producer = broker.producer()
  const consumer = broker.consumer()
  await broker.close()
  await broker.close()
  const before = dirSnapshot(dir)
  const calls: Array<[string, () => unknown]> = [
    ['createTopic', () => broker.createTopic('d')],
    ['topic', () => broker.topic('c')],
    ['topics', () => broker.topics()],
    ['producer()', () => broker.producer()],
    ['consumer()', () => broker.consumer()],
    ['send', () => producer.send('c', { value: Buffer.from('x') })],
    ['subscribe', () => consumer.subscribe(['c'])],
    ['run', () => consumer.run({ eachMessage: () => {} })],
    ['iterate', () => consumer[Symbol.asyncIterator]().next()],
    ['appendBatch', () => topic.partition(0).appendBatch(Buffer.alloc(0))],
    ['readBatches', () => topic.partition(0).readBatches({ offset: 0 })],
  ]
  for (const [what, fn] of calls) {
    await expectRejected(dir, fn, ClosedError, 'CLOSED', what)
  }
  assert.deepEqual(dirSnapshot(dir), before)
})

test('a closed producer and consumer refuse work while their broker stays open', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('c')
  const producer = broker.producer()
  const consumer = broker.consumer()
  await producer.close()
  await consumer.close()
  await assert.rejects(producer.send('c', { value: Buffer.from('x') }), ClosedError)
  await assert.rejects(consumer.subscribe('c'), ClosedError)
  assert.throws(() => consumer.assign([{ topic: 'c', partition: 0 }]), ClosedError)
  await assert.rejects(consumer.run({ eachMessage: () => {} }), ClosedError)
  assert.equal(broker.topic('c').latestOffset(0), 0)
})
