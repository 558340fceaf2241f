// The per-partition stream index of an event store: for every stream, the offset of each revision,
// the revision a soft delete truncated before, and whether it is tombstoned; and a set of event-id
// hashes for idempotent retries. It is derived data: built by applying the partition's records in
// offset order, checkpointed (magic, version, CRC-32C), and rebuildable from the log at any time.
//
// Checkpoint layout: "KLSI" | version u8 | crc32c u32 (of the body) | body (msgpack):
//   { upTo, streams: [[streamId, offsets (float64 LE bytes), truncateBefore, tombstoned]],
//     ids: float64 LE bytes }
import { crc32c } from '@node-rs/crc32'
import { pack, unpack } from 'msgpackr'
import { CorruptionError, murmur2 } from '../index.js'
import { DELETED, TOMBSTONE, type StoredRecord } from './record-format.js'

const MAGIC = Buffer.from('KLSI')
const VERSION = 2

export interface StreamEntry {
  /** offsets[revision]: where each revision of the stream is stored. */
  offsets: number[]
  /** Revisions below this were soft-deleted. */
  truncateBefore: number
  tombstoned: boolean
}

/** 52 bits of an event id (collisions are checked against the log before they matter). */
export function idHash(id: string): number {
  const b = Buffer.from(id)
  const hi = murmur2(b) >>> 12
  const lo = murmur2(Buffer.concat([b, Buffer.from([0])])) >>> 0
  return hi * 0x1_0000_0000 + lo
}

export class PartitionIndex {
  readonly streams = new Map<string, StreamEntry>()
  readonly ids = new Set<number>()
  /** The next offset to index: everything below it is applied. */
  upTo = 0

  /** Applies the record at `offset` (records must come in offset order). */
  apply(offset: number, r: StoredRecord): void {
    let s = this.streams.get(r.streamId)
    if (!s) {
      s = { offsets: [], truncateBefore: 0, tombstoned: false }
      this.streams.set(r.streamId, s)
    }
    if (r.type === TOMBSTONE) s.tombstoned = true
    else if (r.type === DELETED) s.truncateBefore = Math.max(s.truncateBefore, r.revision)
    else if (r.revision === s.offsets.length) {
      s.offsets.push(offset)
      this.ids.add(idHash(r.id))
    }
    // A revision out of sequence cannot come from this store's appends; it is not indexed.
  }

  /** The stream's last revision, -1 when it never had an event. */
  lastRevision(streamId: string): number {
    return (this.streams.get(streamId)?.offsets.length ?? 0) - 1
  }

  /** Whether the stream has events a read would return (not deleted, not tombstoned). */
  visible(streamId: string): boolean {
    const s = this.streams.get(streamId)
    return !!s && !s.tombstoned && s.offsets.length > s.truncateBefore
  }

  encode(): Buffer {
    const body = pack({
      upTo: this.upTo,
      streams: [...this.streams].map(([id, s]) => [id, f64(s.offsets), s.truncateBefore, s.tombstoned]),
      ids: f64([...this.ids]),
    })
    const head = Buffer.alloc(9)
    MAGIC.copy(head, 0)
    head.writeUInt8(VERSION, 4)
    head.writeUInt32BE(crc32c(body) >>> 0, 5)
    return Buffer.concat([head, body])
  }

  /** A checkpoint's index; CorruptionError (magic, then version, then CRC) when it is not valid. */
  static decode(buf: Buffer, file: string): PartitionIndex {
    if (buf.length < 9 || !buf.subarray(0, 4).equals(MAGIC)) throw new CorruptionError('not a stream index checkpoint (bad magic)', file, 0)
    if (buf.readUInt8(4) !== VERSION) throw new CorruptionError(`stream index checkpoint version ${buf.readUInt8(4)} is not supported`, file, 4)
    const body = buf.subarray(9)
    if ((crc32c(body) >>> 0) !== buf.readUInt32BE(5)) throw new CorruptionError('stream index checkpoint CRC mismatch', file, 5)
    const o = unpack(body) as { upTo: number; streams: Array<[string, Uint8Array, number, boolean]>; ids: Uint8Array }
    const index = new PartitionIndex()
    index.upTo = o.upTo
    for (const [id, offsets, truncateBefore, tombstoned] of o.streams) index.streams.set(id, { offsets: Array.from(fromF64(offsets)), truncateBefore, tombstoned })
    for (const h of fromF64(o.ids)) index.ids.add(h)
    return index
  }
}

function f64(numbers: number[]): Buffer {
  const a = Float64Array.from(numbers)
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength)
}

function fromF64(bytes: Uint8Array): Float64Array {
  // Copied: the bytes may not be 8-aligned inside the decoded buffer.
  const copy = new Uint8Array(bytes)
  return new Float64Array(copy.buffer, 0, copy.byteLength / 8)
}
