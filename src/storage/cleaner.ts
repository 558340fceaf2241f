// Log compaction for one partition's Log (Kafka's LogCleaner, simplified). A pass maps each key to
// its latest offset over the dirty part of the sealed segments, then rewrites the sealed segments
// from the oldest, keeping a record when it is the latest of its key, and swaps the rewritten files in
// atomically. Offsets never change (a compacted log has gaps) and batch boundaries stay: each source
// batch becomes at most one batch with the same baseOffset and lastOffsetDelta, producer fields,
// compression and partition leader epoch.
//
// Called by the broker's cleaner timer: one pass per log at a time, never together with retention
// or deleteRecords on the same log (Kafka's cleaner and retention share the log's lock; here a
// segment removed under a pass just stops it before its swap). Reads may run at any time.
//
// One swap (base = the base offset of the group's first segment):
//   1. write `<base>.log.cleaned`, `.index.cleaned`, `.timeindex.cleaned`; fsync them
//   2. rename them to `.swap`, the .log last (`<base>.log.swap` is the commit point); fsync the dir
//   3. in one synchronous step: unlink the group's other segments, rename the `.swap` files over
//      `<base>.log`/`.index`/`.timeindex`, open the new segment, put it in the list; fsync the dir
// A group's last batch is always kept (as an empty batch when all its records go), so a swap file
// ends where its group ended. At open, completeInterruptedSwaps deletes every `.cleaned` file (an
// uncommitted swap) and every index `.swap`, and completes each `<base>.log.swap`: it deletes the
// segments whose base offset is in (base, end of the swap's last batch], drops `<base>`'s indexes
// (rebuilt from the .log when next needed) and renames the swap to `<base>.log`.
import createDebug from 'debug'
import * as path from 'node:path'
import { CorruptionError } from '../errors.js'
import { assert, VERIFY } from '../util/assert.js'
import { storageError, type FileHandle, type FileIO } from '../util/file-io.js'
import { INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, offsetFileName, parseSegmentFileName } from './file-names.js'
import type { Log } from './log.js'
import { OffsetIndex } from './offset-index.js'
import {
  LOG_OVERHEAD, checkBatch, decodeRecords, encodeRecordBatch, readBatchHeader, type BatchHeader, type DecodedRecord,
} from './record-batch.js'
import { Segment } from './segment.js'
import { TimeIndex } from './time-index.js'

const debug = createDebug('kafkalite:cleaner')

export const CLEANED_SUFFIX = '.cleaned'
export const SWAP_SUFFIX = '.swap'
const SEGMENT_SUFFIXES = [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] as const

/** Bytes read between two yields to the event loop. */
export const CLEANER_CHUNK_BYTES_DEFAULT = 256 * 1024
/** Memory bound of a pass's key → offset map (Kafka's log.cleaner.dedupe.buffer.size). */
export const OFFSET_MAP_BYTES_MAX_DEFAULT = 64 * 1024 * 1024
/** Estimated memory of one map entry besides its key bytes (V8 Map slot, string and number). */
const MAP_ENTRY_OVERHEAD_BYTES = 80
/** Output is written in runs of about this size. */
const WRITE_BYTES = 1024 * 1024
/** Position of maxTimestamp in a batch (see record-batch.ts). */
const MAX_TIMESTAMP_AT = 35
/** A swap file is read in chunks of this size at open. */
const SCAN_CHUNK_BYTES = 1024 * 1024

export interface CleanOptions {
  /** delete.retention.ms: a tombstone is dropped once its segment's largest timestamp is older than this. */
  deleteRetentionMs: number
  /** Current time in ms; default Date.now(). */
  now?: number
  /**
   * First offset not cleaned yet: the previous pass's nextDirtyOffset, or the log start offset when
   * unknown. Never pass more than the truth: a tombstone below it may be dropped at once.
   */
  firstDirtyOffset: number
  /** min.cleanable.dirty.ratio: no pass while dirtyRatio() is below it. Default: always run a pass. */
  minCleanableDirtyRatio?: number
  /**
   * Offsets from here on are never cleaned (Kafka: the least of the last stable offset, the active
   * segment and min.compaction.lag); only whole segments below it are. Default: the active segment.
   */
  firstUncleanableOffset?: number
  /** Bound of the key → offset map; a pass maps what fits and cleans up to there. */
  offsetMapBytesMax?: number
  /**
   * Last offset of each producer's last batch (Kafka's lastRecordsOfActiveProducers): such a batch,
   * once emptied, stays as an empty batch so producer state can be rebuilt from the log.
   */
  producerLastOffsets?: ReadonlyMap<number, number>
  /** Bytes read between two yields; default CLEANER_CHUNK_BYTES_DEFAULT. */
  chunkBytes?: number
  /** Awaited between chunks; default setImmediate. */
  yield?: () => Promise<void>
  /** Stops the pass at its next chunk, leaving no file behind (abort, then await, before closing). */
  signal?: AbortSignal
}

