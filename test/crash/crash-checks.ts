// The crash loop's checks of a reopened data dir against its model (crash-model.ts). A check
// asserts, counts what it checked in the totals, and then resets its part of the model to what the
// dir holds (which the parent's clean close makes durable).
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { Broker, decodeRecords, type Partition } from '../../src/index.js'
import { PRODUCED, type DirModel, type Rec, type Totals } from './crash-model.js'

interface Read {
  offset: number
  key: Buffer | null
  value: Buffer | null
}

/** Every record from the log start to the high watermark; offsets increase, contiguous unless compacted. */
function readPartition(p: Partition, contiguous: boolean): Read[] {
  const where = `${p.topic}-${p.index}`
  const out: Read[] = []
  const start = p.logStartOffset
  const end = p.highWatermark
  assert.ok(start <= end, `${where}: log start ${start} above the high watermark ${end}`)
  let offset = start
  let prev = -1
  while (offset < end) {
    const { bytes } = p.readBatches({ offset, maxBytes: 256 * 1024 })
    assert.ok(bytes.length > 0, `${where}: nothing read at ${offset}, below the high watermark ${end}`)
    for (let pos = 0; pos < bytes.length; pos += 12 + bytes.readInt32BE(pos + 8)) {
      const base = Number(bytes.readBigInt64BE(pos))
      for (const r of decodeRecords(bytes, pos)) {
        assert.ok(r.offset > prev, `${where}: offset ${r.offset} after ${prev}`)
        prev = r.offset
        if (r.offset < start) continue
        if (contiguous) assert.equal(r.offset, out.length === 0 ? start : out[out.length - 1]!.offset + 1, `${where}: offsets without gaps`)
        out.push({ offset: r.offset, key: r.key, value: r.value })
      }
      const next = base + bytes.readInt32BE(pos + 23) + 1
      assert.ok(next > offset, `${where}: a read at ${offset} returned the batch ${base}..${next - 1}`)
      offset = next
    }
  }
  assert.equal(offset, end, `${where}: the last batch ends at the high watermark`)
  if (contiguous && end > start) assert.equal(out.length, end - start, `${where}: every offset from ${start} to ${end} is there`)
  return out
}

/** (run, seq) of a produced record and its producer, after checking its size and filler. */
function recOf(r: Read, where: string): Rec & { producer: number } {
  const v = r.value
  assert.ok(v && v.length >= 12, `${where}: record ${r.offset} has a value`)
  const rec = { run: v.readUInt32BE(0), seq: v.readUInt32BE(4), producer: v.length > 12 ? v[12]! : -1 }
  assert.equal(v.readUInt32BE(8), v.length, `${where}: record ${r.offset} has its full size`)
  if (v.length > 13) assert.equal(v[v.length - 1], rec.seq % 251, `${where}: record ${r.offset} has its own bytes`)
  return rec
}

