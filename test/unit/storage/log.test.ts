import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as path from 'node:path'
import { OffsetOutOfRangeError, StorageError } from '../../../src/errors.js'
import { parseSegmentFileName } from '../../../src/storage/file-names.js'
import { Log, type LogConfig } from '../../../src/storage/log.js'
import { LOG_OVERHEAD, decodeRecords, encodeRecordBatch, readBatchHeader, type BatchHeader } from '../../../src/storage/record-batch.js'
import type { FileHandle, FileIO } from '../../../src/util/file-io.js'
import { bothIO, type IOEnv } from '../../helpers/tmp.js'

const T0 = 1_700_000_000_000
const DAY = 86_400_000

interface Clock {
  ms: number
}
interface OpenOpts {
  config?: Partial<LogConfig>
  clean?: boolean
  recoveryPoint?: number
  logStartOffset?: number
  readOnly?: boolean
  clock?: Clock
  io?: FileIO
}

function openLog(env: IOEnv, o: OpenOpts = {}): Promise<Log> {
  const clock = o.clock ?? { ms: T0 }
  return Log.open(o.io ?? env.io, env.dir, {
    config: { segmentBytes: 1 << 30, segmentMs: 7 * DAY, indexIntervalBytes: 4096, ...o.config },
    recoveryPoint: o.recoveryPoint ?? 0,
    logStartOffset: o.logStartOffset ?? 0,
    clean: o.clean ?? false,
    readOnly: o.readOnly ?? false,
    now: () => clock.ms,
  })
}

/** A batch of `count` records keyed `<tag>-<i>`, with one timestamp for all or one per record. */
function batch(tag: string, count = 1, ts: number | number[] = T0, valueBytes = 24): Buffer {
  const stamps = typeof ts === 'number' ? Array(count).fill(ts) : ts
  return encodeRecordBatch(
    stamps.map((timestamp, i) => ({
      key: Buffer.from(`${tag}-${i}`),
      value: Buffer.from(`${tag}-${i}:`.padEnd(valueBytes, '.')),
      timestamp,
    })),
  )
}

function batchesIn(bytes: Buffer): Array<BatchHeader & { pos: number }> {
  const out: Array<BatchHeader & { pos: number }> = []
  for (let pos = 0; pos < bytes.length; pos += LOG_OVERHEAD + bytes.readInt32BE(pos + 8)) {
    out.push({ ...readBatchHeader(bytes, pos), pos })
  }
  return out
}

function keysIn(bytes: Buffer): string[] {
  return batchesIn(bytes).flatMap((b) => decodeRecords(bytes, b.pos).map((r) => `${r.offset}:${r.key}`))
}

/** What the model says was appended: one entry per record. */
interface Rec {
  offset: number
  key: string
  ts: number
}

function appendModel(log: Log, model: Rec[], batches: Buffer[]): { baseOffset: number; lastOffset: number } {
  const decoded = batches.map((b) => decodeRecords(b, 0))
  const r = log.append(batches)
  let offset = r.baseOffset
  for (const recs of decoded) {
    for (const rec of recs) model.push({ offset: offset++, key: String(rec.key), ts: rec.timestamp })
  }
  assert.equal(offset - 1, r.lastOffset)
  return r
}

/** Reads the whole log from `from`, batch by batch, following each batch's last offset. */
function readAll(log: Log, from = log.logStartOffset, maxBytes = 1): string[] {
  const out: string[] = []
  let offset = from
  while (offset < log.nextOffset) {
    const { bytes } = log.read(offset, maxBytes)
    const batches = batchesIn(bytes)
    assert.ok(batches.length > 0, `read at ${offset} returned nothing`)
    for (const k of keysIn(bytes)) if (Number(k.split(':')[0]) >= offset) out.push(k)
    const last = batches[batches.length - 1]!
    offset = last.baseOffset + last.lastOffsetDelta + 1
  }
  return out
}

const modelKeys = (model: Rec[], from = 0): string[] => model.filter((r) => r.offset >= from).map((r) => `${r.offset}:${r.key}`)

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// ------------------------------------------------------------------------------ append and read

