import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as path from 'node:path'
import { CorruptionError } from '../../../src/errors.js'
import { cleanLog, dirtyRatio, type CleanOptions } from '../../../src/storage/cleaner.js'
import { completeInterruptedSwaps } from '../../../src/storage/segment-swap.js'
import { offsetFileName } from '../../../src/storage/file-names.js'
import type { Log } from '../../../src/storage/log.js'
import {
  checkBatch, decodeRecords, encodeRecordBatch, forEachRecordKey, readBatchHeader, setLogAppendTime,
} from '../../../src/storage/record-batch.js'
import { encodeControlBatch } from '../../../src/storage/control-batch.js'
import { DecodeError } from '../../../src/storage/varint.js'
import { MemoryFileIO, type FaultOp } from '../../../src/util/file-io.js'
import { bothIO, type IOEnv } from '../../helpers/tmp.js'
import {
  DAY, T0, append, assertTruthful, batchesIn, cleanerLeftovers, expectedAfterClean, openLog, readAll, type OpenOpts, type Put, type Rec,
} from './cleaner-fixtures.js'

const KEEP = { deleteRetentionMs: DAY, now: T0 }
const strip = (recs: readonly Rec[]) => recs.map((r) => ({ offset: r.offset, key: r.key, value: r.value }))

/**
 * A log of 20 sealed segments of 3 batches (about 300 bytes: three fit in segmentBytes 1024) holding
 * keys k0..k7 written over and over, some tombstones and key-less records, k5 and k7 deleted for
 * good in the last sealed segment, then two records in the active segment. Flushed, as a broker's
 * log is once the records are acknowledged.
 */
async function buildLog(env: IOEnv, dir = env.dir, o: OpenOpts = {}): Promise<{ log: Log; hist: Rec[] }> {
  const log = await openLog(env.io, dir, o)
  const hist: Rec[] = []
  for (let i = 0; i < 60; i++) {
    const puts: Put[] = []
    for (let j = 0; j < 1 + (i % 3); j++) {
      const n = (i * 3 + j * 5) % 8
      puts.push([`k${n}`, i % 11 === 10 && j === 0 ? null : `v${i}.${j}`])
    }
    if (i % 13 === 0) puts.push([null, `keyless-${i}`])
    if (i === 59) puts.push(['k5', null], ['k7', null])
    append(log, hist, puts)
    if (i % 3 === 2) log.roll()
  }
  append(log, hist, [['k1', 'active-1'], ['k2', null]])
  await log.flush()
  return { log, hist }
}

const activeBase = (log: Log) => log.segmentInfo().at(-1)!.baseOffset

// ------------------------------------------------------------------ record batch: offsets kept

test('encodeRecordBatch keeps given offset deltas and lastOffsetDelta; an empty batch keeps its offsets', () => {
  const b = encodeRecordBatch(
    [
      { key: Buffer.from('a'), value: Buffer.from('1'), timestamp: T0 + 5, offsetDelta: 1 },
      { key: Buffer.from('b'), value: null, timestamp: T0 + 2, offsetDelta: 4 },
    ],
    { baseOffset: 100, lastOffsetDelta: 6, compression: 'gzip', producerId: 9, producerEpoch: 1, baseSequence: 30 },
  )
  assert.equal(checkBatch(b, 0), null)
  const h = readBatchHeader(b, 0)
  assert.deepEqual([h.baseOffset, h.lastOffsetDelta, h.recordCount, h.baseTimestamp, h.maxTimestamp], [100, 6, 2, T0 + 5, T0 + 5])
  assert.deepEqual(decodeRecords(b, 0).map((r) => [r.offset, r.timestamp]), [[101, T0 + 5], [104, T0 + 2]])
  const empty = encodeRecordBatch([], { baseOffset: 7, lastOffsetDelta: 3, compression: 'gzip', emptyBatchTimestamp: T0 })
  const e = readBatchHeader(empty, 0)
  assert.equal(checkBatch(empty, 0), null)
  assert.deepEqual([e.baseOffset, e.lastOffsetDelta, e.recordCount, e.compression, e.baseTimestamp, e.maxTimestamp], [7, 3, 0, 'none', T0, T0])
  assert.deepEqual(decodeRecords(empty, 0), [])
  const rec = (offsetDelta: number) => ({ key: null, value: null, timestamp: T0, offsetDelta })
  assert.throws(() => encodeRecordBatch([rec(2), rec(2)]), /offsetDelta/)
  assert.throws(() => encodeRecordBatch([rec(-1)]), /offsetDelta/)
  assert.throws(() => encodeRecordBatch([rec(3)], { lastOffsetDelta: 2 }), /lastOffsetDelta/)
  assert.throws(() => encodeRecordBatch([]), /at least one record/)
  // Without the new fields nothing changes: deltas 0..n-1.
  const plain = encodeRecordBatch([rec(0), rec(1)].map(({ offsetDelta: _, ...r }) => r))
  assert.equal(readBatchHeader(plain, 0).lastOffsetDelta, 1)
})

