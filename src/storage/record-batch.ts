// Kafka RecordBatch v2 (magic 2) codec: the bytes of a `.log` segment and of Produce/Fetch.
// Pure functions over Buffers; callable from anywhere. Decoders throw only DecodeError, a
// CorruptionError without a file (callers that know the file rethrow it naming file and position);
// misuse by the caller throws InvariantViolation. The record parser lives in record-body.ts.
//
// RecordBatch (all integers big-endian; offsets relative to the batch start)
//    0  baseOffset            int64   offset of the first record (the broker patches it on append)
//    8  batchLength           int32   bytes after this field: total size - 12
//   12  partitionLeaderEpoch  int32   not covered by the CRC
//   16  magic                 int8    2
//   17  crc                   uint32  CRC-32C of bytes 21 .. end
//   21  attributes            int16   bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
//                                     bit 3 timestamp type (1 = LogAppendTime), bit 4 transactional,
//                                     bit 5 control, bit 6 delete horizon set (cleaner)
//   23  lastOffsetDelta       int32
//   27  baseTimestamp         int64   timestamp of the first record
//   35  maxTimestamp          int64   largest record timestamp (the append time for LogAppendTime)
//   43  producerId            int64   -1 = none
//   51  producerEpoch         int16
//   53  baseSequence          int32
//   57  recordCount           int32
//   61  records               recordCount × Record; gzip-compressed as a whole when bits 0-2 = 1
//
// Record (varint = zigzag int32, varlong = zigzag int64; see varint.ts)
//   length varint (bytes after this field) | attributes int8 (unused, 0) | timestampDelta varlong |
//   offsetDelta varint | keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
//   headerCount varint | headers: headerKeyLength varint | headerKey utf8 |
//                                 headerValueLength varint (-1 = null) | headerValue
//
// Control record (commit/abort marker, in a transactional control batch)
//   key = version int16 (0) | type int16 (0 abort, 1 commit); value = version int16 (0) | coordinatorEpoch int32

