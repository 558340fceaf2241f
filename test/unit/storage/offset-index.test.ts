import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { InvariantViolation } from '../../../src/errors.js'
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from '../../../src/storage/offset-index.js'

const BASE = 1000

function indexOf(entries: Array<[number, number]>, capacity?: number): OffsetIndex {
  const idx = new OffsetIndex(BASE, capacity)
  for (const [o, p] of entries) idx.append(o, p)
  return idx
}

/** The entry lookup must pick: the last one at or below `offset`, else (base, 0). */
function modelLookup(entries: Array<[number, number]>, offset: number): { offset: number; position: number } {
  let best = { offset: BASE, position: 0 }
  for (const [o, p] of entries) if (o <= offset) best = { offset: o, position: p }
  return best
}

test('lookup returns the last entry at or below the offset, else the segment start', () => {
  const entries: Array<[number, number]> = [[BASE + 5, 500], [BASE + 12, 1300], [BASE + 30, 4000]]
  const idx = indexOf(entries)
  assert.deepEqual(idx.lookup(BASE - 10), { offset: BASE, position: 0 })
  assert.deepEqual(idx.lookup(BASE), { offset: BASE, position: 0 })
  assert.deepEqual(idx.lookup(BASE + 4), { offset: BASE, position: 0 })
  assert.deepEqual(idx.lookup(BASE + 5), { offset: BASE + 5, position: 500 })
  assert.deepEqual(idx.lookup(BASE + 11), { offset: BASE + 5, position: 500 })
  assert.deepEqual(idx.lookup(BASE + 12), { offset: BASE + 12, position: 1300 })
  assert.deepEqual(idx.lookup(BASE + 29), { offset: BASE + 12, position: 1300 })
  assert.deepEqual(idx.lookup(BASE + 30), { offset: BASE + 30, position: 4000 })
  assert.deepEqual(idx.lookup(BASE + 1e9), { offset: BASE + 30, position: 4000 })
  assert.deepEqual(new OffsetIndex(BASE).lookup(BASE + 7), { offset: BASE, position: 0 })
})

test('lookup agrees with a linear scan (fast-check)', () => {
  const arb = fc
    .array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 5000 })), { maxLength: 80 })
    .map((steps) => {
      const entries: Array<[number, number]> = []
      let o = BASE
      let p = 0
      for (const [dOffset, dPos] of steps) {
        o += dOffset
        p += dPos
        entries.push([o, p])
      }
      return entries
    })
  fc.assert(
    fc.property(arb, fc.integer({ min: BASE - 5, max: BASE + 50 * 80 + 5 }), (entries, offset) => {
      assert.deepEqual(indexOf(entries, 1).lookup(offset), modelLookup(entries, offset))
    }),
  )
})

test('the index grows past its initial capacity, including capacity 0 and 1', () => {
  for (const capacity of [0, 1, 16]) {
    const entries: Array<[number, number]> = []
    for (let i = 0; i < 1000; i++) entries.push([BASE + 3 * i + 1, 100 * i + 7])
    const idx = indexOf(entries, capacity)
    assert.equal(idx.entries, 1000)
    assert.deepEqual(idx.last(), { offset: BASE + 3 * 999 + 1, position: 100 * 999 + 7 })
    for (let i = 0; i < 1000; i++) {
      assert.deepEqual(idx.lookup(BASE + 3 * i + 2), { offset: BASE + 3 * i + 1, position: 100 * i + 7 }, `capacity ${capacity}, entry ${i}`)
    }
  }
})

test('append refuses offsets outside the segment and entries that do not increase', () => {
  const idx = indexOf([[BASE + 10, 100]])
  assert.throws(() => idx.append(BASE - 1, 200), InvariantViolation)
  assert.throws(() => idx.append(BASE + 2 ** 31, 200), InvariantViolation)
  assert.throws(() => idx.append(BASE + 10, 200), InvariantViolation, 'same offset')
  assert.throws(() => idx.append(BASE + 11, 100), InvariantViolation, 'same position')
  assert.throws(() => idx.append(BASE + 9, 200), InvariantViolation, 'lower offset')
  assert.equal(idx.entries, 1)
})

