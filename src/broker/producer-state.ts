// Per-partition producer state, as Kafka's ProducerStateManager keeps it: for each producer id its
// epoch and its last 5 batches (sequence range → offsets), so that a retried batch is answered with
// its original offsets instead of being appended twice and a gap in the sequence is refused; the
// first offset of each producer's open transaction (the last stable offset is the smallest); and the
// aborted transactions (producer id, first and last offset) that read_committed fetches skip.
//
// Rebuilt at open from a snapshot (written at clean close and on roll) plus the batch headers after it.
// Called only by Partition, on its write path and its reads.
import { pack, unpack } from 'msgpackr'
import { CorruptionError, FencedError, OutOfOrderSequenceError } from '../errors.js'
import type { BatchHeader } from '../storage/record-batch.js'
import { crc32c } from '../util/crc32c.js'

/** Batches remembered per producer for duplicate detection (Kafka's max.in.flight for idempotence). */
export const BATCHES_KEPT = 5

interface BatchMeta {
  firstSeq: number
  lastSeq: number
  firstOffset: number
  lastOffset: number
}

interface ProducerEntry {
  epoch: number
  batches: BatchMeta[]
  /** First offset of the producer's open transaction in this partition, or -1. */
  txnFirstOffset: number
}

export interface AbortedTxn {
  producerId: number
  firstOffset: number
  /** Offset of the abort marker. */
  lastOffset: number
}

/** A batch that was appended before: its original offsets. */
export interface Duplicate {
  baseOffset: number
  lastOffset: number
}

const SNAPSHOT_MAGIC = 0x4b4c5053 // 'KLPS'

export class ProducerState {
  private readonly producers = new Map<number, ProducerEntry>()
  /** Aborted transactions, by the offset of their abort marker. */
  private aborted: AbortedTxn[] = []
  /** Offset up to which the state reflects the log (the next offset to apply). */
  appliedTo = 0

