import assert from 'node:assert/strict'
import { Broker, type Consumer, type Message } from '../../src/index.js'
import { deferred, tempDir, test, waitFor, withDeadline } from '../fixtures/helpers.js'

const text = (m: Message): string => (m.value as Buffer).toString()

async function fill(broker: Broker, topic: string, partitions: number, perPartition: number, tag = 'v'): Promise<void> {
  const producer = broker.producer()
  for (let i = 0; i < perPartition; i++) {
    await producer.send(topic, Array.from({ length: partitions }, (_, p) => ({ value: Buffer.from(`${tag}${p}-${i}`), partition: p })))
  }
}

/** Takes `n` messages from the iterator, then closes the consumer. */
async function take(consumer: Consumer, n: number, ms = 5000): Promise<Message[]> {
  const out: Message[] = []
  if (n === 0) return out
  const run = async (): Promise<void> => {
    for await (const m of consumer) {
      out.push(m)
      if (out.length === n) break
    }
  }
  await withDeadline(run(), ms, `taking ${n} messages`)
  return out
}

test('a delivered message: { topic, partition, offset, timestamp, key, value, headers } with Buffers and null', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('shape')
  await broker.producer().send('shape', [
    { key: 'k', value: Buffer.from('v'), headers: { a: 'x', rep: ['1', '2'] }, timestamp: 77 },
    { value: null },
  ])
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('shape')
  const [m, tomb] = await take(consumer, 2)
  assert.deepEqual(Object.keys(m!).sort(), ['headers', 'key', 'offset', 'partition', 'timestamp', 'topic', 'value'])
  assert.equal(m!.topic, 'shape')
  assert.equal(m!.partition, 0)
  assert.equal(m!.offset, 0)
  assert.equal(m!.timestamp, 77)
  assert.ok(Buffer.isBuffer(m!.key) && m!.key.toString() === 'k')
  assert.ok(Buffer.isBuffer(m!.value) && m!.value.toString() === 'v')
  assert.ok(Buffer.isBuffer(m!.headers.a))
  assert.equal(String(m!.headers.a), 'x')
  assert.deepEqual((m!.headers.rep as Buffer[]).map(String), ['1', '2'])
  assert.equal(tomb!.key, null)
  assert.equal(tomb!.value, null)
  assert.deepEqual(tomb!.headers, {})
  await consumer.close()
})

test('subscribe forms: string, array, RegExp (also with the g flag), { topics, fromBeginning }', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  for (const name of ['t-a', 't-b', 't-c', 'other']) await broker.createTopic(name, { partitions: 2 })
  const assigned = async (arg: Parameters<Consumer['subscribe']>[0]): Promise<string[]> => {
    const c = broker.consumer()
    await c.subscribe(arg)
    const out = c.assignment().map((a) => `${a.topic}/${a.partition}`).sort()
    await c.close()
    return out
  }
  assert.deepEqual(await assigned('t-a'), ['t-a/0', 't-a/1'])
  assert.deepEqual(await assigned(['t-a', 'other']), ['other/0', 'other/1', 't-a/0', 't-a/1'])
  assert.deepEqual(await assigned(/^t-/), ['t-a/0', 't-a/1', 't-b/0', 't-b/1', 't-c/0', 't-c/1'])
  assert.deepEqual(await assigned(/^t-/g), ['t-a/0', 't-a/1', 't-b/0', 't-b/1', 't-c/0', 't-c/1'])
  assert.deepEqual(await assigned({ topics: [/b$/, 'other'] }), ['other/0', 'other/1', 't-b/0', 't-b/1'])
  const c = broker.consumer()
  t.after(() => c.close())
  await c.subscribe('t-a')
  await c.subscribe(['t-a', 't-b'])
  assert.equal(c.assignment().length, 4, 'subscribing again adds topics without duplicates')
  await assert.rejects(c.subscribe(42 as never), { code: 'INVALID_CONFIG' })
  await assert.rejects(c.subscribe({ topics: 'x' } as never), { code: 'INVALID_CONFIG' })
})

