import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { partitionForKey } from '../../src/client/partitioner.js'
import { Broker, decodeRecords, encodeRecordBatch, readBatchHeader, type Partition, type RecordMetadata } from '../../src/index.js'
import { dirSnapshot, tempDir, test, withDeadline } from '../fixtures/helpers.js'

/** Batches stored in a partition: their header and decoded records. */
function batchesOf(p: Partition) {
  const { bytes } = p.readBatches({ offset: p.logStartOffset, maxBytes: 64 * 1024 * 1024 })
  const out: Array<{ header: ReturnType<typeof readBatchHeader>; records: ReturnType<typeof decodeRecords> }> = []
  for (let pos = 0; pos < bytes.length; pos += 12 + bytes.readInt32BE(pos + 8)) {
    out.push({ header: readBatchHeader(bytes, pos), records: decodeRecords(bytes, pos) })
  }
  return out
}

function recordsOf(p: Partition) {
  return batchesOf(p).flatMap((b) => b.records)
}

test('send resolves one RecordMetadata per message, in input order', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const topic = await broker.createTopic('meta', { partitions: 3 })
  const producer = broker.producer()
  const before = Date.now()
  const messages = Array.from({ length: 30 }, (_, i) => ({ key: `key-${i}`, value: Buffer.from(`v${i}`) }))
  const metas = await producer.send('meta', messages)
  assert.equal(metas.length, 30)
  const next = [0, 0, 0]
  for (let i = 0; i < 30; i++) {
    const m = metas[i]!
    assert.deepEqual(Object.keys(m).sort(), ['offset', 'partition', 'timestamp', 'topic'])
    assert.equal(m.topic, 'meta')
    assert.equal(m.partition, partitionForKey(Buffer.from(`key-${i}`), 3), `message ${i} on the murmur2 partition`)
    assert.equal(m.offset, next[m.partition]!++, 'offsets count up per partition in input order')
    assert.ok(m.timestamp >= before && m.timestamp <= Date.now())
    const stored = recordsOf(topic.partition(m.partition)).find((r) => r.offset === m.offset)!
    assert.equal(stored.value!.toString(), `v${i}`)
    assert.equal(stored.key!.toString(), `key-${i}`)
  }
  const [single] = await producer.send('meta', { value: Buffer.from('one'), partition: 2 })
  assert.deepEqual({ ...single, timestamp: 0 }, { topic: 'meta', partition: 2, offset: next[2], timestamp: 0 })
  assert.deepEqual(await producer.send('meta', []), [])
})

test('keys land on the murmur2 partition, for Buffer, string and Uint8Array keys', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('keys', { partitions: 7 })
  const producer = broker.producer()
  for (let i = 0; i < 200; i++) {
    const key = `user-${i * 7919}`
    const [a] = await producer.send('keys', { key, value: Buffer.from('x') })
    const [b] = await producer.send('keys', { key: Buffer.from(key), value: Buffer.from('x') })
    const [c] = await producer.send('keys', { key: new Uint8Array(Buffer.from(key)), value: Buffer.from('x') })
    const want = partitionForKey(Buffer.from(key), 7)
    assert.deepEqual([a!.partition, b!.partition, c!.partition], [want, want, want], key)
  }
})

test('an explicit partition wins over the key; out of range → InvalidPartitionError, nothing written', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  const topic = await broker.createTopic('explicit', { partitions: 4 })
  const producer = broker.producer()
  const key = 'k'
  const other = (partitionForKey(Buffer.from(key), 4) + 1) % 4
  const [m] = await producer.send('explicit', { key, value: Buffer.from('v'), partition: other })
  assert.equal(m!.partition, other)
  const files = dirSnapshot(dir)
  for (const partition of [4, -1, 1.5, 'x', NaN]) {
    await assert.rejects(
      producer.send('explicit', [{ value: Buffer.from('fine'), partition: 0 }, { value: Buffer.from('v'), partition: partition as number }]),
      { name: 'InvalidPartitionError', code: 'INVALID_PARTITION' },
    )
    assert.deepEqual(dirSnapshot(dir), files)
  }
  assert.deepEqual(topic.offsets().map((o) => o.latest), [0, 0, 0, 0].map((_, p) => (p === other ? 1 : 0)))
})

