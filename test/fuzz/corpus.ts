// Valid encodings the fuzzer starts from, built with kafkalite's own encoders (and two batches
// librdkafka compressed), and the tools to edit a record batch below its CRC: split it into header
// and records section, find the varint fields of its records, and put it back together with a
// correct batchLength and CRC (recompressing gzip, snappy and lz4 records), so that a mutated body
// reaches the record parser.
import { compress, decompress } from '../../src/storage/compression.js'
import {
  BATCH_HEADER_BYTES, LOG_OVERHEAD, compressionOf, encodeRecordBatch, setLogAppendTime, type EncodeOptions, type RecordInput,
} from '../../src/storage/record-batch.js'
import { LIBRDKAFKA_BATCHES } from '../fixtures/compression-vectors.js'
import { encodeControlBatch } from '../../src/storage/control-batch.js'
import { readVarint, readVarlong } from '../../src/storage/varint.js'
import { crc32c } from '../../src/util/crc32c.js'

export const T0 = 1_700_000_000_000
const b = (s: string) => Buffer.from(s, 'utf8')

export interface NamedBatch {
  name: string
  bytes: Buffer
}

function records(n: number, headers: boolean): RecordInput[] {
  const out: RecordInput[] = []
  for (let i = 0; i < n; i++) {
    out.push({
      key: i % 3 === 0 ? null : b(`key-${i}`),
      value: i % 5 === 4 ? null : b('v'.repeat(i % 40)),
      headers: headers && i % 2 === 0 ? [{ key: 'trace', value: b(`t${i}`) }, { key: 'ø', value: null }] : undefined,
      timestamp: T0 + i * 7,
    })
  }
  return out
}

/** Record batches of every shape the storage writes or a producer may send. */
export function batchCorpus(): NamedBatch[] {
  const out: NamedBatch[] = []
  const add = (name: string, recs: RecordInput[], options: EncodeOptions = {}) =>
    out.push({ name, bytes: encodeRecordBatch(recs, options) })
  add('one null record', [{ key: null, value: null, timestamp: T0 }])
  add('keys values headers', records(6, true), { producerId: 7, producerEpoch: 1, baseSequence: 0 })
  add('gzip', records(6, true), { compression: 'gzip', baseOffset: 100 })
  add('gzip one record', [{ key: b('k'), value: b('value'), timestamp: T0 }], { compression: 'gzip' })
  add('snappy', records(6, true), { compression: 'snappy', baseOffset: 200 })
  add('lz4', records(6, true), { compression: 'lz4', baseOffset: 300, producerId: 8, producerEpoch: 0, baseSequence: 0 })
  for (const { codec, batch } of LIBRDKAFKA_BATCHES) out.push({ name: `librdkafka ${codec}`, bytes: Buffer.from(batch) })
  add('transactional', records(3, false), { transactional: true, producerId: 42, producerEpoch: 3, baseSequence: 9 })
  add('offset gaps (cleaned)', [
    { key: b('a'), value: b('1'), timestamp: T0, offsetDelta: 0 },
    { key: b('b'), value: null, timestamp: T0 + 5, offsetDelta: 4 },
    { key: b('c'), value: b('3'), timestamp: T0 - 5, offsetDelta: 9 },
  ], { lastOffsetDelta: 12, baseOffset: 1000 })
  add('empty batch (cleaned)', [], { lastOffsetDelta: 3, emptyBatchTimestamp: T0, baseOffset: 50 })
  add('odd header keys', [{
    key: b('k'), value: b('v'), timestamp: T0,
    headers: [
      { key: '__proto__', value: b('p') }, { key: 'constructor', value: b('c') }, { key: 'toString', value: null },
      { key: 'dup', value: b('1') }, { key: 'dup', value: b('2') }, { key: 'dup', value: null },
    ],
  }])
  add('timestamp extremes', [
    { key: null, value: b('x'), timestamp: -1 },
    { key: null, value: b('y'), timestamp: 2 ** 53 - 2 },
  ])
  add('offsets near 2^53', [{ key: b('k'), value: b('v'), timestamp: T0 }], { baseOffset: 2 ** 53 - 2 })
  add('many records', records(120, true), { baseOffset: 7 })
  add('many records gzip', records(120, true), { compression: 'gzip', baseOffset: 7 })
  add('many records lz4', records(120, true), { compression: 'lz4', baseOffset: 7 })
  const lat = encodeRecordBatch(records(3, false))
  setLogAppendTime(lat, 0, T0 + 99)
  out.push({ name: 'LogAppendTime', bytes: lat })
  for (const commit of [true, false]) {
    out.push({
      name: commit ? 'commit marker' : 'abort marker',
      bytes: encodeControlBatch({ commit, producerId: 42, producerEpoch: 3, coordinatorEpoch: 5, timestamp: T0 }),
    })
  }
  return out
}