test('truncateToPosition drops the entries at or beyond the position', () => {
  const idx = indexOf([[BASE + 1, 100], [BASE + 2, 200], [BASE + 3, 300]])
  idx.truncateToPosition(201)
  assert.deepEqual(idx.last(), { offset: BASE + 2, position: 200 })
  idx.truncateToPosition(200)
  assert.deepEqual(idx.last(), { offset: BASE + 1, position: 100 })
  assert.deepEqual(idx.lookup(BASE + 3), { offset: BASE + 1, position: 100 })
  idx.truncateToPosition(0)
  assert.equal(idx.entries, 0)
  assert.equal(idx.last(), undefined)
  idx.append(BASE + 2, 150)
  assert.deepEqual(idx.lookup(BASE + 5), { offset: BASE + 2, position: 150 })
})

test('toBuffer writes Kafka big-endian (relative offset, position) pairs and fromBuffer reads them back', () => {
  const entries: Array<[number, number]> = [[BASE + 1, 61], [BASE + 0x1234, 0x10203], [BASE + 0x7fffffff, 0x7ffffff0]]
  const buf = indexOf(entries).toBuffer()
  assert.equal(buf.length, 3 * OFFSET_INDEX_ENTRY_BYTES)
  assert.deepEqual([...buf.subarray(8, 16)], [0, 0, 0x12, 0x34, 0, 1, 2, 3])
  const back = OffsetIndex.fromBuffer(BASE, buf, 0x7fffffff)
  assert.ok(back)
  assert.equal(back.entries, 3)
  assert.deepEqual(back.toBuffer(), buf)
  for (const [o] of entries) assert.deepEqual(back.lookup(o), modelLookup(entries, o))
  const empty = OffsetIndex.fromBuffer(BASE, Buffer.alloc(0), 0)
  assert.ok(empty)
  assert.equal(empty.entries, 0)
  // A loaded index keeps growing.
  back.truncateToPosition(0x7ffffff0)
  back.append(BASE + 0x2000, 0x20000)
  assert.deepEqual(back.last(), { offset: BASE + 0x2000, position: 0x20000 })
})

test('fromBuffer rejects a file that fails the sanity check', () => {
  const entry = (rel: number, pos: number): Buffer => {
    const b = Buffer.alloc(8)
    b.writeInt32BE(rel, 0)
    b.writeInt32BE(pos, 4)
    return b
  }
  const good = Buffer.concat([entry(1, 100), entry(5, 400)])
  assert.ok(OffsetIndex.fromBuffer(BASE, good, 401))
  assert.equal(OffsetIndex.fromBuffer(BASE, good.subarray(0, 15), 1000), null, 'size not a multiple of 8')
  assert.equal(OffsetIndex.fromBuffer(BASE, Buffer.alloc(3), 1000), null, 'size not a multiple of 8')
  assert.equal(OffsetIndex.fromBuffer(BASE, Buffer.concat([entry(5, 100), entry(5, 400)]), 1000), null, 'same offset')
  assert.equal(OffsetIndex.fromBuffer(BASE, Buffer.concat([entry(5, 100), entry(3, 400)]), 1000), null, 'offset going back')
  assert.equal(OffsetIndex.fromBuffer(BASE, Buffer.concat([entry(1, 400), entry(5, 400)]), 1000), null, 'same position')
  assert.equal(OffsetIndex.fromBuffer(BASE, Buffer.concat([entry(1, 400), entry(5, 300)]), 1000), null, 'position going back')
  assert.equal(OffsetIndex.fromBuffer(BASE, good, 400), null, 'position at the end of the log')
  assert.equal(OffsetIndex.fromBuffer(BASE, good, 50), null, 'position beyond the log')
  assert.equal(OffsetIndex.fromBuffer(BASE, entry(-1, 10), 1000), null, 'negative offset')
  assert.equal(OffsetIndex.fromBuffer(BASE, entry(1, -10), 1000), null, 'negative position')
  assert.equal(OffsetIndex.fromBuffer(BASE, Buffer.alloc(16), 1000), null, 'two zero entries (a zero-filled file)')
})
