// LZ4 (codec 3) for a record batch's records section: the LZ4 frame format, as Kafka's producers
// write it (Java: KafkaLZ4BlockOutputStream; librdkafka: LZ4F). Pure functions over bytes, called
// through compression.ts. Decoding throws only DecodeError and grows its output only as far as the
// input can describe (at most `limit` bytes).
//
// LZ4 frame (lz4 doc/lz4_Frame_format.md; integers little-endian)
//   magic             uint32  0x184D2204
//   FLG               uint8   bits 7-6 version (01), 5 block independence, 4 block checksum,
//                             3 content size, 2 content checksum, 1 reserved (0), 0 dictionary id
//   BD                uint8   bits 6-4 block max size (4: 64 KiB, 5: 256 KiB, 6: 1 MiB, 7: 4 MiB),
//                             the other bits reserved (0)
//   content size      uint64  when FLG bit 3; checked against the output
//   dictionary id     uint32  when FLG bit 0: refused (Kafka never uses a dictionary)
//   HC                uint8   (xxh32(FLG .. last descriptor byte) >> 8) & 0xFF; always checked
//   blocks            size uint32 (bit 31 set: data stored uncompressed; at most the block max) |
//                     data | xxh32(data) uint32 when FLG bit 4 (checked)
//   end mark          uint32  0
//   content checksum  uint32  xxh32(decompressed frame) when FLG bit 2 (checked)
//   Frames may follow each other; skippable frames (magic 0x184D2A50..5F | size uint32 | data) are
//   skipped. Kafka's pre-0.10 wrong HC (over the magic too) belongs to magic 0/1 batches only.
//
// LZ4 block (lz4 doc/lz4_Block_format.md): sequences until the block's bytes end
//   token     uint8   high nibble literal length, low nibble match length - 4 (minmatch 4)
//   [literal length extension]  when the nibble is 15: bytes added on until one is not 255
//   literals
//   offset    uint16  1..65535 bytes back in the output (not before the block's start when blocks
//                     are independent, nor before the frame's start)
//   [match length extension]    as for literals; overlapping copies repeat a pattern
//   The last sequence is literals only. Writers keep the last 5 bytes literal and start no match in
//   the last 12 bytes of a block: the reference decoder's fast paths rely on it.

import { InvariantViolation } from '../errors.js'
import { xxh32 } from '../util/xxhash32.js'
import { DecodeError } from './varint.js'

const MAGIC = 0x184d2204
const SKIPPABLE_MAGIC = 0x184d2a50
const FLG_VERSION = 0x40
const FLG_BLOCK_INDEPENDENT = 0x20
const FLG_BLOCK_CHECKSUM = 0x10
const FLG_CONTENT_SIZE = 0x08
const FLG_CONTENT_CHECKSUM = 0x04
const FLG_DICT_ID = 0x01
/** The block size the encoder writes, BD = 4 << 4 (as Kafka's Java producer). */
export const LZ4_BLOCK_BYTES = 64 * 1024
const BD_64KB = 4 << 4
const UNCOMPRESSED_BIT = 0x8000_0000
const MIN_MATCH = 4
const LAST_LITERALS = 5
const MF_LIMIT = 12
const HASH_BITS_MAX = 14
const OFFSET_MAX = 0xffff
/** Most output one input byte of a block can describe: a match length extension byte adds 255. */
const EXPANSION_MAX = 255