test('forEachRecordKey sees what decodeRecords decodes: offsets, keys, null values (fast-check)', () => {
  const bytes = fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null })
  const record = fc.record({ key: bytes, value: bytes, headers: fc.array(fc.record({ key: fc.string({ maxLength: 5 }), value: bytes }), { maxLength: 2 }) })
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 30 }), fc.constantFrom('none', 'gzip', 'snappy', 'lz4' as const), fc.nat({ max: 3 }), (recs, compression, gap) => {
      const batch = encodeRecordBatch(
        recs.map((r, i) => ({
          key: r.key && Buffer.from(r.key), value: r.value && Buffer.from(r.value), timestamp: T0 + i, offsetDelta: i * (gap + 1),
          headers: r.headers.map((h) => ({ key: h.key, value: h.value && Buffer.from(h.value) })),
        })),
        { baseOffset: 1000, compression },
      )
      const seen: Array<[number, string | null, boolean]> = []
      forEachRecordKey(batch, 0, (offset, data, start, length, valueIsNull) => {
        seen.push([offset, length < 0 ? null : data.toString('hex', start, start + length), valueIsNull])
      })
      assert.deepEqual(seen, decodeRecords(batch, 0).map((r) => [r.offset, r.key && r.key.toString('hex'), r.value === null]))
    }),
  )
  const batch = encodeRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v'), timestamp: T0 }])
  const cut = Buffer.from(batch)
  cut.writeInt32BE(2, 57) // recordCount 2: the second record is missing
  assert.throws(() => forEachRecordKey(cut, 0, () => undefined), DecodeError)
})

// --------------------------------------------------------------------------------- compaction

bothIO('keeps the latest record per key at its original offset; the active segment is untouched', async (env) => {
  const { log, hist } = await buildLog(env)
  const active = log.segmentFiles().at(-1)!
  const activeBytes = env.readBytes(active)
  const before = log.segmentCount
  const end = activeBase(log)
  const r = await cleanLog(log, { ...KEEP, firstDirtyOffset: 0 })
  assert.equal(r.cleaned, true)
  assert.equal(r.nextDirtyOffset, end)
  assert.ok(r.recordsRemoved > 0 && r.bytesWritten > 0 && r.bytesWritten < r.bytesRead, JSON.stringify(r))
  assert.ok(log.segmentCount < before, 'small cleaned segments were merged')
  const recs = assertTruthful(log, hist, end)
  assert.deepEqual(strip(recs), strip(expectedAfterClean(hist, end, true)))
  // Below the cleaned end each key appears once, and offsets only increase.
  const below = recs.filter((x) => x.offset < end && x.key !== null).map((x) => x.key)
  assert.equal(new Set(below).size, below.length)
  assert.deepEqual(env.readBytes(active), activeBytes, 'active segment bytes')
  assert.equal(log.segmentFiles().at(-1), active)
  assert.equal(log.nextOffset, hist.length)
  assert.deepEqual(cleanerLeftovers(env.list()), [])
  await log.close()
})

bothIO('tombstones stay while their segment is within deleteRetentionMs and go after it', async (env) => {
  // segmentBytes 200: the first two segments are too big to merge in the first pass.
  const log = await openLog(env.io, env.dir, { config: { segmentBytes: 200 } })
  const hist: Rec[] = []
  append(log, hist, [['a', 'a1'], ['b', 'b1'], ['c', 'c1']], T0)
  append(log, hist, [['a', null], ['b', 'b2']], T0 + 10)
  log.roll()
  append(log, hist, [['c', null], ['d', 'd1']], T0 + 5 * DAY)
  log.roll()
  append(log, hist, [['d', null]], T0 + 6 * DAY)
  const keys = (recs: Rec[]) => recs.map((r) => `${r.offset}:${r.key}=${r.value}`)
  // Within retention for every segment: superseded values go, tombstones stay.
  assert.equal(log.segmentCount, 3)
  let r = await cleanLog(log, { deleteRetentionMs: DAY, now: T0 + 10 + DAY, firstDirtyOffset: 0 })
  assert.deepEqual(keys(readAll(log).recs), ['3:a=null', '4:b=b2', '5:c=null', '6:d=d1', '7:d=null'])
  assert.equal(log.segmentCount, 3)
  // The first segment (largest timestamp T0 + 10) is now older than DAY: its tombstone goes; the
  // second segment's stays (each source segment's own age counts, also when the two merge); the
  // active segment is never cleaned.
  r = await cleanLog(log, { deleteRetentionMs: DAY, now: T0 + 11 + DAY, firstDirtyOffset: r.nextDirtyOffset })
  assert.equal(r.cleaned, true)
  assert.deepEqual(keys(readAll(log).recs), ['4:b=b2', '5:c=null', '6:d=d1', '7:d=null'])
  r = await cleanLog(log, { deleteRetentionMs: DAY, now: T0 + 7 * DAY, firstDirtyOffset: r.nextDirtyOffset })
  assert.deepEqual(keys(readAll(log).recs), ['4:b=b2', '6:d=d1', '7:d=null'])
  assertTruthful(log, hist)
  await log.close()
})

