// The group APIs, answered by the broker's in-process GroupCoordinator, so wire clients and
// in-process consumers can share a group. The client's own assignor metadata and assignments pass
// through unchanged (the leader member assigns, as in Kafka).
//
// FindCoordinator (10) v0: key STRING | v1+: key STRING, key_type int8
//   response v0: error_code int16, node_id int32, host STRING, port int32
//            v1+: throttle_time_ms int32, error_code int16, error_message NULLABLE_STRING, node_id, host, port
// JoinGroup (11) v0-v5: group_id STRING, session_timeout_ms int32, rebalance_timeout_ms int32 (v1+), member_id STRING,
//   group_instance_id NULLABLE_STRING (v5+), protocol_type STRING, protocols [name STRING, metadata BYTES]
//   response: throttle_time_ms int32 (v2+), error_code int16, generation_id int32, protocol_name STRING, leader STRING,
//   member_id STRING, members [member_id STRING, group_instance_id NULLABLE_STRING (v5+), metadata BYTES]
// SyncGroup (14) v0-v3: group_id STRING, generation_id int32, member_id STRING, group_instance_id NULLABLE_STRING (v3+),
//   assignments [member_id STRING, assignment BYTES]; response: throttle_time_ms int32 (v1+), error_code int16, assignment BYTES
// Heartbeat (12) v0-v3: group_id STRING, generation_id int32, member_id STRING, group_instance_id NULLABLE_STRING (v3+)
//   response: throttle_time_ms int32 (v1+), error_code int16
// LeaveGroup (13) v0-v2: group_id STRING, member_id STRING; response: throttle_time_ms int32 (v1+), error_code int16
// DescribeGroups (15) v0-v2: groups [STRING]; response: throttle_time_ms int32 (v1+), groups [error_code int16,
//   group_id STRING, group_state STRING, protocol_type STRING, protocol_data STRING,
//   members [member_id STRING, client_id STRING, client_host STRING, member_metadata BYTES, member_assignment BYTES]]
// ListGroups (16) v0-v2: (empty); response: throttle_time_ms int32 (v1+), error_code int16, groups [group_id STRING, protocol_type STRING]
// DeleteGroups (42) v0-v1: groups_names [STRING]; response: throttle_time_ms int32, results [group_id STRING, error_code int16]
import { InvalidConfigError } from '../../errors.js'
import type { ConnectionState, RequestInfo, WireContext } from '../context.js'
import { ErrorCode, errorCodeOf } from '../errors.js'
import type { Reader, Writer } from '../protocol.js'
import { NODE_ID } from './metadata.js'

const NOT_COORDINATOR = 16

/** Thrown into a JoinGroup or SyncGroup still waiting when the listener closes. */
class ListenerClosing extends Error {}

/**
 * `wait`, or a ListenerClosing rejection as soon as the listener starts closing: a join waiting for
 * a rebalance must not hold up close() (Kafka answers NOT_COORDINATOR when its coordinator stops).
 */
function untilClosing<T>(ctx: WireContext, wait: Promise<T>): Promise<T> {
  if (ctx.isClosing) return Promise.reject(new ListenerClosing())
  let off = (): void => undefined
  const closing = new Promise<never>((_, reject) => (off = ctx.onClosing(() => reject(new ListenerClosing()))))
  return Promise.race([wait, closing]).finally(() => off())
}

const SESSION_TIMEOUT_MS_MIN = 1
const SESSION_TIMEOUT_MS_MAX = 30 * 60_000

export function handleFindCoordinator(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): void {
  r.string() // key: a group id or a transactional id; this node coordinates both
  if (req.version >= 1) r.int8() // key_type
  const { host, port } = ctx.advertised(req.conn)
  if (req.version >= 1) w.int32(0).int16(ErrorCode.NONE).nullableString(null)
  else w.int16(ErrorCode.NONE)
  w.int32(NODE_ID).string(host).int32(port)
}

function joinErrorCode(err: unknown, groupId: string): number {
  if (groupId.length === 0) return ErrorCode.INVALID_GROUP_ID
  if (err instanceof InvalidConfigError) return ErrorCode.INCONSISTENT_GROUP_PROTOCOL
  return errorCodeOf(err)
}

