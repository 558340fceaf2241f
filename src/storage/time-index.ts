// A segment's sparse time index: the running maximum timestamp → the offset where it was reached.
// File layout (Kafka's .timeindex), big-endian:
//   timestamp int64 | relativeOffset int32          (12 bytes per entry)
// Timestamps increase strictly from entry to entry. Derived data like the offset index: no checksum,
// sanity-checked on load, rebuilt from the .log when wrong. Only the owning Segment calls it.
import { assert } from '../util/assert.js'

export const TIME_INDEX_ENTRY_BYTES = 12

export class TimeIndex {
  private ts: Float64Array
  private rel: Int32Array
  private count = 0

  constructor(readonly baseOffset: number, capacity = 16) {
    this.ts = new Float64Array(capacity)
    this.rel = new Int32Array(capacity)
  }

  get entries(): number {
    return this.count
  }

  /** Adds (timestamp, offset) when `timestamp` is above the last entry's; returns whether it did. */
  maybeAppend(timestamp: number, offset: number): boolean {
    const r = offset - this.baseOffset
    assert(r >= 0 && r <= 0x7fffffff, `time index offset ${offset} outside segment ${this.baseOffset}`)
    if (this.count > 0) {
      if (timestamp <= this.ts[this.count - 1]!) return false
      assert(r >= this.rel[this.count - 1]!, 'time index offsets must not decrease')
    }
    if (this.count === this.ts.length) {
      const grown = Math.max(16, this.count * 2)
      const ts = new Float64Array(grown)
      const rel = new Int32Array(grown)
      ts.set(this.ts)
      rel.set(this.rel)
      this.ts = ts
      this.rel = rel
    }
    this.ts[this.count] = timestamp
    this.rel[this.count] = r
    this.count++
    return true
  }

  /** Offset from which to scan for the first record with timestamp ≥ `timestamp`: every record
   * before it is older. */
  scanStart(timestamp: number): number {
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.ts[mid]! < timestamp) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found < 0 ? this.baseOffset : this.baseOffset + this.rel[found]!
  }

  last(): { timestamp: number; offset: number } | undefined {
    if (this.count === 0) return undefined
    return { timestamp: this.ts[this.count - 1]!, offset: this.baseOffset + this.rel[this.count - 1]! }
  }

  /** Drops entries at or beyond `offset`. */
  truncateToOffset(offset: number): void {
    while (this.count > 0 && this.baseOffset + this.rel[this.count - 1]! >= offset) this.count--
  }

  toBuffer(): Buffer {
    const buf = Buffer.allocUnsafe(this.count * TIME_INDEX_ENTRY_BYTES)
    for (let i = 0; i < this.count; i++) {
      const t = this.ts[i]!
      buf.writeInt32BE(Math.floor(t / 0x100000000), i * 12)
      buf.writeUInt32BE(t >>> 0, i * 12 + 4)
      buf.writeInt32BE(this.rel[i]!, i * 12 + 8)
    }
    return buf
  }

  /**
   * Parses a time index file; null when it fails the sanity check (whole entries; timestamps safe
   * integers, strictly increasing; relative offsets in [0, maxRelativeOffset], never decreasing).
   */
  static fromBuffer(baseOffset: number, buf: Buffer, maxRelativeOffset: number): TimeIndex | null {
    if (buf.length % TIME_INDEX_ENTRY_BYTES !== 0) return null
    const n = buf.length / TIME_INDEX_ENTRY_BYTES
    const idx = new TimeIndex(baseOffset, Math.max(16, n))
    let prevTs = -Infinity
    let prevRel = -1
    for (let i = 0; i < n; i++) {
      const t = buf.readInt32BE(i * 12) * 0x100000000 + buf.readUInt32BE(i * 12 + 4)
      const r = buf.readInt32BE(i * 12 + 8)
      // timestamps are JS numbers: an int64 beyond 2^53 would not even write back to the same bytes
      if (!Number.isSafeInteger(t) || !(t > prevTs) || r < prevRel || r < 0 || r > maxRelativeOffset) return null
      idx.ts[i] = t
      idx.rel[i] = r
      prevTs = t
      prevRel = r
    }
    idx.count = n
    return idx
  }
}
