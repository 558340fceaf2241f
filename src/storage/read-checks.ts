// What Log.read does to the bytes a segment returns: cut them at the reader's end offset, and check
// every batch's CRC and that it is the one asked for (the pair assertion on the read side); and the
// check of one batch in a segment file that recovery and a read-only tail make before trusting it.
import { CorruptionError } from '../errors.js'
import type { FileHandle } from '../util/file-io.js'
import { BATCH_HEADER_BYTES, LOG_OVERHEAD, checkBatch, readBatchHeader, type BatchHeader } from './record-batch.js'

function readBaseOffset(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * 0x100000000 + buf.readUInt32BE(pos + 4)
}

/** The batch's maxTimestamp header field. */
export function readMaxTimestamp(batch: Buffer): number {
  return batch.readInt32BE(35) * 0x100000000 + batch.readUInt32BE(39)
}

/** Drops batches that start at or beyond `endOffset`. */
export function trimToEnd(bytes: Buffer, endOffset: number): Buffer {
  let pos = 0
  while (pos + LOG_OVERHEAD <= bytes.length) {
    const base = readBaseOffset(bytes, pos)
    if (base >= endOffset) break
    pos += LOG_OVERHEAD + bytes.readInt32BE(pos + 8)
  }
  return pos === bytes.length ? bytes : bytes.subarray(0, pos)
}

/**
 * CRC-checks each batch read from `file` at `position` for `offset`, and that the first one holds
 * it and offsets increase. Returns the batches before a bad one; a bad first batch raises CorruptionError.
 */
export function verifyBatches(bytes: Buffer, file: string, position: number, offset: number): Buffer {
  let pos = 0
  let expectAbove = -1
  while (pos < bytes.length) {
    const bad = checkBatch(bytes, pos)
    if (bad && pos > 0) return bytes.subarray(0, pos)
    if (bad) throw new CorruptionError(`bad record batch (${bad})`, file, position + pos)
    let h: ReturnType<typeof readBatchHeader>
    try {
      h = readBatchHeader(bytes, pos)
    } catch (err) {
      if (pos > 0) return bytes.subarray(0, pos)
      throw new CorruptionError(`bad record batch header (${(err as Error).message})`, file, position, { cause: err })
    }
    if (pos === 0 && h.baseOffset + h.lastOffsetDelta < offset) {
      throw new CorruptionError(`batch ${h.baseOffset} read for offset ${offset}`, file, position)
    }
    if (h.baseOffset <= expectAbove) throw new CorruptionError(`offsets out of order at ${h.baseOffset}`, file, position + pos)
    expectAbove = h.baseOffset + h.lastOffsetDelta
    pos += LOG_OVERHEAD + h.batchLength
  }
  return bytes
}

/** The bytes `buf[0, len)` read from file position `pos` (recovery reads in big chunks). */
export type Chunk = { buf: Buffer; pos: number; len: number }

/**
 * Checks the batch at file position `pos` of a segment (length, CRC, header, offset ≥ `next`, offsets
 * within int32 of the segment base), reading through `chunk`; returns it or why it is bad.
 */
export function validateBatchAt(handle: FileHandle, segmentBase: number, chunk: Chunk, pos: number, fileSize: number, next: number): { h: BatchHeader; size: number } | string {
  const fill = (bytes: number): number => {
    if (pos >= chunk.pos && pos + bytes <= chunk.pos + chunk.len) return pos - chunk.pos
    if (bytes > chunk.buf.length) chunk.buf = Buffer.allocUnsafe(bytes)
    chunk.pos = pos
    chunk.len = handle.read(chunk.buf, 0, Math.min(chunk.buf.length, fileSize - pos), pos)
    return 0
  }
  if (fileSize - pos < LOG_OVERHEAD) return 'truncated'
  const size = LOG_OVERHEAD + chunk.buf.readInt32BE(fill(LOG_OVERHEAD) + 8)
  if (size < BATCH_HEADER_BYTES) return 'bad length'
  if (pos + size > fileSize) return 'truncated'
  const at = fill(size)
  const bad = checkBatch(chunk.buf, at, at + size)
  if (bad) return bad
  let h: BatchHeader
  try {
    h = readBatchHeader(chunk.buf, at)
  } catch {
    return 'bad header'
  }
  if (h.baseOffset < next) return `offset ${h.baseOffset} below expected ${next}`
  // Relative offsets in the indexes are int32 (baseOffset is outside the CRC: a flipped bit lands here).
  if (h.baseOffset + h.lastOffsetDelta - segmentBase > 0x7fffffff) return `offset ${h.baseOffset} too far past the segment base`
  return { h, size }
}