import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as path from 'node:path'
import { CorruptionError } from '../../../src/errors.js'
import { Segment, type AppendedBatch } from '../../../src/storage/segment.js'
import { offsetFileName, parsePartitionDirName, parseSegmentFileName } from '../../../src/storage/file-names.js'
import { OffsetIndex } from '../../../src/storage/offset-index.js'
import { TimeIndex } from '../../../src/storage/time-index.js'
import { encodeRecordBatch, readBatchHeader, setBaseOffset } from '../../../src/storage/record-batch.js'
import { bothIO, type IOEnv } from '../../helpers/tmp.js'

const T0 = 1_700_000_000_000
const BASE = 4200

function batch(tag: string, stamps: number[]): Buffer {
  return encodeRecordBatch(stamps.map((timestamp, i) => ({ key: Buffer.from(`${tag}-${i}`), value: Buffer.alloc(20, i), timestamp })))
}

/** Appends as Log does: patch base offsets, describe each batch, one write. */
function appendTo(seg: Segment, batches: Buffer[], nowMs = T0): Array<AppendedBatch & { position: number }> {
  let next = seg.nextOffset
  let position = seg.size
  const infos = batches.map((b) => {
    setBaseOffset(b, 0, next)
    const h = readBatchHeader(b, 0)
    const info = { baseOffset: next, lastOffset: next + h.lastOffsetDelta, maxTimestamp: h.maxTimestamp, size: b.length, position }
    next = info.lastOffset + 1
    position += b.length
    return info
  })
  seg.append(batches, infos, nowMs)
  return infos
}

function dir(env: IOEnv): string {
  env.io.mkdirp(env.dir)
  return env.dir
}

bothIO('create: a 20-digit base-offset file name, stale files emptied and stale indexes removed', async (env) => {
  const d = dir(env)
  env.writeBytes(path.join(d, '00000000000000004200.log'), Buffer.from('stale'))
  env.writeBytes(path.join(d, '00000000000000004200.index'), Buffer.alloc(8))
  const seg = Segment.create(env.io, d, BASE, 4096, T0)
  assert.equal(seg.file, path.join(d, '00000000000000004200.log'))
  assert.equal(seg.sibling('.timeindex'), path.join(d, '00000000000000004200.timeindex'))
  assert.deepEqual(env.list(), ['00000000000000004200.log'])
  assert.equal(env.readBytes(seg.file).length, 0)
  assert.equal(seg.size, 0)
  assert.equal(seg.nextOffset, BASE)
  assert.equal(seg.maxTimestamp, -1)
  assert.equal(seg.read(BASE, 100), null)
  assert.equal(seg.offsetForTimestamp(0), null)
  const big = Segment.create(env.io, d, 2 ** 53 - 1, 4096, T0)
  assert.equal(path.basename(big.file), '00009007199254740991.log')
  seg.close()
  big.close()
})

bothIO('index entries point at batch starts, about every indexIntervalBytes, and survive a reopen', async (env) => {
  const d = dir(env)
  const interval = 250
  const seg = Segment.create(env.io, d, BASE, interval, T0)
  const placed = [
    ...appendTo(seg, Array.from({ length: 10 }, (_, i) => batch(`a${i}`, [T0 + i]))),
    ...appendTo(seg, Array.from({ length: 30 }, (_, i) => batch(`b${i}`, [T0 + 100 - i, T0 + 200 + i]))),
  ]
  assert.equal(seg.size, placed.reduce((n, p) => n + p.size, 0))
  assert.equal(seg.nextOffset, placed.at(-1)!.lastOffset + 1)
  assert.equal(seg.maxTimestamp, T0 + 229)
  await seg.syncIndexes()
  await seg.sync()
  const index = OffsetIndex.fromBuffer(BASE, env.readBytes(seg.sibling('.index')), seg.size)!
  assert.ok(index.entries >= 5, `${index.entries} entries`)
  const starts = new Map(placed.map((p) => [p.position, p.baseOffset]))
  let prev = 0
  const buf = env.readBytes(seg.sibling('.index'))
  for (let i = 0; i < buf.length / 8; i++) {
    const offset = BASE + buf.readInt32BE(8 * i)
    const position = buf.readInt32BE(8 * i + 4)
    assert.equal(starts.get(position), offset, `entry ${i} is the start of batch ${offset}`)
    assert.ok(position - prev > interval, `entry ${i} is ${position - prev} bytes after the previous one`)
    prev = position
  }
  const tix = TimeIndex.fromBuffer(BASE, env.readBytes(seg.sibling('.timeindex')), 1000)!
  assert.deepEqual(tix.last(), { timestamp: T0 + 229, offset: placed.at(-1)!.baseOffset }, 'the last time entry is the largest timestamp')
  seg.close()

  const reopened = Segment.open(env.io, d, BASE, interval, false, T0)
  reopened.loadTail()
  assert.equal(reopened.nextOffset, placed.at(-1)!.lastOffset + 1)
  assert.equal(reopened.maxTimestamp, T0 + 229)
  for (const p of placed) {
    for (let o = p.baseOffset; o <= p.lastOffset; o++) assert.equal(reopened.read(o, 1)!.position, p.position)
  }
  const more = appendTo(reopened, [batch('c', [T0 + 1])])
  assert.equal(more[0]!.baseOffset, placed.at(-1)!.lastOffset + 1)
  reopened.close()
})