import { gunzipSync, gzipSync } from 'node:zlib'
import { InvariantViolation } from '../errors.js'
import { assert, VERIFY } from '../util/assert.js'
import { crc32c } from '../util/crc32c.js'
import { RECORD_BYTES_MIN, readRecord, scanRecordKeys } from './record-body.js'
import { DecodeError, VarintReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js'

export const BATCH_HEADER_BYTES = 61
export const LOG_OVERHEAD = 12
export const MAGIC_V2 = 2
/** Smallest valid batchLength: a header without records. */
export const BATCH_LENGTH_MIN = BATCH_HEADER_BYTES - LOG_OVERHEAD
/** Largest decompressed records section accepted; anything larger is refused (zip bomb). */
export const DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024

const BATCH_LENGTH_AT = 8
const PARTITION_LEADER_EPOCH_AT = 12
const MAGIC_AT = 16
const CRC_AT = 17
const ATTRIBUTES_AT = 21
const LAST_OFFSET_DELTA_AT = 23
const BASE_TIMESTAMP_AT = 27
const MAX_TIMESTAMP_AT = 35
const PRODUCER_ID_AT = 43
const PRODUCER_EPOCH_AT = 51
const BASE_SEQUENCE_AT = 53
const RECORD_COUNT_AT = 57

const COMPRESSION_MASK = 0x07
const LOG_APPEND_TIME_BIT = 0x08
const TRANSACTIONAL_BIT = 0x10
const CONTROL_BIT = 0x20

export type Compression = 'none' | 'gzip'
export type TimestampType = 'CreateTime' | 'LogAppendTime'
export interface RecordHeader { key: string; value: Buffer | null }
export interface RecordInput {
  key: Buffer | null; value: Buffer | null; headers?: RecordHeader[]; timestamp: number
  /** Offset relative to the batch's baseOffset; default the record's index. Deltas must increase
   * (gaps allowed): the cleaner rewrites a batch keeping each retained record's original offset. */
  offsetDelta?: number
}
export interface EncodeOptions {
  /** Default 0; the broker patches it on append (setBaseOffset). */
  baseOffset?: number
  compression?: Compression
  /** 'LogAppendTime' only sets the attribute bit; the broker stamps the time with setLogAppendTime. */
  timestampType?: TimestampType
  /** Default -1 (no producer id), as Kafka's non-idempotent producer. */
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  transactional?: boolean
  control?: boolean
  /** Default 0, as KafkaJS writes and as the one broker's leader epoch; the CRC does not cover it. */
  partitionLeaderEpoch?: number
  /**
   * Default the last record's offsetDelta. A compacted batch keeps its original lastOffsetDelta, so
   * consumers still advance to baseOffset + lastOffsetDelta + 1. With it, a batch may hold no records.
   */
  lastOffsetDelta?: number
  /** Base and max timestamp of a batch without records (Kafka's empty batch header); default -1. */
  emptyBatchTimestamp?: number
}

export interface BatchHeader {
  baseOffset: number; batchLength: number; partitionLeaderEpoch: number; magic: number; crc: number
  attributes: number; lastOffsetDelta: number; baseTimestamp: number; maxTimestamp: number
  producerId: number; producerEpoch: number; baseSequence: number; recordCount: number
  compression: Compression; timestampType: TimestampType; isTransactional: boolean; isControl: boolean
}

export interface DecodedRecord {
  offset: number; timestamp: number; key: Buffer | null; value: Buffer | null; headers: RecordHeader[]
}

const TWO_POW_32 = 0x1_0000_0000

function writeInt64(buf: Buffer, at: number, n: number): void {
  if (!Number.isSafeInteger(n)) throw new InvariantViolation(`int64 field ${n} is not a safe integer`)
  const hi = Math.floor(n / TWO_POW_32)
  buf.writeInt32BE(hi, at)
  buf.writeUInt32BE(n - hi * TWO_POW_32, at + 4)
}

const isInt16 = (n: number) => Number.isInteger(n) && n >= -0x8000 && n <= 0x7fff
const isInt32 = (n: number) => (n | 0) === n

// ---------------------------------------------------------------------------------------- encode

/** Per-record body sizes of the batch being encoded; grown on demand, never shrunk. */
let bodySizes = new Int32Array(1024)

const sizeOfBytes = (b: Uint8Array | null | undefined) => (b == null ? 1 : sizeOfVarint(b.length) + b.length)

/** UTF-8 byte length of a header key; short ASCII keys (the usual case) skip the call into C++. */
function utf8Length(s: string): number {
  const n = s.length
  if (n > 32) return Buffer.byteLength(s, 'utf8')
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8')
  return n
}

/** Writes a header key whose UTF-8 length is `bytes`; returns the position after it. */
function writeUtf8(out: Buffer, p: number, s: string, bytes: number): number {
  if (bytes !== s.length) return p + out.write(s, p, bytes, 'utf8')
  for (let i = 0; i < bytes; i++) out[p + i] = s.charCodeAt(i)
  return p + bytes
}

function sizeOfBody(r: RecordInput, offsetDelta: number, timestampDelta: number): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta) + sizeOfBytes(r.key) + sizeOfBytes(r.value)
  const headers = r.headers
  if (headers == null) return size + 1
  size += sizeOfVarint(headers.length)
  for (let i = 0; i < headers.length; i++) {
    const keyBytes = utf8Length(headers[i].key)
    size += sizeOfVarint(keyBytes) + keyBytes + sizeOfBytes(headers[i].value)
  }
  return size
}

function writeBytes(out: Buffer, p: number, b: Uint8Array | null | undefined): number {
  if (b == null) return writeVarint(out, p, -1)
  p = writeVarint(out, p, b.length)
  out.set(b, p)
  return p + b.length
}

function writeRecords(out: Buffer, p: number, records: RecordInput[], baseTimestamp: number): number {
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    p = writeVarint(out, p, bodySizes[i])
    const bodyStart = p
    out[p++] = 0
    p = writeVarlong(out, p, r.timestamp - baseTimestamp)
    p = writeVarint(out, p, r.offsetDelta ?? i)
    p = writeBytes(out, p, r.key)
    p = writeBytes(out, p, r.value)
    const headers = r.headers
    if (headers == null) {
      out[p++] = 0
    } else {
      p = writeVarint(out, p, headers.length)
      for (let h = 0; h < headers.length; h++) {
        const key = headers[h].key
        const keyBytes = utf8Length(key)
        p = writeVarint(out, p, keyBytes)
        p = writeUtf8(out, p, key, keyBytes)
        p = writeBytes(out, p, headers[h].value)
      }
    }
    if (p - bodyStart !== bodySizes[i]) {
      throw new InvariantViolation(`record ${i} encoded to ${p - bodyStart} bytes, sized ${bodySizes[i]}`)
    }
  }
  return p
}

/**
 * Encodes `records` as one batch in one Buffer. Record i gets offsetDelta i unless it names its own;
 * baseTimestamp is the first record's timestamp (as Kafka's MemoryRecordsBuilder), maxTimestamp the
 * largest. At least one record, unless `lastOffsetDelta` is given: then an empty batch is an
 * uncompressed header whose base and max timestamp are `emptyBatchTimestamp` (Kafka's empty batch,
 * which its cleaner keeps where a batch's offsets must stay visible).
 */