bothIO('append assigns consecutive offsets across multi-record batches; read finds the batch holding any offset', async (env) => {
  for (const indexIntervalBytes of [4096, 100]) {
    const log = await openLog({ ...env, dir: path.join(env.root, `p-${indexIntervalBytes}`) }, { config: { indexIntervalBytes } })
    const model: Rec[] = []
    assert.equal(log.nextOffset, 0)
    assert.deepEqual(appendModel(log, model, [batch('a', 1)]), { baseOffset: 0, lastOffset: 0 })
    assert.deepEqual(appendModel(log, model, [batch('b', 3), batch('c', 5), batch('d', 2)]), { baseOffset: 1, lastOffset: 10 })
    assert.deepEqual(appendModel(log, model, [batch('e', 10)]), { baseOffset: 11, lastOffset: 20 })
    for (let i = 0; i < 20; i++) appendModel(log, model, [batch(`f${i}`, 1 + (i % 4))])
    assert.equal(log.nextOffset, model.length)
    for (let offset = 0; offset < log.nextOffset; offset++) {
      const r = log.read(offset, 1)
      const [b, ...rest] = batchesIn(r.bytes)
      assert.equal(rest.length, 0, 'maxBytes 1 gives exactly one batch')
      assert.ok(b!.baseOffset <= offset && offset <= b!.baseOffset + b!.lastOffsetDelta, `batch ${b!.baseOffset} holds ${offset}`)
      const expected = model.filter((m) => m.offset >= b!.baseOffset && m.offset <= b!.baseOffset + b!.lastOffsetDelta)
      assert.deepEqual(keysIn(r.bytes), modelKeys(expected, 0))
      assert.equal(r.file, log.segmentFiles()[0])
    }
    assert.deepEqual(readAll(log), modelKeys(model))
    assert.equal(log.read(log.nextOffset, 1 << 20).bytes.length, 0, 'reading at the end is empty')
    assert.throws(() => log.read(log.nextOffset + 1, 100), OffsetOutOfRangeError)
    assert.throws(() => log.read(-1, 100), OffsetOutOfRangeError)
    await log.close()
  }
})

bothIO('maxBytes returns whole batches only, and at least one even when it is larger (KIP-74)', async (env) => {
  const log = await openLog(env)
  const sizes: number[] = []
  for (let i = 0; i < 10; i++) {
    const b = batch(`m${i}`, 2, T0, 10 + 40 * (i % 3))
    sizes.push(b.length)
    log.append([b])
  }
  const count = (offset: number, maxBytes: number): number => batchesIn(log.read(offset, maxBytes).bytes).length
  assert.equal(count(0, 0), 1)
  assert.equal(count(0, sizes[0]! - 1), 1)
  assert.equal(count(0, sizes[0]!), 1)
  assert.equal(count(0, sizes[0]! + sizes[1]! - 1), 1)
  assert.equal(count(0, sizes[0]! + sizes[1]!), 2)
  assert.equal(count(0, 1 << 20), 10)
  // From the middle of batch 3 (offsets 6, 7): batches 3, 4, 5 fit exactly.
  const three = sizes[3]! + sizes[4]! + sizes[5]!
  const r = log.read(7, three)
  assert.equal(r.bytes.length, three)
  assert.deepEqual(batchesIn(r.bytes).map((b) => b.baseOffset), [6, 8, 10])
  assert.equal(r.position, sizes.slice(0, 3).reduce((a, b) => a + b, 0))
  assert.equal(count(7, three - 1), 2)
  // A batch bigger than maxBytes still comes back whole.
  const big = batch('big', 50, T0, 100)
  log.append([big])
  const whole = log.read(20, 10)
  assert.equal(whole.bytes.length, big.length)
  assert.equal(decodeRecords(whole.bytes, 0).length, 50)
  await log.close()
})

bothIO('reads stop before endOffset (the high watermark)', async (env) => {
  const log = await openLog(env)
  for (let i = 0; i < 6; i++) log.append([batch(`h${i}`, 3)])
  const bases = (offset: number, endOffset: number): number[] =>
    batchesIn(log.read(offset, 1 << 20, endOffset).bytes).map((b) => b.baseOffset)
  assert.deepEqual(bases(0, 18), [0, 3, 6, 9, 12, 15])
  assert.deepEqual(bases(0, 9), [0, 3, 6])
  assert.deepEqual(bases(7, 9), [6])
  assert.deepEqual(bases(9, 9), [])
  assert.deepEqual(bases(0, 0), [])
  assert.deepEqual(bases(0, 1), [0])
  await log.close()
})

