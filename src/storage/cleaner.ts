// Log compaction for one partition's Log (Kafka's LogCleaner, simplified). A pass maps each key to
// its latest offset over the dirty part of the sealed segments, then rewrites the sealed segments
// from the oldest, group by group (consecutive segments up to segmentBytes), keeping a record when
// it is the latest of its key, and swaps each rewritten group in atomically (segment-swap.ts).
// Offsets never change (a compacted log has gaps) and batch boundaries stay: each source batch
// becomes at most one batch with the same baseOffset and lastOffsetDelta, producer fields,
// compression and partition leader epoch. A tombstone (null value) goes once the segment holding it
// has a largest timestamp older than deleteRetentionMs (Kafka before KIP-534 used the segment's
// last-modified time); key-less records stay; control batches are copied as they are. Work goes in
// chunks of chunkBytes with a yield to the event loop between them.
//
// Called by the broker's cleaner timer: one pass per log at a time, never together with retention
// or deleteRecords on the same log (Kafka's cleaner and retention share the log's lock; here a
// segment removed under a pass just stops it before its swap). Reads and appends may run at any
// time; abort a pass (signal) and await it before closing the log.
import createDebug from 'debug'
import { CorruptionError } from '../errors.js'
import { assert } from '../util/assert.js'
import { storageError } from '../util/file-io.js'
import type { Log } from './log.js'
import {
  LOG_OVERHEAD, checkBatch, decodeRecords, encodeRecordBatch, forEachRecordKey, type BatchHeader, type DecodedRecord,
  type RecordKeyVisitor,
} from './record-batch.js'
import type { Segment } from './segment.js'
import { CleanedSegmentWriter, deleteGradually, deletedFile, checkedHeader, installSwap, readBatchesAt } from './segment-swap.js'

const debug = createDebug('kafkalite:cleaner')

/** Work between two yields to the event loop: bytes read, plus RECORD_WORK_BYTES per record. */
export const CLEANER_CHUNK_BYTES_DEFAULT = 128 * 1024
/** What one record costs, counted in bytes read (a gzip batch holds many records in few bytes). */
const RECORD_WORK_BYTES = 32
/** Memory bound of a pass's key → offset map (Kafka's log.cleaner.dedupe.buffer.size). */
export const OFFSET_MAP_BYTES_MAX_DEFAULT = 64 * 1024 * 1024
/** Estimated memory of one map entry besides its key bytes (V8 Map slot, string and number). */
const MAP_ENTRY_OVERHEAD_BYTES = 80

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
  /** Aborted transactions: their records go and never count as a key's latest value; markers stay. */
  abortedTransactions?: ReadonlyArray<{ producerId: number; firstOffset: number; lastOffset: number }>
  /** Work between two yields, in bytes read (plus a little per record); default CLEANER_CHUNK_BYTES_DEFAULT. */
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

/**
 * Key → latest offset over the dirty range, bounded by an estimate of its memory. Keys are compared
 * as bytes (a latin1 string maps each byte to one character), never by a hash, so no collision can
 * drop a record.
 */
class OffsetMap {
  private readonly map = new Map<string, number>()
  private bytes = 0
  constructor(private readonly bytesMax: number) {}
  get full(): boolean {
    return this.bytes >= this.bytesMax
  }
  /** Maps the key `data[start, start + length)` to `offset`. */
  put(data: Buffer, start: number, length: number, offset: number): void {
    const n = this.map.size
    this.map.set(data.toString('latin1', start, start + length), offset)
    if (this.map.size > n) this.bytes += length + MAP_ENTRY_OVERHEAD_BYTES
  }
  /** Latest offset of the key `data[start, start + length)`, or -1 when it is not mapped. */
  latest(data: Buffer, start: number, length: number): number {
    return this.map.get(data.toString('latin1', start, start + length)) ?? -1
  }
}

type BatchVisitor = (buf: Buffer, pos: number, h: BatchHeader) => boolean

class CleanerPass {
  private readonly now: number
  private readonly chunkBytes: number
  private readonly pause: () => Promise<void>
  private readonly map: OffsetMap
  /** Offsets from here on are past the map: kept as they are. */
  private mapEnd = Infinity
  /** Offsets below this are not mapped (clean already). */
  private mapFrom = 0
  // The verdicts on the records of the batch being filtered (see judge).
  private retainDeletes = true
  private verdicts = new Uint8Array(256)
  private judged = 0
  private kept = 0
  /** Work done since the last yield (see forEachBatch). */
  private work = 0
  /** Aborted transactions by producer id. */
  private readonly aborted = new Map<number, Array<{ firstOffset: number; lastOffset: number }>>()

  constructor(private readonly log: Log, private readonly o: CleanOptions, private readonly result: CleanResult) {
    this.now = o.now ?? Date.now()
    this.chunkBytes = o.chunkBytes ?? CLEANER_CHUNK_BYTES_DEFAULT
    this.pause = o.yield ?? (() => new Promise<void>((resolve) => setImmediate(resolve)))
    this.map = new OffsetMap(o.offsetMapBytesMax ?? OFFSET_MAP_BYTES_MAX_DEFAULT)
    for (const a of o.abortedTransactions ?? []) {
      const list = this.aborted.get(a.producerId) ?? []
      list.push(a)
      this.aborted.set(a.producerId, list)
    }
  }

