// A partition's log: its segments in offset order, the last one active. Assigns offsets by
// patching each batch's baseOffset, rolls segments by size and age, reads whole batches through the
// offset index, and makes writes durable with group-committed fdatasyncs that advance the recovery
// point.
//
// Called only by Partition: appends and truncation from its write path, reads from anywhere.
import createDebug from 'debug'
import * as path from 'node:path'
import { CorruptionError, KafkaliteError, OffsetOutOfRangeError, StorageError } from '../errors.js'
import { assert, VERIFY } from '../util/assert.js'
import { storageError, type FileIO } from '../util/file-io.js'
import { checkBatch, setBaseOffset } from './record-batch.js'
import { readMaxTimestamp, trimToEnd, verifyBatches } from './read-checks.js'
import { Segment, type AppendedBatch } from './segment.js'
import { readPastCorrupt } from './verify.js'
import { followSegments, recoverSegments, segmentBases } from './log-segments.js'
import { completeInterruptedSwaps, type SwapRecoveryReport } from './segment-swap.js'

const debug = createDebug('kafkalite:log')


export interface LogConfig {
  segmentBytes: number
  segmentMs: number
  indexIntervalBytes: number
}

export interface LogOpenOptions {
  config: LogConfig
  /** Offset up to which the log is known flushed (from the checkpoint); 0 when unknown. */
  recoveryPoint: number
  logStartOffset: number
  /** The previous close was clean: trust every file, scan nothing. */
  clean: boolean
  readOnly: boolean
  now: () => number
}

export interface RecoveryReport {
  dir: string
  segmentsRecovered: number
  truncatedBytes: number
  deletedSegments: number
  invalidAt?: { file: string; position: number; reason: string }
}

export interface ReadResult {
  /** Whole record batches, possibly empty. */
  bytes: Buffer
  /** Segment file and position of the first batch (for error reports). */
  file: string
  position: number
}

export class Log {
  private segments: Segment[] = []
  private syncing = false
  private syncWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  private sealed: Segment[] = []
  private dirDirty = false
  /** Set after an fsync failure: the log accepts nothing more until reopened. */
  failure: StorageError | null = null
  recoveryPoint: number
  logStartOffset: number
  recovery: RecoveryReport | null = null

  private constructor(
    readonly dir: string,
    private readonly io: FileIO,
    readonly config: LogConfig,
    private readonly now: () => number,
    readonly readOnly: boolean,
    recoveryPoint: number,
    logStartOffset: number,
  ) {
    this.recoveryPoint = recoveryPoint
    this.logStartOffset = logStartOffset
  }

  static async open(io: FileIO, dir: string, opts: LogOpenOptions): Promise<Log> {
    const log = new Log(dir, io, opts.config, opts.now, opts.readOnly, opts.recoveryPoint, opts.logStartOffset)
    if (!opts.readOnly) io.mkdirp(dir)
    if (!opts.readOnly) log.swapRecovery = await completeInterruptedSwaps(io, dir)
    const bases = segmentBases(io, dir)
    const nowMs = opts.now()
    const cfg = opts.config
    try {
      for (const base of bases) {
        log.segments.push(Segment.open(io, dir, base, cfg.indexIntervalBytes, opts.readOnly, nowMs))
      }
      // A read-only open after an unclean close recovers too, without cutting anything: an invalid
      // tail there is a batch still being written.
      if (!opts.clean) await log.recover(opts.recoveryPoint)
      else if (log.segments.length > 0) log.active.loadTail()
    } catch (err) {
      log.abandon()
      throw err
    }
    for (let i = 0; i + 1 < log.segments.length; i++) log.segments[i]!.nextOffset = log.segments[i + 1]!.baseOffset
    if (log.segments.length === 0) {
      if (opts.readOnly) return log
      log.segments.push(Segment.create(io, dir, opts.logStartOffset, cfg.indexIntervalBytes, nowMs))
      log.dirDirty = true
    }
    if (log.logStartOffset < log.segments[0]!.baseOffset) log.logStartOffset = log.segments[0]!.baseOffset
    if (log.logStartOffset > log.nextOffset) log.logStartOffset = log.nextOffset
    if (log.recoveryPoint > log.nextOffset) log.recoveryPoint = log.nextOffset
    return log
  }