bothIO('offsets below the log start offset are out of range; the start offset may sit inside a batch', async (env) => {
  const log = await openLog(env)
  for (let i = 0; i < 5; i++) log.append([batch(`s${i}`, 4)])
  await log.close()
  const reopened = await openLog(env, { clean: true, recoveryPoint: 20, logStartOffset: 6 })
  assert.equal(reopened.logStartOffset, 6)
  assert.throws(() => reopened.read(5, 100), (e) => e instanceof OffsetOutOfRangeError && e.code === 'OFFSET_OUT_OF_RANGE')
  assert.deepEqual(batchesIn(reopened.read(6, 1).bytes).map((b) => b.baseOffset), [4])
  assert.deepEqual(readAll(reopened, 6).slice(0, 2), ['6:s1-2', '7:s1-3'])
  await reopened.close()
  const clamped = await openLog(env, { clean: true, recoveryPoint: 20, logStartOffset: 500 })
  assert.equal(clamped.logStartOffset, 20, 'a start offset past the end is clamped to the end')
  await clamped.close()
})

// ---------------------------------------------------------------------------------------- rolling

bothIO('rolls by segmentBytes per append: 20-digit names, segments packed up to the limit, reads across boundaries', async (env) => {
  const segmentBytes = 1024
  const log = await openLog(env, { config: { segmentBytes, indexIntervalBytes: 128 } })
  const rand = rng(7)
  const model: Rec[] = []
  const sizes = new Map<number, number>()
  const appends = new Map<number, number>()
  for (let i = 0; i < 80; ) {
    const group: Buffer[] = []
    for (let n = 1 + Math.floor(rand() * 3); n > 0; n--, i++) {
      const b = batch(`r${i}`, 1 + Math.floor(rand() * 4), T0 + i, 8 + Math.floor(rand() * 60))
      group.push(b)
    }
    const firstOffset = log.nextOffset
    const r = appendModel(log, model, group)
    assert.equal(r.baseOffset, firstOffset)
    appends.set(firstOffset, group.reduce((n, b) => n + b.length, 0))
    let o = r.baseOffset
    for (const b of group) {
      sizes.set(o, b.length)
      o += b.readInt32BE(23) + 1
    }
  }
  const oversized = batch('huge', 3, T0, 700)
  const afterHuge = batch('after-huge', 1)
  const wasSegments = log.segmentCount
  sizes.set(log.nextOffset, oversized.length)
  sizes.set(log.nextOffset + 3, afterHuge.length)
  appends.set(log.nextOffset, oversized.length + afterHuge.length)
  appendModel(log, model, [oversized, afterHuge])
  assert.ok(oversized.length > segmentBytes / 2)
  assert.equal(log.segmentCount, wasSegments + 1, 'one append lands in one segment, as in Kafka')
  const tail = batch('tail', 1)
  sizes.set(log.nextOffset, tail.length)
  appends.set(log.nextOffset, tail.length)
  appendModel(log, model, [tail])
  assert.equal(log.segmentCount, wasSegments + 2, 'the next append starts a new segment')
  await log.flush()

  const files = log.segmentFiles()
  assert.ok(files.length > 5, `rolled into ${files.length} segments`)
  const bases = files.map((f) => parseSegmentFileName(path.basename(f)))
  for (const f of files) assert.match(path.basename(f), /^\d{20}\.log$/)
  assert.equal(bases[0], 0)
  for (const b of bases) assert.ok(b !== null && appends.has(b), `segment ${b} starts at an append`)
  const listing = env.list()
  for (const f of files.slice(0, -1)) {
    const stem = path.basename(f, '.log')
    assert.ok(listing.includes(`${stem}.index`) && listing.includes(`${stem}.timeindex`), `sealed ${stem} has its indexes`)
  }
  // Every segment holds at most segmentBytes unless a single append is bigger, and rolled only
  // when the next append would not fit.
  for (let s = 0; s < files.length; s++) {
    const end = s + 1 < files.length ? bases[s + 1]! : log.nextOffset
    let bytes = 0
    for (const [o, size] of sizes) if (o >= bases[s]! && o < end) bytes += size
    if (s + 1 < files.length) {
      assert.ok(bytes <= segmentBytes || appends.get(bases[s]!) === bytes, `segment ${s} holds ${bytes} bytes`)
      assert.ok(bytes + appends.get(bases[s + 1]!)! > segmentBytes, `segment ${s} rolled early`)
    }
    // The last offset of a segment and the first of the next come from their own files.
    if (s + 1 < files.length) {
      assert.equal(log.read(bases[s + 1]! - 1, 1).file, files[s])
      assert.equal(log.read(bases[s + 1]!, 1).file, files[s + 1])
      const r = log.read(bases[s + 1]! - 1, 1 << 20)
      assert.equal(batchesIn(r.bytes).at(-1)!.baseOffset + batchesIn(r.bytes).at(-1)!.lastOffsetDelta + 1, bases[s + 1])
    }
  }
  assert.deepEqual(readAll(log), modelKeys(model))
  assert.deepEqual(readAll(log, 0, 1 << 20), modelKeys(model))
  await log.close()
})