const u32 = (b: Uint8Array, p: number): number => (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0

// ---------------------------------------------------------------------------------------- decode

/**
 * Decodes the block src[ip, ipEnd) into out at `op`, up to `opEnd`, with matches reaching back to
 * `windowStart` at most. Returns the position after the output.
 */
function decodeBlock(src: Uint8Array, ip: number, ipEnd: number, out: Uint8Array, op: number, opEnd: number, windowStart: number): number {
  for (;;) {
    if (ip >= ipEnd) throw new DecodeError('lz4 block ends inside a sequence', ip)
    const token = src[ip++]!
    let len = token >>> 4
    if (len === 15) {
      for (let b = 255; b === 255; len += b) {
        if (ip >= ipEnd) throw new DecodeError('lz4 literal length runs past the block', ip)
        b = src[ip++]!
      }
    }
    if (len > ipEnd - ip) throw new DecodeError(`lz4 literals of ${len} bytes run past the block`, ip)
    if (len > opEnd - op) throw new DecodeError('lz4 block decompresses past its bound (block max, declared content size or output limit)', ip)
    if (len < 16) for (let i = 0; i < len; i++) out[op + i] = src[ip + i]!
    else out.set(src.subarray(ip, ip + len), op)
    ip += len
    op += len
    if (ip === ipEnd) return op
    if (ipEnd - ip < 2) throw new DecodeError('lz4 match offset runs past the block', ip)
    const offset = src[ip]! | (src[ip + 1]! << 8)
    ip += 2
    if (offset === 0 || offset > op - windowStart) throw new DecodeError(`lz4 match offset ${offset} points before the start`, ip)
    len = token & 15
    if (len === 15) {
      for (let b = 255; b === 255; len += b) {
        if (ip >= ipEnd) throw new DecodeError('lz4 match length runs past the block', ip)
        b = src[ip++]!
      }
    }
    len += MIN_MATCH
    if (len > opEnd - op) throw new DecodeError('lz4 block decompresses past its bound (block max, declared content size or output limit)', ip)
    let from = op - offset
    if (offset >= len && len >= 32) {
      out.copyWithin(op, from, from + len)
      op += len
    } else {
      for (const stop = op + len; op < stop; ) out[op++] = out[from++]!
    }
  }
}

/** The output of a frame sequence: allocated at the first need, at least `guess` bytes, then doubled up to `limit`. */
class Output {
  buf = Buffer.alloc(0)
  len = 0
  constructor(private readonly guess: number, readonly limit: number) {}

  /** Room for `n` more bytes (`exact`: no more than that); DecodeError when that passes the limit. */
  reserve(n: number, at: number, exact = false): void {
    const need = this.len + n
    if (need > this.limit) throw new DecodeError(`lz4 data decompresses to more than the limit of ${this.limit} bytes`, at)
    if (need <= this.buf.length) return
    const size = exact ? need : Math.min(this.limit, Math.max(need, 2 * this.buf.length, this.guess))
    const grown = Buffer.allocUnsafe(size)
    this.buf.copy(grown, 0, 0, this.len)
    this.buf = grown
  }
}

interface FrameHeader { flg: number; blockMax: number; contentSize: number; next: number }

function readFrameHeader(src: Uint8Array, p: number, limit: number): FrameHeader {
  const start = p
  if (src.length - p < 7) throw new DecodeError('truncated lz4 frame header', p)
  const flg = src[p + 4]!
  const bd = src[p + 5]!
  if ((flg & 0xc0) !== FLG_VERSION) throw new DecodeError(`lz4 frame version ${flg >>> 6}, expected 1`, p + 4)
  if (flg & 0x02 || bd & 0x8f) throw new DecodeError('lz4 frame descriptor has reserved bits set', p + 4)
  if (flg & FLG_DICT_ID) throw new DecodeError('lz4 frame needs a dictionary', p + 4)
  const sizeId = bd >>> 4
  if (sizeId < 4) throw new DecodeError(`lz4 block max size id ${sizeId}`, p + 5)
  p += 6
  let contentSize = -1
  if (flg & FLG_CONTENT_SIZE) {
    if (src.length - p < 9) throw new DecodeError('truncated lz4 frame header', start)
    contentSize = u32(src, p) + u32(src, p + 4) * 0x1_0000_0000
    if (contentSize > limit) throw new DecodeError(`lz4 frame declares ${contentSize} bytes, above the limit of ${limit}`, p)
    p += 8
  }
  const hc = (xxh32(src, start + 4, p) >>> 8) & 0xff
  if (src[p] !== hc) throw new DecodeError('lz4 frame header checksum mismatch', p)
  return { flg, blockMax: 1 << (2 * sizeId + 8), contentSize, next: p + 1 }
}

/** Decodes the frame at src[p] into `out`; returns the position after it. */
function decodeFrame(src: Uint8Array, p: number, out: Output): number {
  const { flg, blockMax, contentSize, next } = readFrameHeader(src, p, out.limit)
  p = next
  const frameStart = out.len
  // The declared size, as far as the input can back it (a frame may claim any size).
  if (contentSize > 0) out.reserve(Math.min(contentSize, EXPANSION_MAX * (src.length - p) + 64), p, true)
  const sums = flg & FLG_BLOCK_CHECKSUM ? 4 : 0
  for (;;) {
    if (src.length - p < 4) throw new DecodeError('truncated lz4 block size', p)
    const word = u32(src, p)
    p += 4
    if (word === 0) break
    const size = word & ~UNCOMPRESSED_BIT
    if (size > blockMax) throw new DecodeError(`lz4 block of ${size} bytes exceeds the frame's block max ${blockMax}`, p - 4)
    if (src.length - p < size + sums) throw new DecodeError(`lz4 block of ${size} bytes runs past the end`, p - 4)
    if (sums && xxh32(src, p, p + size) !== u32(src, p + size)) throw new DecodeError('lz4 block checksum mismatch', p + size)
    const room = contentSize >= 0 ? contentSize - (out.len - frameStart) : Infinity
    if (word & UNCOMPRESSED_BIT) {
      if (size > room) throw new DecodeError(`lz4 frame decompresses past its declared ${contentSize} bytes`, p)
      out.reserve(size, p)
      out.buf.set(src.subarray(p, p + size), out.len)
      out.len += size
    } else {
      const bound = Math.min(blockMax, EXPANSION_MAX * size + 64, out.limit - out.len, room)
      out.reserve(bound, p)
      const windowStart = flg & FLG_BLOCK_INDEPENDENT ? out.len : frameStart
      const end = decodeBlock(src, p, p + size, out.buf, out.len, out.len + bound, windowStart)
      // Writes past a typed array's end vanish silently: check the decoder stayed within its bound.
      if (end > out.len + bound || end > out.buf.length) throw new InvariantViolation(`lz4 block decoded to ${end}, bound ${out.len + bound}`)
      out.len = end
    }
    p += size + sums
  }
  if (contentSize >= 0 && out.len - frameStart !== contentSize) {
    throw new DecodeError(`lz4 frame decompresses to ${out.len - frameStart} bytes, declared ${contentSize}`, p)
  }
  if (flg & FLG_CONTENT_CHECKSUM) {
    if (src.length - p < 4) throw new DecodeError('truncated lz4 content checksum', p)
    if (xxh32(out.buf, frameStart, out.len) !== u32(src, p)) throw new DecodeError('lz4 content checksum mismatch', p)
    p += 4
  }
  return p
}

/**
 * Decompresses LZ4 frames (one, as Kafka's producers write, or several back to back, skippable
 * frames skipped). Throws DecodeError on malformed input or an output above `limit` bytes.
 */
export function lz4Decompress(src: Uint8Array, limit: number): Buffer {
  const out = new Output(4 * src.length, limit)
  let p = 0
  do {
    if (src.length - p < 4) throw new DecodeError('truncated lz4 frame magic', p)
    const magic = u32(src, p)
    if ((magic & 0xfffffff0) >>> 0 === SKIPPABLE_MAGIC) {
      if (src.length - p < 8) throw new DecodeError('truncated lz4 skippable frame', p)
      const size = u32(src, p + 4)
      if (size > src.length - p - 8) throw new DecodeError('lz4 skippable frame runs past the end', p)
      p += 8 + size
    } else if (magic !== MAGIC) {
      throw new DecodeError(`bad lz4 frame magic 0x${magic.toString(16)}`, p)
    } else p = decodeFrame(src, p, out)
  } while (p < src.length)
  // Decoded records are slices of this buffer and keep all of it alive: trim a generous guess.
  const exact = out.buf.subarray(0, out.len)
  return out.buf.length - out.len > (out.len >>> 2) + 4096 ? Buffer.from(exact) : exact
}

// ---------------------------------------------------------------------------------------- encode

const table = new Int32Array(1 << HASH_BITS_MAX)
const read32 = (b: Uint8Array, p: number): number => b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)

