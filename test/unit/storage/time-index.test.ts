import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { InvariantViolation } from '../../../src/errors.js'
import { TIME_INDEX_ENTRY_BYTES, TimeIndex } from '../../../src/storage/time-index.js'

const BASE = 500
const T0 = 1_700_000_000_000

test('maybeAppend keeps only entries whose timestamp rises', () => {
  const idx = new TimeIndex(BASE)
  assert.equal(idx.maybeAppend(T0, BASE), true)
  assert.equal(idx.maybeAppend(T0, BASE + 3), false, 'same timestamp')
  assert.equal(idx.maybeAppend(T0 - 1, BASE + 4), false, 'older timestamp')
  assert.equal(idx.maybeAppend(T0 + 1, BASE + 4), true)
  assert.equal(idx.entries, 2)
  assert.deepEqual(idx.last(), { timestamp: T0 + 1, offset: BASE + 4 })
  assert.throws(() => idx.maybeAppend(T0 + 2, BASE + 3), InvariantViolation, 'offset going back')
  assert.throws(() => idx.maybeAppend(T0 + 2, BASE - 1), InvariantViolation, 'offset below the segment')
})

test('scanStart: the offset of the last entry strictly older than the target, else the segment start', () => {
  const idx = new TimeIndex(BASE)
  idx.maybeAppend(10, BASE + 5)
  idx.maybeAppend(20, BASE + 9)
  idx.maybeAppend(35, BASE + 20)
  assert.equal(idx.scanStart(-5), BASE)
  assert.equal(idx.scanStart(10), BASE, 'an entry equal to the target does not prove earlier records older')
  assert.equal(idx.scanStart(11), BASE + 5)
  assert.equal(idx.scanStart(20), BASE + 5)
  assert.equal(idx.scanStart(21), BASE + 9)
  assert.equal(idx.scanStart(35), BASE + 9)
  assert.equal(idx.scanStart(36), BASE + 20)
  assert.equal(idx.scanStart(1e15), BASE + 20)
  assert.equal(new TimeIndex(BASE).scanStart(T0), BASE)
})

test('scanStart never skips the first record at or after the target, for entries made as a segment makes them (fast-check)', () => {
  // A segment adds (running max of every timestamp before offset o, o) at some batch starts o.
  const arb = fc.record({
    timestamps: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 60 }),
    marks: fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
  })
  fc.assert(
    fc.property(arb, fc.integer({ min: -1, max: 102 }), ({ timestamps, marks }, target) => {
      const idx = new TimeIndex(BASE, 1)
      let max = -1
      timestamps.forEach((ts, i) => {
        if (i > 0 && marks[i]) idx.maybeAppend(max, BASE + i)
        max = Math.max(max, ts)
      })
      const first = timestamps.findIndex((ts) => ts >= target)
      const start = idx.scanStart(target)
      assert.ok(start >= BASE)
      if (first >= 0) assert.ok(start <= BASE + first, `scan starts at ${start}, after the first match ${BASE + first}`)
    }),
  )
})

test('the time index grows, truncates by offset and round-trips through its 12-byte big-endian layout', () => {
  const idx = new TimeIndex(BASE, 0)
  for (let i = 0; i < 300; i++) idx.maybeAppend(T0 + 7 * i, BASE + 2 * i)
  assert.equal(idx.entries, 300)
  assert.equal(idx.scanStart(T0 + 7 * 150 + 1), BASE + 300)
  idx.truncateToOffset(BASE + 400)
  assert.deepEqual(idx.last(), { timestamp: T0 + 7 * 199, offset: BASE + 398 })
  idx.truncateToOffset(BASE + 399)
  assert.deepEqual(idx.last(), { timestamp: T0 + 7 * 199, offset: BASE + 398 })

  const small = new TimeIndex(BASE)
  small.maybeAppend(-1, BASE)
  small.maybeAppend(0x1_0000_0001, BASE + 0x0102)
  small.maybeAppend(2 ** 50, BASE + 0x7fffffff)
  const buf = small.toBuffer()
  assert.equal(buf.length, 3 * TIME_INDEX_ENTRY_BYTES)
  assert.deepEqual([...buf.subarray(0, 12)], [255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0])
  assert.deepEqual([...buf.subarray(12, 24)], [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 2])
  const back = TimeIndex.fromBuffer(BASE, buf, 0x7fffffff)
  assert.ok(back)
  assert.deepEqual(back.toBuffer(), buf)
  assert.deepEqual(back.last(), { timestamp: 2 ** 50, offset: BASE + 0x7fffffff })
  assert.equal(back.scanStart(0x1_0000_0001), BASE)
  assert.equal(back.scanStart(0x1_0000_0002), BASE + 0x0102)

  const fromBig = TimeIndex.fromBuffer(BASE, idx.toBuffer(), 1000)
  assert.ok(fromBig)
  assert.equal(fromBig.entries, 200)
  assert.equal(fromBig.maybeAppend(T0 + 10_000, BASE + 500), true, 'a loaded index keeps growing')
})

test('fromBuffer rejects a file that fails the sanity check', () => {
  const entry = (ts: number, rel: number): Buffer => {
    const b = Buffer.alloc(12)
    b.writeInt32BE(Math.floor(ts / 0x1_0000_0000), 0)
    b.writeUInt32BE(ts >>> 0, 4)
    b.writeInt32BE(rel, 8)
    return b
  }
  const good = Buffer.concat([entry(T0, 1), entry(T0 + 5, 1), entry(T0 + 9, 7)])
  assert.ok(TimeIndex.fromBuffer(BASE, good, 7))
  assert.equal(TimeIndex.fromBuffer(BASE, good.subarray(0, 30), 100), null, 'size not a multiple of 12')
  assert.equal(TimeIndex.fromBuffer(BASE, Buffer.concat([entry(T0, 1), entry(T0, 2)]), 100), null, 'same timestamp')
  assert.equal(TimeIndex.fromBuffer(BASE, Buffer.concat([entry(T0, 1), entry(T0 - 1, 2)]), 100), null, 'older timestamp')
  assert.equal(TimeIndex.fromBuffer(BASE, Buffer.concat([entry(T0, 4), entry(T0 + 1, 2)]), 100), null, 'offset going back')
  assert.equal(TimeIndex.fromBuffer(BASE, good, 6), null, 'offset beyond the segment')
  assert.equal(TimeIndex.fromBuffer(BASE, entry(T0, -1), 100), null, 'negative offset')
  assert.equal(TimeIndex.fromBuffer(BASE, Buffer.alloc(24), 100), null, 'zero-filled file')
})