export interface CleanResult {
  /** A whole pass ran: every cleanable segment was rewritten (or found already clean). */
  cleaned: boolean
  /** Why a pass stopped early; segments swapped before that stay cleaned. */
  stopped?: 'aborted' | 'segments-changed' | 'log-failed'
  /** Dirty ratio before the pass. */
  dirtyRatio: number
  bytesRead: number
  /** Bytes of the segments swapped in. */
  bytesWritten: number
  recordsRemoved: number
  /** Source segments replaced by cleaned ones. */
  segmentsCleaned: number
  /** The next pass's firstDirtyOffset (persist it, as Kafka's cleaner-offset-checkpoint). */
  nextDirtyOffset: number
}

export interface SwapRecoveryReport {
  cleanedFilesDeleted: number
  swapsCompleted: Array<{ baseOffset: number; endOffset: number; segmentsDeleted: number }>
}

/**
 * Dirty bytes / cleanable bytes over the sealed segments that end at or before
 * `firstUncleanableOffset`; a segment holding any offset ≥ `firstDirtyOffset` counts as dirty.
 */
export function dirtyRatio(log: Log, firstDirtyOffset: number, firstUncleanableOffset = Infinity): number {
  let clean = 0
  let dirty = 0
  for (const seg of log.sealedSegments()) {
    if (seg.nextOffset > firstUncleanableOffset) break
    if (seg.nextOffset > firstDirtyOffset) dirty += seg.size
    else clean += seg.size
  }
  return clean + dirty === 0 ? 0 : dirty / (clean + dirty)
}

/** One compaction pass over `log` (see the top of this file). */
export async function cleanLog(log: Log, options: CleanOptions): Promise<CleanResult> {
  assert(options.deleteRetentionMs >= 0 && Number.isSafeInteger(options.firstDirtyOffset), 'cleanLog options')
  const firstUncleanable = options.firstUncleanableOffset ?? Infinity
  const result: CleanResult = {
    cleaned: false, dirtyRatio: dirtyRatio(log, options.firstDirtyOffset, firstUncleanable), bytesRead: 0, bytesWritten: 0,
    recordsRemoved: 0, segmentsCleaned: 0, nextDirtyOffset: options.firstDirtyOffset,
  }
  if (log.readOnly || log.failure) return result
  if (options.minCleanableDirtyRatio !== undefined && result.dirtyRatio < options.minCleanableDirtyRatio) return result
  // Sealed segments get their last fsync (and index files) first: no sync may be in flight on a
  // handle the swap closes.
  await log.flush()
  const segs = log.cleanableSegments(firstUncleanable)
  if (segs.length === 0) return result
  return new CleanerPass(log, options, result).run(segs)
}

/** Key → latest offset over the dirty range, bounded by an estimate of its memory. */
class OffsetMap {
  private readonly map = new Map<string, number>()
  private bytes = 0
  constructor(private readonly bytesMax: number) {}
  get full(): boolean {
    return this.bytes >= this.bytesMax
  }
  put(key: Buffer, offset: number): void {
    const n = this.map.size
    this.map.set(key.toString('latin1'), offset)
    if (this.map.size > n) this.bytes += key.length + MAP_ENTRY_OVERHEAD_BYTES
  }
  /** Latest offset of `key`, or -1 when it is not mapped. */
  latest(key: Buffer): number {
    return this.map.get(key.toString('latin1')) ?? -1
  }
}

type BatchVisitor = (buf: Buffer, pos: number, h: BatchHeader) => boolean

class CleanerPass {
  private readonly now: number
  private readonly chunkBytes: number
  private readonly pause: () => Promise<void>