/** Largest compressed block for `n` input bytes (LZ4_COMPRESSBOUND). */
const blockBound = (n: number): number => n + Math.floor(n / 255) + 16

/** A length nibble's extension: 255s, then the rest. */
function writeLengthExtension(dst: Uint8Array, op: number, rest: number): number {
  for (; rest >= 255; rest -= 255) dst[op++] = 255
  dst[op++] = rest
  return op
}

/** One sequence: the literals src[from, to), then (when matchLen > 0) a match. */
function writeSequence(dst: Uint8Array, op: number, src: Uint8Array, from: number, to: number, offset: number, matchLen: number): number {
  const lit = to - from
  const tokenAt = op++
  let token = lit >= 15 ? 0xf0 : lit << 4
  if (lit >= 15) op = writeLengthExtension(dst, op, lit - 15)
  if (lit < 16) for (let i = 0; i < lit; i++) dst[op + i] = src[from + i]!
  else dst.set(src.subarray(from, to), op)
  op += lit
  if (matchLen > 0) {
    dst[op++] = offset & 0xff
    dst[op++] = offset >>> 8
    const m = matchLen - MIN_MATCH
    token |= m >= 15 ? 15 : m
    if (m >= 15) op = writeLengthExtension(dst, op, m - 15)
  }
  dst[tokenAt] = token
  return op
}

