// Topic administration over the wire: CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords.
// One broker, so a replication factor is -1 (the default) or 1, and an explicit assignment names node 0.
//
// CreateTopics (19) v0-v4: topics [name STRING, num_partitions int32, replication_factor int16,
//   assignments [partition_index int32, broker_ids [int32]], configs [name STRING, value NULLABLE_STRING]],
//   timeout_ms int32, validate_only BOOL (v1+)
//   response: throttle_time_ms int32 (v2+), topics [name STRING, error_code int16, error_message NULLABLE_STRING (v1+)]
// DeleteTopics (20) v0-v3: topic_names [STRING], timeout_ms int32
//   response: throttle_time_ms int32 (v1+), responses [name STRING, error_code int16]
// CreatePartitions (37) v0-v1: topics [name STRING, count int32, assignments NULLABLE [broker_ids [int32]]],
//   timeout_ms int32, validate_only BOOL
//   response: throttle_time_ms int32, results [name STRING, error_code int16, error_message NULLABLE_STRING]
// DeleteRecords (21) v0-v1: topics [name STRING, partitions [partition_index int32, offset int64]], timeout_ms int32
//   response: throttle_time_ms int32, topics [name STRING, partitions [partition_index int32, low_watermark int64, error_code int16]]
import type { TopicConfig } from '../../broker/topic-config.js'
import type { RequestInfo, WireContext } from '../context.js'
import { ErrorCode, errorCodeOf, errorMessageOf, isInternalTopic } from '../errors.js'
import type { Reader, Writer } from '../protocol.js'
import { modeledConfig } from './configs.js'
import { NODE_ID } from './metadata.js'

interface Outcome {
  name: string
  error: number
  message: string | null
}

const ok = (name: string): Outcome => ({ name, error: ErrorCode.NONE, message: null })
const internal = (name: string): Outcome => ({ name, error: ErrorCode.INVALID_TOPIC_EXCEPTION, message: `${name} is an internal topic: names starting with __ are the broker's` })

export async function handleCreateTopics(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const v = req.version
  const topics = r.array((r) => ({
    name: r.string(),
    partitions: r.int32(),
    replicationFactor: r.int16(),
    assignments: r.array((r) => ({ index: r.int32(), brokers: r.array((r) => r.int32()) })),
    configs: r.array((r) => ({ name: r.string(), value: r.nullableString() })),
  }))
  r.int32() // timeout_ms
  const validateOnly = v >= 1 ? r.bool() : false
  const outcomes: Outcome[] = []
  for (const t of topics) outcomes.push(await createOne(ctx, t, validateOnly))
  if (v >= 2) w.int32(0)
  w.array(outcomes, (w, o) => {
    w.string(o.name).int16(o.error)
    if (v >= 1) w.nullableString(o.message)
  })
}

async function createOne(
  ctx: WireContext,
  t: { name: string; partitions: number; replicationFactor: number; assignments: Array<{ index: number; brokers: number[] }>; configs: Array<{ name: string; value: string | null }> },
  validateOnly: boolean,
): Promise<Outcome> {
  const fail = (error: number, message: string): Outcome => ({ name: t.name, error, message })
  if (isInternalTopic(t.name)) return internal(t.name)
  if (t.replicationFactor !== -1 && t.replicationFactor !== 1 && t.assignments.length === 0) {
    return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${t.replicationFactor}: this cluster has one broker`)
  }
  let partitions = t.partitions
  if (t.assignments.length > 0) {
    const indexes = t.assignments.map((a) => a.index).sort((a, b) => a - b)
    if (t.partitions !== -1 || indexes.some((x, i) => x !== i) || t.assignments.some((a) => a.brokers.length !== 1 || a.brokers[0] !== NODE_ID)) {
      return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `assignments must name partitions 0..n-1, each on broker ${NODE_ID} alone`)
    }
    partitions = t.assignments.length
  }
  if (partitions === -1) partitions = 1
  if (partitions < 1) return fail(ErrorCode.INVALID_PARTITIONS, `number of partitions must be at least 1, got ${partitions}`)
  try {
    const entries: Record<string, string> = {}
    for (const c of t.configs) if (c.value !== null) entries[c.name] = c.value
    const config = modeledConfig(entries) as Partial<TopicConfig>
    if (ctx.broker.hasTopic(t.name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`)
    if (!validateOnly) await ctx.broker.createTopic(t.name, { ...config, partitions })
    return ok(t.name)
  } catch (err) {
    return fail(errorCodeOf(err), errorMessageOf(err) ?? 'topic not created')
  }
}

