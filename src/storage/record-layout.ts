// RecordBatch v2 layout shared by the encoder (record-encode.ts) and the decoders (record-batch.ts):
// field positions, attribute bits, limits, the codec's types, and reading and checking a header.
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
//   61  records               recordCount × Record; compressed as a whole when bits 0-2 are 1-3
//                                     (gzip, snappy, lz4: see compression.ts); zstd (4) is refused
//
// Record (varint = zigzag int32, varlong = zigzag int64; see varint.ts)
//   length varint (bytes after this field) | attributes int8 (unused, 0) | timestampDelta varlong |
//   offsetDelta varint | keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
//   headerCount varint | headers: headerKeyLength varint | headerKey utf8 |
//                                 headerValueLength varint (-1 = null) | headerValue
//
// Control record (commit/abort marker, in a transactional control batch)
//   key = version int16 (0) | type int16 (0 abort, 1 commit); value = version int16 (0) | coordinatorEpoch int32

import { InvariantViolation } from '../errors.js'
import { crc32c } from '../util/crc32c.js'
import { DecodeError } from './varint.js'

export const BATCH_HEADER_BYTES = 61
export const LOG_OVERHEAD = 12
export const MAGIC_V2 = 2
/** Smallest valid batchLength: a header without records. */
export const BATCH_LENGTH_MIN = BATCH_HEADER_BYTES - LOG_OVERHEAD
/** Largest decompressed records section accepted; anything larger is refused (zip bomb). */
export const DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024

export const BATCH_LENGTH_AT = 8
export const PARTITION_LEADER_EPOCH_AT = 12
export const MAGIC_AT = 16
export const CRC_AT = 17
export const ATTRIBUTES_AT = 21
export const LAST_OFFSET_DELTA_AT = 23
export const BASE_TIMESTAMP_AT = 27
export const MAX_TIMESTAMP_AT = 35
export const PRODUCER_ID_AT = 43
export const PRODUCER_EPOCH_AT = 51
export const BASE_SEQUENCE_AT = 53
export const RECORD_COUNT_AT = 57

export const COMPRESSION_MASK = 0x07
export const LOG_APPEND_TIME_BIT = 0x08
export const TRANSACTIONAL_BIT = 0x10
export const CONTROL_BIT = 0x20

export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4'
/** The codec id (attributes bits 0-2) of each compression kafkalite reads and writes. */
export const COMPRESSION_CODEC: Readonly<Record<Compression, number>> = { none: 0, gzip: 1, snappy: 2, lz4: 3 }
const COMPRESSION_BY_CODEC: readonly Compression[] = ['none', 'gzip', 'snappy', 'lz4']
/** Codec ids above this (zstd 4, undefined 5-7) are 'unsupported compression'. */
export const COMPRESSION_CODEC_MAX = 3

/** The compression of codec id `codec`, or null for one kafkalite cannot read (zstd 4, 5-7). */
export function compressionOf(codec: number): Compression | null {
  return COMPRESSION_BY_CODEC[codec] ?? null
}

/** True for a value of the Compression type (for validating options). */
export function isCompression(value: unknown): value is Compression {
  return typeof value === 'string' && Object.hasOwn(COMPRESSION_CODEC, value)
}
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

export const TWO_POW_32 = 0x1_0000_0000

export function writeInt64(buf: Buffer, at: number, n: number): void {
  if (!Number.isSafeInteger(n)) throw new InvariantViolation(`int64 field ${n} is not a safe integer`)
  const hi = Math.floor(n / TWO_POW_32)
  buf.writeInt32BE(hi, at)
  buf.writeUInt32BE(n - hi * TWO_POW_32, at + 4)
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
 * compression codec other than none/gzip/snappy/lz4, an int64 field outside the safe-integer range, or a
 * negative lastOffsetDelta. Such a batch has a valid CRC only if its writer was wrong.
 */
function headerProblem(buf: Buffer, pos: number): string | null {
  const codec = buf.readInt16BE(pos + ATTRIBUTES_AT) & COMPRESSION_MASK
  if (codec > COMPRESSION_CODEC_MAX) return `unsupported compression codec ${codec}`
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
    compression: compressionOf(attributes & COMPRESSION_MASK)!,
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