bothIO('rolls by segmentMs with an injected clock, counting from the segment\'s first append', async (env) => {
  const segmentMs = 1000
  const clock = { ms: T0 }
  const log = await openLog(env, { clock, config: { segmentMs } })
  log.append([batch('a', 1, clock.ms)])
  clock.ms += segmentMs
  log.append([batch('b', 1, clock.ms)])
  assert.equal(log.segmentCount, 1, 'exactly segmentMs old: not yet')
  clock.ms += 1
  const r = log.append([batch('c', 1, clock.ms)])
  assert.equal(log.segmentCount, 2)
  assert.equal(path.basename(log.segmentFiles()[1]!), '00000000000000000002.log')
  assert.equal(r.baseOffset, 2)
  log.append([batch('d', 1, clock.ms), batch('e', 1, clock.ms)])
  assert.equal(log.segmentCount, 2)
  assert.equal(log.maybeRollByTime(), false)
  clock.ms += segmentMs + 1
  assert.equal(log.maybeRollByTime(), true, 'a quiet segment is rolled by the timer')
  assert.equal(log.maybeRollByTime(), false, 'an empty active segment is not rolled')
  log.append([batch('f', 1, clock.ms)])
  assert.deepEqual(log.segmentFiles().map((f) => path.basename(f, '.log')), [
    '00000000000000000000', '00000000000000000002', '00000000000000000005',
  ])
  assert.deepEqual(readAll(log), ['0:a-0', '1:b-0', '2:c-0', '3:d-0', '4:e-0', '5:f-0'])
  await log.close()
})

bothIO('an idle new segment does not roll in the middle of its first append', async (env) => {
  const clock = { ms: T0 }
  const log = await openLog(env, { clock, config: { segmentMs: 1000 } })
  clock.ms += 10_000
  log.append([batch('a', 1, clock.ms), batch('b', 2, clock.ms), batch('c', 1, clock.ms)])
  assert.equal(log.segmentCount, 1)
  clock.ms += 500
  log.append([batch('d', 1, clock.ms)])
  assert.equal(log.segmentCount, 1, 'the segment is 500 ms old')
  await log.close()
})

bothIO('a reopened segment keeps rolling on the time of its first batch, not of the reopen', async (env) => {
  const segmentMs = 1000
  for (const clean of [true, false]) {
    const dir = path.join(env.root, `p-${clean}`)
    const clock = { ms: T0 }
    const log = await openLog({ ...env, dir }, { clock, config: { segmentMs } })
    log.append([batch('a', 1, clock.ms)])
    await log.close()
    clock.ms = T0 + segmentMs / 2
    const again = await openLog({ ...env, dir }, { clock, clean, recoveryPoint: clean ? 1 : 0, config: { segmentMs } })
    clock.ms = T0 + segmentMs + 1
    again.append([batch('b', 1, clock.ms)])
    assert.equal(again.segmentCount, 2, `rolled after a ${clean ? 'clean' : 'unclean'} reopen`)
    await again.close()
  }
})

// --------------------------------------------------------------------------------- timestamps

bothIO('offsetForTimestamp: first offset at or after the time, across segments', async (env) => {
  const log = await openLog(env, { config: { segmentBytes: 1024, indexIntervalBytes: 100 } })
  for (let i = 0; i < 40; i++) log.append([batch(`t${i}`, 2, [T0 + 10 * i, T0 + 10 * i + 5])])
  assert.ok(log.segmentCount > 3)
  assert.equal(log.offsetForTimestamp(0), 0)
  assert.equal(log.offsetForTimestamp(T0), 0)
  assert.equal(log.offsetForTimestamp(T0 + 1), 1)
  assert.equal(log.offsetForTimestamp(T0 + 5), 1)
  assert.equal(log.offsetForTimestamp(T0 + 6), 2)
  for (let i = 0; i < 40; i++) {
    assert.equal(log.offsetForTimestamp(T0 + 10 * i), 2 * i)
    assert.equal(log.offsetForTimestamp(T0 + 10 * i + 3), 2 * i + 1)
  }
  assert.equal(log.offsetForTimestamp(T0 + 395), 79)
  assert.equal(log.offsetForTimestamp(T0 + 396), null, 'every record is older')
  await log.close()
})

