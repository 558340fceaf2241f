// A full scan of a log for `broker.verify()`: every batch of every segment is read back and checked
// (length, magic, CRC, offsets increasing and inside the segment), without changing anything. A bad
// batch is reported and the scan resynchronises on the next batch that checks out, so one flipped
// byte does not hide the rest of the segment. Reads go in bounded chunks and the scan yields to the
// event loop between them, so a large log neither fills memory nor stalls the process.
import { LOG_OVERHEAD, BATCH_HEADER_BYTES, MAGIC_V2, checkBatch, decodeRecords, readBatchHeader } from './record-batch.js'
import { CorruptionError } from '../errors.js'
import type { Log } from './log.js'
import type { Segment } from './segment.js'

const CHUNK_BYTES = 1024 * 1024
const MAGIC_AT = 16

export interface BatchProblem {
  file: string
  /** File position of the bad batch (or of the first unreadable byte). */
  position: number
  reason: string
}

export interface LogVerifyResult {
  segments: number
  batches: number
  records: number
  bytes: number
  problems: BatchProblem[]
}

export interface VerifyLogOptions {
  /** Also decode every record (decompressing compressed batches), as Kafka's DumpLogSegments --deep-iteration. */
  deep?: boolean
  /** Called after each chunk with the bytes checked since the last call. */
  onBytes?: (bytes: number, file: string) => void
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Checks every segment of `log` as it stands when the scan reaches it (later appends are not waited for). */
export async function verifyLog(log: Log, opts: VerifyLogOptions = {}): Promise<LogVerifyResult> {
  const result: LogVerifyResult = { segments: 0, batches: 0, records: 0, bytes: 0, problems: [] }
  for (const seg of [...log.segmentList()]) {
    // Retention or the cleaner may have replaced the segment while the scan yielded: skip it then.
    if (!log.segmentList().includes(seg)) continue
    result.segments++
    await verifySegment(log, seg, result, opts)
  }
  return result
}

/** Reads a segment in chunks; `at(pos, n)` makes [pos, pos + n) available in `buf`. */
class ChunkReader {
  buf: Buffer
  private bufPos = 0
  private bufLen = 0
  constructor(private readonly seg: Segment, readonly end: number) {
    this.buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(end, BATCH_HEADER_BYTES)))
  }
  /** The index of file position `pos` in `buf` with `n` bytes after it, or -1 past the end. */
  at(pos: number, n: number): number {
    if (pos + n > this.end) return -1
    if (pos >= this.bufPos && pos + n <= this.bufPos + this.bufLen) return pos - this.bufPos
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n)
    this.bufPos = pos
    this.bufLen = this.seg.readRaw(this.buf, pos, Math.min(this.buf.length, this.end - pos))
    return this.bufLen >= n ? 0 : -1
  }
}

async function verifySegment(log: Log, seg: Segment, out: LogVerifyResult, opts: VerifyLogOptions): Promise<void> {
  const r = new ChunkReader(seg, seg.size)
  const end = r.end
  const limit = seg.nextOffset
  let expect = seg.baseOffset
  let pos = 0
  let reported = 0
  const problem = (position: number, reason: string): void => {
    out.problems.push({ file: seg.file, position, reason })
  }
  while (pos < end) {
    if (!log.segmentList().includes(seg)) return
    const ok = checkAt(r, pos, expect, limit)
    if (typeof ok === 'string') {
      problem(pos, ok)
      // A bad batch whose length still leads to a plausible header (a flipped payload byte, say) is
      // stepped over, so the batch after it is checked and reported on its own; else resync.
      const h = r.at(pos, LOG_OVERHEAD)
      const claimed = h < 0 ? -1 : pos + LOG_OVERHEAD + r.buf.readInt32BE(h + 8)
      if (claimed > pos && claimed < end && plausibleHeader(r, claimed, expect, limit)) {
        pos = claimed
        continue
      }
      const next = resync(r, pos + 1, expect, limit)
      if (next < 0) {
        // Unless the bad batch's own length reaches the end, more bytes than the batch are lost.
        if (claimed !== end) out.problems[out.problems.length - 1]!.reason += `; no valid batch in the ${end - pos} bytes from there to the end`
        break
      }
      pos = next
      continue
    }
    if (opts.deep) {
      try {
        out.records += decodeRecords(r.buf, r.at(pos, ok.size)).length
      } catch (err) {
        problem(pos, `undecodable records (${(err as Error).message})`)
      }
    } else out.records += ok.count
    out.batches++
    expect = ok.last + 1
    pos += ok.size
    if (pos - reported >= CHUNK_BYTES) {
      opts.onBytes?.(pos - reported, seg.file)
      out.bytes += pos - reported
      reported = pos
      await yieldToLoop()
    }
  }
  opts.onBytes?.(end - reported, seg.file)
  out.bytes += end - reported
}

