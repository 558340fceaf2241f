// One log segment: `<base>.log` (record batches back to back) with its sparse `.index` and
// `.timeindex`. The active segment keeps its indexes in memory and writes them out when it is
// sealed (rolled) or closed; sealed segments load theirs lazily and rebuild them from the .log when
// they fail the sanity check.
//
// Called only by Log, inside the partition's write path (appends) or from readers (read, locate).
import * as path from 'node:path'
import { CorruptionError } from '../errors.js'
import { assert } from '../util/assert.js'
import type { FileHandle, FileIO } from '../util/file-io.js'
import { INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, offsetFileName } from './file-names.js'
import { OffsetIndex } from './offset-index.js'
import {
  BATCH_HEADER_BYTES,
  LOG_OVERHEAD,
  checkBatch,
  decodeRecords,
  readBatchHeader,
  type BatchHeader,
} from './record-batch.js'
import { TimeIndex } from './time-index.js'

/** Smallest valid batchLength: the v2 header after the length field, with no records. */
export const MIN_BATCH_LENGTH = BATCH_HEADER_BYTES - LOG_OVERHEAD
const SCAN_CHUNK_BYTES = 64 * 1024
const RECOVER_CHUNK_BYTES = 1024 * 1024

/** What the segment remembers of an appended batch. */
export interface AppendedBatch {
  baseOffset: number
  lastOffset: number
  maxTimestamp: number
  size: number
}

export interface RecoverResult {
  /** Bytes cut off the end of the segment (0 when it was whole). */
  truncatedBytes: number
  /** The invalid batch's position and reason, when one was found. */
  invalidAt?: { position: number; reason: string }
}

export class Segment {
  readonly file: string
  private handle: FileHandle
  private index: OffsetIndex | null
  private timeIndex: TimeIndex | null
  private bytesSinceIndexEntry = 0
  private maxTs = -1
  private lastBatchBase = -1
  /** Bytes of valid batches in the .log. */
  size: number
  /** One past the last offset held (baseOffset while empty). */
  nextOffset: number
  /** Timestamp that segmentMs rolling counts from: the first batch's max timestamp, else creation. */
  rollBaseMs: number
  /** Bytes written since the last sync. */
  dirty = false

  private constructor(
    private readonly io: FileIO,
    readonly dir: string,
    readonly baseOffset: number,
    private readonly indexIntervalBytes: number,
    handle: FileHandle,
    size: number,
    nowMs: number,
  ) {
    this.file = path.join(dir, offsetFileName(baseOffset, LOG_SUFFIX))
    this.handle = handle
    this.size = size
    this.nextOffset = baseOffset
    this.index = null
    this.timeIndex = null
    this.rollBaseMs = nowMs
  }