/** Random CreateTime timestamps that go back and forth, in batches of 1-5 records. */
function noisyTimestamps(log: Log, model: Rec[], seed: number, batches: number): void {
  const rand = rng(seed)
  for (let i = 0; i < batches; i++) {
    const n = 1 + Math.floor(rand() * 5)
    const ts = Array.from({ length: n }, () => T0 + Math.floor(rand() * 1000) + i * 3)
    appendModel(log, model, [batch(`n${i}`, n, ts)])
  }
}

function checkTimestamps(log: Log, model: Rec[], label: string): void {
  const from = log.logStartOffset
  for (let t = T0 - 2; t <= T0 + 1000 + 3 * 120 + 2; t += 7) {
    const expected = model.find((r) => r.offset >= from && r.ts >= t)?.offset ?? null
    assert.equal(log.offsetForTimestamp(t), expected, `${label}: offsetForTimestamp(T0 + ${t - T0})`)
  }
}

bothIO('offsetForTimestamp with non-monotonic CreateTime timestamps, live and after reopening', async (env) => {
  const config = { segmentBytes: 2048, indexIntervalBytes: 64 }
  const log = await openLog(env, { config })
  const model: Rec[] = []
  noisyTimestamps(log, model, 42, 120)
  assert.ok(log.segmentCount >= 3)
  checkTimestamps(log, model, 'live')
  await log.close()
  const clean = await openLog(env, { config, clean: true, recoveryPoint: model.length })
  checkTimestamps(clean, model, 'clean reopen')
  await clean.close()
  // Indexes of sealed segments gone: they are rebuilt when first needed.
  for (const name of env.list()) if (!name.endsWith('.log')) env.io.unlink(path.join(env.dir, name))
  const rebuilt = await openLog(env, { config, clean: true, recoveryPoint: model.length })
  checkTimestamps(rebuilt, model, 'indexes rebuilt')
  await rebuilt.close()
  const unclean = await openLog(env, { config, recoveryPoint: 0 })
  checkTimestamps(unclean, model, 'unclean reopen')
  await unclean.close()
})

bothIO('offsetForTimestamp never answers below the log start offset', async (env) => {
  const config = { segmentBytes: 2048, indexIntervalBytes: 64 }
  const log = await openLog(env, { config })
  const model: Rec[] = []
  noisyTimestamps(log, model, 3, 80)
  await log.close()
  for (const start of [1, 7, 50, 131]) {
    const reopened = await openLog(env, { config, clean: true, recoveryPoint: model.length, logStartOffset: start })
    checkTimestamps(reopened, model, `logStartOffset ${start}`)
    await reopened.close()
  }
})

// ------------------------------------------------------------------------------------- durability

bothIO('flush: concurrent calls share fsyncs (group commit) and advance the recovery point', async (env) => {
  const log = await openLog(env)
  await log.flush()
  for (let i = 0; i < 10; i++) log.append([batch(`g${i}`, 2)])
  assert.equal(log.recoveryPoint, 0)
  const syncs = env.countOps((op, f) => op === 'sync' && f.endsWith('.log'))
  const calls = 50
  await Promise.all(Array.from({ length: calls }, () => log.flush()))
  assert.ok(syncs.count >= 1 && syncs.count < calls, `${syncs.count} fsyncs for ${calls} flushes`)
  assert.ok(syncs.count <= 2, `${syncs.count} fsyncs`)
  assert.equal(log.recoveryPoint, 20)

  // A flush covers what was appended before it was called, even while another fsync runs.
  log.append([batch('x', 3)])
  const first = log.flush()
  log.append([batch('y', 2)])
  const second = log.flush()
  await first
  assert.ok(log.recoveryPoint >= 23)
  await second
  assert.equal(log.recoveryPoint, 25)
  const before = syncs.count
  await log.flush()
  assert.equal(syncs.count, before, 'nothing new to sync')
  env.setInjector(undefined)
  await log.close()
})