export function encodeRecordBatch(records: RecordInput[], options: EncodeOptions = {}): Buffer {
  const count = records.length
  assert(count >= 1 || options.lastOffsetDelta !== undefined, 'a record batch holds at least one record')
  const {
    baseOffset = 0, timestampType = 'CreateTime', producerId = -1, producerEpoch = -1,
    baseSequence = -1, transactional = false, control = false, partitionLeaderEpoch = 0,
  } = options
  const compression = count === 0 ? 'none' : options.compression ?? 'none'
  if (!isInt16(producerEpoch)) throw new InvariantViolation(`producerEpoch ${producerEpoch} is not an int16`)
  assert(isInt32(baseSequence) && isInt32(partitionLeaderEpoch), 'baseSequence and partitionLeaderEpoch are int32')
  if (compression !== 'none' && compression !== 'gzip') {
    throw new InvariantViolation(`unsupported compression ${String(compression)}`)
  }

  if (bodySizes.length < count) bodySizes = new Int32Array(Math.max(count, bodySizes.length * 2))
  const baseTimestamp = count > 0 ? records[0].timestamp : options.emptyBatchTimestamp ?? -1
  if (count === 0 && !Number.isSafeInteger(baseTimestamp)) throw new InvariantViolation(`batch timestamp ${baseTimestamp} is not a safe integer`)
  let maxTimestamp = baseTimestamp
  let recordsBytes = 0
  let lastDelta = -1
  for (let i = 0; i < count; i++) {
    const r = records[i]
    const ts = r.timestamp
    if (!Number.isSafeInteger(ts)) throw new InvariantViolation(`record ${i} timestamp ${ts} is not a safe integer`)
    if (ts > maxTimestamp) maxTimestamp = ts
    const delta = r.offsetDelta ?? i
    if (delta <= lastDelta || !isInt32(delta)) {
      throw new InvariantViolation(`record ${i} offsetDelta ${delta} must be an int32 above ${lastDelta}`)
    }
    lastDelta = delta
    const body = sizeOfBody(r, delta, ts - baseTimestamp)
    bodySizes[i] = body
    recordsBytes += sizeOfVarint(body) + body
  }
  const lastOffsetDelta = options.lastOffsetDelta ?? lastDelta
  if (!isInt32(lastOffsetDelta) || lastOffsetDelta < lastDelta || lastOffsetDelta < 0) {
    throw new InvariantViolation(`lastOffsetDelta ${lastOffsetDelta} must be an int32 ≥ the last record's offsetDelta ${lastDelta}`)
  }
  if (!Number.isSafeInteger(baseOffset + lastOffsetDelta)) {
    throw new InvariantViolation(`offsets from ${baseOffset} exceed the safe integer range`)
  }

  let out: Buffer
  if (compression === 'none') {
    out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + recordsBytes)
    const end = writeRecords(out, BATCH_HEADER_BYTES, records, baseTimestamp)
    if (end !== out.length) {
      throw new InvariantViolation(`records encoded to ${end - BATCH_HEADER_BYTES} bytes, sized ${recordsBytes}`)
    }
  } else {
    const plain = Buffer.allocUnsafe(recordsBytes)
    const end = writeRecords(plain, 0, records, baseTimestamp)
    if (end !== recordsBytes) throw new InvariantViolation(`records encoded to ${end} bytes, sized ${recordsBytes}`)
    const packed = gzipSync(plain)
    out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + packed.length)
    packed.copy(out, BATCH_HEADER_BYTES)
  }
  if (out.length - LOG_OVERHEAD > 0x7fff_ffff) {
    throw new InvariantViolation(`batch of ${out.length} bytes exceeds the int32 batchLength`)
  }

  const attributes =
    (compression === 'gzip' ? 1 : 0) |
    (timestampType === 'LogAppendTime' ? LOG_APPEND_TIME_BIT : 0) |
    (transactional ? TRANSACTIONAL_BIT : 0) |
    (control ? CONTROL_BIT : 0)
  writeInt64(out, 0, baseOffset)
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_AT)
  out.writeInt32BE(partitionLeaderEpoch, PARTITION_LEADER_EPOCH_AT)
  out[MAGIC_AT] = MAGIC_V2
  out.writeInt16BE(attributes, ATTRIBUTES_AT)
  out.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA_AT)
  writeInt64(out, BASE_TIMESTAMP_AT, baseTimestamp)
  writeInt64(out, MAX_TIMESTAMP_AT, maxTimestamp)
  writeInt64(out, PRODUCER_ID_AT, producerId)
  out.writeInt16BE(producerEpoch, PRODUCER_EPOCH_AT)
  out.writeInt32BE(baseSequence, BASE_SEQUENCE_AT)
  out.writeInt32BE(count, RECORD_COUNT_AT)
  out.writeUInt32BE(crc32c(out, ATTRIBUTES_AT, out.length), CRC_AT)
  if (VERIFY) assert(checkBatch(out, 0) === null, 'encoded batch fails its own check')
  return out
}