  /** Unclean open: recoverSegments' scan and cut, then the indexes and a flush that make it durable. */
  private async recover(recoveryPoint: number): Promise<void> {
    const { first, report } = recoverSegments(this.segments, recoveryPoint, this.readOnly, this.dir)
    if (report.invalidAt) this.dirDirty = true
    // Drop empty segments left behind the active one (a crash right after a roll).
    while (this.segments.length > 1 && this.active.size === 0 && !this.readOnly) {
      this.segments.pop()!.deleteFiles()
      report.deletedSegments++
      this.dirDirty = true
    }
    // The active segment may now be one below the recovery point, which was not scanned.
    if (this.segments.length > 0 && this.segments.length <= first) this.active.loadTail()
    if (!this.readOnly) {
      for (const seg of this.segments.slice(first, -1)) await seg.syncIndexes()
      // Makes every recovered segment durable, so the recovery point may move past it.
      await this.flush()
    }
    this.recovery = report
    if (report.truncatedBytes > 0 || report.invalidAt) {
      debug('recovered %s: cut %d bytes, %d segments deleted, first invalid %o', this.dir, report.truncatedBytes, report.deletedSegments, report.invalidAt)
    }
  }

  /**
   * Read-only: takes in what the writer did since the last look — batches appended, segments rolled,
   * deleted by retention or swapped in by the cleaner. Returns true when the log end or start moved.
   */
  refresh(): boolean {
    assert(this.readOnly, 'refresh of a writable log')
    const end = this.nextOffset
    const start = this.logStartOffset
    const next = followSegments(this.io, this.dir, this.config.indexIntervalBytes, this.now(), this.segments)
    if (!next) return false
    this.segments = next
    if (next.length > 0 && this.logStartOffset < next[0]!.baseOffset) this.logStartOffset = next[0]!.baseOffset
    return this.nextOffset !== end || this.logStartOffset !== start
  }


  get active(): Segment {
    return this.segments[this.segments.length - 1]!
  }

  /** The log end offset: the next offset to be written. */
  get nextOffset(): number {
    return this.segments.length === 0 ? this.logStartOffset : this.active.nextOffset
  }

  get sizeInBytes(): number {
    let n = 0
    for (const s of this.segments) n += s.size
    return n
  }

  get segmentCount(): number {
    return this.segments.length
  }

  /** The segments, oldest first, the active one last (for verify; the array changes as the log does). */
  segmentList(): readonly Segment[] {
    return this.segments
  }

