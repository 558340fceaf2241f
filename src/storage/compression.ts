// The compression codecs of a record batch's records section (attributes bits 0-2): what the
// encoder (record-encode.ts) and the decoders (record-batch.ts) call. Pure functions over bytes.
//
//   id  codec    records section                                  here
//   0   none     the records as they are                          -
//   1   gzip     one gzip member (RFC 1952)                        node:zlib
//   2   snappy   xerial-framed or raw snappy                       compression-snappy.ts (layouts there)
//   3   lz4      LZ4 frames                                        compression-lz4.ts (layouts there)
//   4   zstd     a zstd frame                                      refused: 'unsupported compression'
//   5-7 -        not defined by Kafka                              refused
//
// Decompression is bounded by DECOMPRESSED_BYTES_MAX (a zip bomb is refused) and throws only
// DecodeError; compression is called on records this process just encoded and cannot fail.

import { gunzipSync, gzipSync } from 'node:zlib'
import { InvariantViolation } from '../errors.js'
import { lz4Bound, lz4Compress, lz4Decompress } from './compression-lz4.js'
import { snappyBound, snappyCompress, snappyDecompress } from './compression-snappy.js'
import { DECOMPRESSED_BYTES_MAX, type Compression } from './record-layout.js'
import { DecodeError } from './varint.js'

/**
 * Most bytes compress(compression, n bytes) returns (producers split batches by it). gzip: zlib's
 * compressBound for the default window and memory level, plus the 18-byte gzip wrapper in place of
 * zlib's 6; snappy and lz4: see snappyBound and lz4Bound.
 */
export function compressedBound(compression: Compression, n: number): number {
  switch (compression) {
    case 'none':
      return n
    case 'gzip':
      return n + (n >>> 12) + (n >>> 14) + (n >>> 25) + 13 + 12
    case 'snappy':
      return snappyBound(n)
    case 'lz4':
      return lz4Bound(n)
    default:
      throw new InvariantViolation(`no bound for compression ${String(compression)}`)
  }
}

/** `plain` compressed with `compression` (not 'none'), as Kafka's Java producer writes it. */
export function compress(compression: Compression, plain: Buffer): Buffer {
  switch (compression) {
    case 'gzip':
      return gzipSync(plain)
    case 'snappy':
      return snappyCompress(plain)
    case 'lz4':
      return lz4Compress(plain)
    default:
      throw new InvariantViolation(`cannot compress with ${String(compression)}`)
  }
}

/**
 * `packed` decompressed with `compression` (not 'none'), at most `limit` bytes. Throws DecodeError
 * at `pos` (the caller's batch position) when the bytes do not decompress or decompress to more.
 */
export function decompress(compression: Compression, packed: Buffer, pos: number, limit = DECOMPRESSED_BYTES_MAX): Buffer {
  try {
    switch (compression) {
      case 'gzip':
        return gunzipSync(packed, { maxOutputLength: limit })
      case 'snappy':
        return snappyDecompress(packed, limit)
      case 'lz4':
        return lz4Decompress(packed, limit)
      default:
        throw new InvariantViolation(`cannot decompress ${String(compression)}`)
    }
  } catch (err) {
    if (err instanceof InvariantViolation) throw err
    throw new DecodeError(`${compression} records do not decompress: ${(err as Error).message}`, pos, { cause: err })
  }
}