test('null keys spread over the partitions across sends (records of one send stay together)', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const topic = await broker.createTopic('spread', { partitions: 4 })
  const producer = broker.producer()
  const seen = new Set<number>()
  for (let i = 0; i < 8; i++) {
    const metas = await producer.send('spread', [{ value: Buffer.from('a') }, { value: Buffer.from('b'), key: null }])
    assert.equal(metas[0]!.partition, metas[1]!.partition)
    seen.add(metas[0]!.partition)
  }
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3])
  assert.deepEqual(topic.offsets().map((o) => o.latest), [4, 4, 4, 4])
})

test('partitioner option: roundrobin and a function', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('pp', { partitions: 3 })
  const rr = broker.producer({ partitioner: 'roundrobin' })
  const metas = await rr.send('pp', Array.from({ length: 6 }, () => ({ key: 'same', value: Buffer.from('x') })))
  assert.deepEqual(metas.map((m) => m.partition).sort(), [0, 0, 1, 1, 2, 2])
  const fn = broker.producer({ partitioner: ({ key, partitionCount }) => (key ? key.length % partitionCount : 0) })
  assert.deepEqual((await fn.send('pp', [{ key: 'ab', value: null }, { key: 'abcd', value: null }])).map((m) => m.partition), [2, 1])
  const bad = broker.producer({ partitioner: () => 3 })
  await assert.rejects(bad.send('pp', { value: Buffer.from('x') }), { code: 'INVALID_PARTITION' })
  assert.throws(() => broker.producer({ partitioner: 'sticky' as never }), { code: 'INVALID_CONFIG' })
})

test('headers round trip: string, Buffer, Uint8Array, null and repeated (array) values', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const topic = await broker.createTopic('headers')
  await broker.producer().send('headers', {
    value: Buffer.from('v'),
    headers: { s: 'text', b: Buffer.from([0, 1, 255]), u: new Uint8Array([7]), n: null, many: ['a', Buffer.from('b')], ü: 'x' },
  })
  const [r] = recordsOf(topic.partition(0))
  assert.deepEqual(
    r!.headers.map((h) => [h.key, h.value === null ? null : h.value.toString('hex')]),
    [['s', Buffer.from('text').toString('hex')], ['b', '0001ff'], ['u', '07'], ['n', null], ['many', '61'], ['many', '62'], ['ü', '78']],
  )
  await assert.rejects(broker.producer().send('headers', { value: null, headers: { bad: 42 as never } }), { code: 'INVALID_RECORD' })
  await assert.rejects(broker.producer().send('headers', { value: null, headers: 'h' as never }), { code: 'INVALID_RECORD' })
  assert.equal(topic.latestOffset(0), 1)
})

test('timestamps: given ones are kept, default is the broker clock; a LogAppendTime topic stamps the broker clock', async (t) => {
  let clock = 42_000
  const broker = await Broker.open({ clock: () => clock })
  t.after(() => broker.close())
  const create = await broker.createTopic('ct')
  const append = await broker.createTopic('lat', { messageTimestampType: 'LogAppendTime' })
  const producer = broker.producer()
  const [given, dflt] = await producer.send('ct', [{ value: Buffer.from('a'), timestamp: 1234 }, { value: Buffer.from('b') }])
  assert.equal(given!.timestamp, 1234)
  assert.equal(dflt!.timestamp, 42_000)
  assert.deepEqual(recordsOf(create.partition(0)).map((r) => r.timestamp), [1234, dflt!.timestamp])
  const metas = await producer.send('lat', [{ value: Buffer.from('a'), timestamp: 1234 }, { value: Buffer.from('b') }])
  assert.deepEqual(metas.map((m) => m.timestamp), [42_000, 42_000])
  clock = 43_000
  const lingering = broker.producer({ lingerMs: 1 })
  const [late] = await lingering.send('lat', { value: Buffer.from('c'), timestamp: 5 })
  assert.equal(late!.timestamp, 43_000)
  assert.deepEqual(recordsOf(append.partition(0)).map((r) => r.timestamp), [42_000, 42_000, 43_000])
  for (const timestamp of [-1, 1.5, 'now', NaN]) {
    await assert.rejects(producer.send('ct', { value: null, timestamp: timestamp as number }), { code: 'INVALID_RECORD' })
  }
  assert.equal(create.latestOffset(0), 2)
})

test("acks 'all', 'leader' and 'none' all resolve with offsets and the records are readable", async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  const topic = await broker.createTopic('acks')
  let offset = 0
  for (const acks of ['all', 'leader', 'none'] as const) {
    const producer = broker.producer({ acks })
    const metas = await producer.send('acks', [{ value: Buffer.from(acks) }, { value: Buffer.from(acks) }])
    assert.deepEqual(metas.map((m) => m.offset), [offset, offset + 1], acks)
    offset += 2
    await producer.close()
  }
  assert.deepEqual(recordsOf(topic.partition(0)).map((r) => r.value!.toString()), ['all', 'all', 'leader', 'leader', 'none', 'none'])
  assert.throws(() => broker.producer({ acks: 1 as never }), { code: 'INVALID_CONFIG' })
})

