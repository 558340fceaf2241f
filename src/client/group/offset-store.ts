// Committed group offsets, durable in the internal compacted topic `__consumer_offsets` with Kafka's
// own key and value schemas, replayed into memory at open. A commit is one record batch, fsync'd
// before it resolves; deleting a group writes tombstones.
//
// Key   (OffsetCommitKey, version 1):   version int16 | group string | topic string | partition int32
// Value (OffsetCommitValue, version 3): version int16 | offset int64 | leaderEpoch int32 |
//                                       metadata string | commitTimestamp int64
// string = int16 length + utf8.
// Decoding: malformed keys and values throw DecodeError (a CorruptionError); load() reports them as
// CorruptionError naming the offset, and advances by whole batches.
import type { BrokerAdmin } from '../../broker/broker-admin.js'
import { CorruptionError } from '../../errors.js'
import {
  LOG_OVERHEAD, decodeRecords, encodeRecordBatch, readBatchHeader, type BatchHeader, type DecodedRecord, type RecordInput,
} from '../../storage/record-batch.js'
import { DecodeError } from '../../storage/varint.js'

export const OFFSETS_TOPIC = '__consumer_offsets'
const KEY_VERSION = 1
const VALUE_VERSION = 3
const READ_BYTES = 1024 * 1024

export interface CommittedOffset {
  offset: number
  metadata: string | null
  commitTimestamp: number
}

export interface OffsetCommit {
  topic: string
  partition: number
  offset: number
  metadata?: string | null
}

function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8')
  const out = Buffer.allocUnsafe(2 + b.length)
  out.writeInt16BE(b.length, 0)
  b.copy(out, 2)
  return out
}

export function encodeOffsetKey(group: string, topic: string, partition: number): Buffer {
  const v = Buffer.allocUnsafe(2)
  v.writeInt16BE(KEY_VERSION)
  const p = Buffer.allocUnsafe(4)
  p.writeInt32BE(partition)
  return Buffer.concat([v, str(group), str(topic), p])
}

export function encodeOffsetValue(c: CommittedOffset): Buffer {
  const meta = str(c.metadata ?? '')
  const out = Buffer.allocUnsafe(2 + 8 + 4 + meta.length + 8)
  let p = out.writeInt16BE(VALUE_VERSION, 0)
  p = out.writeBigInt64BE(BigInt(c.offset), p)
  p = out.writeInt32BE(-1, p)
  p += meta.copy(out, p)
  out.writeBigInt64BE(BigInt(c.commitTimestamp), p)
  return out
}

/** Bounds-checked reads of a key or value; malformed bytes throw DecodeError (a CorruptionError). */
class Reader {
  pos = 0
  constructor(private readonly buf: Buffer, private readonly what: string) {}
  private need(n: number): number {
    const at = this.pos
    if (at + n > this.buf.length) throw new DecodeError(`${this.what} truncated`, at)
    this.pos += n
    return at
  }
  int16(): number {
    return this.buf.readInt16BE(this.need(2))
  }
  int32(): number {
    return this.buf.readInt32BE(this.need(4))
  }
  int64(): number {
    const at = this.need(8)
    const n = this.buf.readInt32BE(at) * 0x1_0000_0000 + this.buf.readUInt32BE(at + 4)
    if (!Number.isSafeInteger(n)) throw new DecodeError(`${this.what}: int64 field outside the safe integer range`, at)
    return n
  }
  /** A string; a null one (length -1) reads as ''. */
  str(): string {
    const n = this.int16()
    if (n < 0) return ''
    const at = this.need(n)
    return this.buf.toString('utf8', at, at + n)
  }
}

/** The committed partition of a key (versions 0-1), or null for a key of another kind (group metadata). Throws DecodeError. */
export function decodeOffsetKey(buf: Buffer): { group: string; topic: string; partition: number } | null {
  const r = new Reader(buf, 'offset commit key')
  const version = r.int16()
  if (version < 0) throw new DecodeError(`bad offset commit key version ${version}`, 0)
  if (version >= 2) return null // group metadata keys (version 2, and newer kinds) carry no offsets
  const group = r.str()
  const topic = r.str()
  return { group, topic, partition: r.int32() }
}

/** A committed offset (value versions 0-3; v1's expire timestamp is ignored). Throws DecodeError. */
export function decodeOffsetValue(buf: Buffer): CommittedOffset {
  const r = new Reader(buf, 'offset commit value')
  const version = r.int16()
  if (version < 0 || version > VALUE_VERSION) throw new DecodeError(`unknown offset commit value version ${version}`, 0)
  const offset = r.int64()
  if (version >= 3) r.int32() // leaderEpoch
  const metadata = r.str()
  const commitTimestamp = r.int64()
  return { offset, metadata: metadata === '' ? null : metadata, commitTimestamp }
}

/**
 * Visits the records of the whole batches in `bytes` (read from __consumer_offsets); returns the
 * offset after the last batch (baseOffset + lastOffsetDelta + 1, so a batch the cleaner emptied
 * moves on too). A batch that does not decode raises CorruptionError.
 */
