// Kafka's signed variable-length integers (zigzag + base-128 little-endian groups, as protobuf):
//   varint  = int32, 1..5 bytes      varlong = int64, 1..10 bytes
// Each byte carries 7 bits of the zigzag value, low group first; the high bit says "more follows".
//   zigzag(n) = n >= 0 ? 2n : -2n - 1       e.g. 0→00, -1→01, 1→02, 63→7e, -64→7f, 64→80 01
// Values are JS numbers. A varlong is limited to the safe-integer range (|n| <= 2^53 - 1), which
// covers every offset and timestamp delta; larger encoded values are refused with DecodeError.
// Numbers above 2^31 are handled with arithmetic (no BigInt): zigzag(n) = 2a + s where
// s = (n < 0 ? 1 : 0) and a = (n < 0 ? -n - 1 : n), so the first group is ((a & 63) << 1) | s and
// the rest are a / 64 in 7-bit groups. Both halves stay within the safe range.

import { CorruptionError, InvariantViolation } from '../errors.js'

/**
 * Malformed encoded bytes (too long a varint, a length running past the end, ...), thrown by the
 * codecs (this file, record-batch.ts, record-body.ts, control-batch.ts). It is a CorruptionError
 * (code CORRUPTION) whose file the codec does not know: `file` is '' and `position` is relative to
 * the buffer the codec was handed. Callers that know the file rethrow it as a CorruptionError naming
 * file and position; one that does not still raises a CorruptionError, never a bare Error.
 */
export class DecodeError extends CorruptionError {
  constructor(message: string, position = -1, options?: { cause?: unknown }) {
    super(message, '', position, options)
    // CorruptionError appends "(file, position)"; without a file that says nothing.
    this.message = message
  }
}

export const VARINT_BYTES_MAX = 5
export const VARLONG_BYTES_MAX = 10

/** Encoded size of `n` (an int32) as a varint. */
export function sizeOfVarint(n: number): number {
  const z = ((n << 1) ^ (n >> 31)) >>> 0
  if (z < 0x80) return 1
  if (z < 0x4000) return 2
  if (z < 0x20_0000) return 3
  if (z < 0x1000_0000) return 4
  return 5
}

/** Encoded size of `n` (a safe integer) as a varlong. */
export function sizeOfVarlong(n: number): number {
  if ((n | 0) === n) return sizeOfVarint(n)
  let a = n < 0 ? -n - 1 : n
  let size = 1
  a = Math.floor(a / 64)
  while (a > 0) {
    size++
    a = Math.floor(a / 128)
  }
  return size
}

/** Writes `n` (an int32) as a varint at buf[pos]; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  if ((n | 0) !== n) throw new InvariantViolation(`varint ${n} is not an int32`)
  let z = ((n << 1) ^ (n >> 31)) >>> 0
  while (z >= 0x80) {
    buf[pos++] = (z & 0x7f) | 0x80
    z >>>= 7
  }
  buf[pos++] = z
  return pos
}

/** Writes `n` (a safe integer) as a varlong at buf[pos]; returns the position after it. */
export function writeVarlong(buf: Uint8Array, pos: number, n: number): number {
  if ((n | 0) === n) return writeVarint(buf, pos, n)
  if (!Number.isSafeInteger(n)) throw new InvariantViolation(`varlong ${n} is not a safe integer`)
  const sign = n < 0 ? 1 : 0
  let a = n < 0 ? -n - 1 : n
  const first = ((a % 64) << 1) | sign
  a = Math.floor(a / 64)
  // a > 0 here: n is outside the int32 range
  buf[pos++] = first | 0x80
  while (a >= 0x80) {
    buf[pos++] = (a % 128) | 0x80
    a = Math.floor(a / 128)
  }
  buf[pos++] = a
  return pos
}

/**
 * A read cursor over buf[pos, end) for the varint-framed parts of a record batch. Every read checks
 * the bound and throws DecodeError instead of reading past `end` (never past the buffer's end, even
 * when asked to). Allocation-free.
 */
export class VarintReader {
  buf: Uint8Array
  pos: number
  end: number
  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf
    this.pos = pos
    this.end = Math.min(end, buf.length)
  }

  reset(buf: Uint8Array, pos: number, end: number): this {
    this.buf = buf
    this.pos = pos
    this.end = Math.min(end, buf.length)
    return this
  }

  int8(): number {
    if (this.pos >= this.end) throw new DecodeError('int8 runs past the end', this.pos)
    const b = this.buf[this.pos++]
    return (b << 24) >> 24
  }

  varint(): number {
    const buf = this.buf
    const end = this.end
    const start = this.pos
    let z = 0
    let shift = 0
    let p = start
    for (;;) {
      if (p >= end) throw new DecodeError('varint runs past the end', start)
      const b = buf[p++]
      if (shift === 28 && b > 0x0f) {
        // the fifth byte may carry only the top 4 bits and must end the varint
        throw new DecodeError(b >= 0x80 ? 'varint longer than 5 bytes' : 'varint exceeds 32 bits', start)
      }
      z |= (b & 0x7f) << shift
      if (b < 0x80) break
      shift += 7
    }
    this.pos = p
    return (z >>> 1) ^ -(z & 1)
  }

  varlong(): number {
    const buf = this.buf
    const start = this.pos
    const limit = Math.min(this.end, start + VARLONG_BYTES_MAX)
    if (start >= limit) throw new DecodeError('varlong runs past the end', start)
    let p = start
    const first = buf[p++]
    const sign = first & 1
    // a = zigzag(n) >>> 1, built group by group: bits 0..5 from the first byte, then 7 per byte.
    let a = (first >> 1) & 0x3f
    let more = first >= 0x80
    let scale = 64
    while (more) {
      if (p >= limit) {
        throw new DecodeError(
          p >= this.end ? 'varlong runs past the end' : 'varlong longer than 10 bytes',
          start,
        )
      }
      const b = buf[p++]
      a += (b & 0x7f) * scale
      scale *= 128
      more = b >= 0x80
    }
    if (a > Number.MAX_SAFE_INTEGER - sign) throw new DecodeError('varlong outside the safe integer range', start)
    this.pos = p
    return sign ? -a - 1 : a
  }
}

export interface Decoded {
  value: number
  /** Position just after the decoded bytes. */
  next: number
}

const shared = new VarintReader(new Uint8Array(0))

/** Reads a varint at buf[pos] (not past `end`). Throws DecodeError on malformed input. */
export function readVarint(buf: Uint8Array, pos: number, end = buf.length): Decoded {
  const r = shared.reset(buf, pos, end)
  const value = r.varint()
  return { value, next: r.pos }
}

/** Reads a varlong at buf[pos] (not past `end`). Throws DecodeError on malformed input. */
export function readVarlong(buf: Uint8Array, pos: number, end = buf.length): Decoded {
  const r = shared.reset(buf, pos, end)
  const value = r.varlong()
  return { value, next: r.pos }
}