test('lingerMs > 0 merges concurrent sends into shared batches and resolves each with its offsets', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  const topic = await broker.createTopic('linger', { partitions: 2 })
  const producer = broker.producer({ lingerMs: 20 })
  const sends = Array.from({ length: 40 }, (_, i) =>
    producer.send('linger', [
      { value: Buffer.from(`s${i}-a`), partition: i % 2 },
      { value: Buffer.from(`s${i}-b`), partition: (i + 1) % 2 },
    ]),
  )
  const metas = await withDeadline(Promise.all(sends), 5000, 'lingering sends')
  for (let p = 0; p < 2; p++) {
    const batches = batchesOf(topic.partition(p))
    assert.ok(batches.length < 10, `partition ${p}: ${batches.length} batches for 40 records`)
    const byOffset = new Map(batches.flatMap((b) => b.records).map((r) => [r.offset, r.value!.toString()]))
    assert.equal(byOffset.size, 40)
  }
  metas.forEach((pair, i) => {
    for (const [j, m] of pair.entries()) {
      const stored = recordsOf(topic.partition(m.partition)).find((r) => r.offset === m.offset)
      assert.equal(stored?.value?.toString(), `s${i}-${j === 0 ? 'a' : 'b'}`)
    }
  })
  const offsets = metas.flat().map((m) => `${m.partition}:${m.offset}`)
  assert.equal(new Set(offsets).size, 80, 'no offset handed out twice')
})

test('lingerMs: a full batch goes out at once; flush() sends the rest without waiting for the timer', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const topic = await broker.createTopic('full')
  const producer = broker.producer({ lingerMs: 60_000, batchBytes: 2000 })
  const sends = Array.from({ length: 30 }, (_, i) => producer.send('full', { value: Buffer.alloc(200, i) }))
  await withDeadline(producer.flush(), 2000, 'flush with a long linger')
  const metas = (await Promise.all(sends)).flat()
  assert.deepEqual(metas.map((m) => m.offset), Array.from({ length: 30 }, (_, i) => i))
  const batches = batchesOf(topic.partition(0))
  assert.ok(batches.length >= 3, 'batchBytes split the records')
  for (const b of batches) assert.ok(b.records.length <= 8)
})

test('gzip compression round trip, also with lingering sends', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const topic = await broker.createTopic('gz', { partitions: 2 })
  const now = broker.producer({ compression: 'gzip' })
  const later = broker.producer({ compression: 'gzip', lingerMs: 5 })
  const text = 'compressible '.repeat(100)
  await now.send('gz', [{ key: 'k', value: Buffer.from(text), headers: { h: 'v' }, partition: 0 }, { value: null, partition: 0 }])
  await Promise.all([later.send('gz', { value: Buffer.from('a'), partition: 1 }), later.send('gz', { value: Buffer.from('b'), partition: 1 })])
  const [b0] = batchesOf(topic.partition(0))
  assert.equal(b0!.header.compression, 'gzip')
  assert.ok(b0!.header.batchLength < text.length / 4, 'the batch is compressed')
  assert.equal(b0!.records[0]!.value!.toString(), text)
  assert.equal(b0!.records[0]!.headers[0]!.value!.toString(), 'v')
  assert.equal(b0!.records[1]!.value, null)
  const b1 = batchesOf(topic.partition(1))
  assert.ok(b1.every((b) => b.header.compression === 'gzip'))
  assert.deepEqual(b1.flatMap((b) => b.records).map((r) => r.value!.toString()).sort(), ['a', 'b'])
  assert.throws(() => broker.producer({ compression: 'zstd' as never }), { code: 'INVALID_CONFIG' })
  assert.throws(() => broker.producer({ compression: 'SNAPPY' as never }), { code: 'INVALID_CONFIG' })
})

