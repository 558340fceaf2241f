// Crash points of a partition log: torn tails, garbage, corruption below the recovery point, power
// loss (MemoryFileIO.crash), rebuilt indexes and read-only opens.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as path from 'node:path'
import { CorruptionError } from '../../../src/errors.js'
import { Log, type LogConfig } from '../../../src/storage/log.js'
import { LOG_OVERHEAD, decodeRecords, encodeRecordBatch, readBatchHeader } from '../../../src/storage/record-batch.js'
import { MemoryFileIO } from '../../../src/util/file-io.js'
import { bothIO, type IOEnv } from '../../helpers/tmp.js'

const T0 = 1_700_000_000_000

interface OpenOpts {
  config?: Partial<LogConfig>
  clean?: boolean
  recoveryPoint?: number
  readOnly?: boolean
}

function openLog(env: Pick<IOEnv, 'io' | 'dir'>, o: OpenOpts = {}): Promise<Log> {
  return Log.open(env.io, env.dir, {
    config: { segmentBytes: 1 << 30, segmentMs: 7 * 86_400_000, indexIntervalBytes: 4096, ...o.config },
    recoveryPoint: o.recoveryPoint ?? 0,
    logStartOffset: 0,
    clean: o.clean ?? false,
    readOnly: o.readOnly ?? false,
    now: () => T0,
  })
}

function batch(tag: string, count = 1, valueBytes = 24, ts = T0): Buffer {
  return encodeRecordBatch(
    Array.from({ length: count }, (_, i) => ({
      key: Buffer.from(`${tag}-${i}`),
      value: Buffer.from(`${tag}-${i}:`.padEnd(valueBytes, '.')),
      timestamp: ts + i,
    })),
  )
}

/** Where each appended batch went: base offset, segment file, position, size. */
interface Placed {
  base: number
  last: number
  file: string
  position: number
  size: number
}

function appendAll(log: Log, batches: Buffer[]): Placed[] {
  return batches.map((b) => {
    const size = b.length
    const { baseOffset, lastOffset } = log.append([b])
    const file = log.segmentFiles().at(-1)!
    const position = log.read(baseOffset, 1).position
    return { base: baseOffset, last: lastOffset, file, position, size }
  })
}

function keysIn(bytes: Buffer): string[] {
  const out: string[] = []
  for (let pos = 0; pos < bytes.length; pos += LOG_OVERHEAD + bytes.readInt32BE(pos + 8)) {
    for (const r of decodeRecords(bytes, pos)) out.push(`${r.offset}:${r.key}`)
  }
  return out
}

function readAll(log: Log): string[] {
  const out: string[] = []
  let offset = log.logStartOffset
  while (offset < log.nextOffset) {
    const { bytes } = log.read(offset, 1)
    assert.ok(bytes.length > 0, `read at ${offset} returned nothing`)
    const h = readBatchHeader(bytes, 0)
    out.push(...keysIn(bytes))
    offset = h.baseOffset + h.lastOffsetDelta + 1
  }
  return out
}

const expectedKeys = (tags: Array<[string, number]>): string[] => {
  const out: string[] = []
  let offset = 0
  for (const [tag, count] of tags) for (let i = 0; i < count; i++) out.push(`${offset++}:${tag}-${i}`)
  return out
}

/** Content of the data dir, file by file. */
function snapshot(env: IOEnv): Map<string, Buffer> {
  return new Map(env.list().map((n) => [n, env.readBytes(path.join(env.dir, n))]))
}

// ---------------------------------------------------------------------------------- torn tails

bothIO('a tail torn at every byte of the last batch is cut, and appends continue at its offset', async (env) => {
  const tags: Array<[string, number]> = [['a', 1], ['b', 3], ['c', 2], ['d', 4], ['last', 3]]
  const log = await openLog(env, { config: { indexIntervalBytes: 100 } })
  const placed = appendAll(log, tags.map(([t, n]) => batch(t, n)))
  await log.flush()
  const file = log.segmentFiles()[0]!
  log.abandon()
  const orig = env.readBytes(file)
  const last = placed.at(-1)!
  assert.equal(last.position + last.size, orig.length)
  const before = expectedKeys(tags.slice(0, -1))
  for (let cut = last.position; cut < orig.length; cut++) {
    env.writeBytes(file, orig.subarray(0, cut))
    const recovered = await openLog(env, { recoveryPoint: last.base })
    const report = recovered.recovery!
    assert.equal(report.truncatedBytes, cut - last.position, `cut at ${cut}`)
    if (cut > last.position) assert.deepEqual({ file: report.invalidAt?.file, position: report.invalidAt?.position }, { file, position: last.position })
    else assert.equal(report.invalidAt, undefined)
    assert.equal(recovered.nextOffset, last.base)
    assert.deepEqual(readAll(recovered), before, `cut at ${cut}`)
    assert.deepEqual(env.readBytes(file), orig.subarray(0, last.position))
    assert.equal(recovered.append([batch('next', 2)]).baseOffset, last.base)
    assert.deepEqual(readAll(recovered).slice(-2), [`${last.base}:next-0`, `${last.base + 1}:next-1`])
    recovered.abandon()
  }
})

