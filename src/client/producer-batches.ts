// The producer's batch bookkeeping: the slot each send waits on, splitting a send's records into
// batches that fit, and size bounds.
import { InvalidRecordError, RecordTooLargeError } from '../errors.js'
import type { AppendInfo } from '../broker/partition.js'
import type { Topic } from '../broker/topic.js'
import type { RecordInput } from '../storage/record-batch.js'

export const RECORD_OVERHEAD_BYTES = 32
export const BATCH_OVERHEAD_BYTES = 61

export interface Slot {
  offsets: number[]
  timestamps: number[]
  remaining: number
  resolve: () => void
  reject: (err: unknown) => void
}

export function newSlot(n: number): Slot {
  return { offsets: new Array(n), timestamps: new Array(n), remaining: n, resolve: () => {}, reject: () => {} }
}

export function fillSlot(slot: Slot, info: AppendInfo, groups: number[][], ts: (i: number) => number, batches: Buffer[]): void {
  let offset = info.baseOffset
  for (let g = 0; g < groups.length; g++) {
    for (const i of groups[g]!) {
      slot.offsets[i] = offset++
      slot.timestamps[i] = info.logAppendTime >= 0 ? info.logAppendTime : ts(i)
    }
  }
  if (offset - 1 !== info.lastOffset) {
    throw new InvalidRecordError(`assigned offsets ${info.baseOffset}..${info.lastOffset} do not match ${batches.length} batches`)
  }
}

/** Splits indexes into runs whose records' estimated bytes `fit` one batch. */
export function splitBySize(idx: number[], size: (i: number) => number, fit: (bytes: number) => boolean): number[][] {
  const out: number[][] = []
  let cur: number[] = []
  let bytes = 0
  for (const i of idx) {
    const s = size(i)
    if (cur.length > 0 && !fit(bytes + s)) {
      out.push(cur)
      cur = []
      bytes = 0
    }
    cur.push(i)
    bytes += s
  }
  if (cur.length > 0) out.push(cur)
  return out
}

/** The estimate is an upper bound; this pairs it with the encoded size before anything is written. */
export function checkBatchSize(batch: Buffer, topic: Topic): void {
  if (batch.length > topic.config.maxMessageBytes) {
    throw new RecordTooLargeError(`record batch of ${batch.length} bytes exceeds maxMessageBytes ${topic.config.maxMessageBytes} of topic ${topic.name}`)
  }
}

/** Upper bound of a record's encoded size (varints at their widest). */
export function recordSize(r: RecordInput): number {
  let n = RECORD_OVERHEAD_BYTES + (r.key?.length ?? 0) + (r.value?.length ?? 0)
  if (r.headers) for (const h of r.headers) n += 10 + Buffer.byteLength(h.key) + (h.value?.length ?? 0)
  return n
}