  constructor(private readonly log: Log, private readonly o: CleanOptions, private readonly result: CleanResult) {
    this.now = o.now ?? Date.now()
    this.chunkBytes = o.chunkBytes ?? CLEANER_CHUNK_BYTES_DEFAULT
    this.pause = o.yield ?? (() => new Promise<void>((resolve) => setImmediate(resolve)))
  }

  async run(segs: Segment[]): Promise<CleanResult> {
    const from = Math.max(this.o.firstDirtyOffset, segs[0]!.baseOffset)
    const map = new OffsetMap(this.o.offsetMapBytesMax ?? OFFSET_MAP_BYTES_MAX_DEFAULT)
    let mapEnd = segs[segs.length - 1]!.nextOffset
    for (const seg of segs) {
      if (seg.nextOffset <= from || map.full) continue
      const start = seg.baseOffset < from ? seg.locate(from)?.position ?? seg.size : 0
      const whole = await this.forEachBatch(seg, start, segs, (buf, pos, h) => {
        if (h.isControl) return true
        for (const r of this.decode(seg, buf, pos)) if (r.key !== null && r.offset >= from) map.put(r.key, r.offset)
        if (!map.full) return true
        mapEnd = h.baseOffset + h.lastOffsetDelta + 1
        return false
      })
      if (!whole) return this.result
    }
    debug('%s: mapped [%d, %d)%s', this.log.dir, from, mapEnd, map.full ? ' (map full)' : '')
    const toClean = segs.filter((s) => s.baseOffset < mapEnd)
    for (const group of groupSegments(toClean, this.log.config.segmentBytes)) {
      if (!(await this.cleanGroup(group, map, mapEnd))) return this.result
    }
    this.result.cleaned = true
    this.result.nextDirtyOffset = Math.max(this.o.firstDirtyOffset, mapEnd)
    return this.result
  }

  /**
   * Visits each batch of `seg` from file position `start`, CRC-checked, reading chunk by chunk and
   * yielding between chunks; `visit` returns false to stop. Returns false when the pass must stop
   * (aborted, the log failed, or `segs` are no longer all in the log).
   */
  private async forEachBatch(seg: Segment, start: number, segs: readonly Segment[], visit: BatchVisitor): Promise<boolean> {
    let filePos = start
    let expect = seg.baseOffset
    while (filePos < seg.size) {
      const buf = seg.readAt(filePos, this.chunkBytes)
      this.result.bytesRead += buf.length
      for (let p = 0; p < buf.length; ) {
        const bad = checkBatch(buf, p)
        if (bad) throw new CorruptionError(`bad record batch (${bad})`, seg.file, filePos + p)
        const h = readBatchHeader(buf, p)
        if (h.baseOffset < expect || h.baseOffset + h.lastOffsetDelta >= seg.nextOffset) {
          throw new CorruptionError(`batch ${h.baseOffset} out of order in segment ${seg.baseOffset}`, seg.file, filePos + p)
        }
        expect = h.baseOffset + h.lastOffsetDelta + 1
        if (!visit(buf, p, h)) return true
        p += LOG_OVERHEAD + h.batchLength
      }
      filePos += buf.length
      await this.pause()
      if (!this.mayGoOn(segs)) return false
    }
    return true
  }

  private mayGoOn(segs: readonly Segment[]): boolean {
    if (this.o.signal?.aborted) this.result.stopped = 'aborted'
    else if (this.log.failure) this.result.stopped = 'log-failed'
    else if (!this.log.holdsSegments(segs)) this.result.stopped = 'segments-changed'
    else return true
    debug('%s: pass stopped (%s)', this.log.dir, this.result.stopped)
    return false
  }

  private decode(seg: Segment, buf: Buffer, pos: number): DecodedRecord[] {
    try {
      return decodeRecords(buf, pos)
    } catch (err) {
      throw new CorruptionError(`undecodable records (${(err as Error).message})`, seg.file, -1, { cause: err })
    }
  }