export function checkProduced(broker: Broker, m: DirModel, totals: Totals): void {
  for (const topic of PRODUCED) {
    const t = broker.topic(topic)
    const seen = new Set<string>()
    for (let p = 0; p < t.partitions; p++) {
      const where = `${topic}-${p}`
      const part = t.partition(p)
      const have = new Map<number, Rec>()
      // Runs follow each other; in a run, each producer's records are in its send order.
      let run = -1
      const last = new Map<number, number>()
      for (const r of readPartition(part, true)) {
        const { producer, ...rec } = recOf(r, where)
        assert.ok(rec.run >= run, `${where}: record ${rec.run}/${rec.seq} at ${r.offset} after one of run ${run}`)
        if (rec.run > run) last.clear()
        run = rec.run
        const prev = last.get(producer) ?? -1
        assert.ok(rec.seq > prev, `${where}: record ${rec.run}/${rec.seq} of producer ${producer} at ${r.offset} after its ${rec.run}/${prev}: out of send order`)
        last.set(producer, rec.seq)
        assert.ok(!seen.has(`${rec.run}/${rec.seq}`), `${where}: record ${rec.run}/${rec.seq} stored twice`)
        seen.add(`${rec.run}/${rec.seq}`)
        have.set(r.offset, rec)
      }
      const want = m.records.get(topic)!.get(p)!
      const lost: string[] = []
      for (const [offset, rec] of want) {
        if (offset < part.logStartOffset) {
          assert.equal(topic, 'retained', `${where}: acknowledged ${rec.run}/${rec.seq} at ${offset} is below the log start ${part.logStartOffset}`)
          totals.goneByRetention++
          continue
        }
        const got = have.get(offset)
        if (!got || got.run !== rec.run || got.seq !== rec.seq) lost.push(`${rec.run}/${rec.seq} at ${offset} (found ${got ? `${got.run}/${got.seq}` : 'nothing'})`)
        totals.acksChecked++
      }
      totals.lost += lost.length
      assert.deepEqual(lost, [], `${where}: ${lost.length} acknowledged records lost or changed (high watermark ${part.highWatermark}, log start ${part.logStartOffset})`)
      totals.unackedKept += [...have.keys()].filter((o) => !want.has(o)).length
      m.records.get(topic)!.set(p, have)
    }
  }
}

export function checkCompacted(broker: Broker, m: DirModel, totals: Totals): void {
  const t = broker.topic('compacted')
  const latest = new Map<string, { offset: number; tomb: boolean }>()
  for (let p = 0; p < t.partitions; p++) {
    for (const r of readPartition(t.partition(p), false)) {
      assert.ok(r.key, `compacted-${p}: record ${r.offset} has a key`)
      latest.set(r.key.toString(), { offset: r.offset, tomb: r.value === null })
    }
  }
  for (const [key, want] of m.keys) {
    const have = latest.get(key)
    totals.keysChecked++
    if (!have) {
      assert.ok(want.tomb || m.pendingTombs.has(key), `compacted: ${key} lost its acknowledged update at ${want.offset}`)
      continue
    }
    assert.ok(have.offset >= want.offset, `compacted: ${key} is at offset ${have.offset}, its last acknowledged update is at ${want.offset}${want.tomb ? ' (a tombstone)' : ''}`)
  }
  m.keys = latest
  m.pendingTombs = new Set()
}

/** The latest committed offsets in __consumer_offsets, read raw: `group topic partition` → offset. */
function rawCommits(broker: Broker): Map<string, number> {
  const out = new Map<string, number>()
  if (!broker.hasTopic('__consumer_offsets')) return out
  const t = broker.topic('__consumer_offsets')
  for (let p = 0; p < t.partitions; p++) {
    for (const r of readPartition(t.partition(p), false)) {
      const k = r.key!
      if (k.readInt16BE(0) > 1) continue
      const gl = k.readInt16BE(2)
      const group = k.toString('utf8', 4, 4 + gl)
      const tl = k.readInt16BE(4 + gl)
      const topic = k.toString('utf8', 6 + gl, 6 + gl + tl)
      const id = `${group} ${topic} ${k.readInt32BE(6 + gl + tl)}`
      if (r.value === null) out.delete(id)
      else out.set(id, Number(r.value.readBigInt64BE(2)))
    }
  }
  return out
}

export function checkCommits(broker: Broker, m: DirModel, totals: Totals): void {
  const committed = new Map<string, number | null>()
  for (const g of broker.groups()) {
    for (const l of broker.group(g.groupId).lag()) committed.set(`${g.groupId} ${l.topic} ${l.partition}`, l.committed)
  }
  for (const [id, want] of m.commits) {
    const [, topic, p] = id.split(' ')
    if (!broker.hasTopic(topic!)) continue
    const have = committed.get(id)
    totals.commitsChecked++
    assert.ok(have !== undefined && have !== null && have >= want, `committed offset of ${id} is ${have}, the last reported commit was ${want}`)
    assert.ok(have <= broker.topic(topic!).latestOffset(Number(p)), `committed offset of ${id} is ${have}, past the high watermark`)
  }
  for (const [id, offset] of rawCommits(broker)) {
    const [, topic] = id.split(' ')
    assert.ok(broker.hasTopic(topic!), `__consumer_offsets still holds committed offset ${offset} for ${id}, a topic that no longer exists`)
  }
}

