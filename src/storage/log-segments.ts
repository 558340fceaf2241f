// A log's segment list from its files, where Log needs more than appends: the unclean open's scan
// that cuts a torn tail (recoverSegments), and a read-only log following the writer in another
// process (followSegments): from a listing of the partition directory and the identity of each file,
// what the writer did since the last look (segments appended to, rolled, deleted by retention,
// replaced by the cleaner's swap). Called only by Log.
import type { FileIO } from '../util/file-io.js'
import { LOG_SUFFIX, parseSegmentFileName } from './file-names.js'
import type { RecoveryReport } from './log.js'
import { Segment } from './segment.js'

/** Base offsets of the segments in `dir`, ascending (none when the directory does not exist). */
export function segmentBases(io: FileIO, dir: string): number[] {
  if (!io.exists(dir)) return []
  return io
    .readdir(dir)
    .map((n) => parseSegmentFileName(n, LOG_SUFFIX))
    .filter((b): b is number => b !== null)
    .sort((a, b) => a - b)
}

/**
 * The segment list after what the writer did to `dir`, opening new segments read-only and closing the
 * ones gone or replaced; null when a file vanished midway (then nothing was changed: look again later).
 */
export function followSegments(io: FileIO, dir: string, indexIntervalBytes: number, nowMs: number, segments: readonly Segment[]): Segment[] | null {
  const bases = segmentBases(io, dir)
  const onDisk = new Set(bases)
  const last = segments.at(-1)
  const open = (base: number): Segment => Segment.open(io, dir, base, indexIntervalBytes, true, nowMs)
  const kept: Segment[] = []
  const opened: Segment[] = []
  const gone: Segment[] = []
  try {
    for (const seg of segments) {
      if (!onDisk.has(seg.baseOffset)) {
        gone.push(seg) // deleted by retention, or merged into an earlier segment by the cleaner
      } else if (seg !== last && io.fileId(seg.file) !== seg.fileId) {
        gone.push(seg) // the cleaner swapped in a new file under this name
        kept.push(open(seg.baseOffset))
        opened.push(kept.at(-1)!)
      } else kept.push(seg)
    }
    const known = kept.at(-1)?.baseOffset ?? -1
    const added = bases.filter((b) => b > known)
    for (const base of added) {
      const seg = open(base)
      opened.push(seg)
      if (base === added.at(-1)) seg.recover(base, 0, false)
      kept.push(seg)
    }
    // The active segment grew, or was rolled and is complete now: take in the rest of it.
    if (last && kept.includes(last)) last.extend()
  } catch (err) {
    // A file went away between the listing and the open: keep the old view until the next look.
    for (const seg of opened) seg.close()
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  for (const seg of gone) seg.close()
  for (let i = 0; i + 1 < kept.length; i++) kept[i]!.nextOffset = kept[i + 1]!.baseOffset
  return kept
}

/**
 * Unclean open: validates every batch from the segment holding `recoveryPoint` onwards, cuts at the
 * first invalid one (a torn or unflushed tail; a read-only log only stops there) and drops the
 * segments after it from `segments` (in place). Returns the index of the first segment scanned.
 */
export function recoverSegments(segments: Segment[], recoveryPoint: number, readOnly: boolean, dir: string): { first: number; report: RecoveryReport } {
  let first = 0
  for (let i = 0; i < segments.length; i++) if (segments[i]!.baseOffset <= recoveryPoint) first = i
  const report: RecoveryReport = { dir, segmentsRecovered: 0, truncatedBytes: 0, deletedSegments: 0 }
  let expect = first > 0 ? segments[first]!.baseOffset : 0
  for (let i = first; i < segments.length; i++) {
    const seg = segments[i]!
    const r = seg.recover(expect, recoveryPoint, !readOnly)
    report.segmentsRecovered++
    report.truncatedBytes += r.truncatedBytes
    expect = seg.nextOffset
    if (r.invalidAt) {
      report.invalidAt = { file: seg.file, ...r.invalidAt }
      for (const later of segments.splice(i + 1)) {
        report.deletedSegments++
        report.truncatedBytes += later.size
        if (readOnly) later.close()
        else later.deleteFiles()
      }
      break
    }
  }
  return { first, report }
}
