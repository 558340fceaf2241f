// The record parser of the RecordBatch v2 codec: the varint-framed records inside a batch's records
// section (layout in record-batch.ts). Called only by record-batch.ts (decodeRecords,
// forEachRecordKey), which has already checked the header and the record count against the bytes.
// Every length is checked against the bytes left before anything is sliced or allocated; malformed
// bytes throw DecodeError; decoded offsets and timestamps are safe integers.
//
// Record: length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
//         keyLength varint | key | valueLength varint | value | headerCount varint |
//         headers: headerKeyLength varint | headerKey utf8 | headerValueLength varint | headerValue
import type { BatchHeader, RecordHeader, RecordKeyVisitor } from './record-batch.js'
import { DecodeError, VarintReader } from './varint.js'

/** Smallest encoded record: seven one-byte fields. Bounds recordCount against the bytes present. */
export const RECORD_BYTES_MIN = 7

function readBytes(r: VarintReader, data: Buffer): Buffer | null {
  const at = r.pos
  const length = r.varint()
  if (length === -1) return null
  if (length < -1 || length > r.end - r.pos) throw new DecodeError(`bad byte-field length ${length}`, at)
  const b = data.subarray(r.pos, r.pos + length)
  r.pos += length
  return b
}

/** The headers of a record without any: one frozen array, so builders can tell (`=== NO_HEADERS`) and skip work. */
export const NO_HEADERS: RecordHeader[] = Object.freeze([]) as unknown as RecordHeader[]

function readHeaders(r: VarintReader, data: Buffer): RecordHeader[] {
  const at = r.pos
  const count = r.varint()
  if (count === 0) return NO_HEADERS
  // each header takes at least two bytes (two lengths)
  if (count < 0 || count > (r.end - r.pos) / 2) throw new DecodeError(`bad header count ${count}`, at)
  const headers = new Array<RecordHeader>(count)
  for (let i = 0; i < count; i++) {
    const keyAt = r.pos
    const keyBytes = r.varint()
    if (keyBytes < 0 || keyBytes > r.end - r.pos) throw new DecodeError(`bad header key length ${keyBytes}`, keyAt)
    const key = data.toString('utf8', r.pos, r.pos + keyBytes)
    r.pos += keyBytes
    headers[i] = { key, value: readBytes(r, data) }
  }
  return headers
}

/** The record's length prefix; makes r.end the record's end. Returns the section's end to restore. */
function enterRecord(r: VarintReader): number {
  const at = r.pos
  const length = r.varint()
  if (length < RECORD_BYTES_MIN - 1 || length > r.end - r.pos) throw new DecodeError(`bad record length ${length}`, at)
  const sectionEnd = r.end
  r.end = r.pos + length
  return sectionEnd
}

function offsetOf(baseOffset: number, offsetDelta: number, at: number): number {
  const offset = baseOffset + offsetDelta
  if (!Number.isSafeInteger(offset)) throw new DecodeError(`record offset ${baseOffset} + ${offsetDelta} exceeds the safe integer range`, at)
  return offset
}

/** Builds what one decoded record becomes (see decodeRecordsWith); `headers` is NO_HEADERS when there are none. */
export type RecordBuilder<T> = (offset: number, timestamp: number, key: Buffer | null, value: Buffer | null, headers: RecordHeader[]) => T

/**
 * Reads one record of the batch `h` at r.pos and returns `build(...)` of it, or undefined when its
 * offset is below `fromOffset` (checked, not built).
 */
export function readRecordWith<T>(r: VarintReader, data: Buffer, h: BatchHeader, fromOffset: number, build: RecordBuilder<T>): T | undefined {
  const at = r.pos
  const sectionEnd = enterRecord(r)
  const recordEnd = r.end
  r.int8() // attributes: unused in v2
  const timestampDelta = r.varlong()
  const offsetDelta = r.varint()
  const key = readBytes(r, data)
  const value = readBytes(r, data)
  const headers = readHeaders(r, data)
  if (r.pos !== recordEnd) throw new DecodeError(`record ends ${recordEnd - r.pos} bytes before its declared length`, at)
  r.end = sectionEnd
  let timestamp = h.maxTimestamp
  if (h.timestampType !== 'LogAppendTime') {
    timestamp = h.baseTimestamp + timestampDelta
    if (!Number.isSafeInteger(timestamp)) throw new DecodeError(`record timestamp ${h.baseTimestamp} + ${timestampDelta} exceeds the safe integer range`, at)
  }
  const offset = offsetOf(h.baseOffset, offsetDelta, at)
  return offset < fromOffset ? undefined : build(offset, timestamp, key, value, headers)
}

/**
 * Visits `count` records in data[start, end) by key, without building objects (see
 * forEachRecordKey). Checks each record's length and its key and value lengths, not its headers.
 */
export function scanRecordKeys(data: Buffer, start: number, end: number, count: number, baseOffset: number, visit: RecordKeyVisitor): void {
  const r = new VarintReader(data, start, end)
  for (let i = 0; i < count; i++) {
    const at = r.pos
    enterRecord(r)
    const recordEnd = r.end
    r.int8()
    r.varlong()
    const offset = offsetOf(baseOffset, r.varint(), at)
    const keyLength = r.varint()
    if (keyLength < -1 || keyLength > r.end - r.pos) throw new DecodeError(`bad byte-field length ${keyLength}`, r.pos)
    const keyStart = r.pos
    if (keyLength > 0) r.pos += keyLength
    const valueLength = r.varint()
    if (valueLength < -1 || valueLength > r.end - r.pos) throw new DecodeError(`bad byte-field length ${valueLength}`, r.pos)
    visit(offset, data, keyStart, keyLength, valueLength === -1)
    r.pos = recordEnd
    r.end = end
  }
  if (r.pos !== end) throw new DecodeError(`${end - r.pos} bytes left after the last record`, r.pos)
}