// ------------------------------------------------------------------------- editing below the CRC

export interface OpenBatch {
  /** The 61 header bytes (copied). */
  header: Buffer
  /** The records section, decompressed when the batch is compressed. */
  records: Buffer
  /** Compression codec id: 0 none, 1 gzip, 2 snappy, 3 lz4 (closeBatch compresses with it). */
  codec: number
}

/**
 * Splits a valid batch into its header and (plain) records section. Bytes after the batch (a second
 * batch appended by a mutation) stay in a compressed section and make it undecompressible: then the
 * section is taken as it is, uncompressed.
 */
export function openBatch(batch: Buffer): OpenBatch {
  const header = Buffer.from(batch.subarray(0, BATCH_HEADER_BYTES))
  const compression = batch.length > BATCH_HEADER_BYTES ? compressionOf(batch.readInt16BE(21) & 7) : null
  const section = batch.subarray(BATCH_HEADER_BYTES)
  if (compression === null || compression === 'none') return { header, records: Buffer.from(section), codec: 0 }
  try {
    return { header, records: decompress(compression, section, 0), codec: batch.readInt16BE(21) & 7 }
  } catch {
    return { header, records: Buffer.from(section), codec: 0 }
  }
}

/** A batch from a header and records section, with batchLength and CRC made right. */
export function closeBatch(o: OpenBatch): Buffer {
  const compression = compressionOf(o.codec)
  const section = compression === null || compression === 'none' ? o.records : compress(compression, o.records)
  const out = Buffer.concat([o.header, section])
  out.writeInt32BE(out.length - LOG_OVERHEAD, 8)
  resignBatch(out)
  return out
}

/** Recomputes the CRC of the batch at the start of `buf` over its declared length (clamped). */
export function resignBatch(buf: Buffer): Buffer {
  if (buf.length < BATCH_HEADER_BYTES) return buf
  const declared = LOG_OVERHEAD + buf.readInt32BE(8)
  const end = declared >= 21 && declared <= buf.length ? declared : buf.length
  buf.writeUInt32BE(crc32c(buf, 21, end), 17)
  return buf
}

/** Sets batchLength to the buffer's length and recomputes the CRC: any bytes become "valid". */
export function frameAndResign(buf: Buffer): Buffer {
  if (buf.length < BATCH_HEADER_BYTES) return buf
  buf.writeInt32BE(buf.length - LOG_OVERHEAD, 8)
  return resignBatch(buf)
}

export interface VarField {
  pos: number
  bytes: number
  kind: 'varint' | 'varlong'
  name: string
}

/** The varint fields of a valid records section holding `count` records, in order. */
export function varFields(section: Buffer, count: number): VarField[] {
  const out: VarField[] = []
  let p = 0
  const vi = (name: string): number => {
    const d = readVarint(section, p)
    out.push({ pos: p, bytes: d.next - p, kind: 'varint', name })
    p = d.next
    return d.value
  }
  for (let i = 0; i < count; i++) {
    vi('record length')
    p++ // attributes
    const d = readVarlong(section, p)
    out.push({ pos: p, bytes: d.next - p, kind: 'varlong', name: 'timestampDelta' })
    p = d.next
    vi('offsetDelta')
    const keyLength = vi('keyLength')
    if (keyLength > 0) p += keyLength
    const valueLength = vi('valueLength')
    if (valueLength > 0) p += valueLength
    const headers = vi('headerCount')
    for (let h = 0; h < headers; h++) {
      const k = vi('headerKeyLength') // (read before adding: vi moves p)
      p += k
      const v = vi('headerValueLength')
      if (v > 0) p += v
    }
  }
  return out
}