test('fromBeginning reads the old records; latest (the default) only the new ones', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('fb', { partitions: 2 })
  await fill(broker, 'fb', 2, 3, 'old')
  const early = broker.consumer({ fromBeginning: true })
  const late = broker.consumer()
  const perCall = broker.consumer()
  await early.subscribe('fb')
  await late.subscribe('fb')
  await perCall.subscribe({ topics: ['fb'], fromBeginning: true })
  await fill(broker, 'fb', 2, 1, 'new')
  const all = await take(early, 8)
  assert.equal(all.filter((m) => text(m).startsWith('old')).length, 6)
  const fresh = await take(late, 2)
  assert.deepEqual(fresh.map(text).sort(), ['new0-0', 'new1-0'])
  assert.equal((await take(perCall, 8)).length, 8)
  await Promise.all([early.close(), late.close(), perCall.close()])
})

test('assign with offsets reads exactly those partitions from there; replaces the assignment', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('as', { partitions: 3 })
  await fill(broker, 'as', 3, 5)
  const consumer = broker.consumer()
  consumer.assign([{ topic: 'as', partition: 2, offset: 3 }, { topic: 'as', partition: 0, offset: 5 }])
  assert.deepEqual(consumer.assignment(), [{ topic: 'as', partition: 2 }, { topic: 'as', partition: 0 }])
  assert.equal(consumer.position('as', 2), 3)
  const got = await take(consumer, 2)
  assert.deepEqual(got.map((m) => `${m.partition}:${m.offset}`), ['2:3', '2:4'])
  const next = broker.consumer({ fromBeginning: true })
  next.assign([{ topic: 'as', partition: 1 }])
  next.assign([{ topic: 'as', partition: 0 }])
  assert.deepEqual(next.assignment(), [{ topic: 'as', partition: 0 }])
  assert.deepEqual((await take(next, 5)).map((m) => `${m.partition}:${m.offset}`), ['0:0', '0:1', '0:2', '0:3', '0:4'])
  await Promise.all([consumer.close(), next.close()])
})

test('assign or seek out of range → OffsetOutOfRangeError and the assignment and position stay', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('range', { partitions: 2 })
  await fill(broker, 'range', 2, 3)
  const consumer = broker.consumer()
  t.after(() => consumer.close())
  consumer.assign([{ topic: 'range', partition: 0, offset: 1 }])
  for (const offset of [4, -1, 1.5, NaN, '2']) {
    assert.throws(
      () => consumer.assign([{ topic: 'range', partition: 1, offset: 0 }, { topic: 'range', partition: 0, offset: offset as number }]),
      { name: 'OffsetOutOfRangeError', code: 'OFFSET_OUT_OF_RANGE' },
    )
    assert.throws(() => consumer.seek({ topic: 'range', partition: 0, offset: offset as number }), { code: 'OFFSET_OUT_OF_RANGE' })
  }
  assert.deepEqual(consumer.assignment(), [{ topic: 'range', partition: 0 }], 'a failed assign keeps the old assignment')
  assert.equal(consumer.position('range', 0), 1)
  assert.throws(() => consumer.assign([{ topic: 'range', partition: 2 }]), { code: 'INVALID_PARTITION' })
  assert.throws(() => consumer.assign([null as never]), { code: 'INVALID_CONFIG' })
  assert.throws(() => consumer.seek({ topic: 'range', partition: 1, offset: 0 }), { code: 'INVALID_PARTITION' }, 'seek needs an assigned partition')
  assert.deepEqual(consumer.assignment(), [{ topic: 'range', partition: 0 }])
  consumer.seek({ topic: 'range', partition: 0, offset: 3 })
  assert.equal(consumer.position('range', 0), 3, 'the high watermark itself is in range')
})