bothIO('a consumer reading from 0 sees exactly the latest values; any offset, gaps included, reads', async (env) => {
  const { log, hist } = await buildLog(env)
  const end = activeBase(log)
  await cleanLog(log, { deleteRetentionMs: DAY, now: T0 + 2 * DAY, firstDirtyOffset: 0 })
  const want = strip(expectedAfterClean(hist, end, false))
  for (const maxBytes of [1, 300, 1 << 20]) assert.deepEqual(strip(readAll(log, 0, maxBytes).recs), want, `maxBytes ${maxBytes}`)
  // From every offset, removed ones included: the first batch returned holds the next kept record.
  for (let offset = 0; offset < log.nextOffset; offset++) {
    const got = strip(readAll(log, offset).recs)
    assert.deepEqual(got, want.filter((w) => w.offset >= offset), `from ${offset}`)
  }
  // Offsets after the cleaned range are unchanged, and appends go on from the same end.
  assert.deepEqual(strip(readAll(log, end).recs), strip(hist.filter((h) => h.offset >= end)))
  assert.equal(log.append([encodeRecordBatch([{ key: Buffer.from('z'), value: null, timestamp: T0 }])]).baseOffset, hist.length)
  await log.close()
})

bothIO('batch boundaries, producer fields, compression and LogAppendTime survive; emptied batches go but a group keeps its last', async (env) => {
  const log = await openLog(env.io, env.dir, { config: { segmentBytes: 1 << 20 } })
  const hist: Rec[] = []
  const producer = { producerId: 42, producerEpoch: 3, baseSequence: 17, partitionLeaderEpoch: 5 }
  append(log, hist, [['a', '1'], ['b', '1'], ['c', '1']], T0, { ...producer, compression: 'gzip' }) // 0-2: keeps c
  append(log, hist, [['a', '2'], ['b', '2']], T0) // 3-4: emptied, dropped
  const lat = encodeRecordBatch([{ key: Buffer.from('x'), value: Buffer.from('1'), timestamp: T0 }, { key: Buffer.from('y'), value: Buffer.from('1'), timestamp: T0 }])
  setLogAppendTime(lat, 0, T0 + 99)
  const latBase = log.append([lat]).baseOffset // 5-6: keeps y
  hist.push({ offset: 5, key: 'x', value: '1', timestamp: T0 + 99 }, { offset: 6, key: 'y', value: '1', timestamp: T0 + 99 })
  log.append([encodeControlBatch({ commit: true, producerId: 8, producerEpoch: 0, coordinatorEpoch: 0, timestamp: T0 })]) // 7
  append(log, hist, [['a', '3'], ['b', '3'], ['x', '2']], T0) // 8-10
  append(log, hist, [['q', '1']], T0) // 11
  log.roll()
  append(log, hist, [['q', '2']], T0) // 12, active
  const sourceBatches = readAll(log).batches
  // The segment's last batch (q at 11) is superseded only by the active segment: not in the map.
  await cleanLog(log, { ...KEEP, firstDirtyOffset: 0 })
  const { batches, recs } = readAll(log)
  assert.deepEqual(recs.map((r) => r.offset), [2, 6, 8, 9, 10, 11, 12])
  assert.deepEqual(batches.map((b) => [b.baseOffset, b.lastOffsetDelta, b.recordCount]), [[0, 2, 1], [5, 1, 1], [7, 0, 1], [8, 2, 3], [11, 0, 1], [12, 0, 1]])
  const first = batches[0]!
  assert.deepEqual(
    [first.producerId, first.producerEpoch, first.baseSequence, first.partitionLeaderEpoch, first.compression],
    [42, 3, 17, 5, 'gzip'],
  )
  const latOut = batches.find((b) => b.baseOffset === latBase)!
  assert.deepEqual([latOut.timestampType, latOut.maxTimestamp], ['LogAppendTime', T0 + 99])
  assert.equal(recs.find((r) => r.offset === 6)!.timestamp, T0 + 99)
  const control = batches.find((b) => b.isControl)!
  assert.deepEqual(control, sourceBatches.find((b) => b.isControl), 'control batch copied as is')

  // Now supersede every record of the first segment, and reopen with segmentBytes of its size so it
  // is a group of its own: its emptied batches go, but its last one stays, empty, so the cleaned
  // segment still ends where its group did.
  log.roll()
  append(log, hist, [['a', '4'], ['b', '4'], ['c', '4'], ['x', '3'], ['y', '3'], ['q', '3']], T0)
  log.roll()
  const segmentBytes = log.segmentInfo()[0]!.size
  await log.close()
  const again = await openLog(env.io, env.dir, { config: { segmentBytes }, clean: true, recoveryPoint: hist.length + 1 })
  await cleanLog(again, { ...KEEP, firstDirtyOffset: 12 })
  const after = readAll(again).batches.filter((b) => b.baseOffset < 12)
  assert.deepEqual(after.map((b) => [b.baseOffset, b.lastOffsetDelta, b.recordCount]), [[7, 0, 1], [11, 0, 0]])
  assert.equal(again.segmentInfo()[1]!.baseOffset, 12)
  assertTruthful(again, hist)
  await again.close()
})

