// Reading an event store partition through kafkalite's public raw API (`partition.readBatches`):
// every committed record from an offset on (control batches and aborted transactions skipped), and
// the record at one offset. Decodes whole batches; a small cache keeps the last batch read, so that
// reading a stream's consecutive events does not decode the same batch again.
import { decodeRecords, readBatchHeader, type DecodedRecord, type Partition } from '../index.js'

const READ_BYTES = 256 * 1024

/** Committed records from `from` up to the last stable offset, in offset order. */
export function* committedRecords(partition: Partition, from: number): Generator<DecodedRecord> {
  let offset = Math.max(from, partition.logStartOffset)
  const aborted = new Set<number>()
  while (offset < partition.lastStableOffset) {
    const r = partition.readBatches({ offset, maxBytes: READ_BYTES, isolation: 'read_committed' })
    if (r.bytes.length === 0) return
    // Kafka's rule: an aborted transaction starts at its first offset and ends at its producer's
    // next control batch; each entry of the list is taken once, in first-offset order.
    const pending = [...r.abortedTransactions].sort((a, b) => a.firstOffset - b.firstOffset)
    let pos = 0
    let next = offset
    while (pos < r.bytes.length) {
      const h = readBatchHeader(r.bytes, pos)
      const size = 12 + h.batchLength
      const end = h.baseOffset + h.lastOffsetDelta + 1
      if (h.baseOffset >= r.lastStableOffset) return
      while (pending.length > 0 && pending[0]!.firstOffset <= end - 1) aborted.add(pending.shift()!.producerId)
      if (h.isControl) aborted.delete(h.producerId)
      else {
        if (!(h.isTransactional && aborted.has(h.producerId))) {
          for (const rec of decodeRecords(r.bytes, pos)) if (rec.offset >= offset) yield rec
        }
      }
      next = end
      pos += size
    }
    offset = next
  }
}

/** Reads single records by offset, keeping the last batch decoded. */
export class RecordReader {
  private cache: { partition: Partition; first: number; records: DecodedRecord[] } | null = null

  at(partition: Partition, offset: number): DecodedRecord | null {
    const c = this.cache
    const hit = c && c.partition === partition && offset >= c.first ? c.records.find((r) => r.offset === offset) : undefined
    if (hit) return hit
    const r = partition.readBatches({ offset, maxBytes: 1, isolation: 'read_uncommitted' })
    if (r.bytes.length === 0) return null
    const records = decodeRecords(r.bytes, 0)
    this.cache = { partition, first: records[0]?.offset ?? offset, records }
    return records.find((rec) => rec.offset === offset) ?? null
  }
}
