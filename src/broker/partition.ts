// A topic partition: its Log, the high watermark, and the readers waiting for new records.
// There is one replica, so the high watermark is the log end offset. Appends run synchronously on the
// caller's turn of the event loop (the write path), durability waits on the Log's group commit.
import { ClosedError, InvalidConfigError, InvalidRecordError, OffsetOutOfRangeError, OutOfOrderSequenceError, RecordTooLargeError } from '../errors.js'
import type { Log } from '../storage/log.js'
import { LOG_OVERHEAD, checkBatch, decodeRecords, readBatchHeader, setLogAppendTime } from '../storage/record-batch.js'
import { decodeControlRecordType } from '../storage/control-batch.js'
import { loadProducerState, replayProducerState, writeProducerSnapshot } from './producer-snapshot.js'
import { ProducerState, seqAdd, type Duplicate } from './producer-state.js'
import type { TopicConfig } from './topic-config.js'

export type Acks = 'all' | 'leader' | 'none'
export type Isolation = 'read_committed' | 'read_uncommitted'

export interface AppendInfo {
  baseOffset: number
  lastOffset: number
  /** The broker's timestamp for LogAppendTime topics, else -1. */
  logAppendTime: number
  /** The batches were appended before (a retry of an idempotent producer): their original offsets. */
  duplicate?: boolean
}

export interface ReadBatchesOptions {
  offset: number
  /** Soft limit: at least one whole batch is returned even when it is larger (KIP-74). */
  maxBytes?: number
  isolation?: Isolation
}

export interface ReadBatchesResult {
  /** Whole Kafka RecordBatch v2 batches, back to back, as stored on disk. */
  bytes: Buffer
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  abortedTransactions: Array<{ producerId: number; firstOffset: number }>
}

export const DEFAULT_FETCH_BYTES = 1024 * 1024