  /** Rewrites one group of segments into one and swaps it in. Returns false when the pass must stop. */
  private async cleanGroup(group: Segment[], map: OffsetMap, mapEnd: number): Promise<boolean> {
    const log = this.log
    const io = log.fileIO
    const base = group[0]!.baseOffset
    const out = new CleanedSegmentWriter(io, log.dir, base, log.config.indexIntervalBytes)
    let changed = group.length > 1
    try {
      let lastDropped: BatchHeader | null = null
      for (const seg of group) {
        const retainDeletes = this.now - seg.maxTimestamp <= this.o.deleteRetentionMs
        const whole = await this.forEachBatch(seg, 0, group, (buf, pos, h) => {
          const size = LOG_OVERHEAD + h.batchLength
          if (h.isControl) {
            out.add(buf.subarray(pos, pos + size), h)
            lastDropped = null
            return true
          }
          const records = this.decode(seg, buf, pos)
          const kept = records.filter((r) => retain(r, map, mapEnd, retainDeletes))
          this.result.recordsRemoved += records.length - kept.length
          if (kept.length === records.length) {
            out.add(buf.subarray(pos, pos + size), h)
            lastDropped = null
            return true
          }
          changed = true
          if (kept.length > 0 || this.o.producerLastOffsets?.get(h.producerId) === h.baseOffset + h.lastOffsetDelta) {
            out.add(rewriteBatch(h, kept), h)
            lastDropped = null
          } else lastDropped = h
          return true
        })
        if (!whole) {
          out.discard()
          return false
        }
      }
      if (lastDropped) out.add(rewriteBatch(lastDropped, []), lastDropped)
      if (!changed) {
        out.discard()
        return true
      }
      await out.finish()
      if (!this.mayGoOn(group)) {
        out.discard()
        return false
      }
      out.commit()
      await io.syncDir(log.dir)
    } catch (err) {
      out.discard()
      throw err
    }
    const swapped = log.replaceSegments(group, (nextOffset) => {
      for (const seg of group.slice(1)) for (const suffix of SEGMENT_SUFFIXES) io.unlink(seg.sibling(suffix))
      for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]) io.rename(swapFile(log.dir, base, suffix), segmentFile(log.dir, base, suffix))
      const seg = Segment.open(io, log.dir, base, log.config.indexIntervalBytes, false, this.now)
      assert(seg.size === out.size && out.lastOffset < nextOffset, `swapped-in segment ${base} is not the one written`)
      return seg
    })
    if (!swapped) {
      out.discard()
      this.mayGoOn(group)
      this.result.stopped ??= 'segments-changed'
      return false
    }
    try {
      await io.syncDir(log.dir)
    } catch (err) {
      log.failure = storageError('syncDir after a segment swap', log.dir, err)
      throw log.failure
    }
    this.result.bytesWritten += out.size
    this.result.segmentsCleaned += group.length
    return true
  }
}

/**
 * Kafka's shouldRetainRecord: records past the mapped range, and key-less ones (which cannot be
 * compacted), stay; otherwise a record stays when it is the latest of its key, a tombstone only
 * while its segment is within deleteRetentionMs.
 */
function retain(r: DecodedRecord, map: OffsetMap, mapEnd: number, retainDeletes: boolean): boolean {
  if (r.offset >= mapEnd || r.key === null) return true
  if (r.offset < map.latest(r.key)) return false
  return r.value !== null || retainDeletes
}

/** The batch `h` holding only `kept` (possibly none), with its offsets and producer fields. */
function rewriteBatch(h: BatchHeader, kept: DecodedRecord[]): Buffer {
  // A LogAppendTime batch decodes every record with its maxTimestamp, which stays the batch's.
  return encodeRecordBatch(
    kept.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, offsetDelta: r.offset - h.baseOffset })),
    {
      baseOffset: h.baseOffset, lastOffsetDelta: h.lastOffsetDelta, compression: h.compression, timestampType: h.timestampType,
      producerId: h.producerId, producerEpoch: h.producerEpoch, baseSequence: h.baseSequence, transactional: h.isTransactional,
      partitionLeaderEpoch: h.partitionLeaderEpoch, emptyBatchTimestamp: h.maxTimestamp,
    },
  )
}

/** Consecutive segments whose sizes add up to at most `segmentBytes` (one at least), as Kafka. */
function groupSegments(segs: readonly Segment[], segmentBytes: number): Segment[][] {
  const groups: Segment[][] = []
  let cur: Segment[] = []
  let bytes = 0
  for (const seg of segs) {
    // Relative offsets in the indexes are int32.
    if (cur.length > 0 && (bytes + seg.size > segmentBytes || seg.nextOffset - 1 - cur[0]!.baseOffset > 0x7fffffff)) {
      groups.push(cur)
      cur = []
      bytes = 0
    }
    cur.push(seg)
    bytes += seg.size
  }
  if (cur.length > 0) groups.push(cur)
  return groups
}