bothIO('snappy and lz4 batches are rewritten with their own codec; a batch that keeps everything is copied as is', async (env) => {
  const log = await openLog(env.io, env.dir, { config: { segmentBytes: 1 << 20 } })
  const hist: Rec[] = []
  append(log, hist, [['a', '1'], ['b', '1'], ['c', '1']], T0, { compression: 'snappy', producerId: 4, producerEpoch: 0, baseSequence: 0 }) // 0-2: keeps c
  append(log, hist, [['a', '2'], ['d', '1'], ['b', '2']], T0, { compression: 'lz4' }) // 3-5: keeps d, b
  append(log, hist, [['e', '1'], ['f', '1']], T0, { compression: 'lz4' }) // 6-7: keeps both
  append(log, hist, [['a', '3']], T0, { compression: 'snappy' }) // 8
  log.roll()
  append(log, hist, [['z', '1']], T0) // 9, active
  const before = readAll(log).batches
  await cleanLog(log, { ...KEEP, firstDirtyOffset: 0 })
  const { batches, recs } = readAll(log)
  assert.deepEqual(recs.map((r) => [r.offset, r.key, r.value]), [[2, 'c', '1'], [4, 'd', '1'], [5, 'b', '2'], [6, 'e', '1'], [7, 'f', '1'], [8, 'a', '3'], [9, 'z', '1']])
  assert.deepEqual(
    batches.map((b) => [b.baseOffset, b.lastOffsetDelta, b.recordCount, b.compression]),
    [[0, 2, 1, 'snappy'], [3, 2, 2, 'lz4'], [6, 1, 2, 'lz4'], [8, 0, 1, 'snappy'], [9, 0, 1, 'none']],
  )
  assert.deepEqual([batches[0]!.producerId, batches[0]!.baseSequence], [4, 0])
  assert.deepEqual(batches[2], before[2], 'the batch keeping all its records is copied, not re-encoded')
  assert.notDeepEqual(batches[1]!.crc, before[1]!.crc)
  await log.close()
})

bothIO('an emptied batch of a producer named in producerLastOffsets stays as an empty batch', async (env) => {
  const log = await openLog(env.io, env.dir, { config: { segmentBytes: 1 << 20 } })
  const hist: Rec[] = []
  append(log, hist, [['a', '1']], T0, { producerId: 5, producerEpoch: 0, baseSequence: 0 })
  append(log, hist, [['b', '1']], T0, { producerId: 6, producerEpoch: 0, baseSequence: 0 })
  append(log, hist, [['a', '2'], ['b', '2']], T0)
  append(log, hist, [['c', '1']], T0)
  log.roll()
  await cleanLog(log, { ...KEEP, firstDirtyOffset: 0, producerLastOffsets: new Map([[5, 0]]) })
  const batches = readAll(log).batches
  assert.deepEqual(batches.map((b) => [b.baseOffset, b.recordCount, b.producerId]), [[0, 0, 5], [2, 2, -1], [4, 1, -1]])
  await log.close()
})

bothIO('passes converge: merged up to segmentBytes, then a pass over a clean log swaps nothing', async (env) => {
  const { log, hist } = await buildLog(env)
  const end = activeBase(log)
  const opts: CleanOptions = { ...KEEP, firstDirtyOffset: 0 }
  let passes = 0
  for (;;) {
    const r = await cleanLog(log, opts)
    opts.firstDirtyOffset = r.nextDirtyOffset
    passes++
    if (r.segmentsCleaned === 0) break
    assert.ok(passes < 5, 'passes keep swapping')
  }
  const files = env.list()
  const bytes = log.segmentFiles().map((f) => env.readBytes(f))
  const r = await cleanLog(log, opts)
  assert.deepEqual([r.cleaned, r.segmentsCleaned, r.recordsRemoved, r.bytesWritten], [true, 0, 0, 0])
  assert.deepEqual(env.list(), files)
  assert.deepEqual(log.segmentFiles().map((f) => env.readBytes(f)), bytes)
  for (const info of log.segmentInfo().slice(0, -1)) assert.ok(info.size <= 1024, `segment ${info.baseOffset} is ${info.size} bytes`)
  assert.deepEqual(strip(readAll(log).recs), strip(expectedAfterClean(hist, end, true)))
  await log.close()
})

