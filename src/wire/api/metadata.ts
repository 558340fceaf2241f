// Metadata (API 3), v0-v6: the one broker (node id 0) and every partition led by it.
//
// request  v0: topics [name STRING] (empty = all)   v1+: topics nullable (null = all, empty = none)
//          v4+: allow_auto_topic_creation BOOL
// response v3+: throttle_time_ms int32; brokers [node_id int32, host STRING, port int32, rack NULLABLE_STRING (v1+)];
//          cluster_id NULLABLE_STRING (v2+); controller_id int32 (v1+);
//          topics [error_code int16, name STRING, is_internal BOOL (v1+),
//                  partitions [error_code int16, partition_index int32, leader_id int32, replica_nodes [int32],
//                              isr_nodes [int32], offline_replicas [int32] (v5+)]]
import { KafkaliteError } from '../../errors.js'
import type { RequestInfo, WireContext } from '../context.js'
import { ErrorCode, errorCodeOf, isInternalTopic } from '../errors.js'
import type { Reader, Writer } from '../protocol.js'

export const NODE_ID = 0

interface TopicMeta {
  error: number
  name: string
  internal: boolean
  partitions: number
}

export async function handleMetadata(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const v = req.version
  let names = r.nullableArray((r) => r.string())
  if (v === 0 && names?.length === 0) names = null
  const autoCreate = v >= 4 ? r.bool() : true
  const topics: TopicMeta[] = []
  if (names === null) {
    for (const t of ctx.broker.topics({ internal: true })) topics.push({ error: ErrorCode.NONE, name: t.name, internal: isInternalTopic(t.name), partitions: t.partitions })
  } else {
    for (const name of new Set(names)) topics.push(await describe(ctx, name, autoCreate && ctx.options.autoCreateTopics))
  }
  const { host, port } = ctx.advertised(req.conn)
  if (v >= 3) w.int32(0)
  w.array([NODE_ID], (w, id) => {
    w.int32(id).string(host).int32(port)
    if (v >= 1) w.nullableString(null)
  })
  if (v >= 2) w.nullableString(ctx.clusterId)
  if (v >= 1) w.int32(NODE_ID)
  w.array(topics, (w, t) => {
    w.int16(t.error).string(t.name)
    if (v >= 1) w.bool(t.internal)
    w.int32(t.partitions)
    for (let i = 0; i < t.partitions; i++) {
      w.int16(ErrorCode.NONE).int32(i).int32(NODE_ID)
      w.int32(1).int32(NODE_ID) // replicas
      w.int32(1).int32(NODE_ID) // in-sync replicas
      if (v >= 5) w.int32(0) // offline replicas
    }
  })
}

async function describe(ctx: WireContext, name: string, autoCreate: boolean): Promise<TopicMeta> {
  if (!ctx.broker.hasTopic(name) && autoCreate && !ctx.broker.readOnly && !isInternalTopic(name)) {
    try {
      await ctx.broker.createTopic(name)
    } catch (err) {
      if (!(err instanceof KafkaliteError && err.code === 'TOPIC_EXISTS')) return { error: errorCodeOf(err), name, internal: false, partitions: 0 }
    }
  }
  if (!ctx.broker.hasTopic(name)) return { error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, internal: false, partitions: 0 }
  return { error: ErrorCode.NONE, name, internal: isInternalTopic(name), partitions: ctx.broker.topic(name).partitions }
}