const segmentFile = (dir: string, base: number, suffix: string) => path.join(dir, offsetFileName(base, suffix))
const cleanedFile = (dir: string, base: number, suffix: string) => segmentFile(dir, base, suffix) + CLEANED_SUFFIX
const swapFile = (dir: string, base: number, suffix: string) => segmentFile(dir, base, suffix) + SWAP_SUFFIX

/**
 * Writes a cleaned segment to `<base>.log.cleaned` with its two indexes, built as Segment builds
 * them on append (an entry every indexIntervalBytes, the time index a running maximum).
 */
class CleanedSegmentWriter {
  private readonly handle: FileHandle
  private readonly index: OffsetIndex
  private readonly timeIndex: TimeIndex
  private pending: Buffer[] = []
  private pendingBytes = 0
  private bytesSinceIndexEntry = 0
  private maxTs = -1
  private lastBatchBase = -1
  private open = true
  size = 0
  lastOffset = -1

  constructor(private readonly io: FileIO, private readonly dir: string, readonly base: number, private readonly indexIntervalBytes: number) {
    this.handle = io.open(cleanedFile(dir, base, LOG_SUFFIX), { create: true })
    this.handle.truncate(0)
    this.index = new OffsetIndex(base)
    this.timeIndex = new TimeIndex(base)
  }

  add(batch: Buffer, h: BatchHeader): void {
    assert(this.open && h.baseOffset > this.lastOffset && h.baseOffset >= this.base, `cleaned batch ${h.baseOffset} after ${this.lastOffset}`)
    if (VERIFY) {
      assert(checkBatch(batch, 0) === null, 'writing an invalid cleaned batch')
      const w = readBatchHeader(batch, 0)
      assert(w.baseOffset === h.baseOffset && w.lastOffsetDelta === h.lastOffsetDelta, `cleaned batch ${w.baseOffset} is not ${h.baseOffset}`)
    }
    if (this.bytesSinceIndexEntry > this.indexIntervalBytes) {
      this.index.append(h.baseOffset, this.size)
      this.timeIndex.maybeAppend(this.maxTs, h.baseOffset)
      this.bytesSinceIndexEntry = 0
    }
    this.bytesSinceIndexEntry += batch.length
    const maxTs = batch.readInt32BE(MAX_TIMESTAMP_AT) * 0x100000000 + batch.readUInt32BE(MAX_TIMESTAMP_AT + 4)
    if (maxTs > this.maxTs) this.maxTs = maxTs
    this.lastBatchBase = h.baseOffset
    this.lastOffset = h.baseOffset + h.lastOffsetDelta
    this.pending.push(batch)
    this.pendingBytes += batch.length
    this.size += batch.length
    if (this.pendingBytes >= WRITE_BYTES) this.writePending()
  }