test('for await delivers in offset order per partition and ends when close() is called from outside', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('it', { partitions: 3 })
  await fill(broker, 'it', 3, 20)
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('it')
  const seen: Message[] = []
  const all = deferred()
  const loop = (async () => {
    for await (const m of consumer) {
      seen.push(m)
      if (seen.length === 60) all.resolve()
    }
  })()
  await withDeadline(all.promise, 5000, '60 messages')
  await consumer.close()
  await withDeadline(loop, 2000, 'the loop ends after close()')
  for (let p = 0; p < 3; p++) {
    assert.deepEqual(seen.filter((m) => m.partition === p).map((m) => m.offset), Array.from({ length: 20 }, (_, i) => i))
  }
})

test('for await ends when close() is called inside the loop', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('inside')
  await fill(broker, 'inside', 1, 10)
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('inside')
  const seen: number[] = []
  await withDeadline(
    (async () => {
      for await (const m of consumer) {
        seen.push(m.offset)
        if (m.offset === 3) await consumer.close()
      }
    })(),
    3000,
    'loop with close inside',
  )
  assert.deepEqual(seen, [0, 1, 2, 3])
})

test('a consumer at the end of the log wakes on a new append', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  await broker.createTopic('wake', { partitions: 2 })
  const consumer = broker.consumer()
  await consumer.subscribe('wake')
  const got = deferred<Message>()
  await consumer.run({ eachMessage: (m) => got.resolve(m) })
  await new Promise((r) => setImmediate(r))
  const [meta] = await broker.producer().send('wake', { value: Buffer.from('hello'), partition: 1 })
  const m = await withDeadline(got.promise, 2000, 'wake on append')
  assert.deepEqual([m.partition, m.offset, text(m)], [1, meta!.offset, 'hello'])
  await consumer.close()
})

test('run({ eachMessage }) resolves first, then delivers every message in order', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('run', { partitions: 2 })
  await fill(broker, 'run', 2, 25)
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('run')
  let resolved = false
  let early = 0
  const seen: Message[] = []
  const all = deferred()
  await consumer.run({
    eachMessage: async (m) => {
      if (!resolved) early++
      seen.push(m)
      if (seen.length === 50) all.resolve()
    },
  })
  resolved = true
  await withDeadline(all.promise, 5000, 'eachMessage')
  await consumer.close()
  assert.equal(early, 0, 'messages were delivered before run() resolved')
  assert.equal(seen.length, 50, 'each message once')
  for (const p of [0, 1]) {
    assert.deepEqual(seen.filter((m) => m.partition === p).map((m) => m.offset), Array.from({ length: 25 }, (_, i) => i))
  }
  assert.ok(seen.every((m, i) => seen.slice(0, i).every((o) => o.partition !== m.partition || o.offset < m.offset)))
})

test('run({ eachBatch }) gets batches with their high watermark; close() waits for the handler in flight', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('eb')
  await fill(broker, 'eb', 1, 12)
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('eb')
  const offsets: number[] = []
  const all = deferred()
  let inHandler = false
  await consumer.run({
    eachBatch: async (b) => {
      inHandler = true
      assert.equal(b.topic, 'eb')
      assert.equal(b.partition, 0)
      assert.equal(b.highWatermark, 12)
      offsets.push(...b.messages.map((m) => m.offset))
      if (offsets.length === 12) all.resolve()
      await new Promise((r) => setTimeout(r, 20))
      inHandler = false
    },
  })
  await withDeadline(all.promise, 5000, 'eachBatch')
  await consumer.close()
  assert.equal(inHandler, false, 'close() returned while the handler was still running')
  assert.deepEqual(offsets, Array.from({ length: 12 }, (_, i) => i))
  await assert.rejects(consumer.run({ eachBatch: () => {} }), { code: 'CLOSED' })
})

