// The outcomes the model cannot predict exactly, only bound: what a partition may show after a
// crash (a prefix of its log with everything fsync'd), after a retention pass (a suffix, moved only
// where retention applies) and after a compaction pass (a subsequence keeping each key's latest
// record). Each function checks what the broker shows against those rules, fails with what broke,
// and otherwise makes the model adopt it.
import assert from 'node:assert/strict'
import { T0, type BrokerModel, type PartitionModel, type PartitionView, type Rec, type TopicModel } from './model.js'

/** What a crash in the middle of an operation may have left partly done (see adoptCrash). */
export interface CrashRelax {
  /** The operation, for messages. */
  during?: string
  /** A retention pass was running; the partition's size before it. */
  retentionSizeBefore?: number
  /** deleteRecords to this offset was running. */
  logStartUpTo?: number
  /** A compaction pass was running; where the active segment started. */
  compactionActiveBase?: number
}

/**
 * After a crash a partition holds a prefix of the model's log: at least everything fsync'd, at most
 * everything acknowledged, and exactly the model's records below its new high watermark. Its log
 * start stays (it is checkpointed) unless the log now ends below it. The model adopts the prefix;
 * recovery fsyncs what it kept.
 *
 * `relax` widens this for a crash in the middle of an operation that may have partly happened:
 * a retention pass (the log start may have moved where retention could apply), deleteRecords (the
 * log start may be anywhere up to its target) or a compaction pass (records it may remove may be
 * gone).
 */
export function adoptCrash(m: BrokerModel, topic: string, partition: number, seen: PartitionView, relax: CrashRelax = {}): void {
  const t = m.topics.get(topic)!
  const p = t.partitions[partition]!
  const where = `${topic}-${partition} after a crash${relax.during ? ` during ${relax.during}` : ''}`
  assert.ok(seen.latest >= p.durable, `${where}: high watermark ${seen.latest} lost fsync'd records (durable up to ${p.durable})`)
  assert.ok(seen.latest <= p.next, `${where}: high watermark ${seen.latest} is past every acknowledged record (${p.next})`)
  const floor = Math.min(p.logStart, seen.latest)
  if (relax.retentionSizeBefore !== undefined && seen.earliest > floor) {
    checkRetentionMayDrop(m, where, t, p, seen.earliest, relax.retentionSizeBefore)
  } else if (relax.logStartUpTo !== undefined) {
    const top = Math.min(relax.logStartUpTo, seen.latest)
    assert.ok(seen.earliest >= floor && seen.earliest <= top, `${where}: log start offset ${seen.earliest} outside [${floor}, ${top}]`)
  } else {
    assert.equal(seen.earliest, floor, `${where}: log start offset (model ${p.logStart})`)
  }
  const prefix = p.records.filter((r) => r.offset >= seen.earliest && r.offset < seen.latest)
  if (relax.compactionActiveBase !== undefined && t.compacted) {
    p.hide(checkCompacted(m, where, t, prefix, seen.records, relax.compactionActiveBase))
  } else {
    assert.deepEqual(seen.records, prefix, `${where}: the records are not a prefix of the acknowledged log`)
  }
  p.hide(p.records.filter((r) => r.offset < seen.earliest))
  p.records = seen.records
  p.next = seen.latest
  p.logStart = seen.earliest
  p.durable = seen.latest
}

/**
 * A retention pass: the log start only moves forward, and only over records that retention could
 * delete; what stays is exactly the model's records from there. Strict parts: a partition whose
 * every record (readable or not) is older than retentionMs is emptied, and one still above
 * retentionBytes keeps only its active segment or a first segment that retention by size could not
 * delete (`segmentSizes`: the sizes of the segments left, oldest first).
 */
export function adoptRetention(m: BrokerModel, topic: string, partition: number, seen: PartitionView, sizeBefore: number, segmentSizes: readonly number[]): void {
  const t = m.topics.get(topic)!
  const p = t.partitions[partition]!
  const spec = t.spec
  const where = `${topic}-${partition} after retention at ${m.now - T0} ms`
  assert.equal(seen.latest, p.next, `${where}: high watermark`)
  assert.ok(seen.earliest >= p.logStart, `${where}: log start moved back from ${p.logStart} to ${seen.earliest}`)
  if (seen.earliest > p.logStart) checkRetentionMayDrop(m, where, t, p, seen.earliest, sizeBefore)
  const kept = p.from(seen.earliest)
  assert.deepEqual(seen.records, kept, `${where}: records from the log start`)
  if (t.deletes) {
    const cutoff = m.now - spec.retentionMs
    const newest = Math.max(p.ghostMaxTs, ...p.records.map((r) => r.timestamp))
    if (spec.retentionMs >= 0 && p.records.length > 0 && newest < cutoff) {
      assert.equal(seen.earliest, p.next, `${where}: every record is older than retentionMs ${spec.retentionMs}, so the partition must be empty`)
    }
    const sizeAfter = segmentSizes.reduce((a, b) => a + b, 0)
    if (spec.retentionBytes >= 0 && segmentSizes.length > 1) {
      assert.ok(sizeAfter - segmentSizes[0]! < spec.retentionBytes, `${where}: ${sizeAfter} bytes left in ${segmentSizes.length} segments (${segmentSizes.join(', ')}), retentionBytes ${spec.retentionBytes}: the first could go`)
    }
  }
  p.records = kept
  p.logStart = seen.earliest
}

