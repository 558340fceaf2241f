// Handler failures (retry with backoff, then 'crash') and fetch bounds (maxBytes, KIP-74).
import assert from 'node:assert/strict'
import { Broker, InvalidRecordError, type CrashEvent, type Message } from '../../src/index.js'
import { deferred, test, waitFor, withDeadline } from '../fixtures/helpers.js'

async function setup(t: { after(fn: () => unknown): void }, records: number, partitions = 1) {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('r', { partitions })
  const producer = broker.producer()
  for (let i = 0; i < records; i++) await producer.send('r', { value: Buffer.from(`m${i}`), partition: i % partitions })
  return broker
}

test('a handler that throws is retried and then the consumer goes on in order', async (t) => {
  const broker = await setup(t, 5)
  const consumer = broker.consumer({ fromBeginning: true, retry: { initialRetryTime: 1, retries: 5 } })
  await consumer.subscribe('r')
  const calls: number[] = []
  const done = deferred()
  let failures = 0
  await consumer.run({
    eachMessage: (m) => {
      calls.push(m.offset)
      if (m.offset === 2 && failures < 3) {
        failures++
        throw new Error('transient')
      }
      if (m.offset === 4) done.resolve()
    },
  })
  await withDeadline(done.promise, 3000, 'messages after retries')
  await consumer.close()
  assert.deepEqual(calls, [0, 1, 2, 2, 2, 2, 3, 4])
})

test("a handler that always throws: 'crash' names topic/partition/offset after retry.retries, then no more calls", async (t) => {
  const broker = await setup(t, 3, 2)
  const consumer = broker.consumer({ fromBeginning: true, retry: { initialRetryTime: 1, retries: 3 } })
  consumer.assign([{ topic: 'r', partition: 1 }])
  let calls = 0
  const crashed = deferred<CrashEvent>()
  consumer.on('crash', (e: CrashEvent) => crashed.resolve(e))
  await consumer.run({
    eachMessage: () => {
      calls++
      throw new Error('always')
    },
  })
  const event = await withDeadline(crashed.promise, 3000, 'crash event')
  assert.equal((event.error as Error).message, 'always')
  assert.deepEqual([event.topic, event.partition, event.offset], ['r', 1, 0])
  assert.equal(calls, 4, 'the first attempt and three retries')
  await broker.producer().send('r', { value: Buffer.from('later'), partition: 1 })
  await new Promise((r) => setTimeout(r, 30))
  assert.equal(calls, 4, 'a crashed consumer delivers nothing more')
  await withDeadline(consumer.close(), 1000, 'close after crash')
})

test('eachBatch failures are retried and crash the same way', async (t) => {
  const broker = await setup(t, 4)
  const consumer = broker.consumer({ fromBeginning: true, retry: { initialRetryTime: 1, retries: 2 } })
  await consumer.subscribe('r')
  let calls = 0
  const crashed = deferred<CrashEvent>()
  consumer.on('crash', (e: CrashEvent) => crashed.resolve(e))
  await consumer.run({
    eachBatch: () => {
      calls++
      throw new Error('batch')
    },
  })
  const event = await withDeadline(crashed.promise, 3000, 'crash event')
  assert.deepEqual([event.topic, event.partition, event.offset], ['r', 0, 0])
  assert.equal(calls, 3)
  await consumer.close()
})

test('a kafkalite error that is not retriable crashes at once', async (t) => {
  const broker = await setup(t, 2)
  const consumer = broker.consumer({ fromBeginning: true, retry: { initialRetryTime: 1, retries: 5 } })
  await consumer.subscribe('r')
  let calls = 0
  const crashed = deferred<CrashEvent>()
  consumer.on('crash', (e: CrashEvent) => crashed.resolve(e))
  await consumer.run({
    eachMessage: () => {
      calls++
      throw new InvalidRecordError('bad data')
    },
  })
  const event = await withDeadline(crashed.promise, 3000, 'crash')
  assert.equal((event.error as InvalidRecordError).code, 'INVALID_RECORD')
  assert.equal(calls, 1)
  await consumer.close()
})