test('run() refuses bad options and a second run', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const consumer = broker.consumer()
  t.after(() => consumer.close())
  await assert.rejects(consumer.run({}), { code: 'INVALID_CONFIG' })
  await assert.rejects(consumer.run({ eachMessage: () => {}, eachBatch: () => {} }), { code: 'INVALID_CONFIG' })
  await consumer.run({ eachMessage: () => {} })
  await assert.rejects(consumer.run({ eachMessage: () => {} }), { code: 'INVALID_CONFIG' })
})

test('close() called from inside eachMessage resolves (no deadlock) and stops delivery', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('selfclose')
  await fill(broker, 'selfclose', 1, 10)
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('selfclose')
  const seen: number[] = []
  const closed = deferred()
  await consumer.run({
    eachMessage: async (m) => {
      seen.push(m.offset)
      if (m.offset === 2) {
        await consumer.close()
        closed.resolve()
      }
    },
  })
  await withDeadline(closed.promise, 2000, 'close inside the handler')
  await new Promise((r) => setTimeout(r, 20))
  assert.deepEqual(seen, [0, 1, 2])
})

test('seek by offset and by timestamp moves the next delivered message', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('seek')
  const producer = broker.producer()
  for (let i = 0; i < 10; i++) await producer.send('seek', { value: Buffer.from(`m${i}`), timestamp: 1000 + i * 100 })
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('seek')
  const seen: number[] = []
  for await (const m of consumer) {
    seen.push(m.offset)
    if (m.offset === 2 && seen.length === 3) consumer.seek({ topic: 'seek', partition: 0, offset: 7 })
    if (m.offset === 8) consumer.seek({ topic: 'seek', partition: 0, timestamp: 1450 })
    if (m.offset === 6) break
  }
  assert.deepEqual(seen, [0, 1, 2, 7, 8, 5, 6])
  // A message counts as processed when the loop asks for the next one; `break` does not, so 6 is next.
  assert.equal(consumer.position('seek', 0), 6)
  consumer.seek({ topic: 'seek', partition: 0, timestamp: 99_999 })
  assert.equal(consumer.position('seek', 0), 10, 'a time after every record seeks to the end')
  consumer.seek({ topic: 'seek', partition: 0, timestamp: 0 })
  assert.equal(consumer.position('seek', 0), 0)
  assert.throws(() => consumer.seek({ topic: 'seek', partition: 0, timestamp: 'x' as never }), { code: 'INVALID_CONFIG' })
  await consumer.close()
})

test('seek from inside eachMessage: no stale message is delivered after it', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('seekrun')
  await fill(broker, 'seekrun', 1, 10)
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('seekrun')
  const seen: number[] = []
  const done = deferred()
  let sought = false
  await consumer.run({
    eachMessage: (m) => {
      seen.push(m.offset)
      if (m.offset === 3 && !sought) {
        sought = true
        consumer.seek({ topic: 'seekrun', partition: 0, offset: 8 })
      }
      if (m.offset === 9) done.resolve()
    },
  })
  await withDeadline(done.promise, 3000, 'seek in run')
  await consumer.close()
  assert.deepEqual(seen, [0, 1, 2, 3, 8, 9])
})