bothIO('read: the batch holding the offset, whole batches up to maxBytes, bounded by limit', async (env) => {
  const seg = Segment.create(env.io, dir(env), BASE, 100, T0)
  const placed = appendTo(seg, Array.from({ length: 8 }, (_, i) => batch(`r${i}`, [T0, T0, T0])))
  const size = placed[0]!.size
  assert.equal(seg.read(BASE - 1, 1)!.position, 0, 'below the segment: its first batch')
  assert.equal(seg.read(BASE + 4, 1)!.position, size)
  assert.equal(seg.read(BASE + 4, 2 * size)!.bytes.length, 2 * size)
  assert.equal(seg.read(BASE + 4, 2 * size + 5)!.bytes.length, 2 * size)
  assert.equal(seg.read(BASE + 23, 1 << 20)!.bytes.length, size)
  assert.equal(seg.read(BASE + 24, 1 << 20), null)
  assert.equal(seg.read(BASE + 4, 1 << 20, 3 * size)!.bytes.length, 2 * size, 'limit bounds the bytes read')
  assert.equal(seg.read(BASE + 9, 1 << 20, 3 * size), null, 'nothing before the limit holds the offset')
  assert.equal(seg.locate(BASE + 17)!.header.baseOffset, BASE + 15)
  seg.close()
})

bothIO('maxTimestamp of a sealed segment is its largest timestamp, also when its indexes must be rebuilt', async (env) => {
  const d = dir(env)
  const seg = Segment.create(env.io, d, BASE, 100, T0)
  appendTo(seg, Array.from({ length: 20 }, (_, i) => batch(`m${i}`, [T0 + i * 10])))
  appendTo(seg, [batch('peak', [T0 + 5000]), batch('after', [T0 + 1])])
  await seg.syncIndexes()
  seg.close()
  const open = (): Segment => Segment.open(env.io, d, BASE, 100, false, T0)
  const fromFiles = open()
  assert.equal(fromFiles.maxTimestamp, T0 + 5000)
  fromFiles.close()
  for (const damage of ['missing', 'garbage']) {
    if (damage === 'missing') env.io.unlink(fromFiles.sibling('.timeindex'))
    else env.writeBytes(fromFiles.sibling('.timeindex'), Buffer.alloc(30, 7))
    const rebuilt = open()
    assert.equal(rebuilt.maxTimestamp, T0 + 5000, `time index ${damage}`)
    assert.equal(rebuilt.offsetForTimestamp(T0 + 4000), BASE + 20)
    rebuilt.close()
  }
})

bothIO('offsetForTimestamp scans from the time index and returns the first record at or after the time', async (env) => {
  const seg = Segment.create(env.io, dir(env), BASE, 80, T0)
  let seed = 11
  const rand = (): number => ((seed = (seed * 48271) % 0x7fffffff) / 0x7fffffff)
  const all: number[] = []
  for (let i = 0; i < 60; i++) {
    const stamps = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => T0 + Math.floor(rand() * 500) + 4 * i)
    all.push(...stamps)
    appendTo(seg, [batch(`t${i}`, stamps)])
  }
  for (let t = T0 - 1; t <= T0 + 500 + 4 * 60; t += 3) {
    const i = all.findIndex((ts) => ts >= t)
    assert.equal(seg.offsetForTimestamp(t), i < 0 ? null : BASE + i, `t = T0 + ${t - T0}`)
    for (const from of [BASE + 7, BASE + 100]) {
      const j = all.findIndex((ts, k) => BASE + k >= from && ts >= t)
      assert.equal(seg.offsetForTimestamp(t, from), j < 0 ? null : BASE + j, `t = T0 + ${t - T0}, from ${from}`)
    }
  }
  seg.close()
})