bothIO('a torn tail in the last of several segments is cut; earlier segments are left alone', async (env) => {
  const log = await openLog(env, { config: { segmentBytes: 1024 } })
  const placed = appendAll(log, Array.from({ length: 40 }, (_, i) => batch(`s${i}`, 2)))
  await log.flush()
  const files = log.segmentFiles()
  log.abandon()
  assert.ok(files.length >= 3)
  const last = placed.at(-1)!
  const orig = env.readBytes(last.file)
  const inLastSegment = placed.filter((p) => p.file === last.file)
  for (const cut of [last.position + 1, last.position + 12, last.position + 61, last.position + last.size - 1]) {
    env.writeBytes(last.file, orig.subarray(0, cut))
    const recovered = await openLog(env, { config: { segmentBytes: 1024 }, recoveryPoint: inLastSegment[0]!.base })
    assert.equal(recovered.recovery!.segmentsRecovered, 1)
    assert.equal(recovered.recovery!.truncatedBytes, cut - last.position)
    assert.deepEqual(recovered.segmentFiles(), files)
    assert.equal(recovered.nextOffset, last.base)
    assert.equal(readAll(recovered).length, last.base)
    recovered.abandon()
  }
})

bothIO('garbage after the last batch (zeros, random bytes, a stale copy) is cut', async (env) => {
  const log = await openLog(env)
  const placed = appendAll(log, [batch('a', 2), batch('b', 3), batch('c', 1)])
  await log.flush()
  const file = log.segmentFiles()[0]!
  log.abandon()
  const orig = env.readBytes(file)
  let seed = 99
  const random = (n: number): Buffer =>
    Buffer.from(Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16) & 0xff))
  const badCrc = Buffer.from(orig.subarray(placed[1]!.position, placed[1]!.position + placed[1]!.size))
  badCrc.writeBigInt64BE(6n, 0)
  badCrc[badCrc.length - 1] ^= 0x55
  const stale = Buffer.from(orig.subarray(placed[2]!.position))
  const garbage: Array<[string, Buffer]> = [
    ['1 zero', Buffer.alloc(1)], ['11 zeros', Buffer.alloc(11)], ['12 zeros', Buffer.alloc(12)],
    ['61 zeros', Buffer.alloc(61)], ['4096 zeros', Buffer.alloc(4096)], ['random 5', random(5)],
    ['random 300', random(300)], ['random 70000', random(70_000)], ['bad crc', badCrc], ['stale copy', stale],
  ]
  for (const [name, junk] of garbage) {
    env.writeBytes(file, Buffer.concat([orig, junk]))
    const recovered = await openLog(env, { recoveryPoint: 6 })
    assert.equal(recovered.recovery!.truncatedBytes, junk.length, name)
    assert.equal(recovered.recovery!.invalidAt!.position, orig.length, name)
    assert.equal(recovered.nextOffset, 6, name)
    assert.deepEqual(env.readBytes(file), orig, name)
    assert.deepEqual(readAll(recovered), expectedKeys([['a', 2], ['b', 3], ['c', 1]]))
    assert.equal(recovered.append([batch('d', 1)]).baseOffset, 6)
    recovered.abandon()
  }
})