function zigzagVarint(n: number): Buffer {
  let z = ((n << 1) ^ (n >> 31)) >>> 0
  const out: number[] = []
  while (z >= 0x80) {
    out.push((z & 0x7f) | 0x80)
    z >>>= 7
  }
  out.push(z)
  return Buffer.from(out)
}

/** Encodings to put in a varint field: extreme values, and malformed or over-long varints. */
export function extremeVarints(sectionBytes: number): Buffer[] {
  const values = [0, 1, -1, -2, 6, 7, 0x7fffffff, -0x80000000, 0x3fffffff, sectionBytes, sectionBytes + 1, 1 << 30]
  return [
    ...values.map(zigzagVarint),
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), // continuation on the 5th byte
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]), // beyond 32 bits
    Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // 11 bytes
    Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), // 2^55-ish as a varlong
    Buffer.from([0x80]), // unterminated
  ]
}

/** `section` with the field at `f` replaced by `enc`. */
export function replaceField(section: Buffer, f: VarField, enc: Buffer): Buffer {
  return Buffer.concat([section.subarray(0, f.pos), enc, section.subarray(f.pos + f.bytes)])
}

/** Batches back to back at increasing base offsets, as a segment or a fetch holds them. */
export function logOf(batches: Buffer[], baseOffset = 0): Buffer {
  let next = baseOffset
  const out: Buffer[] = []
  for (const batch of batches) {
    const copy = Buffer.from(batch)
    copy.writeInt32BE(Math.floor(next / 0x1_0000_0000), 0)
    copy.writeUInt32BE(next >>> 0, 4)
    next += copy.readInt32BE(23) + 1
    out.push(copy)
  }
  return Buffer.concat(out)
}

/** Header fields worth setting to extreme values: position, width. */
export const HEADER_FIELDS: Array<{ name: string; at: number; bytes: 1 | 2 | 4 | 8 }> = [
  { name: 'baseOffset', at: 0, bytes: 8 },
  { name: 'batchLength', at: 8, bytes: 4 },
  { name: 'partitionLeaderEpoch', at: 12, bytes: 4 },
  { name: 'magic', at: 16, bytes: 1 },
  { name: 'attributes', at: 21, bytes: 2 },
  { name: 'lastOffsetDelta', at: 23, bytes: 4 },
  { name: 'baseTimestamp', at: 27, bytes: 8 },
  { name: 'maxTimestamp', at: 35, bytes: 8 },
  { name: 'producerId', at: 43, bytes: 8 },
  { name: 'producerEpoch', at: 51, bytes: 2 },
  { name: 'baseSequence', at: 53, bytes: 4 },
  { name: 'recordCount', at: 57, bytes: 4 },
]

/** Values for a header field of `bytes` bytes, relative to a batch of `len` bytes. */
export function extremeFieldValues(bytes: 1 | 2 | 4 | 8, len: number): number[] {
  if (bytes === 1) return [0, 1, 2, 3, 0x7f, 0x80, 0xff]
  if (bytes === 2) return [0, 1, 2, 3, 4, 5, 7, 0x20, 0x21, 0x3f, -1, 0x7fff, -0x8000]
  if (bytes === 4) return [0, 1, -1, 0x7fffffff, -0x80000000, len, len - 12, len - 11, len + 1, 48, 49, 1_000_000_000]
  return [0, -1, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 2 ** 62, -(2 ** 63)]
}

/** Writes `n` into the field at `at` of width `bytes` (8-byte values as hi/lo 32-bit halves). */
export function writeField(buf: Buffer, at: number, bytes: 1 | 2 | 4 | 8, n: number): void {
  if (at + bytes > buf.length) return
  if (bytes === 1) buf[at] = n & 0xff
  else if (bytes === 2) buf.writeInt16BE((n << 16) >> 16, at)
  else if (bytes === 4) buf.writeInt32BE(n | 0, at)
  else {
    const hi = Math.floor(n / 0x1_0000_0000)
    buf.writeInt32BE(Math.max(-0x80000000, Math.min(0x7fffffff, hi)) | 0, at)
    buf.writeUInt32BE(((n % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000 >>> 0, at + 4)
  }
}
