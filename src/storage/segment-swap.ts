// The files of one segment swap: how the cleaner replaces a group of consecutive sealed segments
// by one rewritten segment so that a crash at any step leaves a log that opens whole, and how open
// finishes what a crash interrupted.
//
// One swap (base = the base offset of the group's first segment):
//   1. write `<base>.log.cleaned`, `.index.cleaned`, `.timeindex.cleaned`; fsync them
//   2. rename them to `.swap`, the .log last: `<base>.log.swap` is the commit point; fsync the dir
//   3. in one synchronous step (installSwap, inside Log.replaceSegments): move each old `.log` aside
//      to `.log.deleted` and unlink the other old indexes, rename the `.swap` files to
//      `<base>.log`/`.index`/`.timeindex`, open the new segment and put it in the segment list;
//      then fsync the dir
//   4. delete the `.deleted` files a few MiB at a time (freeing a 1 GiB file in one unlink or close
//      blocks the event loop ~180 ms)
// The cleaner keeps a group's last batch (empty when all its records go), so a swap file ends where
// its group ended. At open, completeInterruptedSwaps deletes every `.cleaned`, index `.swap` and
// `.deleted` file, and completes each `<base>.log.swap`: it deletes the segment files whose base
// offset is in (base, end of the swap's last batch), drops `<base>`'s indexes (rebuilt from the
// .log when next needed) and renames the swap to `<base>.log`.
import createDebug from 'debug'
import * as path from 'node:path'
import { CorruptionError } from '../errors.js'
import { assert, VERIFY } from '../util/assert.js'
import { writeFilesDurably, type FileHandle, type FileIO } from '../util/file-io.js'
import { INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, offsetFileName, parseSegmentFileName } from './file-names.js'
import { OffsetIndex } from './offset-index.js'
import { BATCH_HEADER_BYTES, LOG_OVERHEAD, checkBatch, readBatchHeader, type BatchHeader } from './record-batch.js'
import { Segment } from './segment.js'
import { TimeIndex } from './time-index.js'

const debug = createDebug('kafkalite:cleaner')

export const CLEANED_SUFFIX = '.cleaned'
export const SWAP_SUFFIX = '.swap'
/** A replaced .log waiting to be deleted (Kafka's suffix too). */
export const DELETED_SUFFIX = '.deleted'
const SEGMENT_SUFFIXES = [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] as const

/** Output is written in runs of about this size. */
const WRITE_BYTES = 1024 * 1024
/** Position of maxTimestamp in a batch (see record-batch.ts). */
const MAX_TIMESTAMP_AT = 35
/** A swap file is read in chunks of this size at open. */
const SCAN_CHUNK_BYTES = 1024 * 1024
/** Bytes freed per step when a big file is deleted (a few ms of work each). */
const RELEASE_STEP_BYTES = 8 * 1024 * 1024

export interface SwapRecoveryReport {
  cleanedFilesDeleted: number
  /** Replaced .log files a pass had not finished deleting. */
  deletedFilesRemoved: number
  swapsCompleted: Array<{ baseOffset: number; endOffset: number; segmentsDeleted: number }>
}

const segmentFile = (dir: string, base: number, suffix: string) => path.join(dir, offsetFileName(base, suffix))
const cleanedFile = (dir: string, base: number, suffix: string) => segmentFile(dir, base, suffix) + CLEANED_SUFFIX
const swapFile = (dir: string, base: number, suffix: string) => segmentFile(dir, base, suffix) + SWAP_SUFFIX
export const deletedFile = (dir: string, base: number) => segmentFile(dir, base, LOG_SUFFIX) + DELETED_SUFFIX

/**
 * Writes a cleaned segment to `<base>.log.cleaned` with its two indexes, built as Segment builds
 * them on append (an entry every indexIntervalBytes, the time index a running maximum). Used only
 * by the cleaner, one writer per group being rewritten.
 */
export class CleanedSegmentWriter {
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
    try {
      await writeFilesDurably(
        this.io,
        [
          [cleanedFile(this.dir, this.base, INDEX_SUFFIX), this.index.toBuffer()],
          [cleanedFile(this.dir, this.base, TIME_INDEX_SUFFIX), this.timeIndex.toBuffer()],
        ],
        [this.handle],
      )
    } finally {
      this.open = false
    }
  }

  /** Renames the three files to `.swap`, the .log last: from then on open completes the swap. */
  commit(): void {
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]) {
      this.io.rename(cleanedFile(this.dir, this.base, suffix), swapFile(this.dir, this.base, suffix))
    }
  }

  /**
   * Removes whatever this writer left, the written file a little at a time (best effort: open
   * removes the rest).
   */
  async discard(pause: () => Promise<void>): Promise<void> {
    if (this.open) {
      this.open = false
      try {
        this.handle.close()
      } catch {
        // already closed
      }
    }
    // The .log swap first: without it the other files are leftovers that open deletes.
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      for (const file of [swapFile(this.dir, this.base, suffix), cleanedFile(this.dir, this.base, suffix)]) {
        try {
          if (this.io.exists(file)) await deleteGradually(this.io, file, suffix === LOG_SUFFIX ? pause : null)
        } catch {
          // Left for the next open, which deletes `.cleaned` files and completes a `.log.swap`.
        }
      }
    }
  }
}

/**
 * Deletes `file`, freeing its pages a step at a time between pauses (closing or unlinking a 1 GiB
 * file frees them all in one system call, ~180 ms here); at once when `pause` is null.
 */