bothIO('dirtyRatio and minCleanableDirtyRatio decide whether a pass runs', async (env) => {
  const { log, hist } = await buildLog(env)
  assert.equal(dirtyRatio(log, 0), 1)
  const skipped = await cleanLog(log, { ...KEEP, firstDirtyOffset: 0, minCleanableDirtyRatio: 1.01 })
  assert.deepEqual([skipped.cleaned, skipped.bytesRead, skipped.nextDirtyOffset], [false, 0, 0])
  const r = await cleanLog(log, { ...KEEP, firstDirtyOffset: 0, minCleanableDirtyRatio: 0.5 })
  assert.equal(r.cleaned, true)
  assert.equal(dirtyRatio(log, r.nextDirtyOffset), 0)
  const cleanBytes = log.segmentInfo().slice(0, -1).reduce((n, s) => n + s.size, 0)
  for (let i = 0; i < 8; i++) append(log, hist, [[`k${i}`, `new${i}`]])
  log.roll()
  const dirtyBytes = log.segmentInfo().at(-2)!.size
  assert.equal(dirtyRatio(log, r.nextDirtyOffset), dirtyBytes / (cleanBytes + dirtyBytes))
  assert.equal(dirtyRatio(log, r.nextDirtyOffset, r.nextDirtyOffset), 0, 'nothing below the uncleanable offset is dirty')
  assert.equal((await cleanLog(log, { ...KEEP, firstDirtyOffset: r.nextDirtyOffset, minCleanableDirtyRatio: 0.99 })).cleaned, false)
  const again = await cleanLog(log, { ...KEEP, firstDirtyOffset: r.nextDirtyOffset, minCleanableDirtyRatio: 0.01 })
  assert.equal(again.cleaned, true)
  assertTruthful(log, hist)
  await log.close()
})

bothIO('firstUncleanableOffset keeps whole segments at and after it out of the pass', async (env) => {
  const { log, hist } = await buildLog(env)
  const sealed = log.segmentInfo().slice(0, -1)
  const limit = sealed[3]!.nextOffset + 1 // inside the fifth segment
  const untouched = log.segmentFiles().slice(4).map((f) => env.readBytes(f))
  const r = await cleanLog(log, { ...KEEP, firstDirtyOffset: 0, firstUncleanableOffset: limit })
  assert.equal(r.nextDirtyOffset, sealed[3]!.nextOffset)
  assert.deepEqual(log.segmentFiles().slice(-untouched.length).map((f) => env.readBytes(f)), untouched)
  assert.deepEqual(strip(readAll(log).recs), strip(expectedAfterClean(hist, sealed[3]!.nextOffset, true)))
  await log.close()
})

bothIO('a small offset map cleans in several passes to the same result, never resurrecting a deleted key', async (env) => {
  const { log, hist } = await buildLog(env)
  const end = activeBase(log)
  const opts: CleanOptions = { deleteRetentionMs: DAY, now: T0 + 2 * DAY, firstDirtyOffset: 0, offsetMapBytesMax: 250 }
  const dirty: number[] = []
  while (opts.firstDirtyOffset < end) {
    const r = await cleanLog(log, opts)
    assert.equal(r.cleaned, true)
    assert.ok(r.nextDirtyOffset > opts.firstDirtyOffset)
    opts.firstDirtyOffset = r.nextDirtyOffset
    dirty.push(r.nextDirtyOffset)
    assertTruthful(log, hist, end)
  }
  assert.ok(dirty.length > 2, `took ${dirty.length} passes`)
  await cleanLog(log, opts)
  assert.deepEqual(strip(readAll(log).recs), strip(expectedAfterClean(hist, end, false)))
  await log.close()
})

bothIO('a cleaned log reopens the same, cleanly or from recovery point 0; its indexes serve reads and timestamps', async (env) => {
  const clock = { ms: T0 }
  const o: OpenOpts = { clock, config: { indexIntervalBytes: 64 } }
  const log = await openLog(env.io, env.dir, o)
  const hist: Rec[] = []
  for (let i = 0; i < 80; i++) append(log, hist, [[`k${i % 10}`, `v${i}`]], T0 + i * 1000)
  log.roll()
  await cleanLog(log, { ...KEEP, firstDirtyOffset: 0 })
  const want = readAll(log).recs
  const byTs = (l: Log) => [0, 5, 69, 70, 71, 79].map((i) => l.offsetForTimestamp(T0 + i * 1000))
  const ts = byTs(log)
  assert.deepEqual(ts, [70, 70, 70, 70, 71, 79])
  const rp = log.recoveryPoint
  await log.close()
  for (const reopen of [{ clean: true, recoveryPoint: rp }, { clean: false, recoveryPoint: 0 }]) {
    const again = await openLog(env.io, env.dir, { ...o, ...reopen })
    assert.equal(again.swapRecovery, null)
    assert.deepEqual(readAll(again).recs, want)
    assert.deepEqual(byTs(again), ts)
    assertTruthful(again, hist)
    await again.close()
  }
})

// ------------------------------------------------------------------------------ concurrency

bothIO('reads and appends between the chunks of a pass always see a truthful log', async (env) => {
  const { log, hist } = await buildLog(env)
  let chunks = 0
  const r = await cleanLog(log, {
    ...KEEP,
    firstDirtyOffset: 0,
    chunkBytes: 100,
    yield: async () => {
      chunks++
      assertTruthful(log, hist)
      if (chunks % 7 === 0) append(log, hist, [[`k${chunks % 8}`, `during-${chunks}`]])
      await new Promise((resolve) => setImmediate(resolve))
    },
  })
  assert.equal(r.cleaned, true)
  assert.ok(chunks > 20, `${chunks} chunks`)
  assertTruthful(log, hist)
  await log.close()
})

