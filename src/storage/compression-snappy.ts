// Snappy (codec 2) for a record batch's records section: the raw block format, and the xerial
// snappy-java framing around it that Kafka's Java producer writes. Pure functions over bytes, called
// through compression.ts. Decoding throws only DecodeError and never allocates more than the output
// its input can describe (at most `limit` bytes).
//
// Raw snappy (google/snappy format_description.txt)
//   uncompressed length   uvarint, 1..5 bytes (little-endian 7-bit groups, high bit = more), < 2^32
//   elements until the input ends; the low 2 bits of each tag byte give its kind:
//     00 literal   tag>>2 = len-1 when < 60; 60..63: len-1 in the next 1..4 bytes (LE); then len bytes
//     01 copy-1    len = 4 + (tag>>2 & 7) (4..11), offset = (tag>>5) << 8 | next byte (11 bits)
//     10 copy-2    len = 1 + (tag>>2) (1..64), offset = next 2 bytes LE
//     11 copy-4    len = 1 + (tag>>2) (1..64), offset = next 4 bytes LE
//   a copy repeats `len` bytes from `offset` bytes back in the output (1 <= offset <= output so far;
//   offset < len repeats a pattern); the output must come to exactly the declared length. No
//   element yields more than 64 bytes from 3, so a block expands at most 64/3 times.
//
// xerial framing (snappy-java SnappyOutputStream; what Kafka's Java producer writes)
//   0   magic               8 bytes  0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
//   8   version             int32 BE (1)          not checked (librdkafka does not check them either)
//   12  compatible version  int32 BE (1)
//   16  blocks until the input ends: length int32 BE | a raw snappy block of `length` bytes
//   snappy-java cuts the input into 32 KiB blocks. librdkafka writes one raw snappy block without
//   framing; a raw block can never start with the magic (0x82 0x53 is a complete length varint and
//   the tag after it, 'N' = 0x4E, is a copy with nothing to copy from), so the magic tells them apart.

import { InvariantViolation } from '../errors.js'
import { DecodeError } from './varint.js'

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const XERIAL_HEADER_BYTES = 16
/** snappy-java's default block size, which Kafka's producer uses. */
export const XERIAL_BLOCK_BYTES = 32 * 1024
/** The reference compressor's fragment: copies never reach across one, so copy-2 offsets suffice. */
const FRAGMENT_BYTES = 64 * 1024
const HASH_BITS_MAX = 14

// ---------------------------------------------------------------------------------------- decode

/** The uncompressed length at src[p..end): its value and the position after it. */
function readLength(src: Uint8Array, p: number, end: number): { value: number; next: number } {
  let value = 0
  for (let i = 0; i < 5; i++) {
    if (p >= end) throw new DecodeError('snappy length varint runs past the end', p)
    const b = src[p++]!
    if (i === 4 && b > 0x0f) throw new DecodeError('snappy length varint exceeds 32 bits', p - 1)
    value += (b & 0x7f) * 2 ** (7 * i)
    if (b < 0x80) return { value, next: p }
  }
  throw new DecodeError('snappy length varint exceeds 32 bits', p)
}

/** Most output bytes `n` element bytes can describe (see the layout above). */
const expansionMax = (n: number): number => Math.ceil((n * 64) / 3)

/** Little-endian unsigned integer of `n` (1..4) bytes at src[p]. */
function readLE(src: Uint8Array, p: number, n: number): number {
  let v = 0
  for (let i = n - 1; i >= 0; i--) v = v * 256 + src[p + i]!
  return v
}

/** Decodes the elements of a raw block, src[ip, ipEnd), into out[op, opEnd), which they must fill exactly. */
function decodeElements(src: Uint8Array, ip: number, ipEnd: number, out: Uint8Array, op: number, opEnd: number): void {
  const opStart = op
  while (ip < ipEnd) {
    const tag = src[ip++]!
    const kind = tag & 3
    let len: number
    let offset: number
    if (kind === 0) {
      len = tag >>> 2
      if (len >= 60) {
        const n = len - 59
        if (ipEnd - ip < n) throw new DecodeError('snappy literal length runs past the end', ip)
        len = readLE(src, ip, n)
        ip += n
      }
      len += 1
      if (len > ipEnd - ip) throw new DecodeError(`snappy literal of ${len} bytes runs past the end`, ip)
      if (len > opEnd - op) throw new DecodeError('snappy block decompresses past its declared length', ip)
      if (len < 16) for (let i = 0; i < len; i++) out[op + i] = src[ip + i]!
      else out.set(src.subarray(ip, ip + len), op)
      ip += len
      op += len
      continue
    }
    if (kind === 1) {
      if (ip >= ipEnd) throw new DecodeError('snappy copy runs past the end', ip)
      len = 4 + ((tag >>> 2) & 7)
      offset = ((tag >>> 5) << 8) | src[ip++]!
    } else if (kind === 2) {
      if (ipEnd - ip < 2) throw new DecodeError('snappy copy runs past the end', ip)
      len = 1 + (tag >>> 2)
      offset = src[ip]! | (src[ip + 1]! << 8)
      ip += 2
    } else {
      if (ipEnd - ip < 4) throw new DecodeError('snappy copy runs past the end', ip)
      len = 1 + (tag >>> 2)
      offset = readLE(src, ip, 4)
      ip += 4
    }
    if (offset === 0 || offset > op - opStart) throw new DecodeError(`snappy copy offset ${offset} points before the start`, ip)
    if (len > opEnd - op) throw new DecodeError('snappy block decompresses past its declared length', ip)
    let from = op - offset
    const stop = op + len
    while (op < stop) out[op++] = out[from++]!
  }
  if (op !== opEnd) throw new DecodeError(`snappy block decompresses to ${op - opStart} bytes, declared ${opEnd - opStart}`, ip)
}