export async function deleteGradually(io: FileIO, file: string, pause: (() => Promise<void>) | null): Promise<void> {
  if (pause && io.exists(file)) {
    const handle = io.open(file, { create: false })
    try {
      for (let size = handle.size(); size > 0; ) {
        size = Math.max(0, size - RELEASE_STEP_BYTES)
        handle.truncate(size)
        if (size > 0) await pause()
      }
    } finally {
      handle.close()
    }
  }
  io.unlink(file)
}

/**
 * Step 3 of a swap, file by file: moves the old segments of `group` aside (`.log.deleted`), puts the
 * committed `.swap` files in their place and opens the new segment. Synchronous, so that it runs
 * with the change of the segment list as one step. Called only inside Log.replaceSegments.
 */
export function installSwap(io: FileIO, group: readonly Segment[], indexIntervalBytes: number, nowMs: number): Segment {
  const first = group[0]!
  const { dir, baseOffset: base } = first
  for (const seg of group) {
    if (seg !== first) for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) io.unlink(seg.sibling(suffix))
    io.rename(seg.sibling(LOG_SUFFIX), deletedFile(dir, seg.baseOffset))
  }
  for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]) io.rename(swapFile(dir, base, suffix), segmentFile(dir, base, suffix))
  return Segment.open(io, dir, base, indexIntervalBytes, false, nowMs)
}

// ------------------------------------------------------------------------------- open-time recovery

/**
 * Finishes or removes what an interrupted cleaner left in a partition directory (see the top of
 * this file); called by Log.open before it lists segments. Returns null when there was nothing.
 */
export async function completeInterruptedSwaps(io: FileIO, dir: string): Promise<SwapRecoveryReport | null> {
  if (!io.exists(dir)) return null
  const report: SwapRecoveryReport = { cleanedFilesDeleted: 0, deletedFilesRemoved: 0, swapsCompleted: [] }
  const swaps: number[] = []
  let touched = false
  for (const name of io.readdir(dir)) {
    if (parseSegmentFileName(name, LOG_SUFFIX + DELETED_SUFFIX) !== null) {
      io.unlink(path.join(dir, name))
      report.deletedFilesRemoved++
      touched = true
    }
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
    // Old segments the swap replaces, whole or with some of their files gone already.
    const covered = new Set<number>()
    for (const n of io.readdir(dir)) {
      for (const suffix of SEGMENT_SUFFIXES) {
        const b = parseSegmentFileName(n, suffix)
        if (b !== null && b > base && b < end) covered.add(b)
      }
    }
    for (const b of covered) for (const suffix of SEGMENT_SUFFIXES) io.unlink(segmentFile(dir, b, suffix))
    // The old first segment's indexes describe other bytes: the new ones are rebuilt from the .log.
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) io.unlink(segmentFile(dir, base, suffix))
    io.rename(file, segmentFile(dir, base, LOG_SUFFIX))
    report.swapsCompleted.push({ baseOffset: base, endOffset: end, segmentsDeleted: covered.size })
  }
  if (!touched) return null
  await io.syncDir(dir)
  debug('%s: removed %d uncommitted and %d replaced files, completed swaps %o', dir, report.cleanedFilesDeleted, report.deletedFilesRemoved, report.swapsCompleted)
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
        const h = checkedHeader(buf, p, file, pos + p)
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

/** The header of a batch whose CRC checked out; a header this codec cannot take is corruption too. */
export function checkedHeader(buf: Buffer, p: number, file: string, position: number): BatchHeader {
  try {
    return readBatchHeader(buf, p)
  } catch (err) {
    throw new CorruptionError(`unreadable batch header (${(err as Error).message})`, file, position, { cause: err })
  }
}

/**
 * Whole batches of `seg` from file position `position` (a batch boundary), up to `maxBytes` but at
 * least one batch; empty at the end of the segment. Sequential reads for the cleaner, which checks
 * each batch's CRC itself.
 */
export function readBatchesAt(seg: Segment, position: number, maxBytes: number): Buffer {
  assert(position >= 0 && position <= seg.size, `readAt ${position} outside ${seg.file} (${seg.size} bytes)`)
  if (position + LOG_OVERHEAD > seg.size) {
    if (position < seg.size) throw new CorruptionError('truncated batch header', seg.file, position)
    return Buffer.alloc(0)
  }
  const want = Math.min(Math.max(maxBytes, BATCH_HEADER_BYTES), seg.size - position)
  let buf = Buffer.allocUnsafe(want)
  let n = seg.readRaw(buf, position, want)
  if (n < LOG_OVERHEAD) throw new CorruptionError('truncated batch header', seg.file, position)
  const first = LOG_OVERHEAD + buf.readInt32BE(8)
  if (first < BATCH_HEADER_BYTES || position + first > seg.size) {
    throw new CorruptionError(`invalid batch length ${first - LOG_OVERHEAD}`, seg.file, position)
  }
  if (n < first) {
    buf = Buffer.allocUnsafe(first)
    n = seg.readRaw(buf, position, first)
    if (n < first) throw new CorruptionError('batch extends past end of file', seg.file, position)
  }
  let end = 0
  while (end + LOG_OVERHEAD <= n) {
    const size = LOG_OVERHEAD + buf.readInt32BE(end + 8)
    if (size < BATCH_HEADER_BYTES) throw new CorruptionError(`invalid batch length ${size - LOG_OVERHEAD}`, seg.file, position + end)
    if (end + size > n) break
    end += size
  }
  return end === buf.length ? buf : buf.subarray(0, end)
}