  private writePending(): void {
    if (this.pendingBytes === 0) return
    this.handle.write(this.pending, this.size - this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
  }

  /** Writes what is left and both indexes, fsyncs the three files and closes them. */
  async finish(): Promise<void> {
    this.writePending()
    if (this.maxTs >= 0 && this.lastBatchBase >= 0) this.timeIndex.maybeAppend(this.maxTs, this.lastBatchBase)
    const handles = [this.handle]
    try {
      for (const [suffix, bytes] of [[INDEX_SUFFIX, this.index.toBuffer()], [TIME_INDEX_SUFFIX, this.timeIndex.toBuffer()]] as const) {
        const h = this.io.open(cleanedFile(this.dir, this.base, suffix), { create: true })
        handles.push(h)
        h.truncate(0)
        if (bytes.length > 0) h.write([bytes], 0)
      }
      await Promise.all(handles.map((h) => h.sync()))
    } finally {
      for (const h of handles) h.close()
      this.open = false
    }
  }

  /** Renames the three files to `.swap`, the .log last: from then on open completes the swap. */
  commit(): void {
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]) {
      this.io.rename(cleanedFile(this.dir, this.base, suffix), swapFile(this.dir, this.base, suffix))
    }
  }

  /** Removes whatever this writer left (best effort: open cleans up the rest). */
  discard(): void {
    this.open = false
    try {
      this.handle.close()
    } catch {
      // already closed
    }
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      for (const file of [swapFile(this.dir, this.base, suffix), cleanedFile(this.dir, this.base, suffix)]) {
        try {
          this.io.unlink(file)
        } catch {
          // Left for the next open, which deletes `.cleaned` files and completes a `.log.swap`.
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------- open-time recovery

/**
 * Finishes or removes what an interrupted cleaner left in a partition directory (see the top of
 * this file); called by Log.open before it lists segments. Returns null when there was nothing.
 */
export async function completeInterruptedSwaps(io: FileIO, dir: string): Promise<SwapRecoveryReport | null> {
  if (!io.exists(dir)) return null
  const report: SwapRecoveryReport = { cleanedFilesDeleted: 0, swapsCompleted: [] }
  const swaps: number[] = []
  let touched = false
  for (const name of io.readdir(dir)) {
    for (const suffix of SEGMENT_SUFFIXES) {
      if (parseSegmentFileName(name, suffix + CLEANED_SUFFIX) !== null) {
        io.unlink(path.join(dir, name))
        report.cleanedFilesDeleted++
        touched = true
      } else if (parseSegmentFileName(name, suffix + SWAP_SUFFIX) !== null) {
        if (suffix === LOG_SUFFIX) swaps.push(parseSegmentFileName(name, suffix + SWAP_SUFFIX)!)
        else io.unlink(path.join(dir, name))
        touched = true
      }
    }
  }
  for (const base of swaps.sort((a, b) => a - b)) {
    const file = swapFile(dir, base, LOG_SUFFIX)
    const end = swapEndOffset(io, file, base)
    const covered = io
      .readdir(dir)
      .map((n) => parseSegmentFileName(n, LOG_SUFFIX))
      .filter((b): b is number => b !== null && b > base && b < end)
    for (const b of covered) for (const suffix of SEGMENT_SUFFIXES) io.unlink(segmentFile(dir, b, suffix))
    // The old first segment's indexes describe other bytes: the new ones are rebuilt from the .log.
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) io.unlink(segmentFile(dir, base, suffix))
    io.rename(file, segmentFile(dir, base, LOG_SUFFIX))
    report.swapsCompleted.push({ baseOffset: base, endOffset: end, segmentsDeleted: covered.length })
  }
  if (!touched) return null
  await io.syncDir(dir)
  debug('%s: removed %d uncommitted cleaner files, completed swaps %o', dir, report.cleanedFilesDeleted, report.swapsCompleted)
  return report
}

/**
 * One past the last offset of the swap file's last batch (`base` when it is empty). Every batch is
 * checked: the file was fsync'd before it was renamed, so a bad one is corruption.
 */
function swapEndOffset(io: FileIO, file: string, base: number): number {
  const handle = io.open(file, { create: false, readOnly: true })
  try {
    const fileSize = handle.size()
    let end = base
    let buf = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(fileSize, LOG_OVERHEAD)))
    let pos = 0
    while (pos < fileSize) {
      let n = handle.read(buf, 0, Math.min(buf.length, fileSize - pos), pos)
      if (n < LOG_OVERHEAD) throw new CorruptionError('truncated batch in a segment swap file', file, pos)
      const first = LOG_OVERHEAD + buf.readInt32BE(8)
      if (first > n && first <= fileSize - pos) {
        buf = Buffer.allocUnsafe(first)
        n = handle.read(buf, 0, first, pos)
      }
      let p = 0
      while (p + LOG_OVERHEAD <= n && p + LOG_OVERHEAD + buf.readInt32BE(p + 8) <= n) {
        const bad = checkBatch(buf, p, n)
        if (bad) throw new CorruptionError(`bad record batch in a segment swap file (${bad})`, file, pos + p)
        const h = readBatchHeader(buf, p)
        if (h.baseOffset < end) throw new CorruptionError(`batch ${h.baseOffset} out of order in a segment swap file`, file, pos + p)
        end = h.baseOffset + h.lastOffsetDelta + 1
        p += LOG_OVERHEAD + h.batchLength
      }
      if (p === 0) throw new CorruptionError('bad record batch in a segment swap file (bad length)', file, pos)
      pos += p
    }
    return end
  } finally {
    handle.close()
  }
}
