// Shared by the cleaner tests: a log with a history of every record appended (the model), reads of
// the whole log as a consumer does it, and the checks that a compacted log still tells the truth.
import assert from 'node:assert/strict'
import { Log, type LogConfig } from '../../../src/storage/log.js'
import { LOG_OVERHEAD, decodeRecords, encodeRecordBatch, readBatchHeader, type BatchHeader, type EncodeOptions } from '../../../src/storage/record-batch.js'
import type { FileIO } from '../../../src/util/file-io.js'

export const T0 = 1_700_000_000_000
export const DAY = 86_400_000

export interface Clock {
  ms: number
}

export interface OpenOpts {
  config?: Partial<LogConfig>
  clean?: boolean
  recoveryPoint?: number
  logStartOffset?: number
  readOnly?: boolean
  clock?: Clock
}

export function openLog(io: FileIO, dir: string, o: OpenOpts = {}): Promise<Log> {
  const clock = o.clock ?? { ms: T0 }
  return Log.open(io, dir, {
    config: { segmentBytes: 1024, segmentMs: 7 * DAY, indexIntervalBytes: 256, ...o.config },
    recoveryPoint: o.recoveryPoint ?? 0,
    logStartOffset: o.logStartOffset ?? 0,
    clean: o.clean ?? false,
    readOnly: o.readOnly ?? false,
    now: () => clock.ms,
  })
}

/** One record as appended (the model) or as read back. */
export interface Rec {
  offset: number
  key: string | null
  value: string | null
  timestamp: number
}

export type Put = [key: string | null, value: string | null]

/** Appends one batch of `puts` stamped `ts`; records what was appended in `hist`. */
export function append(log: Log, hist: Rec[], puts: Put[], ts = T0, options: EncodeOptions = {}): number {
  const batch = encodeRecordBatch(
    puts.map(([k, v]) => ({ key: k === null ? null : Buffer.from(k), value: v === null ? null : Buffer.from(v), timestamp: ts })),
    options,
  )
  const { baseOffset } = log.append([batch])
  puts.forEach(([key, value], i) => hist.push({ offset: baseOffset + i, key, value, timestamp: ts }))
  return baseOffset
}

export function batchesIn(bytes: Buffer): Array<BatchHeader & { pos: number }> {
  const out: Array<BatchHeader & { pos: number }> = []
  for (let pos = 0; pos < bytes.length; pos += LOG_OVERHEAD + bytes.readInt32BE(pos + 8)) out.push({ ...readBatchHeader(bytes, pos), pos })
  return out
}

const str = (b: Buffer | null) => (b === null ? null : b.toString())

/**
 * Reads the log from `from` to its end as a consumer does: `maxBytes` at a time, advancing past
 * each batch (baseOffset + lastOffsetDelta + 1), so gaps never stall it; control records skipped.
 */
export function readAll(log: Log, from = log.logStartOffset, maxBytes = 1): { recs: Rec[]; batches: BatchHeader[] } {
  const recs: Rec[] = []
  const batches: BatchHeader[] = []
  let offset = from
  while (offset < log.nextOffset) {
    const { bytes } = log.read(offset, maxBytes)
    const found = batchesIn(bytes)
    assert.ok(found.length > 0, `read at ${offset} returned nothing (end ${log.nextOffset})`)
    for (const b of found) {
      batches.push(b)
      if (b.isControl) continue
      for (const r of decodeRecords(bytes, b.pos)) {
        if (r.offset >= offset) recs.push({ offset: r.offset, key: str(r.key), value: str(r.value), timestamp: r.timestamp })
      }
    }
    const last = found[found.length - 1]!
    offset = last.baseOffset + last.lastOffsetDelta + 1
  }
  return { recs, batches }
}

/** Key → value after applying `recs` in order (a tombstone removes its key); key-less records are skipped. */
export function finalView(recs: readonly Rec[]): Map<string, string> {
  const view = new Map<string, string>()
  for (const r of recs) {
    if (r.key === null) continue
    if (r.value === null) view.delete(r.key)
    else view.set(r.key, r.value)
  }
  return view
}

/**
 * What a compacted log must still be: offsets strictly increasing, every record read is the one
 * appended at that offset (no record invented or changed), the same final view as the whole
 * history (nothing lost that should survive), every key-less record and every record at or after
 * `untouchedFrom` still there. Returns what was read.
 */
export function assertTruthful(log: Log, hist: readonly Rec[], untouchedFrom = log.nextOffset, maxBytes = 1): Rec[] {
  const { recs } = readAll(log, log.logStartOffset, maxBytes)
  const byOffset = new Map(hist.map((r) => [r.offset, r]))
  let prev = -1
  for (const r of recs) {
    assert.ok(r.offset > prev, `offset ${r.offset} after ${prev}`)
    prev = r.offset
    const h = byOffset.get(r.offset)
    assert.ok(h, `offset ${r.offset} was never appended`)
    assert.deepEqual({ key: r.key, value: r.value }, { key: h.key, value: h.value }, `record at ${r.offset}`)
  }
  const visible = hist.filter((h) => h.offset >= log.logStartOffset)
  assert.deepEqual([...finalView(recs)].sort(), [...finalView(visible)].sort(), 'final view')
  const readOffsets = new Set(recs.map((r) => r.offset))
  for (const h of visible) {
    if (h.key === null || h.offset >= untouchedFrom) assert.ok(readOffsets.has(h.offset), `record ${h.offset} (${h.key}) is gone`)
  }
  return recs
}

/**
 * The records a full pass keeps below `end`: the last of each key below `end`, tombstones only
 * when `keepTombstones`, key-less records always; everything from `end` on.
 */
export function expectedAfterClean(hist: readonly Rec[], end: number, keepTombstones: boolean): Rec[] {
  const last = new Map<string, number>()
  for (const h of hist) if (h.key !== null && h.offset < end) last.set(h.key, h.offset)
  return hist.filter((h) => {
    if (h.offset >= end || h.key === null) return true
    if (last.get(h.key) !== h.offset) return false
    return h.value !== null || keepTombstones
  })
}

/** Names of cleaner leftovers in `names`. */
export function cleanerLeftovers(names: readonly string[]): string[] {
  return names.filter((n) => n.endsWith('.cleaned') || n.endsWith('.swap') || n.endsWith('.deleted'))
}