export async function handleJoinGroup(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const v = req.version
  const groupId = r.string()
  const sessionTimeoutMs = r.int32()
  const rebalanceTimeoutMs = v >= 1 ? r.int32() : sessionTimeoutMs
  const memberId = r.string()
  const groupInstanceId = v >= 5 ? r.nullableString() : null
  const protocolType = r.string()
  const protocols = r.array((r) => ({ name: r.string(), metadata: Buffer.from(r.bytes()) }))
  if (v >= 2) w.int32(0)
  const fail = (error: number): void => {
    w.int16(error).int32(-1).string('').string('').string(memberId)
    w.array([], () => undefined)
  }
  if (sessionTimeoutMs < SESSION_TIMEOUT_MS_MIN || sessionTimeoutMs > SESSION_TIMEOUT_MS_MAX || rebalanceTimeoutMs < 1) {
    return fail(ErrorCode.INVALID_SESSION_TIMEOUT)
  }
  try {
    const joining = ctx.groups.joinGroup({
      groupId, memberId, groupInstanceId, clientId: req.clientId ?? '', clientHost: `/${req.conn.remoteAddress.replace(/:\d+$/, '')}`,
      sessionTimeoutMs, rebalanceTimeoutMs, protocolType, protocols,
    })
    // Answered early because the listener closes: the member leaves once its join completes.
    joining.then((j) => ctx.isClosing && ctx.groups.leaveGroup({ groupId, memberId: j.memberId }), () => undefined)
    const join = await untilClosing(ctx, joining)
    seat(ctx, req.conn, groupId, join.memberId)
    w.int16(ErrorCode.NONE).int32(join.generationId).string(join.protocolName).string(join.leader).string(join.memberId)
    w.array(join.members, (w, m) => {
      w.string(m.memberId)
      if (v >= 5) w.nullableString(m.groupInstanceId)
      w.bytes(m.metadata)
    })
  } catch (err) {
    fail(err instanceof ListenerClosing ? NOT_COORDINATOR : joinErrorCode(err, groupId))
  }
}

/** Remembers the member on its connection, so it leaves when the connection closes (or now, if it has). */
function seat(ctx: WireContext, conn: ConnectionState, groupId: string, memberId: string): void {
  if (conn.closed) {
    ctx.groups.leaveGroup({ groupId, memberId })
    return
  }
  conn.members.add(`${groupId}\u0000${memberId}`)
}

export async function handleSyncGroup(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const groupId = r.string()
  const generationId = r.int32()
  const memberId = r.string()
  if (req.version >= 3) r.nullableString() // group_instance_id
  const assignments = r.array((r) => ({ memberId: r.string(), assignment: Buffer.from(r.bytes()) }))
  if (req.version >= 1) w.int32(0)
  try {
    const assignment = await untilClosing(ctx, ctx.groups.syncGroup({ groupId, generationId, memberId, assignments }))
    w.int16(ErrorCode.NONE).bytes(assignment)
  } catch (err) {
    w.int16(err instanceof ListenerClosing ? NOT_COORDINATOR : errorCodeOf(err)).bytes(Buffer.alloc(0))
  }
}

export function handleHeartbeat(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): void {
  const groupId = r.string()
  const generationId = r.int32()
  const memberId = r.string()
  if (req.version >= 3) r.nullableString() // group_instance_id
  if (req.version >= 1) w.int32(0)
  try {
    ctx.groups.heartbeat({ groupId, generationId, memberId })
    w.int16(ErrorCode.NONE)
  } catch (err) {
    w.int16(errorCodeOf(err))
  }
}

export function handleLeaveGroup(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): void {
  const groupId = r.string()
  const memberId = r.string()
  if (req.version >= 1) w.int32(0)
  const known = ctx.groups.isMember(groupId, memberId)
  ctx.groups.leaveGroup({ groupId, memberId })
  req.conn.members.delete(`${groupId}\u0000${memberId}`)
  w.int16(known ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID)
}

export function handleDescribeGroups(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): void {
  const ids = r.array((r) => r.string())
  if (req.version >= 1) w.int32(0)
  w.array(ids, (w, groupId) => {
    let d
    try {
      d = ctx.groups.describe(groupId)
    } catch {
      // Kafka describes a group it does not know as Dead, without an error.
      w.int16(ErrorCode.NONE).string(groupId).string('Dead').string('').string('')
      w.array([], () => undefined)
      return
    }
    w.int16(ErrorCode.NONE).string(groupId).string(d.state).string(d.protocolType ?? '').string(d.protocol ?? '')
    w.array(d.members, (w, m) => {
      w.string(m.memberId).string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment)
    })
  })
}

export function handleListGroups(ctx: WireContext, req: RequestInfo, _r: Reader, w: Writer): void {
  if (req.version >= 1) w.int32(0)
  w.int16(ErrorCode.NONE)
  w.array(ctx.groups.list(), (w, g) => {
    let protocolType = 'consumer'
    try {
      protocolType = ctx.groups.describe(g.groupId).protocolType ?? 'consumer'
    } catch {
      // listed a moment ago; keep the default
    }
    w.string(g.groupId).string(protocolType)
  })
}

export async function handleDeleteGroups(ctx: WireContext, _req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const ids = r.array((r) => r.string())
  const results: Array<{ groupId: string; error: number }> = []
  for (const groupId of ids) {
    try {
      await ctx.broker.group(groupId).delete()
      results.push({ groupId, error: ErrorCode.NONE })
    } catch (err) {
      results.push({ groupId, error: errorCodeOf(err) })
    }
  }
  w.int32(0)
  w.array(results, (w, x) => w.string(x.groupId).int16(x.error))
}