/** The declared length of the raw block src[p, end), checked against what its bytes can hold. */
function declaredLength(src: Uint8Array, p: number, end: number): { length: number; elementsAt: number } {
  const { value, next } = readLength(src, p, end)
  if (value > expansionMax(end - next)) {
    throw new DecodeError(`snappy block declares ${value} bytes, more than its ${end - next} bytes can hold`, p)
  }
  return { length: value, elementsAt: next }
}

const isXerial = (src: Uint8Array): boolean =>
  src.length >= XERIAL_MAGIC.length && XERIAL_MAGIC.every((b, i) => src[i] === b)

/**
 * Decompresses Kafka's snappy: xerial-framed (Java producer) or one raw block (librdkafka). Throws
 * DecodeError on malformed input or an output above `limit` bytes; allocates only the output, and
 * only once its size is known and backed by enough input.
 */
export function snappyDecompress(src: Uint8Array, limit: number): Buffer {
  if (!isXerial(src)) {
    const { length, elementsAt } = declaredLength(src, 0, src.length)
    if (length > limit) throw new DecodeError(`snappy data decompresses to ${length} bytes, above the limit of ${limit}`, 0)
    const out = Buffer.allocUnsafe(length)
    decodeElements(src, elementsAt, src.length, out, 0, length)
    return out
  }
  if (src.length < XERIAL_HEADER_BYTES) throw new DecodeError('truncated xerial snappy header', 0)
  // First pass: the blocks' declared lengths (so the output is allocated once), then decode.
  const blocks: Array<{ at: number; end: number; length: number }> = []
  let total = 0
  for (let p = XERIAL_HEADER_BYTES; p < src.length; ) {
    if (src.length - p < 4) throw new DecodeError('truncated xerial snappy block length', p)
    const n = (src[p]! << 24 | src[p + 1]! << 16 | src[p + 2]! << 8 | src[p + 3]!) >>> 0
    if (n > src.length - p - 4) throw new DecodeError(`xerial snappy block of ${n} bytes runs past the end`, p)
    const { length, elementsAt } = declaredLength(src, p + 4, p + 4 + n)
    total += length
    if (total > limit) throw new DecodeError(`snappy data decompresses to more than the limit of ${limit} bytes`, p)
    blocks.push({ at: elementsAt, end: p + 4 + n, length })
    p += 4 + n
  }
  const out = Buffer.allocUnsafe(total)
  let op = 0
  for (const b of blocks) {
    decodeElements(src, b.at, b.end, out, op, op + b.length)
    op += b.length
  }
  return out
}

// ---------------------------------------------------------------------------------------- encode

const table = new Int32Array(1 << HASH_BITS_MAX)
const read32 = (b: Uint8Array, p: number): number => b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)

/** Largest raw block for `n` input bytes (the reference's MaxCompressedLength). */
export const snappyRawBound = (n: number): number => 32 + n + Math.floor(n / 6)

function writeLiteral(dst: Uint8Array, op: number, src: Uint8Array, from: number, to: number): number {
  const n = to - from
  if (n <= 0) return op
  const m = n - 1
  if (m < 60) {
    dst[op++] = m << 2
  } else {
    const bytes = m < 0x100 ? 1 : m < 0x1_0000 ? 2 : m < 0x100_0000 ? 3 : 4
    dst[op++] = (59 + bytes) << 2
    for (let i = 0, v = m; i < bytes; i++, v = Math.floor(v / 256)) dst[op++] = v & 0xff
  }
  if (n < 16) for (let i = 0; i < n; i++) dst[op + i] = src[from + i]!
  else dst.set(src.subarray(from, to), op)
  return op + n
}

function writeCopy2(dst: Uint8Array, op: number, offset: number, len: number): number {
  dst[op] = 2 | ((len - 1) << 2)
  dst[op + 1] = offset & 0xff
  dst[op + 2] = offset >>> 8
  return op + 3
}