/** Whether a batch header that could be one this segment holds starts at `pos` (no CRC check). */
function plausibleHeader(r: ChunkReader, pos: number, expect: number, limit: number): boolean {
  const h = r.at(pos, BATCH_HEADER_BYTES)
  if (h < 0 || r.buf[h + MAGIC_AT] !== MAGIC_V2) return false
  const size = LOG_OVERHEAD + r.buf.readInt32BE(h + 8)
  const base = r.buf.readInt32BE(h) * 0x1_0000_0000 + r.buf.readUInt32BE(h + 4)
  return size >= BATCH_HEADER_BYTES && pos + size <= r.end && base >= expect && base < limit
}

/** The batch at `pos` if it checks out, else why not. */
function checkAt(r: ChunkReader, pos: number, expect: number, limit: number): { size: number; last: number; count: number } | string {
  const h = r.at(pos, BATCH_HEADER_BYTES)
  if (h < 0) return 'truncated batch header'
  const size = LOG_OVERHEAD + r.buf.readInt32BE(h + 8)
  if (size < BATCH_HEADER_BYTES) return `bad length ${size - LOG_OVERHEAD}`
  if (pos + size > r.end) return `batch of ${size} bytes runs past the end of the segment`
  if (r.buf[h + MAGIC_AT] !== MAGIC_V2) return 'bad magic'
  // Cheap header checks first, so a resync through garbage rarely reads (or allocates) a body.
  const base = r.buf.readInt32BE(h) * 0x1_0000_0000 + r.buf.readUInt32BE(h + 4)
  if (base < expect || base >= limit) return `offset ${base} outside ${expect}..${limit - 1}`
  const at = r.at(pos, size)
  const bad = checkBatch(r.buf, at, at + size)
  if (bad) return bad
  const header = readBatchHeader(r.buf, at)
  const last = header.baseOffset + header.lastOffsetDelta
  if (header.lastOffsetDelta < 0 || last >= limit) return `offsets ${header.baseOffset}..${last} outside the segment (ends before ${limit})`
  return { size, last, count: header.recordCount }
}

/**
 * The first file position ≥ `from` and before `end` where a whole batch checks out (magic, length,
 * CRC, offsets in `[expect, limit)`), or -1 when none does: how a read or a scan finds its way past a
 * corrupt batch whose length cannot be trusted.
 */
export function findNextBatch(seg: Segment, from: number, end: number, expect: number, limit: number): number {
  return resync(new ChunkReader(seg, end), from, expect, limit)
}

/** The first position ≥ `from` where a batch checks out, or -1 when none does. */
function resync(r: ChunkReader, from: number, expect: number, limit: number): number {
  for (let pos = from; pos + BATCH_HEADER_BYTES <= r.end; pos++) {
    const m = r.at(pos, MAGIC_AT + 1)
    if (m < 0) return -1
    if (r.buf[m + MAGIC_AT] !== MAGIC_V2) continue
    if (typeof checkAt(r, pos, expect, limit) !== 'string') return pos
  }
  return -1
}

/**
 * After `err` (a corrupt batch found where a read of `seg` for `offset` started): the read from the
 * next batch past it that checks out, when that batch starts at or before `offset`; else null (the
 * offset may lie in the corrupt batch, whose error then stands).
 */
export function readPastCorrupt(seg: Segment, err: unknown, offset: number, maxBytes: number): { bytes: Buffer; position: number } | null {
  if (!(err instanceof CorruptionError) || err.file !== seg.file) return null
  const next = findNextBatch(seg, err.position + 1, seg.size, seg.baseOffset, seg.nextOffset)
  if (next < 0 || seg.baseOffsetAt(next) > offset) return null
  return seg.read(offset, maxBytes, seg.size, next)
}