test('pause and resume: no delivery while paused, each message exactly once', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('pr', { partitions: 2 })
  await fill(broker, 'pr', 2, 10)
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('pr')
  const seen: Message[] = []
  let pausedAt = -1
  const tenOfP1 = deferred()
  await consumer.run({
    eachMessage: (m) => {
      seen.push(m)
      if (m.partition === 0 && m.offset === 4) {
        consumer.pause([{ topic: 'pr', partitions: [0] }])
        pausedAt = seen.length
      }
      if (seen.filter((x) => x.partition === 1).length === 10) tenOfP1.resolve()
    },
  })
  await withDeadline(tenOfP1.promise, 5000, 'partition 1 while 0 is paused')
  await broker.producer().send('pr', { value: Buffer.from('during'), partition: 1 })
  await waitFor(() => seen.filter((x) => x.partition === 1).length === 11, 2000, 'partition 1 keeps flowing')
  assert.deepEqual(consumer.paused(), [{ topic: 'pr', partitions: [0] }])
  assert.ok(pausedAt > 0)
  assert.deepEqual(seen.filter((m) => m.partition === 0).map((m) => m.offset), [0, 1, 2, 3, 4], 'nothing of a paused partition')
  consumer.resume([{ topic: 'pr' }])
  // A last record after the resume: once it is delivered, everything before it has been.
  await broker.producer().send('pr', { value: Buffer.from('last'), partition: 0 })
  await waitFor(() => seen.some((x) => x.partition === 0 && x.offset === 10), 2000, 'partition 0 after resume')
  assert.deepEqual(seen.filter((m) => m.partition === 0).map((m) => m.offset), Array.from({ length: 11 }, (_, i) => i))
  assert.deepEqual(consumer.paused(), [])
  await consumer.close()
})

test('pause then throw inside eachMessage: the message comes again after resume, without a crash', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('pt')
  await fill(broker, 'pt', 1, 5)
  const consumer = broker.consumer({ fromBeginning: true, retry: { retries: 1, initialRetryTime: 1 } })
  await consumer.subscribe('pt')
  const seen: number[] = []
  let crashed = false
  consumer.on('crash', () => (crashed = true))
  let failed = false
  await consumer.run({
    eachMessage: (m) => {
      seen.push(m.offset)
      if (m.offset === 2 && !failed) {
        failed = true
        consumer.pause([{ topic: 'pt' }])
        throw new Error('busy, try later')
      }
    },
  })
  await waitFor(() => failed, 2000, 'the failing message')
  await new Promise((r) => setTimeout(r, 30))
  assert.deepEqual(seen, [0, 1, 2], 'no retry while paused')
  consumer.resume([{ topic: 'pt' }])
  await waitFor(() => seen.length === 6, 2000, 'after resume')
  assert.deepEqual(seen, [0, 1, 2, 2, 3, 4])
  assert.equal(crashed, false)
  await consumer.close()
})

test('pause/resume from the iterator and pause of an unknown topic is a no-op', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('pi')
  await fill(broker, 'pi', 1, 6)
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('pi')
  consumer.pause([{ topic: 'nope' }])
  const seen: number[] = []
  for await (const m of consumer) {
    seen.push(m.offset)
    if (m.offset === 1) {
      consumer.pause([{ topic: 'pi' }])
      setTimeout(() => consumer.resume([{ topic: 'pi' }]), 10)
    }
    if (m.offset === 5) break
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5])
  await consumer.close()
})

test('control batches are skipped: no stall, no empty eachBatch, offsets jump over them', async (t) => {
  const { encodeControlBatch } = await import('../../src/storage/control-batch.js')
  const broker = await Broker.open()
  t.after(() => broker.close())
  const p = (await broker.createTopic('ctl')).partition(0)
  const producer = broker.producer()
  await producer.send('ctl', { value: Buffer.from('before') })
  p.append([encodeControlBatch({ commit: true, producerId: 1, producerEpoch: 0, coordinatorEpoch: 0, timestamp: Date.now() })]) // as the transaction coordinator writes markers
  await producer.send('ctl', { value: Buffer.from('after') })
  p.append([encodeControlBatch({ commit: false, producerId: 1, producerEpoch: 0, coordinatorEpoch: 0, timestamp: Date.now() })])
  const consumer = broker.consumer({ fromBeginning: true, maxBytes: 1 })
  await consumer.subscribe('ctl')
  const batches: number[][] = []
  await consumer.run({ eachBatch: (b) => void batches.push(b.messages.map((m) => m.offset)) })
  await waitFor(() => consumer.position('ctl', 0) === 4, 2000, 'position past the last control batch')
  await consumer.close()
  assert.deepEqual(batches, [[0], [2]])
})