  async run(segs: Segment[]): Promise<CleanResult> {
    const from = Math.max(this.o.firstDirtyOffset, segs[0]!.baseOffset)
    this.mapFrom = from
    let mapEnd = segs[segs.length - 1]!.nextOffset
    for (const seg of segs) {
      if (seg.nextOffset <= from || this.map.full) continue
      const start = seg.baseOffset < from ? seg.locate(from)?.position ?? seg.size : 0
      const whole = await this.forEachBatch(seg, start, segs, (buf, pos, h) => {
        if (h.isControl || this.isAborted(h)) return true
        this.keys(seg, buf, pos, this.mapKey)
        if (!this.map.full) return true
        mapEnd = h.baseOffset + h.lastOffsetDelta + 1
        return false
      })
      if (!whole) return this.result
    }
    this.mapEnd = mapEnd
    debug('%s: mapped [%d, %d)%s', this.log.dir, from, mapEnd, this.map.full ? ' (map full)' : '')
    const toClean = segs.filter((s) => s.baseOffset < mapEnd)
    for (const group of groupSegments(toClean, this.log.config.segmentBytes)) {
      if (!(await this.cleanGroup(group))) return this.result
    }
    this.result.cleaned = true
    this.result.nextDirtyOffset = Math.max(this.o.firstDirtyOffset, mapEnd)
    return this.result
  }

  private readonly mapKey: RecordKeyVisitor = (offset, data, keyStart, keyLength) => {
    if (keyLength >= 0 && offset >= this.mapFrom) this.map.put(data, keyStart, keyLength, offset)
  }

  /** Judges every record of the batch at `pos`; a batch of an aborted transaction keeps none. */
  private judgeBatch(seg: Segment, buf: Buffer, pos: number, h: BatchHeader): void {
    this.judged = 0
    this.kept = 0
    if (this.isAborted(h)) this.judged = h.recordCount
    else this.keys(seg, buf, pos, this.judge)
  }

  /** Whether the batch belongs to an aborted transaction. */
  private isAborted(h: BatchHeader): boolean {
    if (!h.isTransactional || h.isControl) return false
    for (const a of this.aborted.get(h.producerId) ?? []) if (a.firstOffset <= h.baseOffset && h.baseOffset < a.lastOffset) return true
    return false
  }

  /**
   * Kafka's shouldRetainRecord: records past the mapped range, and key-less ones (which cannot be
   * compacted), stay; otherwise a record stays when it is the latest of its key, a tombstone only
   * while its segment is within deleteRetentionMs.
   */
  private readonly judge: RecordKeyVisitor = (offset, data, keyStart, keyLength, valueIsNull) => {
    let keep = true
    if (offset < this.mapEnd && keyLength >= 0) {
      if (offset < this.map.latest(data, keyStart, keyLength)) keep = false
      else if (valueIsNull && !this.retainDeletes) keep = false
    }
    if (this.judged === this.verdicts.length) {
      const grown = new Uint8Array(this.judged * 2)
      grown.set(this.verdicts)
      this.verdicts = grown
    }
    this.verdicts[this.judged++] = keep ? 1 : 0
    if (keep) this.kept++
  }

  /**
   * Visits each batch of `seg` from file position `start`, CRC-checked, reading chunk by chunk and
   * yielding whenever chunkBytes of work is done (bytes, plus RECORD_WORK_BYTES per record, which
   * bounds the work on compressed batches too); `visit` returns false to stop. Returns false when
   * the pass must stop (aborted, the log failed, or `segs` are no longer all in the log).
   */
  private async forEachBatch(seg: Segment, start: number, segs: readonly Segment[], visit: BatchVisitor): Promise<boolean> {
    let filePos = start
    let expect = seg.baseOffset
    while (filePos < seg.size) {
      const buf = readBatchesAt(seg, filePos, this.chunkBytes)
      this.result.bytesRead += buf.length
      for (let p = 0; p < buf.length; ) {
        const bad = checkBatch(buf, p)
        if (bad) throw new CorruptionError(`bad record batch (${bad})`, seg.file, filePos + p)
        const h = checkedHeader(buf, p, seg.file, filePos + p)
        if (h.baseOffset < expect || h.baseOffset + h.lastOffsetDelta >= seg.nextOffset) {
          throw new CorruptionError(`batch ${h.baseOffset} out of order in segment ${seg.baseOffset}`, seg.file, filePos + p)
        }
        expect = h.baseOffset + h.lastOffsetDelta + 1
        if (!visit(buf, p, h)) return true
        p += LOG_OVERHEAD + h.batchLength
        this.work += LOG_OVERHEAD + h.batchLength + h.recordCount * RECORD_WORK_BYTES
        if (this.work >= this.chunkBytes && !(await this.breathe(segs))) return false
      }
      filePos += buf.length
    }
    return true
  }

