import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { gzipSync } from 'node:zlib'
import { compress } from '../../../src/storage/compression.js'
import fc from 'fast-check'
import {
  BATCH_HEADER_BYTES, DECOMPRESSED_BYTES_MAX, LOG_OVERHEAD, MAGIC_V2, batchSizeAt, checkBatch,
  decodeRecords, encodeRecordBatch, forEachRecordKey, readBatchHeader, setBaseOffset, setLogAppendTime,
  type Compression, type EncodeOptions, type RecordInput,
} from '../../../src/storage/record-batch.js'
import { encodeControlBatch, decodeControlRecordType } from '../../../src/storage/control-batch.js'
import { DecodeError } from '../../../src/storage/varint.js'
import { crc32c } from '../../../src/util/crc32c.js'
import { LIBRDKAFKA_BATCHES } from '../../fixtures/compression-vectors.js'

const T0 = 1_700_000_000_000
const b = (s: string) => Buffer.from(s)

// ------------------------------------------------------------------------------------ generators

const bytesOrNull = fc.option(fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)), { nil: null })
const headerArb = fc
  .record({ key: fc.string({ unit: 'binary', maxLength: 8 }), value: bytesOrNull })
  .map(({ key, value }) => ({ key, value }))
const timestampArb = fc.oneof(
  fc.constant(-1),
  fc.integer({ min: 0, max: 2 ** 50 }),
  fc.integer({ min: T0, max: T0 + 1_000_000 }),
)
const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  key: bytesOrNull,
  value: bytesOrNull,
  headers: fc.option(fc.array(headerArb, { maxLength: 4 }), { nil: undefined }),
  timestamp: timestampArb,
})
const optionsArb: fc.Arbitrary<EncodeOptions> = fc.record({
  baseOffset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 53 - 100 })),
  compression: fc.constantFrom<Compression>('none', 'gzip', 'snappy', 'lz4'),
  timestampType: fc.constantFrom('CreateTime' as const, 'LogAppendTime' as const),
  producerId: fc.oneof(fc.constant(-1), fc.maxSafeNat()),
  producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
  baseSequence: fc.integer({ min: -1, max: 0x7fffffff }),
  transactional: fc.boolean(),
  partitionLeaderEpoch: fc.integer({ min: -1, max: 0x7fffffff }),
})

const CODECS = ['none', 'gzip', 'snappy', 'lz4'] as const

function sample(n: number, compression: Compression = 'none'): Buffer {
  const records: RecordInput[] = []
  for (let i = 0; i < n; i++) {
    records.push({
      key: i % 3 === 0 ? null : b(`k${i}`),
      value: i % 4 === 1 ? null : b(`value-${i}`),
      headers: i % 2 ? [{ key: 'h', value: b(`${i}`) }, { key: 'n', value: null }] : undefined,
      timestamp: T0 + i,
    })
  }
  return encodeRecordBatch(records, { compression, producerId: 7, producerEpoch: 1, baseSequence: 5 })
}

function expectOnlyDecodeError(fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof DecodeError)) throw new Error(`expected DecodeError, got ${String(err)}`, { cause: err })
  }
}

// ------------------------------------------------ fuzzing, run inside a worker for a timeout guard