bothIO('a torn tail in a middle segment above the recovery point deletes the later segments', async (env) => {
  const config = { segmentBytes: 1024, indexIntervalBytes: 200 }
  const log = await openLog(env, { config })
  const placed = appendAll(log, Array.from({ length: 50 }, (_, i) => batch(`m${i}`, 1 + (i % 3))))
  await log.close()
  const files = log.segmentFiles()
  assert.ok(files.length >= 4)
  const torn = placed.filter((p) => p.file === files[1]).at(-1)!
  const orig = env.readBytes(torn.file)
  const later = files.slice(2).map((f) => env.readBytes(f).length).reduce((a, b) => a + b, 0)
  env.writeBytes(torn.file, orig.subarray(0, torn.position + 20))
  const recovered = await openLog(env, { config, recoveryPoint: torn.base })
  const report = recovered.recovery!
  assert.equal(report.deletedSegments, files.length - 2)
  assert.equal(report.truncatedBytes, 20 + later)
  assert.deepEqual(report.invalidAt && { file: report.invalidAt.file, position: report.invalidAt.position }, { file: torn.file, position: torn.position })
  assert.deepEqual(recovered.segmentFiles(), files.slice(0, 2))
  for (const f of files.slice(2)) {
    const stem = path.basename(f, '.log')
    assert.deepEqual(env.list().filter((n) => n.startsWith(stem)), [], `${stem} deleted`)
  }
  assert.equal(recovered.nextOffset, torn.base)
  assert.equal(readAll(recovered).length, torn.base)
  assert.equal(recovered.append([batch('after', 1)]).baseOffset, torn.base)
  await recovered.close()
  const again = await openLog(env, { config, clean: true, recoveryPoint: torn.base + 1 })
  assert.equal(again.nextOffset, torn.base + 1)
  assert.equal(readAll(again).at(-1), `${torn.base}:after-0`)
  await again.close()
})

bothIO('a crash right after a roll (empty or torn new segment) reopens at the end of the previous one', async (env) => {
  const config = { segmentBytes: 1024 }
  for (const newSegmentBytes of [0, 30]) {
    const dir = path.join(env.root, `p-${newSegmentBytes}`)
    const log = await openLog({ io: env.io, dir }, { config })
    let n = 0
    while (log.segmentCount === 1) log.append([batch(`r${n++}`, 2)])
    // Everything up to the new segment is flushed; the new segment is not.
    const boundary = log.nextOffset - 2
    const newFile = log.segmentFiles()[1]!
    assert.equal(path.basename(newFile), `${String(boundary).padStart(20, '0')}.log`)
    await log.flush()
    log.abandon()
    env.writeBytes(newFile, env.readBytes(newFile).subarray(0, newSegmentBytes))
    const recovered = await openLog({ io: env.io, dir }, { config, recoveryPoint: boundary })
    assert.equal(recovered.nextOffset, boundary, `new segment cut to ${newSegmentBytes} bytes`)
    assert.equal(readAll(recovered).length, boundary)
    assert.equal(recovered.append([batch('again', 1)]).baseOffset, boundary)
    await recovered.close()
    const reopened = await openLog({ io: env.io, dir }, { config, clean: true, recoveryPoint: boundary + 1 })
    assert.equal(reopened.nextOffset, boundary + 1)
    assert.equal(readAll(reopened).at(-1), `${boundary}:again-0`)
    await reopened.close()
  }
})

// ------------------------------------------------------------------------------------ corruption

function flip(env: IOEnv, file: string, position: number): void {
  const bytes = env.readBytes(file)
  bytes[position] ^= 0x20
  env.writeBytes(file, bytes)
}

async function corruptionAt(p: Promise<unknown>): Promise<CorruptionError> {
  try {
    await p
  } catch (err) {
    assert.ok(err instanceof CorruptionError, String(err))
    return err
  }
  assert.fail('no CorruptionError')
}

bothIO('a bad batch below the recovery point is corruption: CorruptionError with its file and position', async (env) => {
  const config = { segmentBytes: 2048, indexIntervalBytes: 150 }
  const log = await openLog(env, { config })
  const placed = appendAll(log, Array.from({ length: 40 }, (_, i) => batch(`k${i}`, 2)))
  await log.close()
  const files = log.segmentFiles()
  assert.ok(files.length >= 2)
  const inLast = placed.filter((p) => p.file === files.at(-1))
  const victim = inLast[Math.floor(inLast.length / 2)]!
  const end = placed.at(-1)!.last + 1
  for (const [what, at] of [['payload', victim.size - 3], ['crc', 18], ['batch length', 10], ['magic', 16]] as const) {
    const orig = env.readBytes(victim.file)
    flip(env, victim.file, victim.position + at)
    const err = await corruptionAt(openLog(env, { config, recoveryPoint: end }))
    assert.equal(err.file, victim.file, what)
    assert.equal(err.position, victim.position, what)
    assert.equal(err.code, 'CORRUPTION')
    assert.match(err.message, new RegExp(`position ${victim.position}`))
    assert.deepEqual(env.readBytes(victim.file), orig.map((b, i) => (i === victim.position + at ? b ^ 0x20 : b)), 'nothing was cut')
    env.writeBytes(victim.file, orig)
  }
  // A file shorter than what was flushed is corruption too.
  const orig = env.readBytes(victim.file)
  env.writeBytes(victim.file, orig.subarray(0, victim.position + 5))
  const short = await corruptionAt(openLog(env, { config, recoveryPoint: end }))
  assert.deepEqual([short.file, short.position], [victim.file, victim.position])
  env.writeBytes(victim.file, orig)
  const fine = await openLog(env, { config, recoveryPoint: end })
  assert.equal(fine.nextOffset, end)
  await fine.close()
})