bothIO('recover validates every batch, cuts at the first bad one and reports it; truncate=false cuts nothing', async (env) => {
  const d = dir(env)
  const seg = Segment.create(env.io, d, BASE, 100, T0)
  const placed = appendTo(seg, Array.from({ length: 6 }, (_, i) => batch(`v${i}`, [T0 + i, T0 + i])))
  const whole = env.readBytes(seg.file)
  seg.close()
  const torn = Buffer.concat([whole, Buffer.alloc(20, 0xff)])
  env.writeBytes(seg.file, torn)
  const readOnly = Segment.open(env.io, d, BASE, 100, true, T0)
  assert.deepEqual(readOnly.recover(BASE, BASE, false), { truncatedBytes: 20, invalidAt: { position: whole.length, reason: 'bad length' } })
  assert.equal(readOnly.size, whole.length)
  assert.equal(readOnly.nextOffset, BASE + 12)
  assert.deepEqual(env.readBytes(seg.file), torn, 'nothing cut')
  readOnly.close()
  const writer = Segment.open(env.io, d, BASE, 100, false, T0)
  assert.equal(writer.recover(BASE, BASE + 12, true).truncatedBytes, 20)
  assert.deepEqual(env.readBytes(seg.file), whole)
  assert.deepEqual(writer.recover(BASE, BASE + 12, true), { truncatedBytes: 0 })
  writer.close()
  const bad = Buffer.from(whole)
  bad[placed[3]!.position + 70] ^= 1
  env.writeBytes(seg.file, bad)
  const strict = Segment.open(env.io, d, BASE, 100, false, T0)
  assert.throws(
    () => strict.recover(BASE, BASE + 7, true),
    (e) => e instanceof CorruptionError && e.position === placed[3]!.position && e.file === seg.file,
  )
  assert.deepEqual(strict.recover(BASE, BASE + 6, true), { truncatedBytes: whole.length - placed[3]!.position, invalidAt: { position: placed[3]!.position, reason: 'bad crc' } })
  strict.close()
})

bothIO('a failed write leaves the segment as it was', async (env) => {
  const seg = Segment.create(env.io, dir(env), BASE, 100, T0)
  appendTo(seg, [batch('a', [T0])])
  const size = seg.size
  env.setInjector((op) => (op === 'write' ? 'ENOSPC' : undefined))
  assert.throws(() => appendTo(seg, [batch('b', [T0]), batch('c', [T0])]), (e) => (e as NodeJS.ErrnoException).code === 'ENOSPC')
  env.setInjector(undefined)
  assert.equal(seg.size, size)
  assert.equal(seg.nextOffset, BASE + 1)
  assert.equal(env.readBytes(seg.file).length, size)
  assert.equal(appendTo(seg, [batch('d', [T0])])[0]!.baseOffset, BASE + 1)
  seg.close()
})

bothIO('deleteFiles removes the .log and both indexes', async (env) => {
  const d = dir(env)
  const keep = Segment.create(env.io, d, 0, 4096, T0)
  const seg = Segment.create(env.io, d, 1, 4096, T0)
  appendTo(seg, [batch('x', [T0])])
  await seg.syncIndexes()
  assert.deepEqual(env.list(), [
    '00000000000000000000.log', '00000000000000000001.index', '00000000000000000001.log', '00000000000000000001.timeindex',
  ])
  seg.deleteFiles()
  assert.deepEqual(env.list(), ['00000000000000000000.log'])
  keep.close()
})

test('file names: 20-digit zero-padded base offsets that sort as offsets; topic-partition directories', () => {
  assert.equal(offsetFileName(0, '.log'), '00000000000000000000.log')
  assert.equal(offsetFileName(1234, '.timeindex'), '00000000000000001234.timeindex')
  const names = [5, 40, 300, 2 ** 40].map((o) => offsetFileName(o, '.log'))
  assert.deepEqual([...names].reverse().sort(), names)
  assert.equal(parseSegmentFileName('00000000000000001234.log'), 1234)
  assert.equal(parseSegmentFileName('00000000000000001234.index', '.index'), 1234)
  assert.equal(parseSegmentFileName('00000000000000001234.index'), null)
  assert.equal(parseSegmentFileName('00000000000000001234.log.tmp'), null)
  assert.equal(parseSegmentFileName('0000000000000001234.log'), null, '19 digits')
  assert.equal(parseSegmentFileName('0000000000000000123x.log'), null)
  assert.equal(parseSegmentFileName('99999999999999999999.log'), null, 'beyond the safe integers')
  assert.deepEqual(parsePartitionDirName('orders-3'), { topic: 'orders', partition: 3 })
  assert.deepEqual(parsePartitionDirName('my-topic-12'), { topic: 'my-topic', partition: 12 })
  assert.equal(parsePartitionDirName('orders'), null)
  assert.equal(parsePartitionDirName('-3'), null)
  assert.equal(parsePartitionDirName('orders-x'), null)
})
