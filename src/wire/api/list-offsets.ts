// ListOffsets (API 2), v1-v3: earliest (-2), latest (-1: the high watermark, or the last stable
// offset for read_committed), or the first offset whose timestamp is ≥ the one given.
//
// request  replica_id int32, isolation_level int8 (v2+), topics [name STRING, partitions [partition_index int32, timestamp int64]]
// response throttle_time_ms int32 (v2+), topics [name STRING, partitions [partition_index int32, error_code int16,
//          timestamp int64, offset int64]]
import type { Partition } from '../../broker/partition.js'
import { decodeRecords, readBatchHeader } from '../../storage/record-batch.js'
import type { RequestInfo, WireContext } from '../context.js'
import { ErrorCode, errorCodeOf } from '../errors.js'
import type { Reader, Writer } from '../protocol.js'

const LATEST = -1
const EARLIEST = -2

export function handleListOffsets(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): void {
  const v = req.version
  r.int32() // replica_id
  const committed = v >= 2 ? r.int8() === 1 : false
  const topics = r.array((r) => ({ name: r.string(), partitions: r.array((r) => ({ index: r.int32(), timestamp: r.int64() })) }))
  if (v >= 2) w.int32(0)
  w.array(topics, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => {
      const found = lookup(ctx, t.name, p.index, p.timestamp, committed)
      w.int32(p.index).int16(found.error).int64(found.timestamp).int64(found.offset)
    })
  })
}

function lookup(ctx: WireContext, topic: string, index: number, timestamp: number, committed: boolean): { error: number; timestamp: number; offset: number } {
  try {
    if (!ctx.broker.hasTopic(topic)) return { error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1 }
    const t = ctx.broker.topic(topic)
    if (index < 0 || index >= t.partitions) return { error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1 }
    const p = t.partition(index)
    if (timestamp === LATEST) return { error: ErrorCode.NONE, timestamp: -1, offset: committed ? p.lastStableOffset : p.highWatermark }
    if (timestamp === EARLIEST) return { error: ErrorCode.NONE, timestamp: -1, offset: p.logStartOffset }
    const offset = p.offsetForTimestamp(timestamp)
    if (offset === null || (committed && offset >= p.lastStableOffset)) return { error: ErrorCode.NONE, timestamp: -1, offset: -1 }
    return { error: ErrorCode.NONE, timestamp: timestampAt(p, offset) ?? timestamp, offset }
  } catch (err) {
    return { error: errorCodeOf(err), timestamp: -1, offset: -1 }
  }
}

/** The timestamp of the record at `offset` (Kafka answers with the record's own timestamp). */
function timestampAt(p: Partition, offset: number): number | null {
  const { bytes } = p.readBatches({ offset, maxBytes: 1 })
  for (let pos = 0; pos < bytes.length; ) {
    const h = readBatchHeader(bytes, pos)
    if (offset <= h.baseOffset + h.lastOffsetDelta) {
      if (h.timestampType === 'LogAppendTime') return h.maxTimestamp
      return decodeRecords(bytes, pos).find((rec) => rec.offset === offset)?.timestamp ?? null
    }
    pos += 12 + h.batchLength
  }
  return null
}
