// Byte compatibility of our RecordBatch v2 codec with KafkaJS 2.2.4's (node_modules/kafkajs):
// each side decodes what the other encodes, and the same input encodes to the same bytes.
//
// Fields where the two encoders could differ, and how this test handles them:
// - baseTimestamp: Kafka's MemoryRecordsBuilder (and we) use the first record's timestamp; KafkaJS's
//   produce request uses the smallest (it sorts the timestamps, lexicographically). Identical for
//   non-decreasing timestamps, which the byte-equality test uses; decoding is exact either way.
// - partitionLeaderEpoch: KafkaJS writes 0, as our default does (Kafka's Java producer writes -1 and
//   the broker overwrites it; the CRC does not cover it).
// - producerEpoch / baseSequence: a non-idempotent KafkaJS producer writes 0 / 0, Kafka's Java client
//   (and our defaults) -1 / -1; the byte-equality test passes KafkaJS's values explicitly.
// - KafkaJS cannot encode a null header value (Buffer.byteLength(null) throws) and keeps headers in
//   an object, so KafkaJS-encoded inputs use unique, non-numeric header keys and non-null values.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fc from 'fast-check'
import {
  checkBatch, decodeRecords, encodeRecordBatch, readBatchHeader, setLogAppendTime,
  type Compression, type RecordHeader, type RecordInput,
} from '../../src/storage/record-batch.js'
import { encodeControlBatch } from '../../src/storage/control-batch.js'
import { crc32c } from '../../src/util/crc32c.js'

const require = createRequire(import.meta.url)
const { RecordBatch: kjsRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0')
const kjsRecord = require('kafkajs/src/protocol/recordBatch/record/v0')
const kjsDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder')
const KjsDecoder = require('kafkajs/src/protocol/decoder')
const kjsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C')
const { Types: KjsCompression } = require('kafkajs/src/protocol/message/compression')
const Long = require('kafkajs/src/utils/long')

const T0 = 1_700_000_000_000

interface KjsDecodedRecord {
  offset: string; timestamp: string; key: Buffer | null; value: Buffer | null
  headers: Record<string, Buffer | null | (Buffer | null)[]>
}
interface KjsDecodedBatch {
  firstOffset: string; firstTimestamp: string; maxTimestamp: string; producerId: string; producerEpoch: number
  firstSequence: number; lastOffsetDelta: number; partitionLeaderEpoch: number; inTransaction: boolean
  isControlBatch: boolean; timestampType: number; records: KjsDecodedRecord[]
}

interface KjsOptions { compression: Compression; producerId: number; producerEpoch: number; firstSequence: number; transactional: boolean }

/** Encodes the way KafkaJS's Produce v3+ request does (requests/produce/v3/request.js, partitionsEncoder). */
async function kafkajsEncode(records: RecordInput[], o: KjsOptions): Promise<Buffer> {
  const timestamps = records.map((r) => r.timestamp).sort()
  const firstTimestamp = timestamps[0]
  const encoded = records.map((r, i) =>
    kjsRecord({
      key: r.key,
      value: r.value,
      headers: Object.fromEntries((r.headers ?? []).map((h) => [h.key, h.value])),
      offsetDelta: i,
      timestampDelta: r.timestamp - firstTimestamp,
    }),
  )
  const batch = await kjsRecordBatch({
    compression: o.compression === 'gzip' ? KjsCompression.GZIP : KjsCompression.None,
    records: encoded,
    firstTimestamp,
    maxTimestamp: timestamps[timestamps.length - 1],
    producerId: Long.fromValue(o.producerId),
    producerEpoch: o.producerEpoch,
    firstSequence: o.firstSequence,
    transactional: o.transactional,
    lastOffsetDelta: records.length - 1,
  })
  return batch.buffer as Buffer
}

async function kafkajsDecode(buf: Buffer): Promise<KjsDecodedBatch> {
  return kjsDecodeBatch(new KjsDecoder(buf))
}

/** Our header list as KafkaJS presents it: an object, repeated keys collected into arrays. */
function headerObject(headers: RecordHeader[] | undefined): Record<string, Buffer | null | (Buffer | null)[]> {
  const out: Record<string, Buffer | null | (Buffer | null)[]> = {}
  for (const { key, value } of headers ?? []) {
    const prev = out[key]
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
  }
  return out
}

// ------------------------------------------------------------------------------------ generators

const bytes = fc.uint8Array({ maxLength: 30 }).map((u) => Buffer.from(u))
const bytesOrNull = fc.option(bytes, { nil: null })
/** Unique, non-numeric keys (KafkaJS keeps headers in an object), non-null values. */
const kjsHeaders = fc
  .uniqueArray(fc.string({ unit: 'binary', maxLength: 6 }).map((s) => `h${s}`), { maxLength: 4 })
  .chain((keys) => fc.tuple(...keys.map((key) => bytes.map((value) => ({ key, value })))))
const anyHeaders = fc.array(
  fc.record({ key: fc.string({ unit: 'binary', maxLength: 6 }).map((s) => `h${s}`), value: bytesOrNull }),
  { maxLength: 4 },
)
/** Non-decreasing 13-digit timestamps (KafkaJS sorts them lexicographically). */
const sortedTimestamps = (n: number) =>
  fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: n, maxLength: n }).map((gaps) => {
    let t = T0
    return gaps.map((g) => (t += g))
  })
