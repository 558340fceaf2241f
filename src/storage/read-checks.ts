// What Log.read does to the bytes a segment returns: cut them at the reader's end offset, and check
// every batch's CRC and that it is the one asked for (the pair assertion on the read side).
import { CorruptionError } from '../errors.js'
import { LOG_OVERHEAD, checkBatch, readBatchHeader } from './record-batch.js'

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