bothIO('an fsync failure rejects flush with a StorageError and stops appends until reopened', async (env) => {
  const log = await openLog(env)
  log.append([batch('ok', 2)])
  await log.flush()
  log.append([batch('pending', 3)])
  env.setInjector((op, f) => (op === 'sync' && f.endsWith('.log') ? 'EIO' : undefined))
  const flushes = [log.flush(), log.flush(), log.flush()]
  for (const p of flushes) {
    await assert.rejects(p, (e) => e instanceof StorageError && e.retriable === false && e.code === 'STORAGE' && /EIO/.test(e.message))
  }
  env.setInjector(undefined)
  assert.ok(log.failure instanceof StorageError)
  assert.throws(() => log.append([batch('refused', 1)]), StorageError)
  await assert.rejects(log.flush(), StorageError)
  assert.equal(log.recoveryPoint, 2)
  assert.deepEqual(readAll(log), ['0:ok-0', '1:ok-1', '2:pending-0', '3:pending-1', '4:pending-2'])
  await log.close()

  const reopened = await openLog(env, { recoveryPoint: 2 })
  assert.equal(reopened.failure, null)
  assert.equal(reopened.nextOffset, 5)
  assert.equal(reopened.append([batch('again', 1)]).baseOffset, 5)
  await reopened.flush()
  await reopened.close()
})

bothIO('a failed write throws a StorageError, leaves no partial batch, and appends resume', async (env) => {
  const log = await openLog(env)
  log.append([batch('a', 2), batch('b', 1)])
  const file = log.segmentFiles()[0]!
  const size = env.readBytes(file).length
  env.setInjector((op, f) => (op === 'write' && f.endsWith('.log') ? 'ENOSPC' : undefined))
  assert.throws(
    () => log.append([batch('c', 4), batch('d', 1)]),
    (e) => e instanceof StorageError && e.retriable === true && e.message.includes(file),
  )
  env.setInjector(undefined)
  assert.equal(env.readBytes(file).length, size, 'file size unchanged')
  assert.equal(log.nextOffset, 3)
  assert.deepEqual(readAll(log, 0, 1 << 20), ['0:a-0', '1:a-1', '2:b-0'])
  assert.deepEqual(log.append([batch('e', 2)]), { baseOffset: 3, lastOffset: 4 })
  await log.close()
  const reopened = await openLog(env, { clean: true, recoveryPoint: 5 })
  assert.deepEqual(readAll(reopened), ['0:a-0', '1:a-1', '2:b-0', '3:e-0', '4:e-1'])
  await reopened.close()
})

/** Wraps `inner` so that the next .log write stops halfway with ENOSPC and the next truncates fail. */
function tearingIO(inner: FileIO, plan: { tearWrite: boolean; failTruncates: number }): FileIO {
  const wrap = (h: FileHandle): FileHandle => ({
    path: h.path,
    size: () => h.size(),
    read: (buf, offset, length, position) => h.read(buf, offset, length, position),
    write: (bufs, position) => {
      if (!plan.tearWrite || !h.path.endsWith('.log')) return h.write(bufs, position)
      plan.tearWrite = false
      const all = Buffer.concat(bufs)
      h.write([all.subarray(0, all.length >> 1)], position)
      throw Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' })
    },
    truncate: (length) => {
      if (plan.failTruncates > 0 && h.path.endsWith('.log')) {
        plan.failTruncates--
        throw Object.assign(new Error('EIO: truncate'), { code: 'EIO' })
      }
      h.truncate(length)
    },
    sync: () => h.sync(),
    close: () => h.close(),
    id: () => h.id(),
  })
  return Object.assign(Object.create(inner) as FileIO, {
    open: (file: string, opts: { create: boolean; readOnly?: boolean }) => wrap(inner.open(file, opts)),
  })
}

bothIO('after a short write that could not be cut back, the next append cuts the torn bytes first', async (env) => {
  const plan = { tearWrite: false, failTruncates: 0 }
  const io = tearingIO(env.io, plan)
  const log = await openLog(env, { io })
  log.append([batch('a', 2)])
  const file = log.segmentFiles()[0]!
  const good = env.readBytes(file).length
  plan.tearWrite = true
  plan.failTruncates = 1
  assert.throws(() => log.append([batch('big', 20, T0, 200)]), StorageError)
  assert.ok(env.readBytes(file).length > good, 'the torn half is still in the file')
  assert.deepEqual(log.append([batch('b', 1)]), { baseOffset: 2, lastOffset: 2 })
  assert.equal(env.readBytes(file).length, good + batch('b', 1).length, 'nothing but whole batches in the file')
  await log.close()
  for (const clean of [true, false]) {
    const reopened = await openLog(env, { clean, recoveryPoint: clean ? 3 : 0 })
    assert.deepEqual(readAll(reopened), ['0:a-0', '1:a-1', '2:b-0'])
    assert.equal(reopened.recovery?.truncatedBytes ?? 0, 0)
    await reopened.close()
  }
})