/** A copy of `len` (>= 4) bytes from `offset` (< 65536) back, as copy-1 and copy-2 elements. */
function writeCopy(dst: Uint8Array, op: number, offset: number, len: number): number {
  for (; len >= 68; len -= 64) op = writeCopy2(dst, op, offset, 64)
  if (len > 64) {
    op = writeCopy2(dst, op, offset, 60)
    len -= 60
  }
  if (len >= 12 || offset >= 2048) return writeCopy2(dst, op, offset, len)
  dst[op] = 1 | ((len - 4) << 2) | ((offset >>> 8) << 5)
  dst[op + 1] = offset & 0xff
  return op + 2
}

/**
 * Compresses src[start, end) (at most FRAGMENT_BYTES) into dst at `op` as snappy elements: greedy,
 * one hash-table probe per position (4-byte sequences), probing less often the longer nothing
 * matches (the reference's skip heuristic). Returns the position after the output.
 */
function compressFragment(src: Uint8Array, start: number, end: number, dst: Uint8Array, op: number): number {
  let anchor = start
  if (end - start >= 16) {
    const bits = Math.min(HASH_BITS_MAX, Math.max(8, Math.ceil(Math.log2(end - start))))
    const shift = 32 - bits
    table.fill(0, 0, 1 << bits)
    const last = end - 4
    let ip = start
    let skip = 32
    while (ip <= last) {
      const seq = read32(src, ip)
      const h = Math.imul(seq, 0x1e35a7bd) >>> shift
      const ref = table[h]! - 1 + start
      table[h] = ip - start + 1
      if (ref < start || read32(src, ref) !== seq) {
        ip += skip++ >>> 5
        continue
      }
      let s = ip
      let r = ref
      while (s > anchor && r > start && src[s - 1] === src[r - 1]) {
        s--
        r--
      }
      let e = ip + 4
      for (let m = ref + 4; e < end && src[e] === src[m]; m++) e++
      op = writeLiteral(dst, op, src, anchor, s)
      op = writeCopy(dst, op, s - r, e - s)
      ip = anchor = e
      skip = 32
    }
  }
  return writeLiteral(dst, op, src, anchor, end)
}

/** One raw snappy block of src[start, end) written at dst[op]; returns the position after it. */
function compressRawInto(src: Uint8Array, start: number, end: number, dst: Uint8Array, op: number): number {
  for (let v = end - start; ; v = Math.floor(v / 128)) {
    if (v < 0x80) {
      dst[op++] = v
      break
    }
    dst[op++] = (v & 0x7f) | 0x80
  }
  for (let p = start; p < end; p += FRAGMENT_BYTES) op = compressFragment(src, p, Math.min(end, p + FRAGMENT_BYTES), dst, op)
  return op
}

/** `src` as one raw snappy block (as librdkafka writes for a record batch). */
export function snappyCompressRaw(src: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(snappyRawBound(src.length))
  return out.subarray(0, compressRawInto(src, 0, src.length, out, 0))
}

/**
 * Most bytes snappyCompress writes for `n` input bytes. Per block of b bytes: the length varint
 * (<= 5), b, and 1 + b / 61: every copy element takes at most 3 bytes for at least 4, so each
 * match saves the 1-byte tag of the literal run after it, and a literal run of L > 60 bytes has a
 * tag of at most 1 + L / 61 bytes.
 */
export function snappyBound(n: number): number {
  const blocks = Math.ceil(n / XERIAL_BLOCK_BYTES)
  return XERIAL_HEADER_BYTES + blocks * (4 + 5 + 1) + n + Math.floor(n / 61)
}

/** `src` in the xerial framing with 32 KiB blocks, as Kafka's Java producer writes snappy. */
export function snappyCompress(src: Uint8Array): Buffer {
  const blocks = Math.ceil(src.length / XERIAL_BLOCK_BYTES)
  const out = Buffer.allocUnsafe(XERIAL_HEADER_BYTES + blocks * (4 + snappyRawBound(XERIAL_BLOCK_BYTES)))
  XERIAL_MAGIC.copy(out, 0)
  out.writeInt32BE(1, 8)
  out.writeInt32BE(1, 12)
  let op = XERIAL_HEADER_BYTES
  for (let p = 0; p < src.length; p += XERIAL_BLOCK_BYTES) {
    const end = compressRawInto(src, p, Math.min(src.length, p + XERIAL_BLOCK_BYTES), out, op + 4)
    out.writeInt32BE(end - op - 4, op)
    op = end
  }
  if (op > snappyBound(src.length)) throw new InvariantViolation(`snappy wrote ${op} bytes for ${src.length}, above its bound`)
  return out.subarray(0, op)
}