  /**
   * Checks a producer's batch before it is appended: the duplicate of one of its last batches (its
   * original offsets), or null to append it. Raises FencedError for an older epoch and
   * OutOfOrderSequenceError for a sequence that does not follow the last one.
   */
  check(h: BatchHeader): Duplicate | null {
    if (h.producerId < 0) return null
    const e = this.producers.get(h.producerId)
    const firstSeq = h.baseSequence
    const lastSeq = h.isControl ? firstSeq : seqAdd(firstSeq, Math.max(0, h.recordCount - 1))
    if (!e) {
      if (!h.isControl && firstSeq !== 0) {
        throw new OutOfOrderSequenceError(`producer ${h.producerId}: first batch must have sequence 0, got ${firstSeq}`)
      }
      return null
    }
    if (h.producerEpoch < e.epoch) {
      throw new FencedError(`producer ${h.producerId} epoch ${h.producerEpoch} is fenced by epoch ${e.epoch}`)
    }
    if (h.isControl) return null
    if (h.producerEpoch > e.epoch) {
      if (firstSeq !== 0) throw new OutOfOrderSequenceError(`producer ${h.producerId}: a new epoch starts at sequence 0, got ${firstSeq}`)
      return null
    }
    for (const b of e.batches) if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) return { baseOffset: b.firstOffset, lastOffset: b.lastOffset }
    const last = e.batches.at(-1)
    const expected = last ? seqAdd(last.lastSeq, 1) : 0
    if (firstSeq !== expected) {
      throw new OutOfOrderSequenceError(`producer ${h.producerId} epoch ${h.producerEpoch}: sequence ${firstSeq}, expected ${expected}`)
    }
    return null
  }

  /** Records an appended batch (a data batch or a transaction marker) at its offsets. */
  apply(h: BatchHeader, baseOffset: number, lastOffset: number, marker?: 'commit' | 'abort'): void {
    this.appliedTo = lastOffset + 1
    if (h.producerId < 0) return
    let e = this.producers.get(h.producerId)
    if (!e || h.producerEpoch > e.epoch) {
      const txnFirstOffset = e?.txnFirstOffset ?? -1
      e = { epoch: h.producerEpoch, batches: [], txnFirstOffset }
      this.producers.set(h.producerId, e)
    }
    if (h.isControl) {
      if (e.txnFirstOffset >= 0 && marker === 'abort') {
        this.aborted.push({ producerId: h.producerId, firstOffset: e.txnFirstOffset, lastOffset: baseOffset })
      }
      e.txnFirstOffset = -1
      return
    }
    if (h.isTransactional && e.txnFirstOffset < 0) e.txnFirstOffset = baseOffset
    e.batches.push({ firstSeq: h.baseSequence, lastSeq: seqAdd(h.baseSequence, Math.max(0, h.recordCount - 1)), firstOffset: baseOffset, lastOffset })
    if (e.batches.length > BATCHES_KEPT) e.batches.shift()
  }

  /** Each producer's last batch's last offset (the cleaner keeps that batch, even emptied). */
  lastOffsets(): Map<number, number> {
    const out = new Map<number, number>()
    for (const [pid, e] of this.producers) {
      const last = e.batches.at(-1)
      if (last) out.set(pid, last.lastOffset)
    }
    return out
  }

  /** The current epoch of a producer in this partition (-1 when unknown). */
  epochOf(producerId: number): number {
    return this.producers.get(producerId)?.epoch ?? -1
  }

  /** The first offset of the earliest open transaction, or null when none is open. */
  firstUnstableOffset(): number | null {
    let min: number | null = null
    for (const e of this.producers.values()) if (e.txnFirstOffset >= 0 && (min === null || e.txnFirstOffset < min)) min = e.txnFirstOffset
    return min
  }

  /** Producers with an open transaction here, and where it began. */
  openTransactions(): Array<{ producerId: number; epoch: number; firstOffset: number }> {
    const out: Array<{ producerId: number; epoch: number; firstOffset: number }> = []
    for (const [producerId, e] of this.producers) if (e.txnFirstOffset >= 0) out.push({ producerId, epoch: e.epoch, firstOffset: e.txnFirstOffset })
    return out
  }

  /** Aborted transactions overlapping [fromOffset, upTo): what a read_committed fetch must skip. */
  abortedBetween(fromOffset: number, upTo: number): AbortedTxn[] {
    const out: AbortedTxn[] = []
    // Sorted by lastOffset: skip those that ended before the fetch.
    let lo = 0
    let hi = this.aborted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.aborted[mid]!.lastOffset < fromOffset) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < this.aborted.length; i++) {
      const a = this.aborted[i]!
      if (a.firstOffset < upTo) out.push(a)
    }
    return out
  }

  /** Forgets aborted transactions wholly below the log start offset. */
  pruneBelow(logStartOffset: number): void {
    let i = 0
    while (i < this.aborted.length && this.aborted[i]!.lastOffset < logStartOffset) i++
    if (i > 0) this.aborted = this.aborted.slice(i)
  }

  /** Snapshot file bytes: magic, crc32c, then msgpack of the state. */
  toSnapshot(): Buffer {
    const body = pack({
      v: 1,
      appliedTo: this.appliedTo,
      producers: [...this.producers].map(([pid, e]) => [pid, e.epoch, e.txnFirstOffset, e.batches.map((b) => [b.firstSeq, b.lastSeq, b.firstOffset, b.lastOffset])]),
      aborted: this.aborted.map((a) => [a.producerId, a.firstOffset, a.lastOffset]),
    })
    const out = Buffer.allocUnsafe(8 + body.length)
    out.writeUInt32BE(SNAPSHOT_MAGIC, 0)
    out.writeUInt32BE(crc32c(body, 0, body.length), 4)
    body.copy(out, 8)
    return out
  }

  /** Parses a snapshot; CorruptionError when it fails its checks (the caller then replays the log). */
  static fromSnapshot(buf: Buffer, file: string): ProducerState {
    const bad = (why: string): never => {
      throw new CorruptionError(`producer state snapshot: ${why}`, file, 0)
    }
    if (buf.length < 8 || buf.readUInt32BE(0) !== SNAPSHOT_MAGIC) bad('bad magic')
    if (crc32c(buf, 8, buf.length) !== buf.readUInt32BE(4)) bad('bad crc')
    let o: { v: number; appliedTo: number; producers: Array<[number, number, number, number[][]]>; aborted: number[][] }
    try {
      o = unpack(buf.subarray(8))
    } catch {
      return bad('undecodable')
    }
    const ints = (...xs: unknown[]): boolean => xs.every((x) => Number.isSafeInteger(x))
    if (!o || o.v !== 1 || !ints(o.appliedTo) || !Array.isArray(o.producers) || !Array.isArray(o.aborted)) bad('bad fields')
    const s = new ProducerState()
    s.appliedTo = o.appliedTo
    for (const p of o.producers) {
      if (!Array.isArray(p) || !ints(p[0], p[1], p[2]) || !Array.isArray(p[3])) bad('bad producer')
      const batches = p[3].map((b) => (Array.isArray(b) && ints(...b) && b.length === 4 ? { firstSeq: b[0]!, lastSeq: b[1]!, firstOffset: b[2]!, lastOffset: b[3]! } : bad('bad batch')))
      s.producers.set(p[0], { epoch: p[1], txnFirstOffset: p[2], batches })
    }
    for (const a of o.aborted) {
      if (!Array.isArray(a) || a.length !== 3 || !ints(...a)) bad('bad aborted transaction')
      s.aborted.push({ producerId: a[0]!, firstOffset: a[1]!, lastOffset: a[2]! })
    }
    return s
  }
}

/** The sequence number `n` after `seq`: they wrap at int32 max, as Kafka's. */
export function seqAdd(seq: number, n: number): number {
  const r = seq + n
  return r > 0x7fffffff ? r - 0x80000000 : r
}