// ----------------------------------------------------------------------------- header and checks

/** Total bytes the batch at `pos` occupies: LOG_OVERHEAD + batchLength. */
export function batchSizeAt(buf: Buffer, pos: number): number {
  if (pos < 0 || buf.length - pos < LOG_OVERHEAD) throw new DecodeError('truncated batch', pos)
  const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_AT)
  if (batchLength < BATCH_LENGTH_MIN) throw new DecodeError(`bad batch length ${batchLength}`, pos)
  return LOG_OVERHEAD + batchLength
}

const int64At = (buf: Buffer, at: number) => buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4)
const CRC_COVERED_INT64_AT = [BASE_TIMESTAMP_AT, MAX_TIMESTAMP_AT, PRODUCER_ID_AT]

/**
 * Why the CRC-covered header fields at `pos` (61 bytes present) cannot be read, or null: a
 * compression codec other than none/gzip, an int64 field outside the safe-integer range, or a
 * negative lastOffsetDelta. Such a batch has a valid CRC only if its writer was wrong.
 */
function headerProblem(buf: Buffer, pos: number): string | null {
  const codec = buf.readInt16BE(pos + ATTRIBUTES_AT) & COMPRESSION_MASK
  if (codec > 1) return `unsupported compression codec ${codec}`
  for (const at of CRC_COVERED_INT64_AT) {
    if (!Number.isSafeInteger(int64At(buf, pos + at))) return `int64 field at ${at} outside the safe integer range`
  }
  const lastOffsetDelta = buf.readInt32BE(pos + LAST_OFFSET_DELTA_AT)
  return lastOffsetDelta < 0 ? `bad lastOffsetDelta ${lastOffsetDelta}` : null
}

/** baseOffset, which the CRC does not cover (the broker patches it), and the batch's last offset. */
function baseOffsetProblem(buf: Buffer, pos: number): string | null {
  const baseOffset = int64At(buf, pos)
  if (!Number.isSafeInteger(baseOffset)) return 'baseOffset outside the safe integer range'
  const last = baseOffset + buf.readInt32BE(pos + LAST_OFFSET_DELTA_AT)
  return Number.isSafeInteger(last) ? null : `last offset ${last} outside the safe integer range`
}

/**
 * Reads the 61-byte header at `pos` (the records need not be present). Throws DecodeError when fewer
 * than 61 bytes are left, on a magic other than 2, a batchLength below 49, a header checkBatch
 * refuses (see headerProblem), or a baseOffset or last offset beyond the safe integers.
 */
export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader {
  if (pos < 0 || buf.length - pos < BATCH_HEADER_BYTES) throw new DecodeError('truncated batch header', pos)
  const magic = buf.readInt8(pos + MAGIC_AT)
  if (magic !== MAGIC_V2) throw new DecodeError(`bad magic ${magic}`, pos)
  const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_AT)
  if (batchLength < BATCH_LENGTH_MIN) throw new DecodeError(`bad batch length ${batchLength}`, pos)
  const bad = headerProblem(buf, pos) ?? baseOffsetProblem(buf, pos)
  if (bad) throw new DecodeError(bad, pos)
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_AT)
  return {
    baseOffset: int64At(buf, pos),
    batchLength,
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_AT),
    magic,
    crc: buf.readUInt32BE(pos + CRC_AT),
    attributes,
    lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA_AT),
    baseTimestamp: int64At(buf, pos + BASE_TIMESTAMP_AT),
    maxTimestamp: int64At(buf, pos + MAX_TIMESTAMP_AT),
    producerId: int64At(buf, pos + PRODUCER_ID_AT),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH_AT),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_AT),
    recordCount: buf.readInt32BE(pos + RECORD_COUNT_AT),
    compression: (attributes & COMPRESSION_MASK) === 1 ? 'gzip' : 'none',
    timestampType: attributes & LOG_APPEND_TIME_BIT ? 'LogAppendTime' : 'CreateTime',
    isTransactional: (attributes & TRANSACTIONAL_BIT) !== 0,
    isControl: (attributes & CONTROL_BIT) !== 0,
  }
}