const kjsRecords: fc.Arbitrary<RecordInput[]> = fc.integer({ min: 1, max: 8 }).chain((n) =>
  fc
    .tuple(
      fc.array(fc.record({ key: bytesOrNull, value: bytesOrNull, headers: kjsHeaders }), { minLength: n, maxLength: n }),
      sortedTimestamps(n),
    )
    .map(([rs, ts]) => rs.map((r, i) => ({ key: r.key, value: r.value, headers: [...r.headers], timestamp: ts[i] }))),
)
const anyRecords: fc.Arbitrary<RecordInput[]> = fc.array(
  fc.record({
    key: bytesOrNull,
    value: bytesOrNull,
    headers: fc.option(anyHeaders, { nil: undefined }),
    timestamp: fc.integer({ min: T0 - 1_000_000, max: T0 + 1_000_000 }),
  }),
  { minLength: 1, maxLength: 8 },
)
const compression = fc.constantFrom<Compression>('none', 'gzip')

// ------------------------------------------------------------------------------------------ tests

test('batches we encode decode with KafkaJS to the same records (none and gzip)', async () => {
  await fc.assert(
    fc.asyncProperty(
      anyRecords, compression, fc.integer({ min: 0, max: 2 ** 53 - 100 }), fc.boolean(), fc.boolean(),
      async (records, compression, baseOffset, transactional, logAppendTime) => {
        const batch = encodeRecordBatch(records, {
          compression, baseOffset, transactional, producerId: 1234, producerEpoch: 5, baseSequence: 77,
        })
        const maxTimestamp = Math.max(...records.map((r) => r.timestamp))
        if (logAppendTime) setLogAppendTime(batch, 0, maxTimestamp + 10)
        const kjs = await kafkajsDecode(batch)
        assert.equal(kjs.firstOffset, String(baseOffset))
        assert.equal(kjs.firstTimestamp, String(records[0].timestamp))
        assert.equal(kjs.maxTimestamp, String(logAppendTime ? maxTimestamp + 10 : maxTimestamp))
        assert.equal(kjs.timestampType, logAppendTime ? 1 : 0)
        assert.equal(kjs.producerId, '1234')
        assert.equal(kjs.producerEpoch, 5)
        assert.equal(kjs.firstSequence, 77)
        assert.equal(kjs.lastOffsetDelta, records.length - 1)
        assert.equal(kjs.partitionLeaderEpoch, 0)
        assert.equal(kjs.inTransaction, transactional)
        assert.equal(kjs.isControlBatch, false)
        assert.deepEqual(
          kjs.records.map((r) => ({ offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers })),
          records.map((r, i) => ({
            offset: String(baseOffset + i),
            timestamp: String(logAppendTime ? maxTimestamp + 10 : r.timestamp),
            key: r.key,
            value: r.value,
            headers: headerObject(r.headers),
          })),
        )
      },
    ),
    { numRuns: 300 },
  )
})