bothIO('after a clean open a corrupt batch fails its read with file and position; its neighbours stay readable', async (env) => {
  const config = { indexIntervalBytes: 100 }
  const log = await openLog(env, { config })
  const placed = appendAll(log, Array.from({ length: 12 }, (_, i) => batch(`v${i}`, 3)))
  await log.close()
  const victim = placed[6]!
  flip(env, victim.file, victim.position + victim.size - 5)
  const opened = await openLog(env, { config, clean: true, recoveryPoint: 36 })
  for (const offset of [victim.base, victim.base + 1, victim.last]) {
    assert.throws(
      () => opened.read(offset, 1),
      (e) => e instanceof CorruptionError && e.file === victim.file && e.position === victim.position && /crc/.test(e.message),
    )
  }
  const prev = placed[5]!
  assert.deepEqual(keysIn(opened.read(prev.last, 1).bytes), ['15:v5-0', '16:v5-1', '17:v5-2'])
  const upTo = opened.read(placed[3]!.base, 1 << 20)
  assert.deepEqual(keysIn(upTo.bytes).map((k) => Number(k.split(':')[0])), [9, 10, 11, 12, 13, 14, 15, 16, 17], 'a read stops before the bad batch')
  const next = placed[7]!
  assert.deepEqual(keysIn(opened.read(next.base, 1).bytes), ['21:v7-0', '22:v7-1', '23:v7-2'])
  assert.equal(keysIn(opened.read(next.base + 2, 1 << 20).bytes).length, 15)
  await opened.close()
})

// -------------------------------------------------------------------------------- power loss

test('MemoryFileIO.crash: flushed batches survive, unflushed ones are gone, the log reopens', async () => {
  const io = new MemoryFileIO()
  const env = { io, dir: '/crash/p-0' }
  const config = { segmentBytes: 1024 }
  const log = await openLog(env, { config })
  appendAll(log, Array.from({ length: 20 }, (_, i) => batch(`f${i}`, 2)))
  await log.flush()
  const flushed = log.recoveryPoint
  assert.equal(flushed, 40)
  appendAll(log, Array.from({ length: 25 }, (_, i) => batch(`u${i}`, 2)))
  assert.ok(log.segmentCount > 2)
  log.abandon()
  io.crash()
  const recovered = await openLog(env, { config, recoveryPoint: flushed })
  assert.equal(recovered.nextOffset, flushed)
  assert.deepEqual(readAll(recovered), expectedKeys(Array.from({ length: 20 }, (_, i) => [`f${i}`, 2] as [string, number])))
  assert.equal(recovered.append([batch('after', 1)]).baseOffset, flushed)
  await recovered.flush()
  recovered.abandon()
  io.crash()
  const again = await openLog(env, { config, recoveryPoint: recovered.recoveryPoint })
  assert.equal(again.nextOffset, flushed + 1)
  await again.close()
})

test('a recovery that cut a tail makes every segment it validated durable before moving the recovery point', async () => {
  const io = new MemoryFileIO()
  const env = { io, dir: '/durable/p-0' }
  const config = { segmentBytes: 1024 }
  const log = await openLog(env, { config })
  appendAll(log, Array.from({ length: 30 }, (_, i) => batch(`d${i}`, 2)))
  const files = log.segmentFiles()
  assert.ok(files.length >= 3)
  log.abandon()
  // A process crash: the page cache (memory) holds everything, nothing is durable, the tail is torn.
  const last = io.readFile(files.at(-1)!)
  const h = io.open(files.at(-1)!, { create: false })
  h.truncate(last.length - 7)
  h.close()
  const recovered = await openLog(env, { config, recoveryPoint: 0 })
  assert.equal(recovered.nextOffset, 58)
  await recovered.flush()
  const point = recovered.recoveryPoint
  assert.equal(point, 58)
  recovered.abandon()
  io.crash()
  const again = await openLog(env, { config, recoveryPoint: point })
  assert.equal(readAll(again).length, 58, 'every offset below the recovery point survived the power loss')
  await again.close()
})