  /** Yields to the event loop; false when the pass must stop. */
  private async breathe(segs: readonly Segment[]): Promise<boolean> {
    this.work = 0
    await this.pause()
    return this.mayGoOn(segs)
  }

  private mayGoOn(segs: readonly Segment[]): boolean {
    if (this.o.signal?.aborted) this.result.stopped = 'aborted'
    else if (this.log.failure) this.result.stopped = 'log-failed'
    else if (!this.log.holdsSegments(segs)) this.result.stopped = 'segments-changed'
    else return true
    debug('%s: pass stopped (%s)', this.log.dir, this.result.stopped)
    return false
  }

  private keys(seg: Segment, buf: Buffer, pos: number, visit: RecordKeyVisitor): void {
    try {
      forEachRecordKey(buf, pos, visit)
    } catch (err) {
      throw new CorruptionError(`undecodable records (${(err as Error).message})`, seg.file, -1, { cause: err })
    }
  }

  /** The records of the batch at `pos` that `judge` kept, decoded. */
  private keptRecords(seg: Segment, buf: Buffer, pos: number): DecodedRecord[] {
    let records: DecodedRecord[]
    try {
      records = decodeRecords(buf, pos)
    } catch (err) {
      throw new CorruptionError(`undecodable records (${(err as Error).message})`, seg.file, -1, { cause: err })
    }
    assert(records.length === this.judged, `decoded ${records.length} records, judged ${this.judged}`)
    return records.filter((_, i) => this.verdicts[i] === 1)
  }

  /** Whether cleaning `seg` would remove a record (it stops at the first). Null: the pass must stop. */
  private async wouldRemove(seg: Segment): Promise<boolean | null> {
    this.retainDeletes = this.now - seg.maxTimestamp <= this.o.deleteRetentionMs
    let found = false
    const whole = await this.forEachBatch(seg, 0, [seg], (buf, pos, h) => {
      if (h.isControl) return true
      this.judgeBatch(seg, buf, pos, h)
      found = this.kept < this.judged
      return !found
    })
    return whole ? found : null
  }

  /** Rewrites one group of segments into one and swaps it in. Returns false when the pass must stop. */
  private async cleanGroup(group: Segment[]): Promise<boolean> {
    if (group.length === 1) {
      // A segment alone in its group is rewritten only when it loses a record: a pass over a clean
      // log reads it and writes nothing.
      const remove = await this.wouldRemove(group[0]!)
      if (remove !== true) return remove === false
    }
    const log = this.log
    const io = log.fileIO
    const base = group[0]!.baseOffset
    const out = new CleanedSegmentWriter(io, log.dir, base, log.config.indexIntervalBytes)
    try {
      if (!(await this.rewrite(group, out))) {
        await out.discard(this.pause)
        return false
      }
      await out.finish()
      if (!this.mayGoOn(group)) {
        await out.discard(this.pause)
        return false
      }
      out.commit()
      await io.syncDir(log.dir)
    } catch (err) {
      await out.discard(this.pause)
      throw err
    }
    const swapped = log.replaceSegments(group, (nextOffset) => {
      const seg = installSwap(io, group, log.config.indexIntervalBytes, this.now)
      assert(seg.size === out.size && out.lastOffset < nextOffset, `swapped-in segment ${base} is not the one written`)
      return seg
    })
    if (!swapped) {
      await out.discard(this.pause)
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
    for (const seg of group) await deleteGradually(io, deletedFile(log.dir, seg.baseOffset), this.o.signal?.aborted ? null : this.pause)
    return true
  }

  /** Writes the cleaned records of `group` to `out`. Returns false when the pass must stop. */
  private async rewrite(group: Segment[], out: CleanedSegmentWriter): Promise<boolean> {
    let lastDropped: BatchHeader | null = null
    for (const seg of group) {
      this.retainDeletes = this.now - seg.maxTimestamp <= this.o.deleteRetentionMs
      const whole = await this.forEachBatch(seg, 0, group, (buf, pos, h) => {
        const size = LOG_OVERHEAD + h.batchLength
        if (!h.isControl) {
          this.judgeBatch(seg, buf, pos, h)
          this.result.recordsRemoved += this.judged - this.kept
        }
        if (h.isControl || this.kept === this.judged) {
          out.add(buf.subarray(pos, pos + size), h)
          lastDropped = null
        } else if (this.kept > 0 || this.o.producerLastOffsets?.get(h.producerId) === h.baseOffset + h.lastOffsetDelta) {
          out.add(rewriteBatch(h, this.kept > 0 ? this.keptRecords(seg, buf, pos) : []), h)
          lastDropped = null
        } else lastDropped = h
        return true
      })
      if (!whole) return false
    }
    // The group's last batch stays (empty) so the cleaned segment ends where the group did: open
    // knows from it which old segments a swap file replaces.
    if (lastDropped) out.add(rewriteBatch(lastDropped, []), lastDropped)
    return true
  }
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