test('snappy and lz4: producer batches (several blocks, lingering too) reach a consumer; raw batches append and read back', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  for (const compression of ['snappy', 'lz4'] as const) {
    const name = `z-${compression}`
    const topic = await broker.createTopic(name, { partitions: 2 })
    const now = broker.producer({ compression })
    const later = broker.producer({ compression, lingerMs: 5 })
    const text = 'compressible '.repeat(100)
    const noise = randomBytes(150_000) // incompressible, over several 32/64 KiB blocks
    const metas = await now.send(name, [
      { key: 'k', value: Buffer.from(text), headers: { h: 'v' }, partition: 0 },
      { value: null, partition: 0 },
      { key: 'n', value: noise, partition: 0 },
    ])
    assert.deepEqual(metas.map((m) => m.offset), [0, 1, 2])
    await Promise.all([later.send(name, { value: Buffer.from('a'), partition: 1 }), later.send(name, { value: Buffer.from('b'), partition: 1 })])
    const b0 = batchesOf(topic.partition(0))
    assert.deepEqual(b0.map((b) => b.header.compression), [compression])
    // uncompressed: 151,382 bytes; the text shrinks, the noise grows by a literal length's 255-steps at most (lz4)
    assert.ok(b0[0]!.header.batchLength < noise.length + 1000, `the text is compressed, the noise barely grows: ${b0[0]!.header.batchLength}`)
    assert.ok(batchesOf(topic.partition(1)).every((b) => b.header.compression === compression))

    const consumer = broker.consumer({ fromBeginning: true })
    await consumer.subscribe(name)
    const got: Array<[number, string | null, string | null]> = []
    await withDeadline((async () => {
      for await (const m of consumer) {
        got.push([m.partition, m.key?.toString() ?? null, m.value === null ? null : m.value.length > 1000 ? `${m.value.length} bytes` : m.value.toString()])
        if (m.value && m.value.length > 1000) assert.ok(m.value.equals(m.key?.toString() === 'n' ? noise : Buffer.from(text)))
        if (got.length === 5) break
      }
    })(), 5000, `consuming ${compression}`)
    await consumer.close()
    got.sort((x, y) => x[0] - y[0])
    assert.deepEqual(got.slice(0, 3), [[0, 'k', '1300 bytes'], [0, null, null], [0, 'n', '150000 bytes']])
    assert.deepEqual(got.slice(3).map((g) => g[2]).sort(), ['a', 'b'])

    // A batch from another client, compressed with this codec: stored as sent, read back whole.
    const raw = encodeRecordBatch(
      [{ key: Buffer.from('r'), value: Buffer.from(text), timestamp: 1000 }, { key: null, value: Buffer.from('s'), timestamp: 1001 }],
      { compression },
    )
    const p = topic.partition(1)
    const info = await p.appendBatch(raw)
    assert.deepEqual([info.baseOffset, info.lastOffset], [2, 3])
    const read = p.readBatches({ offset: 2 })
    assert.equal(readBatchHeader(read.bytes, 0).compression, compression)
    assert.ok(read.bytes.subarray(61).equals(raw.subarray(61)), 'the records section is stored as sent')
    assert.deepEqual(decodeRecords(read.bytes, 0).map((r) => [r.offset, r.value!.toString()]), [[2, text], [3, 's']])
  }
})

test('a record bigger than maxMessageBytes → RecordTooLargeError, nothing of the send written', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  const topic = await broker.createTopic('big', { partitions: 2, maxMessageBytes: 100_000 })
  for (const options of [{}, { lingerMs: 5 }, { compression: 'gzip' as const }, { compression: 'gzip' as const, lingerMs: 5 }]) {
    const producer = broker.producer(options)
    const what = JSON.stringify(options)
    const before = dirSnapshot(dir)
    const latest = topic.offsets().map((o) => o.latest)
    const tooBig = [
      { value: Buffer.from('fine'), partition: 0 },
      { value: Buffer.alloc(100_001), partition: 1 },
      { value: Buffer.from('fine too'), partition: 1 },
    ]
    await assert.rejects(producer.send('big', tooBig), { name: 'RecordTooLargeError', code: 'RECORD_TOO_LARGE' }, what)
    // Incompressible bytes just under the limit: gzip makes the batch larger than maxMessageBytes.
    const nearLimit = [{ value: Buffer.from('fine'), partition: 0 }, { value: randomBytes(99_890), partition: 1 }]
    if (options.compression) {
      await assert.rejects(producer.send('big', nearLimit), { code: 'RECORD_TOO_LARGE' }, what)
      assert.deepEqual(dirSnapshot(dir), before, `${what}: files changed`)
      assert.deepEqual(topic.offsets().map((o) => o.latest), latest, `${what}: offsets moved`)
    } else {
      assert.deepEqual((await producer.send('big', nearLimit)).map((m) => m.offset), latest)
    }
    await producer.close()
  }
  assert.deepEqual(topic.offsets().map((o) => o.latest), [2, 2], 'only the uncompressed near-limit sends were written')
})