// ------------------------------------------------------------------------------------- reopening

bothIO('a clean reopen keeps everything, continues the offsets and scans nothing', async (env) => {
  const config = { segmentBytes: 1024, indexIntervalBytes: 100 }
  const log = await openLog(env, { config })
  const model: Rec[] = []
  for (let i = 0; i < 60; i++) appendModel(log, model, [batch(`c${i}`, 1 + (i % 3), T0 + i)])
  const files = log.segmentFiles()
  assert.ok(files.length >= 4)
  await log.close()
  for (const f of files) {
    for (const suffix of ['.index', '.timeindex']) assert.ok(env.io.exists(f.replace(/\.log$/, suffix)), `${f} ${suffix}`)
  }
  assert.ok(env.readBytes(files[0]!.replace(/\.log$/, '.index')).length >= 8, 'a sealed segment has index entries')

  const logReads = new Map<string, number>()
  env.setInjector((op, f) => {
    if (op === 'read') logReads.set(path.basename(f), (logReads.get(path.basename(f)) ?? 0) + 1)
    return undefined
  })
  const reopened = await openLog(env, { config, clean: true, recoveryPoint: model.length })
  env.setInjector(undefined)
  const active = path.basename(files.at(-1)!)
  // At most: the time index check and the tail scan, each over the batches after the last index entry.
  for (const [name, n] of logReads) {
    if (name.endsWith('.log')) assert.ok(name === active && n <= 3, `open read ${name} ${n} times`)
  }
  assert.equal(reopened.recovery, null, 'no recovery after a clean close')
  assert.equal(reopened.nextOffset, model.length)
  assert.deepEqual(reopened.segmentFiles(), files)
  assert.deepEqual(readAll(reopened), modelKeys(model))
  const next = model.length
  assert.equal(appendModel(reopened, model, [batch('more', 2, T0 + 100)]).baseOffset, next)
  assert.deepEqual(readAll(reopened), modelKeys(model))
  assert.equal(reopened.offsetForTimestamp(T0 + 100), next)
  await reopened.close()
})

bothIO('a roll that cannot create its segment throws a StorageError and leaves the log appendable', async (env) => {
  const log = await openLog(env, { config: { segmentBytes: 1024 } })
  let n = 0
  while (log.segmentCount === 1) log.append([batch(`x${n++}`, 1)])
  const end = log.nextOffset
  env.setInjector((op, f) => (op === 'open' && f.endsWith(`${String(end).padStart(20, '0')}.log`) ? 'EMFILE' : undefined))
  const b = batch('y', 30, T0, 40)
  assert.throws(() => log.append([b]), (e) => e instanceof StorageError && /EMFILE/.test(e.message))
  env.setInjector(undefined)
  assert.equal(log.nextOffset, end)
  assert.equal(log.segmentCount, 2)
  assert.equal(log.append([b]).baseOffset, end)
  assert.equal(log.segmentCount, 3)
  await log.close()
  const reopened = await openLog(env, { config: { segmentBytes: 1024 }, clean: true, recoveryPoint: end + 30 })
  assert.equal(reopened.nextOffset, end + 30)
  assert.equal(readAll(reopened).length, end + 30)
  await reopened.close()
})

bothIO('retention drops a segment whose fsync is still in flight: the flush succeeds, the handle closes after it', async (env) => {
  const log = await openLog(env, { config: { segmentBytes: 1024 } })
  for (let i = 0; i < 60; i++) log.append([batch(`r${i}`, 2)])
  assert.ok(log.segmentCount >= 3)
  const flushing = log.flush() // fsyncs of the sealed segments start now
  const deleted = await log.deleteOldSegments(() => true, false)
  assert.ok(deleted >= 2)
  await flushing
  assert.equal(log.failure, null, 'no EBADF from an fsync on a closed descriptor')
  log.append([batch('after', 1)])
  await log.flush()
  await log.close()
})