/**
 * Validates the batch at buf[pos..end): enough bytes, batchLength >= 49, magic 2, CRC matches, and
 * CRC-covered header fields readBatchHeader can read. Returns null when valid, else 'truncated' |
 * 'bad length' | 'bad magic' | 'bad crc' | 'unsupported compression' | 'bad header'. Never throws.
 * The CRC does not cover baseOffset, batchLength and partitionLeaderEpoch (Kafka's design), and
 * neither does this check: readBatchHeader still refuses a baseOffset beyond 2^53. The records are
 * not checked (decodeRecords).
 */
export function checkBatch(buf: Buffer, pos: number, end = buf.length): string | null {
  end = Math.min(end, buf.length)
  if (!(pos >= 0) || end - pos < LOG_OVERHEAD) return 'truncated'
  const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_AT)
  if (batchLength < BATCH_LENGTH_MIN) return 'bad length'
  if (end - pos <= MAGIC_AT) return 'truncated'
  if (buf[pos + MAGIC_AT] !== MAGIC_V2) return 'bad magic'
  const batchEnd = pos + LOG_OVERHEAD + batchLength
  if (batchEnd > end) return 'truncated'
  if (crc32c(buf, pos + ATTRIBUTES_AT, batchEnd) !== buf.readUInt32BE(pos + CRC_AT)) return 'bad crc'
  const bad = headerProblem(buf, pos)
  if (bad === null) return null
  return bad.startsWith('unsupported compression') ? 'unsupported compression' : 'bad header'
}

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

function gunzip(packed: Buffer, pos: number): Buffer {
  try {
    return gunzipSync(packed, { maxOutputLength: DECOMPRESSED_BYTES_MAX })
  } catch (err) {
    throw new DecodeError(`gzip records do not decompress: ${(err as Error).message}`, pos, { cause: err })
  }
}

/**
 * The records section of the batch at `pos`: its header, and the bytes `data[start, end)` holding
 * `count` records (decompressed for gzip). Checks the record count against the bytes.
 */
function recordsSection(buf: Buffer, pos: number): { h: BatchHeader; data: Buffer; start: number; end: number; count: number } {
  const h = readBatchHeader(buf, pos)
  const batchEnd = pos + LOG_OVERHEAD + h.batchLength
  if (batchEnd > buf.length) throw new DecodeError('truncated batch', pos)
  let data = buf
  let start = pos + BATCH_HEADER_BYTES
  let end = batchEnd
  if (h.compression === 'gzip' && end > start) {
    data = gunzip(buf.subarray(start, end), pos)
    start = 0
    end = data.length
  }
  const count = h.recordCount
  if (count < 0 || count > (end - start) / RECORD_BYTES_MIN) {
    throw new DecodeError(`record count ${count} does not fit in ${end - start} bytes`, pos)
  }
  return { h, data, start, end, count }
}

/**
 * Decodes the records of the whole batch at buf[pos .. pos + batchSize). key/value are zero-copy
 * slices of `buf` when uncompressed. A LogAppendTime batch gives every record its maxTimestamp.
 * Does not check the CRC (use checkBatch). Malformed content throws DecodeError (record-body.ts);
 * every length is checked against the bytes left before anything is sliced or allocated.
 */
export function decodeRecords(buf: Buffer, pos = 0): DecodedRecord[] {
  const { h, data, start, end, count } = recordsSection(buf, pos)
  const records = new Array<DecodedRecord>(count)
  const r = new VarintReader(data, start, end)
  try {
    for (let i = 0; i < count; i++) records[i] = readRecord(r, data, h)
    if (r.pos !== end) throw new DecodeError(`${end - r.pos} bytes left after the last record`, r.pos)
  } catch (err) {
    // positions inside decompressed bytes mean nothing to the caller: report the batch instead
    if (data !== buf && err instanceof DecodeError) throw new DecodeError(`${err.message} (in gzip records)`, pos)
    throw err
  }
  return records
}

/**
 * Called per record by forEachRecordKey: its offset, its key as `data[keyStart, keyStart + keyLength)`
 * (keyLength -1: null key) and whether its value is null. `data` is the batch buffer, or the
 * decompressed records of a gzip batch.
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
    if (data !== buf && err instanceof DecodeError) throw new DecodeError(`${err.message} (in gzip records)`, pos)
    throw err
  }
}