function fuzz(seed: number, numRuns: number): void {
  const bases = [sample(1), sample(6), sample(6, 'gzip'), sample(6, 'snappy'), sample(6, 'lz4'), encodeControlBatch({
    commit: true, producerId: 3, producerEpoch: 0, coordinatorEpoch: 9, timestamp: T0,
  })]
  const logAppend = sample(3)
  setLogAppendTime(logAppend, 0, T0 + 99)
  bases.push(logAppend)

  // mutated, truncated or length-patched valid batches
  fc.assert(
    fc.property(
      fc.constantFrom(...bases),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat(), { nil: null }),
      fc.boolean(),
      (base, mutations, cut, patchLength) => {
        let buf = Buffer.from(base)
        for (const [i, v] of mutations) buf[i % buf.length] = v
        if (cut !== null) buf = buf.subarray(0, cut % (buf.length + 1))
        if (patchLength && buf.length >= LOG_OVERHEAD) buf.writeInt32BE(buf.length - LOG_OVERHEAD, 8)
        expectOnlyDecodeError(() => decodeRecords(buf, 0))
        expectOnlyDecodeError(() => readBatchHeader(buf, 0))
        expectOnlyDecodeError(() => batchSizeAt(buf, 0))
        checkBatch(buf, 0)
      },
    ),
    { seed, numRuns },
  )

  // a mutated records section behind a valid header, compressed or not
  const plain = sample(6).subarray(BATCH_HEADER_BYTES)
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.nat({ max: 3 }),
      fc.integer({ min: 0, max: 12 }),
      (mutations, codec, recordCount) => {
        const records = Buffer.from(plain)
        for (const [i, v] of mutations) records[i % records.length] = v
        const section = codec === 0 ? records : compress(CODECS[codec]!, records)
        const buf = Buffer.concat([sample(1).subarray(0, BATCH_HEADER_BYTES), section])
        buf.writeInt32BE(buf.length - LOG_OVERHEAD, 8)
        buf.writeInt16BE(codec, 21)
        buf.writeInt32BE(recordCount, 57)
        expectOnlyDecodeError(() => decodeRecords(buf, 0))
      },
    ),
    { seed, numRuns },
  )

  // random bytes, with or without a plausible header in front
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), fc.integer({ min: -2, max: 100 }), (bytes, framed, count) => {
      let buf = Buffer.from(bytes)
      if (framed) {
        const header = Buffer.from(sample(1).subarray(0, BATCH_HEADER_BYTES))
        buf = Buffer.concat([header, buf])
        buf.writeInt32BE(buf.length - LOG_OVERHEAD, 8)
        buf.writeInt32BE(count, 57)
      }
      expectOnlyDecodeError(() => decodeRecords(buf, 0))
      checkBatch(buf, 0)
    }),
    { seed, numRuns },
  )
}

if (!isMainThread && workerData?.fuzz) {
  try {
    fuzz(workerData.seed as number, workerData.numRuns as number)
    parentPort!.postMessage({ ok: true })
  } catch (err) {
    parentPort!.postMessage({ ok: false, error: String((err as Error).stack ?? err) })
  }
}

// ------------------------------------------------------------------------------------------ tests

