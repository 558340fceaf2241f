// Encoding of Kafka RecordBatch v2 (see record-layout.ts for the format): records in, one batch of
// bytes out, CRC and all. Pure; called by producers, the cleaner and tests.
import { InvariantViolation } from '../errors.js'
import { crc32c } from '../util/crc32c.js'
import { compress, decompress } from './compression.js'
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js'
import {
  BATCH_HEADER_BYTES, LOG_OVERHEAD, MAGIC_V2, BATCH_LENGTH_AT, PARTITION_LEADER_EPOCH_AT, MAGIC_AT, CRC_AT, ATTRIBUTES_AT, LAST_OFFSET_DELTA_AT, BASE_TIMESTAMP_AT, MAX_TIMESTAMP_AT, PRODUCER_ID_AT, PRODUCER_EPOCH_AT, BASE_SEQUENCE_AT, RECORD_COUNT_AT, LOG_APPEND_TIME_BIT, TRANSACTIONAL_BIT, CONTROL_BIT, COMPRESSION_CODEC, type RecordInput, type EncodeOptions, writeInt64, checkBatch, isCompression,
} from './record-layout.js'
import { assert, VERIFY } from '../util/assert.js'

const isInt16 = (n: number) => Number.isInteger(n) && n >= -0x8000 && n <= 0x7fff
const isInt32 = (n: number) => (n | 0) === n

// ---------------------------------------------------------------------------------------- encode

/**
 * Reusable output memory for encodeRecordBatch. A producer encodes a send's batches, writes them
 * (the file layer copies them into the page cache at once) and drops them: carving them from memory
 * that is used again keeps the pages warm instead of faulting in fresh ones for every batch. A batch
 * taken from the arena is valid until the next reset(); batches above `maxBytes` get their own memory.
 */
export class EncodeArena {
  private buf: Buffer = Buffer.alloc(0)
  private used = 0
  constructor(private readonly maxBytes = 4 * 1024 * 1024) {}

  /** Every batch taken so far may be overwritten from now on. */
  reset(): void {
    this.used = 0
  }

  take(size: number): Buffer {
    if (this.used + size > this.buf.length) {
      if (this.used + size > this.maxBytes) return Buffer.allocUnsafe(size)
      // Slices taken before stay valid: they keep the old memory alive until they are dropped.
      this.buf = Buffer.allocUnsafe(Math.min(this.maxBytes, Math.max(2 * this.buf.length, this.used + size, 64 * 1024)))
    }
    const out = this.buf.subarray(this.used, this.used + size)
    this.used += size
    return out
  }
}

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
  const n = b.length
  p = writeVarint(out, p, n)
  // Short fields (keys, mostly): a loop beats the call into TypedArray.set.
  if (n <= 16) for (let i = 0; i < n; i++) out[p + i] = b[i]!
  else out.set(b, p)
  return p + n
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
 * which its cleaner keeps where a batch's offsets must stay visible). With an `arena` the batch is
 * carved from it (valid until the arena's next reset).
 */
export function encodeRecordBatch(records: RecordInput[], options: EncodeOptions = {}, arena?: EncodeArena): Buffer {
  const count = records.length
  assert(count >= 1 || options.lastOffsetDelta !== undefined, 'a record batch holds at least one record')
  const {
    baseOffset = 0, timestampType = 'CreateTime', producerId = -1, producerEpoch = -1,
    baseSequence = -1, transactional = false, control = false, partitionLeaderEpoch = 0,
  } = options
  const compression = count === 0 ? 'none' : options.compression ?? 'none'
  if (!isInt16(producerEpoch)) throw new InvariantViolation(`producerEpoch ${producerEpoch} is not an int16`)
  assert(isInt32(baseSequence) && isInt32(partitionLeaderEpoch), 'baseSequence and partitionLeaderEpoch are int32')
  if (!isCompression(compression)) {
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
    out = arena ? arena.take(BATCH_HEADER_BYTES + recordsBytes) : Buffer.allocUnsafe(BATCH_HEADER_BYTES + recordsBytes)
    const end = writeRecords(out, BATCH_HEADER_BYTES, records, baseTimestamp)
    if (end !== out.length) {
      throw new InvariantViolation(`records encoded to ${end - BATCH_HEADER_BYTES} bytes, sized ${recordsBytes}`)
    }
  } else {
    const plain = Buffer.allocUnsafe(recordsBytes)
    const end = writeRecords(plain, 0, records, baseTimestamp)
    if (end !== recordsBytes) throw new InvariantViolation(`records encoded to ${end} bytes, sized ${recordsBytes}`)
    const packed = compress(compression, plain)
    if (VERIFY) assert(decompress(compression, packed, 0).equals(plain), `${compression} output does not decompress to its input`)
    out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + packed.length)
    packed.copy(out, BATCH_HEADER_BYTES)
  }
  if (out.length - LOG_OVERHEAD > 0x7fff_ffff) {
    throw new InvariantViolation(`batch of ${out.length} bytes exceeds the int32 batchLength`)
  }

  const attributes =
    COMPRESSION_CODEC[compression] |
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