export class Partition {
  private listeners = new Set<() => void>()
  private closed = false
  /** Idempotent and transactional producers' state here (sequences, open and aborted transactions). */
  producers = new ProducerState()
  private snapshotting: Promise<void> | null = null

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly log: Log,
    private readonly config: () => TopicConfig,
    private readonly now: () => number,
  ) {}

  /** The next offset to be written; consumers read below it. */
  get highWatermark(): number {
    return this.log.nextOffset
  }

  /** The first offset of the earliest open transaction, or the high watermark when none is open. */
  get lastStableOffset(): number {
    return this.producers.firstUnstableOffset() ?? this.log.nextOffset
  }

  /** Rebuilds the producer state at open: its snapshot, then the batches after it. */
  loadProducerState(): void {
    this.producers = loadProducerState(this.log)
  }

  get logStartOffset(): number {
    return this.log.logStartOffset
  }

  get sizeInBytes(): number {
    return this.log.sizeInBytes
  }

  /**
   * Appends batches built by a producer (already validated). Assigns offsets, stamps LogAppendTime
   * when the topic asks for it, and wakes waiting readers.
   */
  append(batches: readonly Buffer[]): AppendInfo {
    if (this.closed) throw new ClosedError(`partition ${this.topic}-${this.index} is closed`)
    if (this.log.readOnly) throw new InvalidConfigError(`partition ${this.topic}-${this.index} was opened read-only`)
    const cfg = this.config()
    for (const b of batches) {
      if (b.length > cfg.maxMessageBytes) {
        throw new RecordTooLargeError(
          `record batch of ${b.length} bytes exceeds maxMessageBytes ${cfg.maxMessageBytes} of topic ${this.topic}`,
        )
      }
    }
    const idempotent = batches.some(hasProducerId)
    let markers: Array<'commit' | 'abort' | undefined> = []
    if (idempotent) {
      const dup = this.checkProducers(batches)
      if (dup) return { baseOffset: dup.baseOffset, lastOffset: dup.lastOffset, logAppendTime: -1, duplicate: true }
      markers = batches.map(controlType)
    }
    let logAppendTime = -1
    if (cfg.messageTimestampType === 'LogAppendTime') {
      logAppendTime = this.now()
      for (const b of batches) setLogAppendTime(b, 0, logAppendTime)
    }
    const segments = this.log.segmentCount
    const r = this.log.append(batches)
    // The batches now carry their offsets: record the producers' ones.
    batches.forEach((b, i) => {
      if (!idempotent || !hasProducerId(b)) return
      const h = readBatchHeader(b, 0)
      this.producers.apply(h, h.baseOffset, h.baseOffset + h.lastOffsetDelta, markers[i])
    })
    if (this.log.segmentCount !== segments) this.snapshotSoon()
    this.notify()
    return { baseOffset: r.baseOffset, lastOffset: r.lastOffset, logAppendTime }
  }

  /**
   * Raw append of Kafka RecordBatch v2 bytes (one or more whole batches), e.g. from a produce request.
   * Every batch is validated (CRC, header, records) before any is written; baseOffsets are rewritten
   * in place. Resolves per `acks`.
   */
  async appendBatch(bytes: Buffer, options: { acks?: Acks } = {}): Promise<AppendInfo> {
    if (this.closed) throw new ClosedError(`partition ${this.topic}-${this.index} is closed`)
    if (!Buffer.isBuffer(bytes)) throw new InvalidRecordError('appendBatch takes a Buffer of record batches')
    const acks = options?.acks ?? 'all'
    if (acks !== 'all' && acks !== 'leader' && acks !== 'none') throw new InvalidConfigError(`acks must be 'all', 'leader' or 'none'`)
    const batches: Buffer[] = []
    let pos = 0
    while (pos < bytes.length) {
      const size = validateBatch(bytes, pos, this.config().cleanupPolicy !== 'delete')
      batches.push(bytes.subarray(pos, pos + size))
      pos += size
    }
    if (batches.length === 0) throw new InvalidRecordError('no record batch given')
    const info = this.append(batches)
    if (acks === 'all') await this.log.flush()
    return info
  }

  /** Whole batches from the one holding `offset`, bounded by `maxBytes` and the high watermark. */
  readBatches(options: ReadBatchesOptions): ReadBatchesResult {
    if (this.closed) throw new ClosedError(`partition ${this.topic}-${this.index} is closed`)
    if (!Number.isSafeInteger(options.offset)) {
      throw new OffsetOutOfRangeError(`offset ${String(options.offset)} is not an integer (${this.topic}-${this.index})`)
    }
    const maxBytes = options.maxBytes ?? DEFAULT_FETCH_BYTES
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new InvalidConfigError(`maxBytes must be an integer ≥ 0, got ${String(maxBytes)}`)
    const isolation = options.isolation ?? 'read_uncommitted'
    if (isolation !== 'read_committed' && isolation !== 'read_uncommitted') throw new InvalidConfigError(`isolation must be 'read_committed' or 'read_uncommitted'`)
    const hw = this.highWatermark
    const lso = this.lastStableOffset
    // read_committed reads stop at the last stable offset and learn which transactions to skip.
    const end = isolation === 'read_committed' ? lso : hw
    const { bytes } = this.log.read(options.offset, maxBytes, end)
    const abortedTransactions =
      isolation === 'read_committed' && bytes.length > 0
        ? this.producers.abortedBetween(options.offset, end).map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }))
        : []
    return { bytes, highWatermark: hw, lastStableOffset: lso, logStartOffset: this.logStartOffset, abortedTransactions }
  }

  /** First offset whose timestamp is ≥ `timestamp`, or null when every record is older. */
  offsetForTimestamp(timestamp: number): number | null {
    return this.log.offsetForTimestamp(timestamp)
  }

  /** Resolves when everything appended so far is durable (fdatasync, shared with concurrent callers). */
  flush(): Promise<void> {
    return this.log.flush()
  }

  /** Calls `fn` after each append (and once at close); returns the unsubscribe function. */
  onAppend(fn: () => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /**
   * Sequence checks of one append's batches, in order: null to append them, or the original offsets
   * when the whole append is a retry of batches already in the log.
   */
  private checkProducers(batches: readonly Buffer[]): Duplicate | null {
    const dups: Duplicate[] = []
    const next = new Map<number, number>()
    for (const b of batches) {
      if (!hasProducerId(b)) continue
      const h = readBatchHeader(b, 0)
      const expect = next.get(h.producerId)
      if (expect === undefined) {
        const dup = this.producers.check(h)
        if (dup) dups.push(dup)
      } else if (h.baseSequence !== expect && !h.isControl) {
        throw new OutOfOrderSequenceError(`producer ${h.producerId}: sequence ${h.baseSequence} in one append, expected ${expect}`)
      }
      next.set(h.producerId, seqAdd(h.baseSequence, h.recordCount))
    }
    if (dups.length === 0) return null
    if (dups.length !== batches.length) throw new OutOfOrderSequenceError('an append mixes batches written before with new ones')
    return { baseOffset: dups[0]!.baseOffset, lastOffset: dups.at(-1)!.lastOffset }
  }

  /** A producer-state snapshot after a roll, so a reopen after a crash replays one segment at most. */
  private snapshotSoon(): void {
    this.snapshotting ??= writeProducerSnapshot(this.log, this.producers)
      .catch(() => undefined)
      .finally(() => (this.snapshotting = null))
  }

  /** Read-only brokers: takes in the writer's appends from the files and wakes waiting readers. */
  refresh(): void {
    if (this.closed || !this.log.refresh()) return
    // The writer's producer batches and markers too, so the last stable offset and the aborted
    // transactions follow it (a log cut or compacted behind us is replayed from its start).
    if (this.producers.appliedTo > this.log.nextOffset) this.producers = new ProducerState()
    replayProducerState(this.log, this.producers, Math.max(this.producers.appliedTo, this.log.logStartOffset))
    this.notify()
  }

  private notify(): void {
    for (const fn of [...this.listeners]) fn()
  }

  get isClosed(): boolean {
    return this.closed
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.notify()
    this.listeners.clear()
    await this.snapshotting
    await this.log.close()
    // Written after the log is flushed, so the snapshot never runs ahead of durable data.
    if (!this.log.readOnly && !this.log.failure) await writeProducerSnapshot(this.log, this.producers)
  }

  abandon(): void {
    this.closed = true
    this.notify()
    this.listeners.clear()
    this.log.abandon()
  }
}