bothIO('the work between two yields is bounded by records too, so compressed batches yield as often', async (env) => {
  const log = await openLog(env.io, env.dir, { config: { segmentBytes: 1 << 20 } })
  const hist: Rec[] = []
  const batches = 20
  for (let i = 0; i < batches; i++) {
    append(log, hist, Array.from({ length: 500 }, (_, j): Put => [`k${j}`, `v${i}`]), T0, { compression: 'gzip' })
  }
  log.roll()
  const bytes = log.segmentInfo()[0]!.size
  assert.ok(bytes / 16_384 < batches / 4, `the 10,000 records compress into ${bytes} bytes, a few chunks`)
  let yields = 0
  await cleanLog(log, { ...KEEP, firstDirtyOffset: 0, chunkBytes: 16_384, yield: async () => void yields++ })
  assert.ok(yields >= batches, `${yields} yields for ${batches} batches of 500 records`)
  assertTruthful(log, hist)
  await log.close()
})

bothIO('an abort, or retention deleting a segment, stops a pass with nothing left behind', async (env) => {
  for (const how of ['abort', 'retention'] as const) {
    const { log, hist } = await buildLog(env, path.join(env.root, how))
    const ac = new AbortController()
    let chunks = 0
    const r = await cleanLog(log, {
      ...KEEP,
      firstDirtyOffset: 0,
      chunkBytes: 100,
      signal: ac.signal,
      yield: async () => {
        if (++chunks < 25) return
        if (how === 'abort') ac.abort()
        else if (chunks === 25) await log.advanceLogStart(log.segmentInfo()[1]!.baseOffset)
      },
    })
    assert.equal(r.cleaned, false)
    assert.equal(r.stopped, how === 'abort' ? 'aborted' : 'segments-changed')
    assert.equal(r.nextDirtyOffset, 0)
    assert.deepEqual(cleanerLeftovers(env.list(path.join(env.root, how))), [])
    assertTruthful(log, hist)
    await log.close()
  }
})

bothIO('replaced segment files are freed a few MiB per step, between yields, never in one unlink', async (env) => {
  const log = await openLog(env.io, env.dir, { config: { segmentBytes: 24 << 20, indexIntervalBytes: 4096 } })
  const hist: Rec[] = []
  const value = 'x'.repeat(100_000)
  for (let i = 0; i < 200; i++) append(log, hist, [[`k${i % 4}`, value]])
  log.roll()
  const oldBytes = log.segmentInfo()[0]!.size
  assert.ok(oldBytes > 16 << 20)
  const steps: number[] = []
  let yields = 0
  env.setInjector((op, file) => {
    if (!file.endsWith('.deleted')) return undefined
    if (op === 'truncate') steps.push(yields)
    if (op === 'unlink') assert.equal(env.readBytes(file).length, 0, 'a replaced file is empty when unlinked')
    return undefined
  })
  const r = await cleanLog(log, { ...KEEP, firstDirtyOffset: 0, yield: async () => void yields++ })
  env.setInjector(undefined)
  assert.equal(r.segmentsCleaned, 1)
  assert.equal(steps.length, Math.ceil(oldBytes / (8 << 20)), `truncate steps for a ${oldBytes}-byte file`)
  assert.equal(new Set(steps).size, steps.length, 'one truncate per yield')
  assert.deepEqual(cleanerLeftovers(env.list()), [])
  assertTruthful(log, hist)
  await log.close()
})

// ------------------------------------------------------------------------------- crash safety

bothIO('one swap, step by step: write and fsync, rename to .swap, fsync dir, then replace, fsync dir, free', async (env) => {
  const log = await openLog(env.io, env.dir)
  const hist: Rec[] = []
  append(log, hist, [['a', '1'], ['b', '1']])
  log.roll()
  append(log, hist, [['a', '2']])
  log.roll()
  append(log, hist, [['b', '2']])
  await log.flush()
  const ops: string[] = []
  env.setInjector((op, file) => {
    if (op !== 'read') ops.push(`${op} ${file === env.dir ? 'dir' : path.basename(file).replace(/^0+(?=\d)/, '')}`)
    return undefined
  })
  await cleanLog(log, { ...KEEP, firstDirtyOffset: 0 })
  env.setInjector(undefined)
  assert.deepEqual(ops, [
    'open 0.log.cleaned', 'truncate 0.log.cleaned', 'write 0.log.cleaned',
    'open 0.index.cleaned', 'truncate 0.index.cleaned', 'open 0.timeindex.cleaned', 'truncate 0.timeindex.cleaned', 'write 0.timeindex.cleaned',
    'sync 0.log.cleaned', 'sync 0.index.cleaned', 'sync 0.timeindex.cleaned',
    // the commit: the .log last, then the directory
    'rename 0.index.cleaned', 'rename 0.timeindex.cleaned', 'rename 0.log.cleaned', 'syncDir dir',
    // one synchronous step: old files aside, the swap in place, the new segment open
    'rename 0.log', 'unlink 2.index', 'unlink 2.timeindex', 'rename 2.log',
    'rename 0.index.swap', 'rename 0.timeindex.swap', 'rename 0.log.swap', 'open 0.log', 'syncDir dir',
    'open 0.log.deleted', 'truncate 0.log.deleted', 'unlink 0.log.deleted', 'open 2.log.deleted', 'truncate 2.log.deleted', 'unlink 2.log.deleted',
  ])
  assert.deepEqual(readAll(log).recs.map((r) => `${r.offset}:${r.key}=${r.value}`), ['1:b=1', '2:a=2', '3:b=2'])
  await log.close()
})