/**
 * Compresses src[start, end) (at most LZ4_BLOCK_BYTES) as one independent block at dst[op]: greedy,
 * one hash-table probe per position (4-byte sequences), probing less often the longer nothing
 * matches (as LZ4_compress_fast). Returns the position after the block.
 */
function compressBlock(src: Uint8Array, start: number, end: number, dst: Uint8Array, op: number): number {
  let anchor = start
  if (end - start > MF_LIMIT) {
    const bits = Math.min(HASH_BITS_MAX, Math.max(8, Math.ceil(Math.log2(end - start))))
    const shift = 32 - bits
    table.fill(0, 0, 1 << bits)
    const matchStartMax = end - MF_LIMIT
    const matchEndMax = end - LAST_LITERALS
    let ip = start
    let attempts = 1 << 6
    while (ip <= matchStartMax) {
      const seq = read32(src, ip)
      const h = Math.imul(seq, 0x9e3779b1) >>> shift
      const ref = table[h]! - 1 + start
      table[h] = ip - start + 1
      if (ref < start || ip - ref > OFFSET_MAX || read32(src, ref) !== seq) {
        ip += attempts++ >>> 6
        continue
      }
      let s = ip
      let r = ref
      while (s > anchor && r > start && src[s - 1] === src[r - 1]) {
        s--
        r--
      }
      let e = ip + MIN_MATCH
      for (let m = ref + MIN_MATCH; e < matchEndMax && src[e] === src[m]; m++) e++
      op = writeSequence(dst, op, src, anchor, s, s - r, e - s)
      ip = anchor = e
      attempts = 1 << 6
    }
  }
  return writeSequence(dst, op, src, anchor, end, 0, 0)
}

/** Most bytes lz4Compress writes for `n` input bytes: a block that does not shrink is stored as is. */
export function lz4Bound(n: number): number {
  return 7 + Math.ceil(n / LZ4_BLOCK_BYTES) * 4 + n + 4
}

/**
 * `src` as one LZ4 frame as Kafka's Java producer writes it: 64 KiB independent blocks, no
 * checksums but the header's, no content size. A block that does not shrink is stored uncompressed.
 */
export function lz4Compress(src: Uint8Array): Buffer {
  const blocks = Math.ceil(src.length / LZ4_BLOCK_BYTES)
  const out = Buffer.allocUnsafe(7 + blocks * (4 + blockBound(LZ4_BLOCK_BYTES)) + 4)
  out.writeUInt32LE(MAGIC, 0)
  out[4] = FLG_VERSION | FLG_BLOCK_INDEPENDENT
  out[5] = BD_64KB
  out[6] = (xxh32(out, 4, 6) >>> 8) & 0xff
  let op = 7
  for (let p = 0; p < src.length; p += LZ4_BLOCK_BYTES) {
    const end = Math.min(src.length, p + LZ4_BLOCK_BYTES)
    let size = compressBlock(src, p, end, out, op + 4) - op - 4
    if (size >= end - p) {
      size = end - p
      out.set(src.subarray(p, end), op + 4)
      out.writeUInt32LE((size | UNCOMPRESSED_BIT) >>> 0, op)
    } else out.writeUInt32LE(size, op)
    op += 4 + size
  }
  out.writeUInt32LE(0, op)
  return out.subarray(0, op + 4)
}
