// The raw batch API: Partition.appendBatch(bytes) and readBatches({ offset, maxBytes }).
import assert from 'node:assert/strict'
import { crc32c } from '../../src/util/crc32c.js'
import {
  Broker,
  InvalidRecordError,
  OffsetOutOfRangeError,
  decodeRecords,
  encodeRecordBatch,
  readBatchHeader,
  type RecordInput,
} from '../../src/index.js'
import { dirSnapshot, tempDir, test } from '../fixtures/helpers.js'

const rec = (v: string, timestamp = 1000): RecordInput => ({ key: null, value: Buffer.from(v), timestamp })

/** Splits back-to-back batches and decodes their records. */
function decodeAll(bytes: Buffer): Array<{ offset: number; value: string }> {
  const out: Array<{ offset: number; value: string }> = []
  let pos = 0
  while (pos < bytes.length) {
    for (const r of decodeRecords(bytes, pos)) out.push({ offset: r.offset, value: r.value!.toString() })
    pos += 12 + bytes.readInt32BE(pos + 8)
  }
  return out
}

function fixCrc(b: Buffer): Buffer {
  b.writeUInt32BE(crc32c(b, 21, b.length), 17)
  return b
}

test('appendBatch assigns offsets; readBatches returns whole batches and the partition offsets', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  const p = (await broker.createTopic('raw', { partitions: 2 })).partition(1)
  const first = await p.appendBatch(encodeRecordBatch([rec('a'), rec('b'), rec('c')]))
  assert.deepEqual(first, { baseOffset: 0, lastOffset: 2, logAppendTime: -1 })
  const two = Buffer.concat([encodeRecordBatch([rec('d')]), encodeRecordBatch([rec('e'), rec('f')])])
  const second = await p.appendBatch(two)
  assert.deepEqual(second, { baseOffset: 3, lastOffset: 5, logAppendTime: -1 })
  const r = p.readBatches({ offset: 0 })
  assert.equal(r.highWatermark, 6)
  assert.equal(r.lastStableOffset, 6)
  assert.equal(r.logStartOffset, 0)
  assert.deepEqual(r.abortedTransactions, [])
  assert.deepEqual(decodeAll(r.bytes).map((x) => `${x.offset}:${x.value}`), ['0:a', '1:b', '2:c', '3:d', '4:e', '5:f'])
  // A read from inside a batch starts at the batch holding the offset.
  const mid = p.readBatches({ offset: 4 })
  assert.equal(readBatchHeader(mid.bytes, 0).baseOffset, 4)
  assert.deepEqual(p.readBatches({ offset: 6 }).bytes.length, 0, 'reading at the high watermark returns nothing')
  assert.equal(broker.topic('raw').latestOffset(0), 0, 'the other partition is untouched')
})

test('readBatches maxBytes bounds the bytes but always returns one whole batch (KIP-74)', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const p = (await broker.createTopic('kip74')).partition(0)
  const big = encodeRecordBatch([rec('x'.repeat(5000))])
  await p.appendBatch(big)
  for (let i = 0; i < 10; i++) await p.appendBatch(encodeRecordBatch([rec(`small-${i}`)]))
  const one = p.readBatches({ offset: 0, maxBytes: 100 })
  assert.equal(one.bytes.length, big.length, 'the big batch comes whole although larger than maxBytes')
  const small = p.readBatches({ offset: 1, maxBytes: 250 })
  assert.ok(small.bytes.length <= 250 && small.bytes.length > 0, `got ${small.bytes.length} bytes`)
  const got = decodeAll(small.bytes)
  assert.equal(got[0]!.offset, 1)
  assert.ok(got.length >= 2 && got.length < 10)
})

test('readBatches offset out of range → OffsetOutOfRangeError', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  const p = (await broker.createTopic('oor')).partition(0)
  await p.appendBatch(encodeRecordBatch([rec('a')]))
  for (const offset of [-1, 2, 1.5, NaN, 'x']) {
    assert.throws(() => p.readBatches({ offset: offset as number }), (e: Error) => e instanceof OffsetOutOfRangeError, `offset ${String(offset)}`)
  }
  for (const maxBytes of [-1, 1.5, 'x']) {
    assert.throws(() => p.readBatches({ offset: 0, maxBytes: maxBytes as number }), { code: 'INVALID_CONFIG' }, `maxBytes ${String(maxBytes)}`)
  }
  await assert.rejects(p.appendBatch(encodeRecordBatch([rec('b')]), { acks: 1 as never }), { code: 'INVALID_CONFIG' })
  assert.equal(p.highWatermark, 1)
})