test('close() during a retry backoff ends at once without a crash', async (t) => {
  const broker = await setup(t, 1)
  const consumer = broker.consumer({ fromBeginning: true, retry: { initialRetryTime: 60_000, retries: 5 } })
  await consumer.subscribe('r')
  let crashed = false
  consumer.on('crash', () => (crashed = true))
  const failed = deferred()
  await consumer.run({
    eachMessage: () => {
      failed.resolve()
      throw new Error('x')
    },
  })
  await withDeadline(failed.promise, 2000, 'first failure')
  await withDeadline(consumer.close(), 1000, 'close during backoff')
  assert.equal(crashed, false)
})

test('bad retry options → InvalidConfigError', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  for (const retry of [{ retries: -1 }, { retries: 1.5 }, { initialRetryTime: 'x' }, { multiplier: 0 }, { multiplier: 'x' }]) {
    assert.throws(() => broker.consumer({ retry: retry as never }), { code: 'INVALID_CONFIG' }, JSON.stringify(retry))
  }
  for (const o of [{ maxBytes: 0 }, { maxBytesPerPartition: -5 }, { autoOffsetReset: 'smallest' }]) {
    assert.throws(() => broker.consumer(o as never), { code: 'INVALID_CONFIG' }, JSON.stringify(o))
  }
})

test('maxBytes bounds each fetch, yet a single record bigger than maxBytes is delivered (KIP-74)', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('mb')
  const producer = broker.producer()
  for (let i = 0; i < 30; i++) await producer.send('mb', { value: Buffer.alloc(200, i) })
  await producer.send('mb', { value: Buffer.alloc(5000, 0xee) })
  for (let i = 30; i < 40; i++) await producer.send('mb', { value: Buffer.alloc(200, i) })
  const consumer = broker.consumer({ fromBeginning: true, maxBytes: 1000 })
  await consumer.subscribe('mb')
  const batches: Message[][] = []
  const done = deferred()
  let total = 0
  await consumer.run({
    eachBatch: (b) => {
      batches.push(b.messages)
      total += b.messages.length
      if (total === 41) done.resolve()
    },
  })
  await withDeadline(done.promise, 3000, 'all records')
  await consumer.close()
  const offsets = batches.flat().map((m) => m.offset)
  assert.deepEqual(offsets, Array.from({ length: 41 }, (_, i) => i))
  for (const b of batches) {
    const bytes = b.reduce((n, m) => n + (m.value as Buffer).length, 0)
    assert.ok(b.length === 1 || bytes <= 1000, `a fetch of ${b.length} records and ${bytes} value bytes`)
  }
  const big = batches.find((b) => b.some((m) => (m.value as Buffer).length === 5000))!
  assert.equal(big.length, 1, 'the big record comes alone')
  assert.ok(batches.length >= 10, `${batches.length} fetches`)
})

test('maxBytesPerPartition shares a fetch between partitions', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('share', { partitions: 2 })
  const producer = broker.producer()
  for (let i = 0; i < 20; i++) await producer.send('share', [{ value: Buffer.alloc(100), partition: 0 }, { value: Buffer.alloc(100), partition: 1 }])
  const consumer = broker.consumer({ fromBeginning: true, maxBytesPerPartition: 400 })
  await consumer.subscribe('share')
  const seen: string[] = []
  await consumer.run({ eachBatch: (b) => void seen.push(`${b.partition}:${b.messages.length}`) })
  await waitFor(() => seen.reduce((n, s) => n + Number(s.split(':')[1]), 0) === 40, 3000, 'all records')
  await consumer.close()
  assert.ok(seen.every((s) => Number(s.split(':')[1]) <= 3), seen.join(' '))
  assert.ok(seen.slice(0, 2).some((s) => s.startsWith('0:')) && seen.slice(0, 2).some((s) => s.startsWith('1:')), 'both partitions in the first fetch')
})