if (isMainThread) {
  test('round trip: header fields and records (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 12 }), optionsArb, (records, options) => {
        const batch = encodeRecordBatch(records, options)
        assert.equal(checkBatch(batch, 0), null)
        assert.equal(batchSizeAt(batch, 0), batch.length)
        const h = readBatchHeader(batch)
        const maxTimestamp = Math.max(...records.map((r) => r.timestamp))
        assert.deepEqual(
          { ...h, crc: 0, attributes: 0 },
          {
            baseOffset: options.baseOffset, batchLength: batch.length - LOG_OVERHEAD,
            partitionLeaderEpoch: options.partitionLeaderEpoch, magic: MAGIC_V2, crc: 0, attributes: 0,
            lastOffsetDelta: records.length - 1, baseTimestamp: records[0].timestamp, maxTimestamp,
            producerId: options.producerId, producerEpoch: options.producerEpoch, baseSequence: options.baseSequence,
            recordCount: records.length, compression: options.compression, timestampType: options.timestampType,
            isTransactional: options.transactional, isControl: false,
          },
        )
        assert.equal(h.crc, crc32c(batch, 21))
        const decoded = decodeRecords(batch)
        assert.deepEqual(
          decoded,
          records.map((r, i) => ({
            offset: options.baseOffset! + i,
            timestamp: options.timestampType === 'LogAppendTime' ? maxTimestamp : r.timestamp,
            key: r.key,
            value: r.value,
            headers: r.headers ?? [],
          })),
        )
      }),
      { numRuns: 500 },
    )
  })

  test('defaults: offset 0, CreateTime, no producer, leader epoch 0', () => {
    const batch = encodeRecordBatch([{ key: null, value: b('v'), timestamp: T0 }])
    const h = readBatchHeader(batch)
    assert.equal(h.baseOffset, 0)
    assert.equal(h.partitionLeaderEpoch, 0)
    assert.equal(h.producerId, -1)
    assert.equal(h.producerEpoch, -1)
    assert.equal(h.baseSequence, -1)
    assert.equal(h.attributes, 0)
    assert.equal(h.timestampType, 'CreateTime')
    assert.equal(h.isTransactional, false)
    assert.equal(h.isControl, false)
    // length, attributes, timestampDelta, offsetDelta, key -1, value length + 1 byte, header count
    assert.equal(batch.length, BATCH_HEADER_BYTES + 8)
  })

  test('null and empty keys/values/headers stay distinct', () => {
    const records: RecordInput[] = [
      { key: null, value: null, timestamp: T0 },
      { key: Buffer.alloc(0), value: Buffer.alloc(0), headers: [], timestamp: T0 },
      { key: b('k'), value: null, headers: [{ key: '', value: Buffer.alloc(0) }, { key: 'ü', value: null }], timestamp: T0 },
    ]
    for (const compression of CODECS) {
      const out = decodeRecords(encodeRecordBatch(records, { compression }))
      assert.equal(out[0].key, null)
      assert.equal(out[0].value, null)
      assert.deepEqual(out[1].key, Buffer.alloc(0))
      assert.deepEqual(out[1].value, Buffer.alloc(0))
      assert.deepEqual(out[1].headers, [])
      assert.deepEqual(out[2].headers, [{ key: '', value: Buffer.alloc(0) }, { key: 'ü', value: null }])
    }
  })

  test('baseTimestamp is the first record, maxTimestamp the largest; deltas may be negative', () => {
    const batch = encodeRecordBatch([
      { key: null, value: b('a'), timestamp: T0 + 5 },
      { key: null, value: b('b'), timestamp: T0 },
      { key: null, value: b('c'), timestamp: T0 + 9 },
    ])
    const h = readBatchHeader(batch)
    assert.equal(h.baseTimestamp, T0 + 5)
    assert.equal(h.maxTimestamp, T0 + 9)
    assert.deepEqual(decodeRecords(batch).map((r) => r.timestamp), [T0 + 5, T0, T0 + 9])
  })

  test('uncompressed keys and values are zero-copy slices of the batch', () => {
    const batch = encodeRecordBatch([{ key: b('key'), value: b('value'), timestamp: T0 }])
    const [r] = decodeRecords(batch)
    assert.equal(r.key!.buffer, batch.buffer)
    batch[batch.length - 2] = 'V'.charCodeAt(0) // 'value' is followed by the header count byte
    assert.equal(r.value!.toString(), 'valuV')
  })

  test('gzip compresses the records section only', () => {
    const value = Buffer.alloc(1000, 'x')
    const records = Array.from({ length: 20 }, (_, i) => ({ key: b(`k${i}`), value, timestamp: T0 + i }))
    const plain = encodeRecordBatch(records)
    const packed = encodeRecordBatch(records, { compression: 'gzip' })
    assert.ok(packed.length < plain.length / 10)
    assert.equal(packed.readInt16BE(21) & 7, 1)
    assert.equal(packed[BATCH_HEADER_BYTES], 0x1f) // gzip magic
    assert.equal(packed[BATCH_HEADER_BYTES + 1], 0x8b)
    assert.equal(checkBatch(packed, 0), null)
    assert.deepEqual(decodeRecords(packed), decodeRecords(plain))
  })

  test('a gzip zip bomb is refused with DecodeError', () => {
    const batch = sample(1, 'gzip')
    const bomb = gzipSync(Buffer.alloc(DECOMPRESSED_BYTES_MAX + 1024))
    const buf = Buffer.concat([batch.subarray(0, BATCH_HEADER_BYTES), bomb])
    buf.writeInt32BE(buf.length - LOG_OVERHEAD, 8)
    assert.throws(() => decodeRecords(buf), DecodeError)
  })

  test('snappy and lz4 compress the records section only, as Kafka\'s Java producer frames them', () => {
    const value = Buffer.alloc(1000, 'x')
    const records = Array.from({ length: 100 }, (_, i) => ({ key: b(`k${i}`), value, timestamp: T0 + i, headers: [{ key: 'h', value: b(`${i}`) }] }))
    const plain = encodeRecordBatch(records)
    for (const [compression, codec, magic] of [['snappy', 2, '82534e4150505900'], ['lz4', 3, '04224d18']] as const) {
      const packed = encodeRecordBatch(records, { compression, baseOffset: 5 })
      assert.ok(packed.length < plain.length / 10, `${compression}: ${packed.length} bytes`)
      assert.equal(packed.readInt16BE(21) & 7, codec)
      assert.equal(packed.toString('hex', BATCH_HEADER_BYTES, BATCH_HEADER_BYTES + magic.length / 2), magic)
      assert.equal(checkBatch(packed, 0), null)
      assert.equal(readBatchHeader(packed).compression, compression)
      assert.deepEqual(decodeRecords(packed).map((r) => ({ ...r, offset: r.offset - 5 })), decodeRecords(plain))
      const keys: string[] = []
      forEachRecordKey(packed, 0, (offset, data, start, length) => keys.push(`${offset}:${data.toString('utf8', start, start + length)}`))
      assert.deepEqual(keys, records.map((r, i) => `${5 + i}:${r.key.toString()}`))
    }
  })

  test('librdkafka\'s snappy (raw, unframed) and lz4 batches decode', () => {
    for (const { codec, batch, records } of LIBRDKAFKA_BATCHES) {
      assert.equal(checkBatch(batch, 0), null, codec)
      const h = readBatchHeader(batch)
      assert.equal(h.compression, codec)
      assert.deepEqual(decodeRecords(batch).map((r) => [r.key!.toString(), r.value!.toString()]), records, codec)
      assert.deepEqual(decodeRecords(batch).map((r) => r.offset), [0, 1])
    }
    assert.notEqual(LIBRDKAFKA_BATCHES[0]!.batch[BATCH_HEADER_BYTES], 0x82, 'librdkafka\'s snappy has no xerial header')
  })

  test('snappy and lz4 zip bombs and undecodable sections are refused with DecodeError naming the codec', () => {
    for (const compression of ['snappy', 'lz4'] as const) {
      const batch = sample(1, compression)
      const bomb = compress(compression, Buffer.alloc(DECOMPRESSED_BYTES_MAX + 1024))
      const buf = Buffer.concat([batch.subarray(0, BATCH_HEADER_BYTES), bomb])
      buf.writeInt32BE(buf.length - LOG_OVERHEAD, 8)
      assert.throws(() => decodeRecords(buf), (e: Error) => e instanceof DecodeError && /limit/.test(e.message), `${compression} bomb`)
      const garbage = Buffer.concat([batch.subarray(0, BATCH_HEADER_BYTES), b('plain bytes, not compressed')])
      garbage.writeInt32BE(garbage.length - LOG_OVERHEAD, 8)
      assert.throws(() => decodeRecords(garbage), new RegExp(`DecodeError: ${compression} records do not decompress`))
      assert.throws(() => forEachRecordKey(garbage, 0, () => undefined), DecodeError)
      // records that decompress but do not parse: the error names the codec, at the batch's position
      const bad = Buffer.concat([batch.subarray(0, BATCH_HEADER_BYTES), compress(compression, b('\x7fnot a record'))])
      bad.writeInt32BE(bad.length - LOG_OVERHEAD, 8)
      assert.throws(() => decodeRecords(bad), (e: Error) => e instanceof DecodeError && e.message.endsWith(`(in ${compression} records)`))
    }
  })

  test('a record count larger than the bytes can hold is refused before allocating', () => {
    const batch = sample(3)
    batch.writeInt32BE(1_000_000_000, 57)
    assert.throws(() => decodeRecords(batch), /record count/)
    batch.writeInt32BE(-1, 57)
    assert.throws(() => decodeRecords(batch), DecodeError)
    batch.writeInt32BE(2, 57) // fewer than encoded: bytes left over
    assert.throws(() => decodeRecords(batch), /left after the last record/)
  })

  test('decodes a batch at a position inside a larger buffer', () => {
    const first = sample(2)
    const second = encodeRecordBatch([{ key: b('x'), value: b('y'), timestamp: T0 }], { baseOffset: 2 })
    const buf = Buffer.concat([first, second, Buffer.from([1, 2, 3])])
    assert.equal(batchSizeAt(buf, 0), first.length)
    assert.equal(checkBatch(buf, first.length), null)
    assert.equal(checkBatch(buf, first.length, first.length + second.length), null)
    assert.equal(checkBatch(buf, first.length, first.length + second.length - 1), 'truncated')
    const [r] = decodeRecords(buf, first.length)
    assert.equal(r.offset, 2)
    assert.deepEqual(r.key, b('x'))
  })

  test('setBaseOffset patches offsets without touching the CRC', () => {
    const batch = sample(4)
    const crc = batch.readUInt32BE(17)
    setBaseOffset(batch, 0, 2 ** 40 + 3)
    assert.equal(batch.readUInt32BE(17), crc)
    assert.equal(checkBatch(batch, 0), null)
    assert.equal(readBatchHeader(batch).baseOffset, 2 ** 40 + 3)
    assert.deepEqual(decodeRecords(batch).map((r) => r.offset), [0, 1, 2, 3].map((i) => 2 ** 40 + 3 + i))
    assert.throws(() => setBaseOffset(batch, 0, -1), { code: 'INVARIANT_VIOLATION' })
  })

  test('setLogAppendTime rewrites the timestamp type and maxTimestamp and re-CRCs', () => {
    for (const compression of CODECS) {
      const batch = sample(4, compression)
      setLogAppendTime(batch, 0, T0 + 1000)
      assert.equal(checkBatch(batch, 0), null)
      const h = readBatchHeader(batch)
      assert.equal(h.timestampType, 'LogAppendTime')
      assert.equal(h.maxTimestamp, T0 + 1000)
      assert.equal(h.baseTimestamp, T0)
      assert.equal(h.producerId, 7)
      assert.equal(h.compression, compression)
      assert.deepEqual(decodeRecords(batch).map((r) => r.timestamp), [1, 1, 1, 1].map(() => T0 + 1000))
    }
  })

  test('control batches: commit and abort markers', () => {
    for (const commit of [true, false]) {
      const batch = encodeControlBatch({
        commit, producerId: 42, producerEpoch: 3, coordinatorEpoch: 17, timestamp: T0, baseOffset: 100,
      })
      assert.equal(checkBatch(batch, 0), null)
      const h = readBatchHeader(batch)
      assert.equal(h.isControl, true)
      assert.equal(h.isTransactional, true)
      assert.equal(h.producerId, 42)
      assert.equal(h.producerEpoch, 3)
      assert.equal(h.baseSequence, -1)
      assert.equal(h.recordCount, 1)
      const [r] = decodeRecords(batch)
      assert.equal(r.offset, 100)
      assert.equal(r.timestamp, T0)
      assert.deepEqual(r.key, Buffer.from([0, 0, 0, commit ? 1 : 0]))
      assert.deepEqual(r.value, Buffer.from([0, 0, 0, 0, 0, 17]))
      assert.equal(decodeControlRecordType(r), commit ? 'commit' : 'abort')
    }
    assert.throws(() => decodeControlRecordType({ key: null }), DecodeError)
    assert.throws(() => decodeControlRecordType({ key: Buffer.from([0, 0, 0]) }), DecodeError)
    assert.throws(() => decodeControlRecordType({ key: Buffer.from([0, 0, 0, 2]) }), DecodeError)
    assert.throws(() => decodeControlRecordType({ key: Buffer.from([0xff, 0xff, 0, 1]) }), DecodeError)
  })

  test('checkBatch detects every flipped bit the format can detect', () => {
    for (const batch of [sample(3), sample(3, 'gzip'), sample(3, 'lz4')]) {
      for (let i = 0; i < batch.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const buf = Buffer.from(batch)
          buf[i] ^= 1 << bit
          const got = checkBatch(buf, 0)
          const where = `byte ${i} bit ${bit}`
          if (i < 8) assert.equal(got, null, where) // baseOffset: not covered by the CRC (patched on append)
          else if (i < 12) assert.notEqual(got, null, where) // batchLength: too long, too short, or CRC range moves
          else if (i < 16) assert.equal(got, null, where) // partitionLeaderEpoch: outside the CRC in Kafka's format
          else if (i === 16) assert.equal(got, 'bad magic', where)
          else assert.equal(got, 'bad crc', where)
        }
      }
    }
  })

  test('checkBatch reports truncation at every length and never throws', () => {
    const batch = sample(3)
    for (let n = 0; n < batch.length; n++) {
      assert.equal(checkBatch(batch.subarray(0, n), 0), 'truncated', `length ${n}`)
      assert.equal(checkBatch(batch, 0, n), 'truncated', `end ${n}`)
    }
    assert.equal(checkBatch(batch, batch.length), 'truncated')
    assert.equal(checkBatch(batch, -1), 'truncated')
    const short = Buffer.from(batch)
    short.writeInt32BE(48, 8)
    assert.equal(checkBatch(short, 0), 'bad length')
    short.writeInt32BE(-5, 8)
    assert.equal(checkBatch(short, 0), 'bad length')
  })

  test('readBatchHeader and batchSizeAt refuse what is not a v2 batch header', () => {
    const batch = sample(1)
    assert.throws(() => readBatchHeader(batch.subarray(0, BATCH_HEADER_BYTES - 1)), DecodeError)
    assert.throws(() => batchSizeAt(batch.subarray(0, 11), 0), DecodeError)
    const v1 = Buffer.from(batch)
    v1[16] = 1
    assert.throws(() => readBatchHeader(v1), /bad magic/)
    for (const codec of [4, 5, 7]) {
      const zstd = Buffer.from(batch)
      zstd.writeInt16BE(codec, 21)
      assert.throws(() => readBatchHeader(zstd), new RegExp(`unsupported compression codec ${codec}`))
      assert.equal(checkBatch(zstd, 0), 'bad crc')
      zstd.writeUInt32BE(crc32c(zstd, 21, zstd.length), 17)
      assert.equal(checkBatch(zstd, 0), 'unsupported compression')
    }
    const short = Buffer.from(batch)
    short.writeInt32BE(10, 8)
    assert.throws(() => batchSizeAt(short, 0), /bad batch length/)
    assert.throws(() => readBatchHeader(short), /bad batch length/)
  })

  test('encoder preconditions are invariants', () => {
    const r = { key: null, value: null, timestamp: T0 }
    assert.throws(() => encodeRecordBatch([]), { code: 'INVARIANT_VIOLATION' })
    assert.throws(() => encodeRecordBatch([{ ...r, timestamp: 1.5 }]), { code: 'INVARIANT_VIOLATION' })
    assert.throws(() => encodeRecordBatch([r], { producerEpoch: 40000 }), { code: 'INVARIANT_VIOLATION' })
    assert.throws(() => encodeRecordBatch([r], { baseOffset: 2 ** 60 }), { code: 'INVARIANT_VIOLATION' })
  })

  test('large batches: many records, offset deltas past one varint byte', () => {
    const records = Array.from({ length: 5000 }, (_, i) => ({ key: null, value: b(String(i)), timestamp: T0 + i * 1000 }))
    const batch = encodeRecordBatch(records)
    const out = decodeRecords(batch)
    assert.equal(out.length, 5000)
    assert.equal(out[4999].offset, 4999)
    assert.equal(out[4999].timestamp, T0 + 4999 * 1000)
    assert.equal(out[4999].value!.toString(), '4999')
  })

  test('decodeRecords on mutated and random bytes only throws DecodeError, and never hangs', async () => {
    const seed = Date.now() | 0
    // node 20 workers do not inherit tsx's loader hooks: load this file through tsx's API
    const api = import.meta.resolve('tsx/esm/api')
    const self = JSON.stringify(import.meta.url)
    const code = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${self}, ${self}))`
    const worker = new Worker(code, { eval: true, workerData: { fuzz: true, seed, numRuns: 3000 } })
    const timeoutMs = 60_000
    let timer: NodeJS.Timeout | undefined
    try {
      const result = await Promise.race([
        new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
          worker.once('message', resolve)
          worker.once('error', reject)
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`fuzz (seed ${seed}) did not finish in ${timeoutMs} ms`)), timeoutMs)
        }),
      ])
      assert.ok(result.ok, `seed ${seed}: ${result.error}`)
    } finally {
      clearTimeout(timer)
      await worker.terminate()
    }
  })
}
