// Committed offsets of a group, kept by the broker's offset store (the `__consumer_offsets` topic),
// the same ones `broker.group(id).lag()` shows.
//
// OffsetCommit (8) v2-v5: group_id STRING, generation_id int32, member_id STRING, retention_time_ms int64 (v2-v4),
//   topics [name STRING, partitions [partition_index int32, committed_offset int64, committed_metadata NULLABLE_STRING]]
//   response: throttle_time_ms int32 (v3+), topics [name STRING, partitions [partition_index int32, error_code int16]]
// OffsetFetch (9) v1-v4: group_id STRING, topics NULLABLE [name STRING, partition_indexes [int32]] (null = all, v2+)
//   response: throttle_time_ms int32 (v3+), topics [name STRING, partitions [partition_index int32, committed_offset int64,
//   metadata NULLABLE_STRING, error_code int16]], error_code int16 (v2+)
import type { RequestInfo, WireContext } from '../context.js'
import { ErrorCode, errorCodeOf } from '../errors.js'
import type { Reader, Writer } from '../protocol.js'

/** The metadata Kafka stores with a commit is bounded (offset.metadata.max.bytes). */
const OFFSET_METADATA_BYTES_MAX = 4096
const OFFSET_METADATA_TOO_LARGE = 12

export async function handleOffsetCommit(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const v = req.version
  const groupId = r.string()
  const generationId = r.int32()
  const memberId = r.string()
  if (v <= 4) r.int64() // retention_time_ms
  const topics = r.array((r) => ({
    name: r.string(),
    partitions: r.array((r) => ({ index: r.int32(), offset: r.int64(), metadata: r.nullableString() })),
  }))
  const errors = new Map<string, number>()
  const key = (topic: string, index: number): string => `${topic}\u0000${index}`
  const valid: Array<{ topic: string; partition: number; offset: number; metadata: string | null }> = []
  for (const t of topics) {
    const partitions = ctx.broker.hasTopic(t.name) ? ctx.broker.topic(t.name).partitions : 0
    for (const p of t.partitions) {
      if (p.index < 0 || p.index >= partitions) errors.set(key(t.name, p.index), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      else if (p.metadata && Buffer.byteLength(p.metadata) > OFFSET_METADATA_BYTES_MAX) errors.set(key(t.name, p.index), OFFSET_METADATA_TOO_LARGE)
      // Kafka stores any offset: clients commit -1/-2 (latest/earliest) when they reset a group.
      else if (!Number.isSafeInteger(p.offset)) errors.set(key(t.name, p.index), ErrorCode.OFFSET_OUT_OF_RANGE)
      else valid.push({ topic: t.name, partition: p.index, offset: p.offset, metadata: p.metadata })
    }
  }
  let error: number = ErrorCode.NONE
  if (groupId.length === 0) error = ErrorCode.INVALID_GROUP_ID
  else if (valid.length > 0) {
    try {
      await ctx.groups.commitOffsets({ groupId, generationId, memberId, offsets: valid })
    } catch (err) {
      error = errorCodeOf(err)
    }
  }
  if (v >= 3) w.int32(0)
  w.array(topics, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => w.int32(p.index).int16(errors.get(key(t.name, p.index)) ?? error))
  })
}

export function handleOffsetFetch(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): void {
  const v = req.version
  const groupId = r.string()
  const asked = r.nullableArray((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) }))
  let topics: Array<{ name: string; partitions: Array<{ index: number; offset: number; metadata: string | null; error: number }> }>
  let error: number = ErrorCode.NONE
  try {
    const store = ctx.groups.offsets
    if (asked === null) {
      const byTopic = new Map<string, Array<{ index: number; offset: number; metadata: string | null; error: number }>>()
      for (const c of store.all(groupId)) {
        const list = byTopic.get(c.topic) ?? []
        list.push({ index: c.partition, offset: c.offset, metadata: c.metadata ?? '', error: ErrorCode.NONE })
        byTopic.set(c.topic, list)
      }
      topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }))
    } else {
      topics = asked.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((index) => {
          const c = store.get(groupId, t.name, index)
          return { index, offset: c?.offset ?? -1, metadata: c ? (c.metadata ?? '') : '', error: ErrorCode.NONE }
        }),
      }))
    }
  } catch (err) {
    error = errorCodeOf(err)
    topics = []
  }
  if (v >= 3) w.int32(0)
  w.array(topics, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => w.int32(p.index).int64(p.offset).nullableString(p.metadata).int16(p.error))
  })
  if (v >= 2) w.int16(error)
}