export function forEachOffsetRecord(bytes: Buffer, visit: (key: Buffer | null, value: Buffer | null, offset: number) => void): number {
  let next = 0
  for (let pos = 0; pos < bytes.length; ) {
    let h: BatchHeader | null = null
    let records: DecodedRecord[]
    try {
      h = readBatchHeader(bytes, pos)
      // transaction markers carry no commits
      records = h.isControl ? [] : decodeRecords(bytes, pos)
    } catch (err) {
      const where = h ? `batch at offset ${h.baseOffset}` : `batch after offset ${next - 1}`
      throw new CorruptionError(`undecodable ${OFFSETS_TOPIC} ${where}: ${(err as Error).message}`, OFFSETS_TOPIC, h?.baseOffset ?? next, { cause: err })
    }
    for (const r of records) visit(r.key, r.value, r.offset)
    next = h.baseOffset + h.lastOffsetDelta + 1
    pos += LOG_OVERHEAD + h.batchLength
  }
  return next
}

export class OffsetStore {
  private readonly groups = new Map<string, Map<string, CommittedOffset>>()

  constructor(
    private readonly broker: BrokerAdmin,
    private readonly now: () => number,
  ) {}

  private creating: Promise<unknown> | null = null

  /** Creates the internal topic on first use (as Kafka does); a group member calls it before joining. */
  async ensureTopic(): Promise<void> {
    await this.partition()
  }

  private async partition() {
    if (!this.broker.hasTopic(OFFSETS_TOPIC)) {
      this.creating ??= this.broker.createTopic(OFFSETS_TOPIC, { partitions: 1, cleanupPolicy: 'compact' })
      await this.creating
    }
    return this.broker.topic(OFFSETS_TOPIC).partition(0)
  }

  /** Replays the internal topic, when it exists. */
  async load(): Promise<void> {
    if (!this.broker.hasTopic(OFFSETS_TOPIC)) return
    const partition = this.broker.topic(OFFSETS_TOPIC).partition(0)
    let offset = partition.logStartOffset
    while (offset < partition.highWatermark) {
      const { bytes } = partition.readBatches({ offset, maxBytes: READ_BYTES })
      if (bytes.length === 0) break
      const next = forEachOffsetRecord(bytes, (key, value, at) => {
        if (key) this.apply(key, value, at)
      })
      // readBatches starts at the batch holding `offset`, so each read moves on; if not, stop
      // rather than read the same bytes forever.
      if (next <= offset) throw new CorruptionError(`${OFFSETS_TOPIC} does not advance past offset ${offset}`, OFFSETS_TOPIC, offset)
      offset = next
    }
  }

  private apply(key: Buffer, value: Buffer | null, at: number): void {
    let k: ReturnType<typeof decodeOffsetKey>
    try {
      k = decodeOffsetKey(key)
      if (!k) return
      const group = this.groups.get(k.group) ?? new Map<string, CommittedOffset>()
      if (value === null) group.delete(tpKey(k.topic, k.partition))
      else group.set(tpKey(k.topic, k.partition), decodeOffsetValue(value))
      if (group.size === 0) this.groups.delete(k.group)
      else this.groups.set(k.group, group)
    } catch (err) {
      throw new CorruptionError(`undecodable ${OFFSETS_TOPIC} record at offset ${at}`, OFFSETS_TOPIC, at, { cause: err })
    }
  }

  /** Durably records `offsets` for `group` (one fsync'd batch), then makes them visible. */
  async commit(group: string, offsets: readonly OffsetCommit[]): Promise<void> {
    if (offsets.length === 0) return
    const now = this.now()
    const records: RecordInput[] = offsets.map((o) => ({
      key: encodeOffsetKey(group, o.topic, o.partition),
      value: encodeOffsetValue({ offset: o.offset, metadata: o.metadata ?? null, commitTimestamp: now }),
      timestamp: now,
    }))
    const partition = await this.partition()
    partition.append([encodeRecordBatch(records)])
    await partition.flush()
    const g = this.groups.get(group) ?? new Map<string, CommittedOffset>()
    for (const o of offsets) g.set(tpKey(o.topic, o.partition), { offset: o.offset, metadata: o.metadata ?? null, commitTimestamp: now })
    this.groups.set(group, g)
  }

  /** Removes offsets (all of the group's when `partitions` is omitted) with tombstones. */
  async delete(group: string, partitions?: Array<{ topic: string; partition: number }>): Promise<void> {
    const g = this.groups.get(group)
    if (!g) return
    const keys = partitions ? partitions.map((p) => tpKey(p.topic, p.partition)).filter((k) => g.has(k)) : [...g.keys()]
    if (keys.length === 0) return
    const now = this.now()
    const records: RecordInput[] = keys.map((k) => {
      const [topic, p] = k.split('\u0000')
      return { key: encodeOffsetKey(group, topic!, Number(p)), value: null, timestamp: now }
    })
    const partition = await this.partition()
    partition.append([encodeRecordBatch(records)])
    await partition.flush()
    for (const k of keys) g.delete(k)
    if (g.size === 0) this.groups.delete(group)
  }

  /** Drops every group's offsets for a deleted topic. */
  async deleteTopic(topic: string): Promise<void> {
    for (const group of this.groupIds()) {
      const parts = this.all(group).filter((c) => c.topic === topic)
      if (parts.length > 0) await this.delete(group, parts)
    }
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(group)?.get(tpKey(topic, partition))
  }

  /** Every committed offset of a group. */
  all(group: string): Array<{ topic: string; partition: number } & CommittedOffset> {
    const g = this.groups.get(group)
    if (!g) return []
    return [...g].map(([k, v]) => {
      const [topic, p] = k.split('\u0000')
      return { topic: topic!, partition: Number(p), ...v }
    })
  }

  groupIds(): string[] {
    return [...this.groups.keys()]
  }
}