export function checkChurn(broker: Broker, m: DirModel, totals: Totals): void {
  for (const t of broker.topics()) {
    if (!t.name.startsWith('churn-')) continue
    const c = m.churn.get(t.name)
    assert.ok(c && c.state !== 'deleted' && c.state !== 'gone', `${t.name} exists, but its deletion had resolved (${c?.state ?? 'never created'})`)
  }
  for (const [name, c] of m.churn) {
    const exists = broker.hasTopic(name)
    if (c.state === 'deleted' || c.state === 'gone') assert.ok(!exists, `${name} exists after its deletion resolved`)
    if (c.state === 'created') assert.ok(exists, `${name} was created (and filled, acknowledged) but is missing`)
    if (!exists) continue
    totals.topicsChecked++
    const t = broker.topic(name)
    assert.equal(t.partitions, c.partitions, `${name}: partition count`)
    const latest = new Map<string, { offset: number; tomb: boolean }>()
    for (let p = 0; p < t.partitions; p++) {
      const part = t.partition(p)
      for (const r of readPartition(part, !c.compact)) if (r.key) latest.set(r.key.toString(), { offset: r.offset, tomb: r.value === null })
      if (c.counts) assert.equal(part.highWatermark, c.counts[p], `${name}-${p}: the records acknowledged while it was filled`)
      assert.ok(part.logStartOffset >= c.lso[p]!, `${name}-${p}: log start ${part.logStartOffset} below the one deleteRecords reported (${c.lso[p]})`)
      if (!c.cutting) {
        assert.equal(part.logStartOffset, 0, `${name}-${p}: no deleteRecords touched this topic, yet its log start is ${part.logStartOffset}: ${Math.min(part.logStartOffset, part.highWatermark)} of its ${part.highWatermark} records cannot be read`)
      }
    }
    // Nothing was written after the fill: each key's last update is there, or gone with its tombstone.
    for (const [key, want] of c.keys ?? []) {
      const have = latest.get(key)
      if (have || !want.tomb) {
        assert.equal(have?.offset, want.offset, `${name}: the last update of ${key} is at ${want.offset}${want.tomb ? ' (a tombstone)' : ''}, the log has ${have ? `${have.offset}${have.tomb ? ' (a tombstone)' : ''}` : 'none'}`)
      }
    }
    c.keys = c.compact ? latest : null
  }
  // Nothing of a deleted topic is left on disk.
  const dirs = new Set(broker.topics({ internal: true }).flatMap((t) => Array.from({ length: t.partitions }, (_, i) => `${t.name}-${i}`)))
  const left = readdirSync(m.dir).filter((n) => n.startsWith('churn-') && !dirs.has(n))
  assert.deepEqual(left, [], 'directories of deleted topics left behind')
  for (const [name, c] of m.churn) {
    if (!broker.hasTopic(name)) {
      m.churn.set(name, { ...c, state: 'gone' })
      for (const k of [...m.commits.keys()]) if (k.split(' ')[1] === name) m.commits.delete(k)
      continue
    }
    const t = broker.topic(name)
    const parts = t.offsets()
    m.churn.set(name, { ...c, state: 'created', partitions: t.partitions, counts: parts.map((o) => o.latest), lso: parts.map((o) => o.earliest), cutting: parts.some((o) => o.earliest > 0) })
  }
}

/** Every partition of every topic, internal ones too, reads from its log start to its end. */
export function checkAllReadable(broker: Broker): void {
  for (const t of broker.topics({ internal: true })) {
    for (let p = 0; p < t.partitions; p++) readPartition(t.partition(p), t.config.cleanupPolicy === 'delete')
  }
}