  /** Creates a new empty segment (the caller syncs the directory). */
  static create(io: FileIO, dir: string, baseOffset: number, indexIntervalBytes: number, nowMs: number): Segment {
    const file = path.join(dir, offsetFileName(baseOffset, LOG_SUFFIX))
    const handle = io.open(file, { create: true })
    if (handle.size() > 0) handle.truncate(0)
    const seg = new Segment(io, dir, baseOffset, indexIntervalBytes, handle, 0, nowMs)
    seg.index = new OffsetIndex(baseOffset)
    seg.timeIndex = new TimeIndex(baseOffset)
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) io.unlink(seg.sibling(suffix))
    return seg
  }

  /** Opens an existing segment whose bytes are trusted (clean shutdown, or below the recovery point). */
  static open(
    io: FileIO,
    dir: string,
    baseOffset: number,
    indexIntervalBytes: number,
    readOnly: boolean,
    nowMs: number,
  ): Segment {
    const file = path.join(dir, offsetFileName(baseOffset, LOG_SUFFIX))
    const handle = io.open(file, { create: false, readOnly })
    return new Segment(io, dir, baseOffset, indexIntervalBytes, handle, handle.size(), nowMs)
  }

  sibling(suffix: string): string {
    return path.join(this.dir, offsetFileName(this.baseOffset, suffix))
  }

  /** Finds nextOffset and the max timestamp from the indexes and the batches after the last entry. */
  loadTail(): void {
    const idx = this.offsetIndex()
    const start = idx.last()?.position ?? 0
    let next = this.baseOffset
    this.scan(start, this.size, (h) => {
      next = h.baseOffset + h.lastOffsetDelta + 1
      this.lastBatchBase = h.baseOffset
      if (h.maxTimestamp > this.maxTs) this.maxTs = h.maxTimestamp
      return true
    })
    if (next > this.nextOffset) this.nextOffset = next
    this.bytesSinceIndexEntry = this.size - start
    const lastTs = this.timeIdx().last()
    if (lastTs && lastTs.timestamp > this.maxTs) this.maxTs = lastTs.timestamp
  }

  /** Largest timestamp in the segment (-1 when empty). */
  get maxTimestamp(): number {
    if (this.maxTs < 0 && this.size > 0) {
      const last = this.timeIdx().last()
      if (last) this.maxTs = last.timestamp
    }
    return this.maxTs
  }

  private offsetIndex(): OffsetIndex {
    if (!this.index) this.loadIndexes()
    return this.index!
  }

  private timeIdx(): TimeIndex {
    if (!this.timeIndex) this.loadIndexes()
    return this.timeIndex!
  }

  private loadIndexes(): void {
    let index: OffsetIndex | null = null
    let timeIndex: TimeIndex | null = null
    const ixFile = this.sibling(INDEX_SUFFIX)
    const tixFile = this.sibling(TIME_INDEX_SUFFIX)
    if (this.io.exists(ixFile) && this.io.exists(tixFile)) {
      index = OffsetIndex.fromBuffer(this.baseOffset, this.io.readFile(ixFile), this.size)
      timeIndex = TimeIndex.fromBuffer(this.baseOffset, this.io.readFile(tixFile), 0x7fffffff)
    }
    if (index && timeIndex) {
      this.index = index
      this.timeIndex = timeIndex
      return
    }
    this.rebuildIndexes()
  }

  /** Rebuilds both indexes by scanning the batch headers of the whole .log. */
  private rebuildIndexes(): void {
    this.index = new OffsetIndex(this.baseOffset)
    this.timeIndex = new TimeIndex(this.baseOffset)
    this.bytesSinceIndexEntry = 0
    this.scan(0, this.size, (h, pos, size) => {
      this.track(h.baseOffset, h.baseOffset + h.lastOffsetDelta, h.maxTimestamp, pos, size)
      return true
    })
  }

  private trackAppend(baseOffset: number, lastOffset: number, maxTimestamp: number, pos: number, size: number): void {
    const base = this.rollBaseMs
    this.track(baseOffset, lastOffset, maxTimestamp, pos, size)
    this.rollBaseMs = base
  }

  /** Records a batch at `pos` in the in-memory indexes and tallies. */
  private track(baseOffset: number, lastOffset: number, maxTimestamp: number, pos: number, size: number): void {
    if (this.bytesSinceIndexEntry > this.indexIntervalBytes) {
      this.index!.append(baseOffset, pos)
      this.timeIndex!.maybeAppend(this.maxTs, baseOffset)
      this.bytesSinceIndexEntry = 0
    }
    this.bytesSinceIndexEntry += size
    if (maxTimestamp > this.maxTs) this.maxTs = maxTimestamp
    if (pos === 0 && maxTimestamp >= 0) this.rollBaseMs = Math.min(this.rollBaseMs, maxTimestamp)
    this.lastBatchBase = baseOffset
    this.nextOffset = lastOffset + 1
  }

  /**
   * Appends batches that are already validated and carry their final offsets, in one write.
   * Called only from Log.append. On a write error the file is cut back to its previous size.
   */
  append(batches: readonly Buffer[], infos: readonly AppendedBatch[], nowMs: number): void {
    const idx = this.offsetIndex()
    this.timeIdx()
    const start = this.size
    if (start === 0) this.rollBaseMs = nowMs
    try {
      this.handle.write(batches, start)
    } catch (err) {
      try {
        this.handle.truncate(start)
      } catch {
        // The caller reports the write error; the next append truncates again.
      }
      throw err
    }
    let pos = start
    for (const info of infos) {
      assert(info.baseOffset >= this.nextOffset, `offsets must increase: ${info.baseOffset} < ${this.nextOffset}`)
      this.trackAppend(info.baseOffset, info.lastOffset, info.maxTimestamp, pos, info.size)
      pos += info.size
    }
    assert(idx === this.index, 'index replaced during append')
    this.size = pos
    this.dirty = true
  }

  /**
   * Visits batch headers from `from` to `to` (exclusive), reading in chunks. `visit` returns false to
   * stop. A header that cannot be a batch (short, bad length or magic) raises CorruptionError.
   */
  scan(from: number, to: number, visit: (h: BatchHeader, pos: number, size: number) => boolean): void {
    let chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(BATCH_HEADER_BYTES, to - from)))
    let chunkPos = -1
    let chunkLen = 0
    let pos = from
    while (pos < to) {
      if (pos < chunkPos || pos + BATCH_HEADER_BYTES > chunkPos + chunkLen) {
        chunkPos = pos
        chunkLen = this.handle.read(chunk, 0, Math.min(chunk.length, to - pos), pos)
        if (chunkLen < BATCH_HEADER_BYTES) throw new CorruptionError('truncated batch header', this.file, pos)
      }
      const at = pos - chunkPos
      const batchLength = chunk.readInt32BE(at + 8)
      const size = LOG_OVERHEAD + batchLength
      if (batchLength < MIN_BATCH_LENGTH || pos + size > to) {
        throw new CorruptionError(`invalid batch length ${batchLength}`, this.file, pos)
      }
      let h: BatchHeader
      try {
        h = readBatchHeader(chunk, at)
      } catch (err) {
        throw new CorruptionError('invalid batch header', this.file, pos, { cause: err })
      }
      if (!visit(h, pos, size)) return
      pos += size
    }
    chunk = Buffer.alloc(0)
  }

  /** Position of the first batch whose last offset is ≥ `offset`, or -1 when there is none. */
  locate(offset: number, limit = this.size): { position: number; header: BatchHeader } | null {
    const start = this.offsetIndex().lookup(offset).position
    let found: { position: number; header: BatchHeader } | null = null
    this.scan(start, limit, (h, pos) => {
      if (h.baseOffset + h.lastOffsetDelta >= offset) {
        found = { position: pos, header: h }
        return false
      }
      return true
    })
    return found
  }

  /**
   * Whole batches starting with the one that holds `offset`, at most `maxBytes` of them but always at
   * least one (KIP-74). `limit` bounds the position read (e.g. a reader's view of the end).
   */
  read(offset: number, maxBytes: number, limit = this.size): { bytes: Buffer; position: number } | null {
    const at = this.locate(offset, limit)
    if (!at) return null
    const first = LOG_OVERHEAD + at.header.batchLength
    const want = Math.min(Math.max(maxBytes, first), limit - at.position)
    const buf = Buffer.allocUnsafe(want)
    const n = this.handle.read(buf, 0, want, at.position)
    if (n < first) throw new CorruptionError('batch extends past end of file', this.file, at.position)
    let end = 0
    while (end + LOG_OVERHEAD <= n) {
      const size = LOG_OVERHEAD + buf.readInt32BE(end + 8)
      if (size < BATCH_HEADER_BYTES) throw new CorruptionError(`invalid batch length ${size}`, this.file, at.position + end)
      if (end + size > n) break
      end += size
    }
    return { bytes: end === buf.length ? buf : buf.subarray(0, end), position: at.position }
  }

  /** First offset whose record timestamp is ≥ `timestamp`, or null when every record is older. */
  offsetForTimestamp(timestamp: number): number | null {
    if (this.maxTimestamp < timestamp) return null
    const start = this.timeIdx().scanStart(timestamp)
    const at = this.locate(start)
    if (!at) return null
    let result: number | null = null
    this.scan(at.position, this.size, (h, pos, size) => {
      if (h.maxTimestamp < timestamp) return true
      const buf = Buffer.allocUnsafe(size)
      this.handle.read(buf, 0, size, pos)
      const bad = checkBatch(buf, 0)
      if (bad) throw new CorruptionError(`bad batch (${bad})`, this.file, pos)
      for (const r of decodeRecords(buf, 0)) {
        if (r.timestamp >= timestamp) {
          result = r.offset
          return false
        }
      }
      return true
    })
    return result
  }

  /**
   * Validates every batch from the start of the segment, rebuilding the indexes, and truncates at
   * the first invalid one. `expectOffset` is the lowest offset the first batch may have.
   * `mustBeValidBelow`: a bad batch starting below this offset is corruption and raises
   * CorruptionError instead of being cut off.
   */
  recover(expectOffset: number, mustBeValidBelow: number, truncate: boolean): RecoverResult {
    this.index = new OffsetIndex(this.baseOffset)
    this.timeIndex = new TimeIndex(this.baseOffset)
    this.bytesSinceIndexEntry = 0
    this.maxTs = -1
    this.nextOffset = this.baseOffset
    const fileSize = this.handle.size()
    let pos = 0
    let next = Math.max(expectOffset, this.baseOffset)
    let invalid: { position: number; reason: string } | undefined
    let buf = Buffer.allocUnsafe(Math.min(RECOVER_CHUNK_BYTES, Math.max(fileSize, BATCH_HEADER_BYTES)))
    let bufPos = 0
    let bufLen = 0
    while (pos < fileSize) {
      let at = pos - bufPos
      if (pos < bufPos || at + LOG_OVERHEAD > bufLen) {
        bufPos = pos
        bufLen = this.handle.read(buf, 0, Math.min(buf.length, fileSize - pos), pos)
        at = 0
      }
      let reason: string | null = null
      let size = 0
      if (bufLen - at < LOG_OVERHEAD) reason = 'truncated'
      else {
        size = LOG_OVERHEAD + buf.readInt32BE(at + 8)
        if (size < BATCH_HEADER_BYTES) reason = 'bad length'
        else if (pos + size > fileSize) reason = 'truncated'
        else {
          if (at + size > bufLen) {
            if (size > buf.length) buf = Buffer.allocUnsafe(size)
            bufPos = pos
            bufLen = this.handle.read(buf, 0, Math.min(buf.length, fileSize - pos), pos)
            at = 0
          }
          reason = checkBatch(buf, at, at + size)
          if (!reason) {
            const h = readBatchHeader(buf, at)
            if (h.baseOffset < next) reason = `offset ${h.baseOffset} below expected ${next}`
            else {
              this.track(h.baseOffset, h.baseOffset + h.lastOffsetDelta, h.maxTimestamp, pos, size)
              next = this.nextOffset
            }
          }
        }
      }
      if (reason) {
        if (next < mustBeValidBelow) {
          throw new CorruptionError(`invalid batch below the recovery point (${reason})`, this.file, pos)
        }
        invalid = { position: pos, reason }
        break
      }
      pos += size
    }
    const truncatedBytes = fileSize - pos
    if (truncatedBytes > 0 && truncate) {
      this.handle.truncate(pos)
      this.dirty = true
    }
    this.size = pos
    return invalid ? { truncatedBytes, invalidAt: invalid } : { truncatedBytes }
  }

  /** Writes the in-memory indexes to their files (called when sealing and at a clean close). */
  writeIndexes(): FileHandle[] {
    const ix = this.offsetIndex()
    const tix = this.timeIdx()
    // A final entry makes the time index's last entry the segment's largest timestamp (as Kafka).
    if (this.maxTs >= 0 && this.lastBatchBase >= 0) tix.maybeAppend(this.maxTs, this.lastBatchBase)
    const handles: FileHandle[] = []
    for (const [suffix, bytes] of [
      [INDEX_SUFFIX, ix.toBuffer()],
      [TIME_INDEX_SUFFIX, tix.toBuffer()],
    ] as const) {
      const h = this.io.open(this.sibling(suffix), { create: true })
      h.truncate(0)
      if (bytes.length > 0) h.write([bytes], 0)
      handles.push(h)
    }
    return handles
  }

  /** Makes the .log durable. */
  async sync(): Promise<void> {
    this.dirty = false
    try {
      await this.handle.sync()
    } catch (err) {
      this.dirty = true
      throw err
    }
  }

  /** Writes and fsyncs both index files (when sealing the segment). */
  async syncIndexes(): Promise<void> {
    const handles = this.writeIndexes()
    try {
      await Promise.all(handles.map((h) => h.sync()))
    } finally {
      for (const h of handles) h.close()
    }
  }

  /** Reads raw bytes (used by verification tools). */
  readRaw(buf: Buffer, position: number): number {
    return this.handle.read(buf, 0, buf.length, position)
  }

  close(): void {
    this.handle.close()
  }

  /** Closes and removes the segment's files. */
  deleteFiles(): void {
    this.handle.close()
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) this.io.unlink(this.sibling(suffix))
  }
}