const MUTATING = new Set<FaultOp>(['open', 'write', 'truncate', 'sync', 'rename', 'unlink', 'syncDir'])
const DROP_ALL: Omit<CleanOptions, 'firstDirtyOffset'> = { deleteRetentionMs: DAY, now: T0 + 2 * DAY }

bothIO('a crash at every file operation of a pass leaves a log that reopens truthful; a later pass finishes', async (env) => {
  const count = await buildLog(env, path.join(env.root, 'count'))
  const counter = env.countOps((op, file) => MUTATING.has(op) && file.startsWith(count.log.dir))
  await cleanLog(count.log, { ...DROP_ALL, firstDirtyOffset: 0 })
  const total = counter.count
  env.setInjector(undefined)
  const end = activeBase(count.log)
  const want = strip(readAll(count.log).recs)
  assert.deepEqual(want, strip(expectedAfterClean(count.hist, end, false)))
  await count.log.close()
  assert.ok(total > 10, `${total} operations`)
  const seen = new Set<string>()
  for (let k = 0; k < total; k++) {
    const dir = path.join(env.root, `crash-${k}`)
    const { log, hist } = await buildLog(env, dir)
    let n = 0
    // The process dies at operation k: it and every later one fail.
    env.setInjector((op, file) => (MUTATING.has(op) && file.startsWith(dir) && n++ >= k ? 'EIO' : undefined))
    await cleanLog(log, { ...DROP_ALL, firstDirtyOffset: 0 }).then(
      () => assert.fail(`the pass survived a failure at operation ${k}`),
      () => undefined,
    )
    const rp = log.recoveryPoint
    seen.add(cleanerLeftovers(env.list(dir)).map((f) => f.replace(/^0+/, '')).join(' '))
    log.abandon()
    env.memory?.crash()
    env.setInjector(undefined)
    const reopened = await openLog(env.io, dir, { recoveryPoint: rp })
    assert.deepEqual(cleanerLeftovers(env.list(dir)), [], `leftovers after a crash at ${k}`)
    assertTruthful(reopened, hist, end)
    assert.equal(reopened.nextOffset, hist.length)
    await cleanLog(reopened, { ...DROP_ALL, firstDirtyOffset: 0 })
    assert.deepEqual(strip(readAll(reopened).recs), want, `after a crash at ${k} and a new pass`)
    await reopened.close()
  }
  // The crash points covered uncommitted files, a committed swap, a swap half done and replaced
  // files not yet deleted.
  for (const leftover of ['.log.cleaned', '.log.swap', '.log.deleted']) {
    assert.ok([...seen].some((s) => s.includes(leftover)), `${leftover} never left: ${[...seen].join(' | ')}`)
  }
})

/**
 * Leftovers made by hand: `dirA` gets the log, `dirB` the same log cleaned; B's first segment is the
 * swap file a pass over A would have committed for A's first group.
 */
async function swapFixture(env: IOEnv, name: string) {
  const dirA = path.join(env.root, `${name}-a`)
  const dirB = path.join(env.root, `${name}-b`)
  const o: OpenOpts = { config: { indexIntervalBytes: 64 } }
  const a = await buildLog(env, dirA, o)
  const b = await buildLog(env, dirB, o)
  await cleanLog(b.log, { ...DROP_ALL, firstDirtyOffset: 0 })
  const cleaned = readAll(b.log).recs
  const groupEnd = b.log.segmentInfo()[1]!.baseOffset
  const swapBytes = env.readBytes(b.log.segmentFiles()[0]!)
  await b.log.close()
  const segments = a.log.segmentInfo().map((s) => s.baseOffset)
  await a.log.close()
  const covered = segments.filter((s) => s < groupEnd)
  assert.ok(covered.length >= 3, `the first group covers ${covered.length} segments`)
  const file = (base: number, suffix: string) => path.join(dirA, offsetFileName(base, suffix))
  const want = cleaned.filter((r) => r.offset < groupEnd).concat(a.hist.filter((r) => r.offset >= groupEnd))
  return { dirA, a, covered, file, swapBytes, want, o, segments }
}

