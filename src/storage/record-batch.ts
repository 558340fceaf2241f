// Kafka RecordBatch v2 (magic 2) codec: the bytes of a `.log` segment and of Produce/Fetch. The
// layout, types and header checks are in record-layout.ts, the encoder in record-encode.ts, the
// record parser in record-body.ts; this module decodes batches, patches the fields the broker sets
// on append, and re-exports the rest. Pure functions over Buffers, callable from anywhere. Decoders
// throw only DecodeError, a CorruptionError without a file (callers that know the file rethrow it
// naming file and position); misuse by the caller throws InvariantViolation.

import { InvariantViolation } from '../errors.js'
import { assert, VERIFY } from '../util/assert.js'
import { crc32c } from '../util/crc32c.js'
import { decompress } from './compression.js'
import { NO_HEADERS, RECORD_BYTES_MIN, readRecordWith, scanRecordKeys, type RecordBuilder } from './record-body.js'
import { DecodeError, VarintReader } from './varint.js'

import {
  BATCH_HEADER_BYTES, LOG_OVERHEAD, MAGIC_V2, MAGIC_AT, CRC_AT, ATTRIBUTES_AT, MAX_TIMESTAMP_AT, LOG_APPEND_TIME_BIT, type BatchHeader, type DecodedRecord, writeInt64, batchSizeAt, readBatchHeader, checkBatch,
} from './record-layout.js'

export * from './record-layout.js'
export { EncodeArena, encodeRecordBatch } from './record-encode.js'
export { NO_HEADERS, type RecordBuilder } from './record-body.js'

/** Patches baseOffset, which the CRC does not cover. */
export function setBaseOffset(buf: Buffer, pos: number, baseOffset: number): void {
  if (!(baseOffset >= 0 && pos >= 0 && pos + LOG_OVERHEAD <= buf.length)) {
    throw new InvariantViolation(`setBaseOffset(pos ${pos}, baseOffset ${baseOffset}) on a ${buf.length}-byte buffer`)
  }
  writeInt64(buf, pos, baseOffset)
}

/**
 * Marks the batch LogAppendTime with maxTimestamp = `timestamp` and recomputes the CRC, as Kafka's
 * broker does for LogAppendTime topics. The caller has validated the batch (a CRC recomputed over
 * corrupt bytes would hide the corruption).
 */
export function setLogAppendTime(buf: Buffer, pos: number, timestamp: number): void {
  const batchEnd = pos + batchSizeAt(buf, pos)
  assert(batchEnd <= buf.length && buf[pos + MAGIC_AT] === MAGIC_V2, 'setLogAppendTime on an incomplete batch')
  if (VERIFY) assert(checkBatch(buf, pos) === null, 'setLogAppendTime on a batch that fails its check')
  buf.writeInt16BE(buf.readInt16BE(pos + ATTRIBUTES_AT) | LOG_APPEND_TIME_BIT, pos + ATTRIBUTES_AT)
  writeInt64(buf, pos + MAX_TIMESTAMP_AT, timestamp)
  buf.writeUInt32BE(crc32c(buf, pos + ATTRIBUTES_AT, batchEnd), pos + CRC_AT)
}

// ---------------------------------------------------------------------------------------- decode

/**
 * The records section of the batch at `pos`: its header, and the bytes `data[start, end)` holding
 * `count` records (decompressed for a compressed batch, at most DECOMPRESSED_BYTES_MAX). Checks the
 * record count against the bytes.
 */
function recordsSection(buf: Buffer, pos: number): { h: BatchHeader; data: Buffer; start: number; end: number; count: number } {
  const h = readBatchHeader(buf, pos)
  const batchEnd = pos + LOG_OVERHEAD + h.batchLength
  if (batchEnd > buf.length) throw new DecodeError('truncated batch', pos)
  let data = buf
  let start = pos + BATCH_HEADER_BYTES
  let end = batchEnd
  if (h.compression !== 'none' && end > start) {
    data = decompress(h.compression, buf.subarray(start, end), pos)
    start = 0
    end = data.length
  }
  const count = h.recordCount
  if (count < 0 || count > (end - start) / RECORD_BYTES_MIN) {
    throw new DecodeError(`record count ${count} does not fit in ${end - start} bytes`, pos)
  }
  return { h, data, start, end, count }
}

const toDecodedRecord: RecordBuilder<DecodedRecord> = (offset, timestamp, key, value, headers) => ({
  offset, timestamp, key, value, headers: headers === NO_HEADERS ? [] : headers,
})

/**
 * Decodes the records of the whole batch at buf[pos .. pos + batchSize). key/value are zero-copy
 * slices of `buf` when uncompressed. A LogAppendTime batch gives every record its maxTimestamp.
 * Does not check the CRC (use checkBatch). Malformed content throws DecodeError (record-body.ts);
 * every length is checked against the bytes left before anything is sliced or allocated.
 */
export function decodeRecords(buf: Buffer, pos = 0): DecodedRecord[] {
  const out: DecodedRecord[] = []
  decodeRecordsWith(buf, pos, -Infinity, toDecodedRecord, out)
  return out
}

/**
 * decodeRecords without the intermediate objects: pushes `build(...)` of each record at or after
 * `fromOffset` onto `out` (all records are still checked). `headers` is NO_HEADERS for a record
 * without any.
 */
export function decodeRecordsWith<T>(buf: Buffer, pos: number, fromOffset: number, build: RecordBuilder<T>, out: T[]): void {
  const { h, data, start, end, count } = recordsSection(buf, pos)
  const r = new VarintReader(data, start, end)
  try {
    for (let i = 0; i < count; i++) {
      const v = readRecordWith(r, data, h, fromOffset, build)
      if (v !== undefined) out.push(v)
    }
    if (r.pos !== end) throw new DecodeError(`${end - r.pos} bytes left after the last record`, r.pos)
  } catch (err) {
    // positions inside decompressed bytes mean nothing to the caller: report the batch instead
    if (data !== buf && err instanceof DecodeError) throw new DecodeError(`${err.message} (in ${h.compression} records)`, pos)
    throw err
  }
}

/**
 * Called per record by forEachRecordKey: its offset, its key as `data[keyStart, keyStart + keyLength)`
 * (keyLength -1: null key) and whether its value is null. `data` is the batch buffer, or the
 * decompressed records of a compressed batch.
 */
export type RecordKeyVisitor = (offset: number, data: Buffer, keyStart: number, keyLength: number, valueIsNull: boolean) => void

/**
 * Visits the records of the whole batch at `pos` without decoding them into objects: the cleaner
 * looks at keys only. Checks lengths as decodeRecords does (DecodeError), but not values or headers
 * beyond their record's length; does not check the CRC.
 */
export function forEachRecordKey(buf: Buffer, pos: number, visit: RecordKeyVisitor): void {
  const { h, data, start, end, count } = recordsSection(buf, pos)
  try {
    scanRecordKeys(data, start, end, count, h.baseOffset, visit)
  } catch (err) {
    if (data !== buf && err instanceof DecodeError) throw new DecodeError(`${err.message} (in ${h.compression} records)`, pos)
    throw err
  }
}