test('appendBatch of invalid bytes → InvalidRecordError, nothing appended and no file grows', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  const p = (await broker.createTopic('bad')).partition(0)
  await p.appendBatch(encodeRecordBatch([rec('ok')]))
  const before = dirSnapshot(dir)
  const good = encodeRecordBatch([rec('g')])
  const badCrc = Buffer.from(good)
  badCrc[good.length - 1]! ^= 0xff
  const badMagic = fixCrc(Buffer.from(good))
  badMagic[16] = 1
  const zstd = Buffer.from(good)
  zstd.writeInt16BE(4, 21)
  fixCrc(zstd)
  const notSnappy = Buffer.from(good)
  notSnappy.writeInt16BE(2, 21) // marked snappy, records not compressed
  fixCrc(notSnappy)
  const negativeDelta = Buffer.from(encodeRecordBatch([rec('a'), rec('b')]))
  negativeDelta.writeInt32BE(-5, 23)
  fixCrc(negativeDelta)
  const wrongDelta = Buffer.from(encodeRecordBatch([rec('a'), rec('b')]))
  wrongDelta.writeInt32BE(7, 23)
  fixCrc(wrongDelta)
  const wrongCount = Buffer.from(encodeRecordBatch([rec('a'), rec('b')]))
  wrongCount.writeInt32BE(3, 57)
  fixCrc(wrongCount)
  const badRecord = Buffer.from(good)
  badRecord[61] = 0x7f // the record's length varint no longer matches its bytes
  fixCrc(badRecord)
  const cases: Array<[string, unknown]> = [
    ['empty', Buffer.alloc(0)],
    ['random bytes', Buffer.from('this is not a record batch at all, not even close!!!!!!!!!!!!!!!!!!')],
    ['truncated', good.subarray(0, good.length - 3)],
    ['bad crc', badCrc],
    ['bad magic', badMagic],
    ['unsupported compression (zstd)', zstd],
    ['snappy records that do not decompress', notSnappy],
    ['negative lastOffsetDelta', negativeDelta],
    ['lastOffsetDelta past the records', wrongDelta],
    ['recordCount wrong', wrongCount],
    ['malformed record', badRecord],
    ['good then bad', Buffer.concat([good, badCrc])],
    ['good then trailing bytes', Buffer.concat([good, Buffer.alloc(5)])],
    ['a string', 'not bytes'],
    ['null', null],
  ]
  for (const [what, bytes] of cases) {
    await assert.rejects(p.appendBatch(bytes as Buffer), (e: Error) => e instanceof InvalidRecordError && (e as InvalidRecordError).code === 'INVALID_RECORD', what)
    assert.equal(p.highWatermark, 1, `${what}: nothing appended`)
    assert.deepEqual(dirSnapshot(dir), before, `${what}: files changed`)
  }
  assert.deepEqual(decodeAll(p.readBatches({ offset: 0 }).bytes).map((x) => x.value), ['ok'])
})

test('appendBatch on a LogAppendTime topic stamps the broker time, keeping a valid CRC', async (t) => {
  let now = 5_000_000
  const broker = await Broker.open({ clock: () => now })
  t.after(() => broker.close())
  const p = (await broker.createTopic('lat', { messageTimestampType: 'LogAppendTime' })).partition(0)
  const info = await p.appendBatch(encodeRecordBatch([rec('a', 1), rec('b', 2)]), { acks: 'leader' })
  assert.equal(info.logAppendTime, 5_000_000)
  now += 10
  const r = p.readBatches({ offset: 0 })
  const h = readBatchHeader(r.bytes, 0)
  assert.equal(h.timestampType, 'LogAppendTime')
  assert.deepEqual(decodeRecords(r.bytes, 0).map((x) => x.timestamp), [5_000_000, 5_000_000])
})
