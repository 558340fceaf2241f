// A segment's sparse offset index: relative offset → file position of the batch holding it.
// File layout (Kafka's .index), big-endian, one entry per `indexIntervalBytes` of log:
//   relativeOffset int32 | position int32          (8 bytes per entry)
// The index is derived data: it carries no checksum, is sanity-checked when loaded and rebuilt from
// the .log when the check fails. Only the owning Segment calls it.
import { assert } from '../util/assert.js'

export const OFFSET_INDEX_ENTRY_BYTES = 8

export class OffsetIndex {
  private rel: Int32Array
  private pos: Int32Array
  private count = 0

  constructor(readonly baseOffset: number, capacity = 16) {
    this.rel = new Int32Array(capacity)
    this.pos = new Int32Array(capacity)
  }

  get entries(): number {
    return this.count
  }

  /** Adds an entry; offsets and positions must increase. */
  append(offset: number, position: number): void {
    const r = offset - this.baseOffset
    assert(r >= 0 && r <= 0x7fffffff, `index offset ${offset} outside segment ${this.baseOffset}`)
    if (this.count > 0) {
      assert(r > this.rel[this.count - 1]! && position > this.pos[this.count - 1]!, 'index entries must increase')
    }
    if (this.count === this.rel.length) {
      const grown = Math.max(16, this.count * 2)
      const rel = new Int32Array(grown)
      const pos = new Int32Array(grown)
      rel.set(this.rel)
      pos.set(this.pos)
      this.rel = rel
      this.pos = pos
    }
    this.rel[this.count] = r
    this.pos[this.count] = position
    this.count++
  }

  /** Position of the last indexed batch starting at or before `offset` (0 when none is). */
  lookup(offset: number): { offset: number; position: number } {
    const target = offset - this.baseOffset
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.rel[mid]! <= target) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    if (found < 0) return { offset: this.baseOffset, position: 0 }
    return { offset: this.baseOffset + this.rel[found]!, position: this.pos[found]! }
  }

  /** Last entry, or undefined when empty. */
  last(): { offset: number; position: number } | undefined {
    if (this.count === 0) return undefined
    return { offset: this.baseOffset + this.rel[this.count - 1]!, position: this.pos[this.count - 1]! }
  }

  /** Drops every entry whose position is at or beyond `position` (after the log was truncated). */
  truncateToPosition(position: number): void {
    while (this.count > 0 && this.pos[this.count - 1]! >= position) this.count--
  }

  toBuffer(): Buffer {
    const buf = Buffer.allocUnsafe(this.count * OFFSET_INDEX_ENTRY_BYTES)
    for (let i = 0; i < this.count; i++) {
      buf.writeInt32BE(this.rel[i]!, i * 8)
      buf.writeInt32BE(this.pos[i]!, i * 8 + 4)
    }
    return buf
  }

  /** Parses an index file; returns null when it fails the sanity check (then the caller rebuilds it). */
  static fromBuffer(baseOffset: number, buf: Buffer, logBytes: number): OffsetIndex | null {
    if (buf.length % OFFSET_INDEX_ENTRY_BYTES !== 0) return null
    const n = buf.length / OFFSET_INDEX_ENTRY_BYTES
    const idx = new OffsetIndex(baseOffset, Math.max(16, n))
    let prevRel = -1
    let prevPos = -1
    for (let i = 0; i < n; i++) {
      const r = buf.readInt32BE(i * 8)
      const p = buf.readInt32BE(i * 8 + 4)
      if (r <= prevRel || p <= prevPos || r < 0 || p < 0 || p >= logBytes) return null
      idx.rel[i] = r
      idx.pos[i] = p
      prevRel = r
      prevPos = p
    }
    idx.count = n
    return idx
  }
}
