// Codecs at the client edge: 'json', 'msgpack', 'string' and custom ones, for keys and values, on the
// producer and the consumer; bytes on disk either way.
import assert from 'node:assert/strict'
import { pack } from 'msgpackr'
import { partitionForKey } from '../../src/client/partitioner.js'
import { Broker, decodeRecords, type CodecSpec, type CrashEvent, type Message } from '../../src/index.js'
import { deferred, test, withDeadline } from '../fixtures/helpers.js'

async function roundTrip(keyCodec: CodecSpec, valueCodec: CodecSpec, messages: Array<{ key: unknown; value: unknown }>) {
  const broker = await Broker.open()
  try {
    const topic = await broker.createTopic('c', { partitions: 3 })
    const metas = await broker.producer({ keyCodec, valueCodec }).send('c', messages)
    const consumer = broker.consumer({ fromBeginning: true, keyCodec, valueCodec })
    await consumer.subscribe('c')
    const got: Message[] = []
    for await (const m of consumer) {
      got.push(m)
      if (got.length === messages.length) break
    }
    await consumer.close()
    const raw = metas.map((m) => {
      const { bytes } = topic.partition(m.partition).readBatches({ offset: m.offset })
      return decodeRecords(bytes, 0).find((r) => r.offset === m.offset)!
    })
    const byMeta = metas.map((meta) => got.find((m) => m.partition === meta.partition && m.offset === meta.offset)!)
    return { metas, got: byMeta, raw }
  } finally {
    await broker.close()
  }
}

test("'json' codec for key and value", async () => {
  const messages = [
    { key: { user: 1 }, value: { a: [1, 2], s: 'ü', n: null } },
    { key: 'plain', value: 42 },
    { key: null, value: null },
  ]
  const { got, raw, metas } = await roundTrip('json', 'json', messages)
  assert.deepEqual(got.map((m) => [m.key, m.value]), messages.map((m) => [m.key, m.value]))
  assert.equal(raw[0]!.value!.toString(), JSON.stringify(messages[0]!.value))
  assert.equal(raw[2]!.value, null, 'null stays a tombstone, not the JSON text null')
  assert.equal(metas[0]!.partition, partitionForKey(Buffer.from(JSON.stringify({ user: 1 })), 3), 'the encoded key is partitioned')
})

test("'msgpack' codec for key and value", async () => {
  const messages = [
    { key: [1, 'x'], value: { nested: { deep: true }, bin: Buffer.from([1, 2, 3]) } },
    { key: 7, value: 'text' },
  ]
  const { got, raw } = await roundTrip('msgpack', 'msgpack', messages)
  assert.deepEqual(got[0]!.key, [1, 'x'])
  assert.deepEqual((got[0]!.value as { nested: unknown }).nested, { deep: true })
  assert.deepEqual(Buffer.from((got[0]!.value as { bin: Uint8Array }).bin), Buffer.from([1, 2, 3]))
  assert.deepEqual([got[1]!.key, got[1]!.value], [7, 'text'])
  assert.deepEqual(raw[1]!.value, pack('text'))
})

test("'string' codec for key and value", async () => {
  const messages = [{ key: 'ключ', value: 'значение' }, { key: '', value: '' }]
  const { got, raw } = await roundTrip('string', 'string', messages)
  assert.deepEqual(got.map((m) => [m.key, m.value]), [['ключ', 'значение'], ['', '']])
  assert.equal(raw[0]!.value!.toString('utf8'), 'значение')
})

test('a custom { encode, decode } codec, different for key and value', async () => {
  const upper: CodecSpec = { encode: (s: string) => Buffer.from(s.toUpperCase()), decode: (b: Buffer) => `<${b.toString()}>` }
  const num: CodecSpec = {
    encode: (n: number) => {
      const b = Buffer.alloc(8)
      b.writeDoubleBE(n)
      return b
    },
    decode: (b: Buffer) => b.readDoubleBE(0),
  }
  const { got, raw } = await roundTrip(upper, num, [{ key: 'abc', value: 3.25 }])
  assert.deepEqual([got[0]!.key, got[0]!.value], ['<ABC>', 3.25])
  assert.equal(raw[0]!.key!.toString(), 'ABC')
  assert.equal(raw[0]!.value!.length, 8)
})

test('without a codec the consumer gets Buffers of what a codec producer wrote', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('mixed')
  await broker.producer({ valueCodec: 'json' }).send('mixed', { value: { x: 1 } })
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('mixed')
  for await (const m of consumer) {
    assert.ok(Buffer.isBuffer(m.value))
    assert.equal(m.value.toString(), '{"x":1}')
    break
  }
  await consumer.close()
})

test('an encoder that fails or yields nothing → InvalidRecordError, nothing written', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const topic = await broker.createTopic('enc')
  const failing = broker.producer({ valueCodec: { encode: () => { throw new Error('nope') }, decode: (b: Buffer) => b } })
  await assert.rejects(failing.send('enc', { value: 1 }), { code: 'INVALID_RECORD' })
  const json = broker.producer({ valueCodec: 'json' })
  await assert.rejects(json.send<unknown, unknown>('enc', [{ value: 1 }, { value: 10n }]), { code: 'INVALID_RECORD' })
  await assert.rejects(json.send<unknown, unknown>('enc', [{ value: 1 }, { value: () => 1 }]), { code: 'INVALID_RECORD' }, 'JSON.stringify gives undefined: not a tombstone')
  const str = broker.producer({ valueCodec: 'string' })
  await assert.rejects(str.send('enc', { value: 5 }), { code: 'INVALID_RECORD' })
  const wrong = broker.producer({ valueCodec: { encode: () => 42 as never, decode: (b: Buffer) => b } })
  await assert.rejects(wrong.send('enc', { value: 'x' }), { code: 'INVALID_RECORD' })
  assert.equal(topic.latestOffset(0), 0)
})

test("a value the consumer's codec cannot decode crashes run() with InvalidRecordError naming the record", async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('dec')
  await broker.producer().send('dec', [{ value: Buffer.from('{"ok":1}') }, { value: Buffer.from('not json') }])
  const consumer = broker.consumer({ fromBeginning: true, valueCodec: 'json' })
  await consumer.subscribe('dec')
  const crashed = deferred<CrashEvent>()
  consumer.on('crash', (e: CrashEvent) => crashed.resolve(e))
  const seen: unknown[] = []
  await consumer.run({ eachMessage: (m) => void seen.push(m.value) })
  const e = await withDeadline(crashed.promise, 2000, 'crash')
  assert.equal((e.error as { code?: string }).code, 'INVALID_RECORD')
  assert.match((e.error as Error).message, /dec-0.*offset 1/)
  await consumer.close()
  const iterating = broker.consumer({ fromBeginning: true, valueCodec: 'json' })
  await iterating.subscribe('dec')
  await assert.rejects(
    (async () => {
      for await (const m of iterating) seen.push(m.value)
    })(),
    { code: 'INVALID_RECORD' },
  )
  await iterating.close()
})
