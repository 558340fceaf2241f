// One log segment: `<base>.log` (record batches back to back) with its sparse `.index` and
// `.timeindex`. The active segment keeps its indexes in memory and writes them out when it is
// sealed (rolled) or closed; sealed segments load theirs lazily and rebuild them from the .log when
// they fail the sanity check.
//
// Called only by Log, inside the partition's write path (appends) or from readers (read, locate).
import * as path from 'node:path'
import { CorruptionError } from '../errors.js'
import { assert } from '../util/assert.js'
import { writeFilesDurably, type FileHandle, type FileIO } from '../util/file-io.js'
import { INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, offsetFileName } from './file-names.js'
import { OffsetIndex } from './offset-index.js'
import { BATCH_HEADER_BYTES, BATCH_LENGTH_MIN, LOG_OVERHEAD, checkBatch, decodeRecords, readBatchHeader } from './record-batch.js'
import type { BatchHeader } from './record-batch.js'
import { validateBatchAt, type Chunk } from './read-checks.js'
import { TimeIndex } from './time-index.js'
import { findNextBatch } from './verify.js'

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
  private index: OffsetIndex | null = null
  private timeIndex: TimeIndex | null = null
  private bytesSinceIndexEntry = 0
  private maxTs = -1
  private lastBatchBase = -1
  /** Bytes of valid batches in the .log. */
  size: number
  /** One past the last offset held (baseOffset while empty). */
  nextOffset: number
  /**
   * Time that segmentMs rolling counts from: the clock at the segment's first append. A reopen does
   * not know that time; the first batch's max timestamp (at most the open time) stands in for it.
   */
  rollBaseMs: number
  /** Bytes written since the last sync. */
  dirty = false
  /** A failed write may have left bytes past `size` that could not be cut off yet. */
  private tornTail = false
  private syncsInFlight = 0
  private closeWhenSynced = false
  /** Identity of the open .log (a read-only tail notices when the cleaner swapped in another). */
  readonly fileId: string

  private constructor(
    private readonly io: FileIO,
    readonly dir: string,
    readonly baseOffset: number,
    private readonly indexIntervalBytes: number,
    private readonly handle: FileHandle,
    nowMs: number,
  ) {
    this.file = path.join(dir, offsetFileName(baseOffset, LOG_SUFFIX))
    this.fileId = handle.id()
    this.size = handle.size()
    this.nextOffset = baseOffset
    this.rollBaseMs = nowMs
  }

  /** Creates a new empty segment (the caller syncs the directory). */
  static create(io: FileIO, dir: string, baseOffset: number, indexIntervalBytes: number, nowMs: number): Segment {
    const handle = io.open(path.join(dir, offsetFileName(baseOffset, LOG_SUFFIX)), { create: true })
    if (handle.size() > 0) handle.truncate(0)
    const seg = new Segment(io, dir, baseOffset, indexIntervalBytes, handle, nowMs)
    seg.index = new OffsetIndex(baseOffset)
    seg.timeIndex = new TimeIndex(baseOffset)
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) io.unlink(seg.sibling(suffix))
    return seg
  }

  /** Opens an existing segment; the caller then loads its tail (trusted bytes) or recovers it. */
  static open(io: FileIO, dir: string, base: number, indexIntervalBytes: number, readOnly: boolean, nowMs: number): Segment {
    const handle = io.open(path.join(dir, offsetFileName(base, LOG_SUFFIX)), { create: false, readOnly })
    return new Segment(io, dir, base, indexIntervalBytes, handle, nowMs)
  }

  sibling(suffix: string): string {
    return path.join(this.dir, offsetFileName(this.baseOffset, suffix))
  }

  /** Finds nextOffset and the max timestamp from the indexes and the batches after the last entry. */
  loadTail(): void {
    const idx = this.offsetIndex()
    const start = idx.last()?.position ?? 0
    let next = this.baseOffset
    if (start > 0) this.scan(0, this.size, (h) => this.noteFirstBatch(h))
    this.scan(start, this.size, (h, pos) => {
      if (pos === 0) this.noteFirstBatch(h)
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

  /** A reopened segment rolls by time from its first batch (see rollBaseMs). Returns false. */
  private noteFirstBatch(h: BatchHeader): false {
    if (h.maxTimestamp >= 0) this.rollBaseMs = Math.min(this.rollBaseMs, h.maxTimestamp)
    return false
  }

  /** Largest timestamp in the segment (-1 when empty). */
  get maxTimestamp(): number {
    if (this.maxTs < 0 && this.size > 0) {
      // Loading may rebuild the indexes, which sets maxTs from every batch: only ever raise it.
      const last = this.timeIdx().last()
      if (last && last.timestamp > this.maxTs) this.maxTs = last.timestamp
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
    const ixFile = this.sibling(INDEX_SUFFIX)
    const tixFile = this.sibling(TIME_INDEX_SUFFIX)
    if (this.io.exists(ixFile) && this.io.exists(tixFile)) {
      this.index = OffsetIndex.fromBuffer(this.baseOffset, this.io.readFile(ixFile), this.size)
      this.timeIndex = TimeIndex.fromBuffer(this.baseOffset, this.io.readFile(tixFile), 0x7fffffff)
    }
    if (this.index && this.timeIndex && this.size > 0) {
      // A cut time index loses its last entries, which hold the segment's largest timestamps: the
      // batches after the last offset index entry must not be newer than its last entry.
      let tailMax = -1
      try {
        this.scan(this.index.last()?.position ?? 0, this.size, (h) => {
          if (h.maxTimestamp > tailMax) tailMax = h.maxTimestamp
          return true
        })
      } catch (err) {
        // A corrupt batch there fails its own reads; the indexes stay as loaded.
        if (!(err instanceof CorruptionError)) throw err
      }
      if ((this.timeIndex.last()?.timestamp ?? -1) < tailMax) this.timeIndex = null
    }
    if (!this.index || !this.timeIndex) this.rebuildIndexes()
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

  /** Records a batch at `pos` in the in-memory indexes and tallies. */
  private track(baseOffset: number, lastOffset: number, maxTimestamp: number, pos: number, size: number): void {
    if (this.bytesSinceIndexEntry > this.indexIntervalBytes) {
      this.index!.append(baseOffset, pos)
      this.timeIndex!.maybeAppend(this.maxTs, baseOffset)
      this.bytesSinceIndexEntry = 0
    }
    this.bytesSinceIndexEntry += size
    if (maxTimestamp > this.maxTs) this.maxTs = maxTimestamp
    this.lastBatchBase = baseOffset
    this.nextOffset = lastOffset + 1
  }

  /**
   * Appends batches that are already validated and carry their final offsets, in one write.
   * Called only from Log.append. On a write error the file is cut back to its previous size (or,
   * when that fails too, before the next append).
   */
  append(batches: readonly Buffer[], infos: readonly AppendedBatch[], nowMs: number): void {
    const idx = this.offsetIndex()
    this.timeIdx()
    const start = this.size
    let next = this.nextOffset
    for (const info of infos) {
      assert(info.baseOffset >= next && info.lastOffset >= info.baseOffset, `offsets must increase: ${info.baseOffset} < ${next}`)
      next = info.lastOffset + 1
    }
    if (this.tornTail) {
      this.handle.truncate(start)
      this.tornTail = false
    }
    try {
      this.handle.write(batches, start)
    } catch (err) {
      try {
        this.handle.truncate(start)
      } catch {
        this.tornTail = true
      }
      throw err
    }
    if (start === 0) this.rollBaseMs = nowMs
    let pos = start
    for (const info of infos) {
      this.track(info.baseOffset, info.lastOffset, info.maxTimestamp, pos, info.size)
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
    const chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(BATCH_HEADER_BYTES, to - from)))
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
      if (batchLength < BATCH_LENGTH_MIN || pos + size > to) {
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
  }

  /** Position and header of the first batch whose last offset is ≥ `offset`, or null when none is. */
  locate(offset: number, limit = this.size, from?: number): { position: number; header: BatchHeader } | null {
    let start = from ?? this.offsetIndex().lookup(offset).position
    for (;;) {
      let found: { position: number; header: BatchHeader } | null = null
      let expect = this.baseOffset
      try {
        this.scan(start, limit, (h, pos) => {
          expect = h.baseOffset + h.lastOffsetDelta + 1
          if (h.baseOffset + h.lastOffsetDelta >= offset) {
            found = { position: pos, header: h }
            return false
          }
          return true
        })
        return found
      } catch (err) {
        // A corrupt batch between the index entry and the offset: skip to the next batch that checks
        // out, unless the offset may lie in the corrupt one (then its error stands).
        if (!(err instanceof CorruptionError) || err.position === undefined) throw err
        const next = findNextBatch(this, err.position + 1, limit, expect, this.nextOffset)
        if (next < 0 || this.baseOffsetAt(next) > offset) throw err
        start = next
      }
    }
  }

  /** The baseOffset field of the batch at file position `position` (unchecked). */
  baseOffsetAt(position: number): number {
    const b = Buffer.allocUnsafe(8)
    this.handle.read(b, 0, 8, position)
    return b.readInt32BE(0) * 0x1_0000_0000 + b.readUInt32BE(4)
  }

  /**
   * Whole batches starting with the one that holds `offset`, at most `maxBytes` of them but always at
   * least one (KIP-74). `limit` bounds the position read (e.g. a reader's view of the end).
   */
  read(offset: number, maxBytes: number, limit = this.size, from?: number): { bytes: Buffer; position: number } | null {
    const at = this.locate(offset, limit, from)
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

  /**
   * First offset at or after `fromOffset` whose record timestamp is ≥ `timestamp`, or null when
   * every such record is older.
   */
  offsetForTimestamp(timestamp: number, fromOffset = this.baseOffset): number | null {
    if (this.maxTimestamp < timestamp) return null
    const start = Math.max(this.timeIdx().scanStart(timestamp), fromOffset)
    const at = this.locate(start)
    if (!at) return null
    let result: number | null = null
    this.scan(at.position, this.size, (h, pos, size) => {
      if (h.maxTimestamp < timestamp) return true
      const buf = Buffer.allocUnsafe(size)
      this.handle.read(buf, 0, size, pos)
      const bad = checkBatch(buf, 0)
      if (bad) throw new CorruptionError(`bad batch (${bad})`, this.file, pos)
      let recs: ReturnType<typeof decodeRecords>
      try {
        recs = decodeRecords(buf, 0)
      } catch (err) {
        throw new CorruptionError(`undecodable batch (${(err as Error).message})`, this.file, pos, { cause: err })
      }
      for (const r of recs) {
        if (r.timestamp >= timestamp && r.offset >= fromOffset) {
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
    const chunk: Chunk = { buf: Buffer.allocUnsafe(Math.min(RECOVER_CHUNK_BYTES, Math.max(fileSize, BATCH_HEADER_BYTES))), pos: 0, len: 0 }
    let pos = 0
    let invalid: { position: number; reason: string } | undefined
    while (pos < fileSize) {
      const next = Math.max(expectOffset, this.nextOffset)
      const r = validateBatchAt(this.handle, this.baseOffset, chunk, pos, fileSize, next)
      if (typeof r === 'string') {
        if (next < mustBeValidBelow) throw new CorruptionError(`invalid batch below the recovery point (${r})`, this.file, pos)
        invalid = { position: pos, reason: r }
        break
      }
      if (pos === 0) this.noteFirstBatch(r.h)
      this.track(r.h.baseOffset, r.h.baseOffset + r.h.lastOffsetDelta, r.h.maxTimestamp, pos, r.size)
      pos += r.size
    }
    const truncatedBytes = fileSize - pos
    if (truncate) {
      if (truncatedBytes > 0) this.handle.truncate(pos)
      // Validated bytes may still sit only in the page cache: the next flush makes them durable
      // before the recovery point moves past them.
      this.dirty = true
    }
    this.size = pos
    return invalid ? { truncatedBytes, invalidAt: invalid } : { truncatedBytes }
  }

  /**
   * Read-only tailing: takes in the whole, valid batches another process appended since the last
   * look, stopping at the first incomplete one (still being written). A file that shrank (the
   * writer cut a tail at its recovery) is scanned again from the start. Returns the batches added.
   */
  extend(): number {
    const fileSize = this.handle.size()
    if (fileSize < this.size) {
      this.recover(this.baseOffset, 0, false)
      return 1
    }
    if (fileSize === this.size) return 0
    this.offsetIndex()
    this.timeIdx()
    const chunk: Chunk = { buf: Buffer.allocUnsafe(Math.min(RECOVER_CHUNK_BYTES, Math.max(fileSize - this.size, BATCH_HEADER_BYTES))), pos: 0, len: 0 }
    let n = 0
    while (this.size < fileSize) {
      const r = validateBatchAt(this.handle, this.baseOffset, chunk, this.size, fileSize, this.nextOffset)
      if (typeof r === 'string') break
      if (this.size === 0) this.noteFirstBatch(r.h)
      this.track(r.h.baseOffset, r.h.baseOffset + r.h.lastOffsetDelta, r.h.maxTimestamp, this.size, r.size)
      this.size += r.size
      n++
    }
    return n
  }

  /** Makes the .log durable. */
  async sync(): Promise<void> {
    this.dirty = false
    this.syncsInFlight++
    try {
      await this.handle.sync()
    } catch (err) {
      this.dirty = true
      throw err
    } finally {
      if (--this.syncsInFlight === 0 && this.closeWhenSynced) this.handle.close()
    }
  }

  /**
   * Writes both in-memory indexes to their files and fsyncs them (when sealing and at a clean
   * close). The files are written before the first await, so a directory fsync started after this
   * call covers their creation.
   */
  async syncIndexes(): Promise<void> {
    const tix = this.timeIdx()
    // A final entry makes the time index's last entry the segment's largest timestamp (as Kafka).
    if (this.maxTs >= 0 && this.lastBatchBase >= 0) tix.maybeAppend(this.maxTs, this.lastBatchBase)
    await writeFilesDurably(this.io, [
      [this.sibling(INDEX_SUFFIX), this.offsetIndex().toBuffer()],
      [this.sibling(TIME_INDEX_SUFFIX), tix.toBuffer()],
    ])
  }

  /** Closes the .log; with an fsync in flight (retention or the cleaner dropping it), once that ends. */
  close(): void {
    if (this.syncsInFlight > 0) this.closeWhenSynced = true
    else this.handle.close()
  }

  /** Raw bytes from file position `position` into `buf` (for verify); returns the count read. */
  readRaw(buf: Buffer, position: number, length: number): number {
    return this.handle.read(buf, 0, length, position)
  }

  /** Closes and removes the segment's files. */
  deleteFiles(): void {
    this.close()
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) this.io.unlink(this.sibling(suffix))
  }
}