/**
 * Checks the batch at `pos` as Kafka's broker does before an append: length, magic and CRC, a header
 * with a known compression, and records that decode with offset deltas 0..lastOffsetDelta (so the
 * offsets this batch takes are exactly the ones it declares). Returns the batch's size.
 */
function validateBatch(bytes: Buffer, pos: number, compacted = false): number {
  if (bytes.length - pos < LOG_OVERHEAD) throw new InvalidRecordError(`truncated record batch at byte ${pos}`)
  const size = LOG_OVERHEAD + bytes.readInt32BE(pos + 8)
  const bad = checkBatch(bytes, pos, Math.min(bytes.length, pos + Math.max(size, 0)))
  if (bad === 'bad magic') throw new InvalidRecordError(`unsupported record batch magic ${bytes[pos + 16]} at byte ${pos}`)
  if (bad) throw new InvalidRecordError(`invalid record batch at byte ${pos}: ${bad}`)
  try {
    const h = readBatchHeader(bytes, pos)
    // Transaction markers are the coordinator's to write (Kafka's WriteTxnMarkers), never a producer's.
    if (h.isControl) throw new Error('control batches are written by the transaction coordinator only')
    if (h.recordCount < 1 || h.lastOffsetDelta !== h.recordCount - 1) {
      throw new Error(`lastOffsetDelta ${h.lastOffsetDelta} does not match ${h.recordCount} records`)
    }
    decodeRecords(bytes, pos).forEach((r, i) => {
      if (r.offset !== h.baseOffset + i) throw new Error(`record ${i} has offset delta ${r.offset - h.baseOffset}`)
      if (compacted && r.key === null && !h.isControl) throw new Error(`record ${i} has no key, which a compacted topic needs`)
    })
  } catch (err) {
    throw new InvalidRecordError(`invalid record batch at byte ${pos}: ${(err as Error).message}`, { cause: err })
  }
  return size
}

/** Whether the batch carries a producer id (idempotent or transactional), read from its header. */
function hasProducerId(b: Buffer): boolean {
  return b.readInt32BE(43) >= 0
}

/** A transaction marker's type, from its control record; undefined for a data batch. */
function controlType(b: Buffer): 'commit' | 'abort' | undefined {
  if ((b.readInt16BE(21) & 0x20) === 0) return undefined
  try {
    const [r] = decodeRecords(b, 0)
    if (!r) throw new Error('no control record')
    return decodeControlRecordType(r)
  } catch (err) {
    throw new InvalidRecordError(`invalid transaction marker: ${(err as Error).message}`, { cause: err })
  }
}