// ------------------------------------------------------------------------------------ indexes

bothIO('an unclean open from recovery point 0 without index files rebuilds them identically', async (env) => {
  const config = { segmentBytes: 2048, indexIntervalBytes: 90 }
  const log = await openLog(env, { config })
  for (let i = 0; i < 60; i++) log.append([batch(`x${i}`, 1 + (i % 4), 24, T0 + ((i * 37) % 50))])
  const stamps = [T0, T0 + 10, T0 + 49, T0 + 53]
  const answers = stamps.map((t) => log.offsetForTimestamp(t))
  assert.deepEqual(answers.map((a) => a === null), [false, false, false, true])
  await log.close()
  const before = snapshot(env)
  const indexNames = [...before.keys()].filter((n) => !n.endsWith('.log'))
  assert.ok(indexNames.length >= 6)
  for (const n of indexNames) env.io.unlink(path.join(env.dir, n))
  const recovered = await openLog(env, { config, recoveryPoint: 0 })
  assert.equal(recovered.recovery!.segmentsRecovered, log.segmentCount)
  assert.equal(recovered.recovery!.truncatedBytes, 0)
  assert.equal(recovered.recovery!.invalidAt, undefined)
  assert.equal(recovered.nextOffset, log.nextOffset)
  assert.equal(readAll(recovered).length, log.nextOffset)
  assert.deepEqual(stamps.map((t) => recovered.offsetForTimestamp(t)), answers)
  await recovered.close()
  assert.deepEqual(snapshot(env), before, 'the rebuilt indexes equal the ones written while appending')
})

// ---------------------------------------------------------------------------------- read-only

bothIO('a read-only open never writes: a torn tail just ends the log there', async (env) => {
  const log = await openLog(env, { config: { segmentBytes: 1024 } })
  const placed = appendAll(log, Array.from({ length: 30 }, (_, i) => batch(`o${i}`, 2)))
  await log.flush()
  log.abandon()
  const last = placed.at(-1)!
  const whole = env.readBytes(last.file)
  env.writeBytes(last.file, whole.subarray(0, last.position + 40))
  const before = snapshot(env)
  const writes = env.countOps((op) => op !== 'read' && op !== 'open')
  const reader = await openLog(env, { readOnly: true, recoveryPoint: last.base })
  assert.equal(reader.nextOffset, last.base)
  assert.equal(readAll(reader).length, last.base)
  assert.equal(reader.recovery?.truncatedBytes, 40)
  await reader.close()
  assert.equal(writes.count, 0, 'no write, truncate, unlink or sync')
  env.setInjector(undefined)
  assert.deepEqual(snapshot(env), before)

  env.writeBytes(last.file, whole)
  const clean = await openLog(env, { readOnly: true, clean: true, recoveryPoint: last.base + 2 })
  assert.equal(readAll(clean).length, 30 * 2)
  await clean.close()
  assert.deepEqual(env.readBytes(last.file), whole)

  const missing = await openLog({ io: env.io, dir: path.join(env.root, 'never-created') }, { readOnly: true })
  assert.equal(missing.nextOffset, 0)
  assert.equal(missing.read(0, 100).bytes.length, 0)
  assert.equal(missing.offsetForTimestamp(T0), null)
  await missing.close()
  assert.equal(env.io.exists(path.join(env.root, 'never-created')), false)
})

bothIO('a log whose oldest segments were deleted opens at its first remaining segment', async (env) => {
  const config = { segmentBytes: 1024 }
  const log = await openLog(env, { config })
  appendAll(log, Array.from({ length: 30 }, (_, i) => batch(`y${i}`, 2)))
  await log.close()
  const files = log.segmentFiles()
  for (const f of files.slice(0, 2)) {
    for (const s of ['.log', '.index', '.timeindex']) env.io.unlink(f.replace(/\.log$/, s))
  }
  const base = Number(path.basename(files[2]!, '.log'))
  for (const clean of [true, false]) {
    const reopened = await openLog(env, { config, clean, recoveryPoint: clean ? 60 : 0 })
    assert.equal(reopened.logStartOffset, base)
    assert.equal(reopened.nextOffset, 60)
    assert.equal(readAll(reopened).length, 60 - base)
    await reopened.close()
  }
})