test('batches KafkaJS encodes decode with ours (none and gzip, out-of-order timestamps too)', async () => {
  const records = fc.oneof(
    kjsRecords,
    kjsRecords.chain((rs) =>
      fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: rs.length, maxLength: rs.length })
        .map((ts) => rs.map((r, i) => ({ ...r, timestamp: T0 + ts[i] }))),
    ),
  )
  await fc.assert(
    fc.asyncProperty(records, compression, fc.boolean(), async (records, compression, transactional) => {
      const batch = await kafkajsEncode(records, {
        compression, producerId: 99, producerEpoch: 2, firstSequence: 10, transactional,
      })
      assert.equal(checkBatch(batch, 0), null, 'KafkaJS batch passes our length/magic/CRC check')
      const h = readBatchHeader(batch)
      const timestamps = records.map((r) => r.timestamp)
      assert.equal(h.compression, compression)
      assert.equal(h.baseTimestamp, Math.min(...timestamps))
      assert.equal(h.maxTimestamp, Math.max(...timestamps))
      assert.equal(h.producerId, 99)
      assert.equal(h.producerEpoch, 2)
      assert.equal(h.baseSequence, 10)
      assert.equal(h.isTransactional, transactional)
      assert.equal(h.recordCount, records.length)
      assert.deepEqual(
        decodeRecords(batch),
        records.map((r, i) => ({ offset: i, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers })),
      )
    }),
    { numRuns: 300 },
  )
})

test('the same input encodes to identical bytes (none and gzip)', async () => {
  await fc.assert(
    fc.asyncProperty(kjsRecords, compression, fc.boolean(), async (records, compression, transactional) => {
      const kjs = await kafkajsEncode(records, {
        compression, producerId: -1, producerEpoch: 0, firstSequence: 0, transactional,
      })
      const ours = encodeRecordBatch(records, {
        compression, producerId: -1, producerEpoch: 0, baseSequence: 0, transactional,
      })
      assert.equal(ours.toString('hex'), kjs.toString('hex'))
    }),
    { numRuns: 300 },
  )
})

test('identical bytes for a fixed example with headers and null key/value', async () => {
  const records: RecordInput[] = [
    { key: Buffer.from('user-1'), value: Buffer.from('{"a":1}'), headers: [{ key: 'trace', value: Buffer.from('x') }], timestamp: T0 },
    { key: null, value: Buffer.alloc(0), timestamp: T0 + 300 },
    { key: Buffer.alloc(0), value: null, headers: [{ key: 'ü', value: Buffer.from('é') }], timestamp: T0 + 300 },
  ]
  const kjs = await kafkajsEncode(records, { compression: 'none', producerId: 42, producerEpoch: 1, firstSequence: 3, transactional: true })
  const ours = encodeRecordBatch(records, { producerId: 42, producerEpoch: 1, baseSequence: 3, transactional: true })
  assert.deepEqual(ours, kjs)
})

test('control batches decode in KafkaJS as control records', async () => {
  const batch = encodeControlBatch({ commit: true, producerId: 8, producerEpoch: 4, coordinatorEpoch: 2, timestamp: T0, baseOffset: 50 })
  const kjs = await kafkajsDecode(batch)
  assert.equal(kjs.isControlBatch, true)
  assert.equal(kjs.inTransaction, true)
  assert.equal(kjs.producerId, '8')
  assert.equal(kjs.records.length, 1)
  assert.equal(kjs.records[0].offset, '50')
  assert.deepEqual(kjs.records[0].key, Buffer.from([0, 0, 0, 1]))
  assert.deepEqual(kjs.records[0].value, Buffer.from([0, 0, 0, 0, 0, 2]))
})

test('crc32c equals KafkaJS crc32C', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (u) => {
      const buf = Buffer.from(u)
      assert.equal(crc32c(buf), kjsCrc32C(buf))
    }),
    { numRuns: 500 },
  )
  assert.equal(kjsCrc32C(Buffer.from('123456789')), crc32c(Buffer.from('123456789')))
})