/**
 * The log start moved up to `to`: retention must have been able to delete every record below it
 * (all older than retentionMs, or the partition was above retentionBytes), on a topic whose
 * cleanup policy deletes, and never past the high watermark.
 */
function checkRetentionMayDrop(m: BrokerModel, where: string, t: TopicModel, p: PartitionModel, to: number, sizeBefore: number): void {
  const spec = t.spec
  assert.ok(to <= p.next, `${where}: log start ${to} past the high watermark ${p.next}`)
  assert.ok(t.deletes, `${where}: log start moved to ${to} on a topic with cleanupPolicy ${spec.cleanupPolicy}`)
  const dropped = p.records.filter((r) => r.offset < to)
  const byTime = spec.retentionMs >= 0 && dropped.every((r) => r.timestamp < m.now - spec.retentionMs)
  const bySize = spec.retentionBytes >= 0 && sizeBefore > spec.retentionBytes
  assert.ok(byTime || bySize, `${where}: log start moved ${p.logStart} → ${to}, but retention could not apply (retentionMs ${spec.retentionMs}, retentionBytes ${spec.retentionBytes}, size ${sizeBefore})`)
}

/**
 * A compaction pass: offsets never change; survivors are model records, unchanged; a record goes
 * only when it is keyed, outside the active segment (offset < activeBase), and either a later
 * record has its key or it is a tombstone older than deleteRetentionMs. With
 * minCleanableDirtyRatio 0 the pass must run: no key repeats below the active segment, and when
 * every sealed segment is older than deleteRetentionMs no tombstone stays there.
 */
export function adoptCompaction(m: BrokerModel, topic: string, partition: number, seen: PartitionView, activeBase: number): void {
  const t = m.topics.get(topic)!
  const p = t.partitions[partition]!
  const where = `${topic}-${partition} after compaction at ${m.now - T0} ms`
  assert.equal(seen.latest, p.next, `${where}: high watermark`)
  assert.equal(seen.earliest, p.logStart, `${where}: log start offset`)
  if (!t.compacted) {
    assert.deepEqual(seen.records, p.records, `${where}: a topic with cleanupPolicy 'delete' is not compacted`)
    return
  }
  const removed = checkCompacted(m, where, t, p.records, seen.records, activeBase)
  if (t.spec.minCleanableDirtyRatio === 0) {
    const seenKeys = new Set<string>()
    for (const r of seen.records) {
      if (r.offset >= activeBase || r.key === null) continue
      assert.ok(!seenKeys.has(r.key), `${where}: key ${r.key} appears twice below the active segment (base ${activeBase}) after a pass`)
      seenKeys.add(r.key)
    }
    // When even the newest record that may sit in a sealed segment is older than
    // deleteRetentionMs, every sealed segment is, and none may keep a tombstone.
    const sealedMaxTs = Math.max(p.ghostMaxTs, ...p.records.filter((r) => r.offset < activeBase).map((r) => r.timestamp))
    if (m.now - sealedMaxTs > t.spec.deleteRetentionMs) {
      // (A key-less record is never compacted: a key-less null value stays.)
      const kept = seen.records.find((r) => r.offset < activeBase && r.value === null && r.key !== null)
      assert.ok(!kept, `${where}: tombstone ${kept?.offset} (key ${kept?.key}) kept though every sealed segment is older than deleteRetentionMs ${t.spec.deleteRetentionMs}`)
    }
  }
  p.hide(removed)
  p.records = seen.records
}

/** Checks that `after` is `before` compacted by the rules above; returns the records removed. */
function checkCompacted(m: BrokerModel, where: string, t: TopicModel, before: readonly Rec[], after: readonly Rec[], activeBase: number): Rec[] {
  const byOffset = new Map(before.map((r) => [r.offset, r]))
  let prev = -1
  for (const r of after) {
    assert.ok(r.offset > prev, `${where}: offsets out of order (${prev}, ${r.offset})`)
    prev = r.offset
    assert.deepEqual(r, byOffset.get(r.offset), `${where}: record ${r.offset} is not the one appended`)
  }
  const kept = new Set(after.map((r) => r.offset))
  const latestOfKey = new Map<string, number>()
  for (const r of before) if (r.key !== null) latestOfKey.set(r.key, r.offset)
  const removed = before.filter((r) => !kept.has(r.offset))
  for (const r of removed) {
    assert.ok(r.key !== null, `${where}: key-less record ${r.offset} removed`)
    assert.ok(r.offset < activeBase, `${where}: record ${r.offset} removed from the active segment (base ${activeBase})`)
    const superseded = latestOfKey.get(r.key)! > r.offset
    const expiredTombstone = r.value === null && m.now - r.timestamp > t.spec.deleteRetentionMs
    assert.ok(superseded || expiredTombstone, `${where}: record ${r.offset} (key ${r.key}) removed though it is its key's latest${r.value === null ? ` and a tombstone only ${m.now - r.timestamp} ms old (deleteRetentionMs ${t.spec.deleteRetentionMs})` : ''}`)
  }
  return removed
}