test('back-pressure: many concurrent sends over a small maxInFlightBytes all resolve, none lost, bound kept', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  const topic = await broker.createTopic('bp')
  const producer = broker.producer({ maxInFlightBytes: 1000 })
  let resolved = 0
  let maxUnacked = 0
  const p = topic.partition(0)
  p.onAppend(() => (maxUnacked = Math.max(maxUnacked, p.highWatermark - resolved)))
  const sends: Array<Promise<RecordMetadata[]>> = []
  for (let i = 0; i < 200; i++) {
    sends.push(producer.send('bp', { value: Buffer.alloc(300, i % 256) }).then((m) => (resolved++, m)))
  }
  const metas = (await withDeadline(Promise.all(sends), 10_000, 'sends under back-pressure')).flat()
  assert.deepEqual(metas.map((m) => m.offset), Array.from({ length: 200 }, (_, i) => i), 'sends keep their order')
  const stored = recordsOf(p)
  assert.equal(stored.length, 200)
  stored.forEach((r, i) => assert.equal(r.value![0], i % 256))
  // About three 300-byte records fit under 1000 bytes; allow a send or two of slack for callback order.
  assert.ok(maxUnacked <= 5, `${maxUnacked} records were unacknowledged at once`)
})

test('a send larger than maxInFlightBytes still goes when nothing else is in flight', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('huge')
  const producer = broker.producer({ maxInFlightBytes: 10 })
  const metas = await withDeadline(Promise.all([0, 1, 2].map((i) => producer.send('huge', { value: Buffer.alloc(500, i) }))), 5000, 'sends')
  assert.deepEqual(metas.flat().map((m) => m.offset), [0, 1, 2])
})

test('flush() waits for sends still waiting for room; close() then refuses new sends', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  const topic = await broker.createTopic('fl')
  const producer = broker.producer({ maxInFlightBytes: 100, lingerMs: 2 })
  let done = 0
  const sends = Array.from({ length: 20 }, () => producer.send('fl', { value: Buffer.alloc(80) }).then(() => done++))
  await withDeadline(producer.flush(), 5000, 'flush')
  assert.equal(done, 20, 'flush resolved only after every send')
  assert.equal(topic.latestOffset(0), 20)
  const more = Array.from({ length: 10 }, () => producer.send('fl', { value: Buffer.alloc(80) }))
  await withDeadline(producer.close(), 5000, 'close')
  const results = await Promise.allSettled(more)
  assert.ok(results.every((r) => r.status === 'fulfilled'), 'sends made before close() complete')
  assert.equal(topic.latestOffset(0), 30)
  await assert.rejects(producer.send('fl', { value: null }), { code: 'CLOSED' })
  await Promise.all(sends)
})

test('broker.close() waits for lingering sends of open producers', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  await broker.createTopic('bc')
  const producer = broker.producer({ lingerMs: 50 })
  const send = producer.send('bc', [{ value: Buffer.from('a') }, { value: Buffer.from('b') }])
  await withDeadline(broker.close(), 5000, 'broker close')
  assert.deepEqual((await send).map((m) => m.offset), [0, 1])
  const again = await Broker.open({ dir })
  t.after(() => again.close())
  assert.equal(again.topic('bc').latestOffset(0), 2)
})

test('bad messages → InvalidRecordError and nothing written', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  const topic = await broker.createTopic('msgs')
  const producer = broker.producer()
  await broker.allocateProducerId() // after the producer's own id, whose block the metadata log records
  const bad: unknown[] = [null, 'text', 42, {}, { value: { an: 'object' } }, { value: 42 }, { value: true }, { key: {}, value: null }, { key: 5, value: null }]
  for (const m of bad) {
    const before = dirSnapshot(dir)
    await assert.rejects(producer.send('msgs', [{ value: Buffer.from('ok') }, m as never]), { name: 'InvalidRecordError', code: 'INVALID_RECORD' }, JSON.stringify(m))
    assert.deepEqual(dirSnapshot(dir), before, JSON.stringify(m))
  }
  assert.equal(topic.latestOffset(0), 0)
  for (const o of [{ lingerMs: -1 }, { lingerMs: 1.5 }, { batchBytes: 0 }, { maxInFlightBytes: 'x' }, { keyCodec: 'yaml' }, { valueCodec: { encode: 1 } }]) {
    assert.throws(() => broker.producer(o as never), { code: 'INVALID_CONFIG' }, JSON.stringify(o))
  }
})