  /** Segment files, oldest first (for tools and tests). */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.file)
  }

  /**
   * Appends validated batches: patches each baseOffset, rolls as needed and writes each run of
   * batches that fits a segment with one write. Returns the first and last offsets assigned.
   */
  append(batches: readonly Buffer[]): { baseOffset: number; lastOffset: number } {
    if (this.failure) throw this.failure
    assert(!this.readOnly, 'append to a read-only log')
    const baseOffset = this.nextOffset
    // One roll decision for the whole append, as Kafka: the batches land in one segment with one
    // write, so an append is never split between two segments (a failure leaves none of it).
    let bytes = 0
    let offsets = 0
    for (const batch of batches) {
      if (VERIFY) assert(checkBatch(batch, 0) === null, 'appending an invalid batch')
      bytes += batch.length
      offsets += batch.readInt32BE(23) + 1
    }
    if (this.shouldRoll(bytes, baseOffset + offsets - 1)) {
      try {
        this.roll(baseOffset)
      } catch (err) {
        throw storageError('roll', this.dir, err)
      }
    }
    let next = baseOffset
    const infos: AppendedBatch[] = []
    for (const batch of batches) {
      const lastOffsetDelta = batch.readInt32BE(23)
      setBaseOffset(batch, 0, next)
      infos.push({ baseOffset: next, lastOffset: next + lastOffsetDelta, maxTimestamp: readMaxTimestamp(batch), size: batch.length })
      next += lastOffsetDelta + 1
    }
    try {
      this.active.append(batches, infos, this.now())
    } catch (err) {
      throw (err as NodeJS.ErrnoException)?.code && !(err instanceof KafkaliteError) ? storageError('append', this.active.file, err) : err
    }
    return { baseOffset, lastOffset: next - 1 }
  }

  private shouldRoll(appendBytes: number, lastOffset: number): boolean {
    const seg = this.active
    if (seg.size === 0) return false
    if (seg.size + appendBytes > this.config.segmentBytes) return true
    if (this.now() - seg.rollBaseMs > this.config.segmentMs) return true
    // Relative offsets in the indexes are int32.
    return lastOffset - seg.baseOffset > 0x7fffffff
  }

  /** Seals the active segment and starts a new one at `baseOffset`; the sealed one is flushed soon. */
  roll(baseOffset = this.nextOffset): void {
    const old = this.active
    if (old.size === 0 && old.baseOffset === baseOffset) return
    const seg = Segment.create(this.io, this.dir, baseOffset, this.config.indexIntervalBytes, this.now())
    this.sealed.push(old)
    old.nextOffset = baseOffset
    this.segments.push(seg)
    this.dirDirty = true
    debug('rolled %s at offset %d', this.dir, baseOffset)
  }

  /** Rolls the active segment when it is older than segmentMs (called by the broker's timers). */
  maybeRollByTime(): boolean {
    const seg = this.active
    if (seg.size > 0 && this.now() - seg.rollBaseMs > this.config.segmentMs) {
      this.roll()
      return true
    }
    return false
  }

  /**
   * Makes everything appended so far durable. Calls made while an fsync is running share the next
   * one (group commit). Resolves after the recovery point has advanced past those writes.
   */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.syncWaiters.push({ resolve, reject })
      if (!this.syncing) this.startSync()
    })
  }

  private startSync(): void {
    const waiters = this.syncWaiters
    this.syncWaiters = []
    this.syncing = true
    const upTo = this.nextOffset
    const sealed = this.sealed
    this.sealed = []
    const dirDirty = this.dirDirty
    this.dirDirty = false
    const work: Promise<void>[] = []
    for (const seg of this.segments) if (seg.dirty) work.push(seg.sync())
    for (const seg of sealed) if (this.segments.includes(seg)) work.push(seg.syncIndexes())
    if (dirDirty) work.push(this.io.syncDir(this.dir))
    Promise.all(work).then(
      () => {
        if (upTo > this.recoveryPoint) this.recoveryPoint = upTo
        this.syncing = false
        for (const w of waiters) w.resolve()
        if (this.syncWaiters.length > 0) this.startSync()
      },
      (err) => {
        // An fsync error may have dropped dirty pages: nothing written since the last good sync can
        // be trusted, so the log refuses work until it is reopened and recovered.
        const code = (err as NodeJS.ErrnoException)?.code ?? 'EIO'
        this.failure = new StorageError(`fsync failed in ${this.dir}: ${code}; reopen to recover`, false, { cause: err })
        this.syncing = false
        for (const w of [...waiters, ...this.syncWaiters.splice(0)]) w.reject(this.failure)
      },
    )
  }

  private segmentFor(offset: number): number {
    let lo = 0
    let hi = this.segments.length - 1
    let found = 0
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.segments[mid]!.baseOffset <= offset) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (at least one batch), never past
   * `endOffset` (the high watermark by default). `verify` checks every batch's CRC.
   */
  read(offset: number, maxBytes: number, endOffset = this.nextOffset, verify = true): ReadResult {
    if (!this.readOnly) return this.readOnce(offset, maxBytes, endOffset, verify)
    try {
      return this.readOnce(offset, maxBytes, endOffset, verify)
    } catch (err) {
      // A read-only log may still hold a segment the writer's cleaner has replaced and is freeing
      // (truncating) a step at a time: look at the files again and retry once.
      if (!(err instanceof CorruptionError)) throw err
      this.refresh()
      return this.readOnce(offset, maxBytes, Math.min(endOffset, this.nextOffset), verify)
    }
  }

  private readOnce(offset: number, maxBytes: number, endOffset: number, verify: boolean): ReadResult {
    if (offset < this.logStartOffset || offset > this.nextOffset) {
      throw new OffsetOutOfRangeError(
        `offset ${offset} is out of range [${this.logStartOffset}, ${this.nextOffset}] for ${path.basename(this.dir)}`,
      )
    }
    const empty: ReadResult = { bytes: Buffer.alloc(0), file: '', position: 0 }
    if (offset >= endOffset) return empty
    for (let i = this.segmentFor(offset); i < this.segments.length; i++) {
      const seg = this.segments[i]!
      const o = Math.max(offset, seg.baseOffset)
      let r = seg.read(o, maxBytes)
      while (r) {
        let bytes = trimToEnd(r.bytes, endOffset)
        try {
          if (verify || VERIFY) bytes = verifyBatches(bytes, seg.file, r.position, o)
          return { bytes, file: seg.file, position: r.position }
        } catch (err) {
          // The batch the index led to is corrupt: a later offset may still be readable past it.
          r = readPastCorrupt(seg, err, o, maxBytes)
          if (!r) throw err
        }
      }
    }
    return empty
  }

  /** First offset with a timestamp ≥ `timestamp`, or null when every record is older. */
  offsetForTimestamp(timestamp: number): number | null {
    for (const seg of this.segments) {
      if (seg.nextOffset <= this.logStartOffset) continue
      if (seg.maxTimestamp < timestamp) continue
      const o = seg.offsetForTimestamp(timestamp, Math.max(seg.baseOffset, this.logStartOffset))
      if (o !== null) return o
    }
    return null
  }

  /** Flushes, writes the active segment's indexes and closes every file. */
  async close(): Promise<void> {
    if (!this.readOnly && !this.failure) {
      await this.flush()
      await this.active.syncIndexes()
    }
    for (const seg of this.segments) seg.close()
  }

  /** Closes without flushing (a simulated crash, or after a failure). */
  abandon(): void {
    for (const seg of this.segments) seg.close()
  }

  // --- retention

  /**
   * Deletes whole segments from the oldest while `expired(segment)` holds (the active segment is
   * rolled first when it has expired too, so a quiet topic still expires) and moves the log start
   * offset up. Returns the number of segments deleted. Called only by the broker's retention pass.
   */
  async deleteOldSegments(
    expired: (s: { baseOffset: number; nextOffset: number; size: number; maxTimestamp: number }) => boolean,
    rollActive = true,
  ): Promise<number> {
    if (this.failure || this.readOnly) return 0
    let n = 0
    // An empty sealed segment holds nothing and always goes; otherwise the predicate decides.
    while (this.segments.length > 0 && (this.segments[0]!.size === 0 ? this.segments.length > 1 : expired(this.segments[0]!))) {
      if (this.segments.length === 1 && rollActive) this.roll()
      if (this.segments.length === 1) break
      const seg = this.segments.shift()!
      this.sealed = this.sealed.filter((s) => s !== seg)
      seg.deleteFiles()
      n++
    }
    if (n > 0) {
      const start = this.segments[0]!.baseOffset
      if (start > this.logStartOffset) this.logStartOffset = start
      await this.io.syncDir(this.dir)
      debug('retention deleted %d segments of %s, log start now %d', n, this.dir, this.logStartOffset)
    }
    return n
  }

  /** Segment sizes and largest timestamps, oldest first (for retention decisions and describe). */
  segmentInfo(): Array<{ baseOffset: number; nextOffset: number; size: number; maxTimestamp: number }> {
    return this.segments.map((s) => ({ baseOffset: s.baseOffset, nextOffset: s.nextOffset, size: s.size, maxTimestamp: s.maxTimestamp }))
  }

  /**
   * Moves the log start offset to `offset` (deleteRecords): offsets below it are no longer readable,
   * and segments wholly below it are deleted.
   */
  async advanceLogStart(offset: number): Promise<void> {
    if (offset < this.logStartOffset || offset > this.nextOffset) {
      throw new OffsetOutOfRangeError(`cannot delete records before ${offset}: valid range is [${this.logStartOffset}, ${this.nextOffset}]`)
    }
    this.logStartOffset = offset
    await this.deleteOldSegments((s) => s.nextOffset <= offset)
  }

  // --- compaction support (called only by cleaner.ts and segment-swap.ts)

  /** What open did about segment swaps an interrupted cleaner left behind (null: none found). */
  swapRecovery: SwapRecoveryReport | null = null

  /** The file layer, for the cleaner's `.cleaned` and `.swap` files. */
  get fileIO(): FileIO {
    return this.io
  }

  /** Every segment but the active one, oldest first. */
  sealedSegments(): readonly Segment[] {
    return this.segments.slice(0, -1)
  }

  /**
   * The segments the cleaner may rewrite: the longest run from the oldest of sealed segments that end
   * at or before `firstUncleanableOffset`, are below the recovery point and have no sync pending (so
   * no fsync is in flight on a handle the swap closes). Never the active segment.
   */
  cleanableSegments(firstUncleanableOffset: number): Segment[] {
    const out: Segment[] = []
    for (const seg of this.sealedSegments()) {
      if (seg.nextOffset > firstUncleanableOffset || seg.nextOffset > this.recoveryPoint) break
      if (seg.dirty || this.sealed.includes(seg)) break
      out.push(seg)
    }
    return out
  }

  /** Whether `segs` are still consecutive sealed segments of this log (retention may remove some). */
  holdsSegments(segs: readonly Segment[]): boolean {
    const i = segs.length > 0 ? this.segments.indexOf(segs[0]!) : -1
    if (i < 0 || i + segs.length >= this.segments.length) return false
    return segs.every((s, k) => this.segments[i + k] === s)
  }

  /**
   * Replaces the consecutive sealed segments `old` by the one `install(nextOffset)` puts in place and
   * opens (the cleaner's unlinks and renames), in one synchronous step: a read sees either the old
   * segments or the new one. Old handles close on a later tick. Returns false, doing nothing, when
   * `old` is no longer in the log or has a sync pending. When `install` throws, the files may be half
   * swapped: the log fails until it is reopened, and open completes the swap.
   */
  replaceSegments(old: readonly Segment[], install: (nextOffset: number) => Segment): boolean {
    if (this.failure || this.readOnly || !this.holdsSegments(old)) return false
    if (old.some((s) => s.dirty || this.sealed.includes(s))) return false
    const i = this.segments.indexOf(old[0]!)
    const nextOffset = this.segments[i + old.length]!.baseOffset
    let seg: Segment
    try {
      seg = install(nextOffset)
    } catch (err) {
      this.failure = storageError('segment swap', this.dir, err)
      throw err instanceof KafkaliteError ? err : this.failure
    }
    assert(seg.baseOffset === old[0]!.baseOffset, `swapped-in segment ${seg.baseOffset} replaces ${old[0]!.baseOffset}`)
    seg.nextOffset = nextOffset
    this.segments.splice(i, old.length, seg)
    setImmediate(() => {
      for (const s of old) s.close()
    })
    debug('swapped %d cleaned segments of %s for one at %d', old.length, this.dir, seg.baseOffset)
    return true
  }
}