export async function handleDeleteTopics(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const names = r.array((r) => r.string())
  r.int32() // timeout_ms
  const outcomes: Outcome[] = []
  for (const name of names) {
    if (isInternalTopic(name) && ctx.broker.hasTopic(name)) {
      outcomes.push(internal(name))
      continue
    }
    try {
      await ctx.broker.deleteTopic(name)
      outcomes.push(ok(name))
    } catch (err) {
      outcomes.push({ name, error: errorCodeOf(err), message: errorMessageOf(err) })
    }
  }
  if (req.version >= 1) w.int32(0)
  w.array(outcomes, (w, o) => w.string(o.name).int16(o.error))
}

export async function handleCreatePartitions(ctx: WireContext, _req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const topics = r.array((r) => ({ name: r.string(), count: r.int32(), assignments: r.nullableArray((r) => r.array((r) => r.int32())) }))
  r.int32() // timeout_ms
  const validateOnly = r.bool()
  const outcomes: Outcome[] = []
  for (const t of topics) {
    try {
      if (!ctx.broker.hasTopic(t.name)) {
        outcomes.push({ name: t.name, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `unknown topic ${t.name}` })
        continue
      }
      if (isInternalTopic(t.name)) {
        outcomes.push(internal(t.name))
        continue
      }
      const now = ctx.broker.topic(t.name).partitions
      if (t.count <= now) {
        outcomes.push({ name: t.name, error: ErrorCode.INVALID_PARTITIONS, message: `Topic currently has ${now} partitions, which is higher than or equal to the requested ${t.count}.` })
        continue
      }
      if (!validateOnly) await ctx.broker.createPartitions(t.name, t.count)
      outcomes.push(ok(t.name))
    } catch (err) {
      outcomes.push({ name: t.name, error: errorCodeOf(err), message: errorMessageOf(err) })
    }
  }
  w.int32(0)
  w.array(outcomes, (w, o) => w.string(o.name).int16(o.error).nullableString(o.message))
}

export async function handleDeleteRecords(ctx: WireContext, _req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const topics = r.array((r) => ({ name: r.string(), partitions: r.array((r) => ({ index: r.int32(), offset: r.int64() })) }))
  r.int32() // timeout_ms
  const results: Array<{ name: string; partitions: Array<{ index: number; low: number; error: number }> }> = []
  for (const t of topics) {
    const partitions: Array<{ index: number; low: number; error: number }> = []
    for (const p of t.partitions) {
      try {
        if (!ctx.broker.hasTopic(t.name) || p.index < 0 || p.index >= ctx.broker.topic(t.name).partitions) {
          partitions.push({ index: p.index, low: -1, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
          continue
        }
        if (isInternalTopic(t.name)) {
          partitions.push({ index: p.index, low: -1, error: ErrorCode.INVALID_TOPIC_EXCEPTION })
          continue
        }
        const hw = ctx.broker.topic(t.name).partition(p.index).highWatermark
        const before = p.offset === -1 ? hw : p.offset
        if (before < 0 || before > hw) {
          partitions.push({ index: p.index, low: -1, error: ErrorCode.OFFSET_OUT_OF_RANGE })
          continue
        }
        const done = await ctx.broker.deleteRecords(t.name, { partition: p.index, beforeOffset: before })
        partitions.push({ index: p.index, low: done.logStartOffset, error: ErrorCode.NONE })
      } catch (err) {
        partitions.push({ index: p.index, low: -1, error: errorCodeOf(err) })
      }
    }
    results.push({ name: t.name, partitions })
  }
  w.int32(0)
  w.array(results, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => w.int32(p.index).int64(p.low).int16(p.error))
  })
}