bothIO('leftover files at open: uncommitted .cleaned files, orphan index swaps and replaced .deleted files go; the log is as before', async (env) => {
  const f = await swapFixture(env, 'cleaned')
  const before = await openLog(env.io, f.dirA, { ...f.o, clean: true, recoveryPoint: f.a.hist.length })
  const want = readAll(before).recs
  await before.close()
  env.writeBytes(f.file(0, '.log.cleaned'), f.swapBytes.subarray(0, 100))
  env.writeBytes(f.file(0, '.index.cleaned'), Buffer.alloc(16, 1))
  env.writeBytes(f.file(0, '.timeindex.swap'), Buffer.alloc(24, 2))
  env.writeBytes(f.file(0, '.index.swap'), Buffer.alloc(16, 3))
  env.writeBytes(f.file(f.covered[1]!, '.log.deleted'), f.swapBytes)
  const log = await openLog(env.io, f.dirA, { ...f.o, recoveryPoint: f.a.hist.length })
  assert.deepEqual(log.swapRecovery, { cleanedFilesDeleted: 2, deletedFilesRemoved: 1, swapsCompleted: [] })
  assert.deepEqual(cleanerLeftovers(env.list(f.dirA)), [])
  assert.deepEqual(readAll(log).recs, want)
  await log.close()
})

const swapCases: Array<[string, (covered: number[]) => number[]]> = [
  ['every old segment still there', () => []],
  ['the group\'s later segments deleted', (c) => c.slice(1)],
  ['some later segments deleted', (c) => c.slice(2)],
  ['all old segments deleted, the first too', (c) => c],
]
for (const [name, deleted] of swapCases) {
  bothIO(`a committed .log.swap at open is completed: ${name}`, async (env) => {
    const f = await swapFixture(env, 'swap')
    env.writeBytes(f.file(0, '.log.swap'), f.swapBytes)
    // Stale indexes of the old first segment (one that passes the sanity check but points inside a
    // batch), and index swaps that may be stale too: all rebuilt.
    const stale = Buffer.alloc(8)
    stale.writeInt32BE(1, 0)
    stale.writeInt32BE(1, 4)
    env.writeBytes(f.file(0, '.index'), stale)
    env.writeBytes(f.file(0, '.index.swap'), Buffer.alloc(16, 7))
    for (const base of deleted(f.covered)) {
      for (const suffix of ['.log', '.index', '.timeindex']) env.io.unlink(f.file(base, suffix))
    }
    const log = await openLog(env.io, f.dirA, { ...f.o, recoveryPoint: f.a.hist.length })
    const gone = new Set(deleted(f.covered))
    assert.deepEqual(log.swapRecovery?.swapsCompleted, [
      { baseOffset: 0, endOffset: f.segments[f.covered.length]!, segmentsDeleted: f.covered.slice(1).filter((b) => !gone.has(b)).length },
    ])
    assert.deepEqual(cleanerLeftovers(env.list(f.dirA)), [])
    assert.deepEqual(log.segmentInfo().map((s) => s.baseOffset), [0, ...f.segments.filter((s) => !f.covered.includes(s))])
    assert.deepEqual(strip(readAll(log).recs), strip(f.want))
    for (let offset = 0; offset < log.nextOffset; offset += 3) {
      assert.deepEqual(strip(readAll(log, offset).recs), strip(f.want.filter((w) => w.offset >= offset)), `from ${offset}`)
    }
    assertTruthful(log, f.a.hist)
    await log.close()
  })
}

bothIO('a swap file that fails its checks is corruption at open', async (env) => {
  const f = await swapFixture(env, 'corrupt')
  const bad = Buffer.from(f.swapBytes)
  bad[bad.length - 3]! ^= 0xff
  env.writeBytes(f.file(0, '.log.swap'), bad)
  await assert.rejects(openLog(env.io, f.dirA, f.o), (e) => e instanceof CorruptionError && e.file.endsWith('.log.swap'))
  assert.equal(await completeInterruptedSwaps(env.io, path.join(env.root, 'missing')), null)
})

bothIO('a bad batch in a sealed segment fails the pass with CorruptionError and leaves no file', async (env) => {
  const { log, hist } = await buildLog(env)
  const victim = log.segmentFiles()[2]!
  const bytes = env.readBytes(victim)
  const corrupt = Buffer.from(bytes)
  corrupt[100]! ^= 0x55
  env.writeBytes(victim, corrupt)
  await assert.rejects(cleanLog(log, { ...KEEP, firstDirtyOffset: 0 }), (e) => e instanceof CorruptionError && e.file === victim)
  assert.deepEqual(cleanerLeftovers(env.list()), [])
  env.writeBytes(victim, bytes)
  assertTruthful(log, hist)
  await log.close()
})

test('cleanLog does nothing on a read-only log or one with nothing sealed', async () => {
  const io = new MemoryFileIO()
  io.mkdirp('/x')
  const log = await openLog(io, '/x/t-0')
  append(log, [], [['a', '1']])
  const r = await cleanLog(log, { ...KEEP, firstDirtyOffset: 0 })
  assert.deepEqual([r.cleaned, r.nextDirtyOffset, r.dirtyRatio], [false, 0, 0])
  log.roll()
  await log.close()
  const ro = await openLog(io, '/x/t-0', { readOnly: true, clean: true, recoveryPoint: 1 })
  assert.equal((await cleanLog(ro, { ...KEEP, firstDirtyOffset: 0 })).cleaned, false)
  await ro.close()
})
