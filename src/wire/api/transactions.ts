// Idempotent and transactional producers over the wire, answered by the broker's transaction
// coordinator (state fsync'd to `__transaction_state` before any marker, as in process).
//
// InitProducerId (22) v0-v1: transactional_id NULLABLE_STRING, transaction_timeout_ms int32
//   response: throttle_time_ms int32, error_code int16, producer_id int64, producer_epoch int16
// AddPartitionsToTxn (24) v0-v1: transactional_id STRING, producer_id int64, producer_epoch int16, topics [name STRING, partitions [int32]]
//   response: throttle_time_ms int32, results [name STRING, results [partition_index int32, error_code int16]]
// AddOffsetsToTxn (25) v0-v1: transactional_id STRING, producer_id int64, producer_epoch int16, group_id STRING
//   response: throttle_time_ms int32, error_code int16
// EndTxn (26) v0-v1: transactional_id STRING, producer_id int64, producer_epoch int16, committed BOOL
//   response: throttle_time_ms int32, error_code int16
// TxnOffsetCommit (28) v0-v2: transactional_id STRING, group_id STRING, producer_id int64, producer_epoch int16,
//   topics [name STRING, partitions [partition_index int32, committed_offset int64, committed_leader_epoch int32 (v2+),
//   committed_metadata NULLABLE_STRING]]
//   response: throttle_time_ms int32, topics [name STRING, partitions [partition_index int32, error_code int16]]
import type { TransactionCoordinator } from '../../broker/txn-coordinator.js'
import type { RequestInfo, WireContext } from '../context.js'
import { ErrorCode, errorCodeOf } from '../errors.js'
import type { Reader, Writer } from '../protocol.js'

/** Kafka's transaction.max.timeout.ms default. */
const TRANSACTION_TIMEOUT_MS_MAX = 15 * 60_000
const OPERATION_NOT_ATTEMPTED = 55

/** A transaction-state refusal is INVALID_TXN_STATE; a fenced producer INVALID_PRODUCER_EPOCH. */
function txnErrorCode(err: unknown): number {
  const code = errorCodeOf(err)
  return code === ErrorCode.INVALID_CONFIG ? ErrorCode.INVALID_TXN_STATE : code
}

function coordinator(ctx: WireContext): TransactionCoordinator {
  if (!ctx.transactions) throw Object.assign(new Error('this broker has no transaction coordinator (read-only)'), { code: 'CLOSED' })
  return ctx.transactions
}

export async function handleInitProducerId(ctx: WireContext, _req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const transactionalId = r.nullableString()
  const timeoutMs = r.int32()
  w.int32(0)
  if (transactionalId !== null && (timeoutMs <= 0 || timeoutMs > TRANSACTION_TIMEOUT_MS_MAX)) {
    w.int16(ErrorCode.INVALID_TRANSACTION_TIMEOUT).int64(-1).int16(-1)
    return
  }
  try {
    const id = transactionalId === null ? { producerId: await ctx.broker.allocateProducerId(), epoch: 0 } : await coordinator(ctx).initProducer(transactionalId, timeoutMs)
    w.int16(ErrorCode.NONE).int64(id.producerId).int16(id.epoch)
  } catch (err) {
    w.int16(txnErrorCode(err)).int64(-1).int16(-1)
  }
}

export async function handleAddPartitionsToTxn(ctx: WireContext, _req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const transactionalId = r.string()
  const producerId = r.int64()
  const epoch = r.int16()
  const topics = r.array((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) }))
  const unknown = new Set<string>()
  for (const t of topics) {
    const count = ctx.broker.hasTopic(t.name) ? ctx.broker.topic(t.name).partitions : 0
    for (const p of t.partitions) if (p < 0 || p >= count) unknown.add(`${t.name}\u0000${p}`)
  }
  let error: number = unknown.size > 0 ? OPERATION_NOT_ATTEMPTED : ErrorCode.NONE
  if (unknown.size === 0) {
    try {
      await coordinator(ctx).addPartitions(transactionalId, producerId, epoch, topics.flatMap((t) => t.partitions.map((p): [string, number] => [t.name, p])))
    } catch (err) {
      error = txnErrorCode(err)
    }
  }
  w.int32(0)
  w.array(topics, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => w.int32(p).int16(unknown.has(`${t.name}\u0000${p}`) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : error))
  })
}

export async function handleAddOffsetsToTxn(ctx: WireContext, _req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const transactionalId = r.string()
  const producerId = r.int64()
  const epoch = r.int16()
  const groupId = r.string()
  w.int32(0)
  try {
    // Registers the group with the transaction; its offsets follow in TxnOffsetCommit.
    await coordinator(ctx).sendOffsets(transactionalId, producerId, epoch, groupId, [])
    w.int16(ErrorCode.NONE)
  } catch (err) {
    w.int16(txnErrorCode(err))
  }
}

export async function handleTxnOffsetCommit(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const transactionalId = r.string()
  const groupId = r.string()
  const producerId = r.int64()
  const epoch = r.int16()
  const topics = r.array((r) => ({
    name: r.string(),
    partitions: r.array((r) => {
      const index = r.int32()
      const offset = r.int64()
      if (req.version >= 2) r.int32() // committed_leader_epoch
      return { index, offset, metadata: r.nullableString() }
    }),
  }))
  let error: number = ErrorCode.NONE
  try {
    const offsets = topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.index, offset: p.offset, metadata: p.metadata })))
    await coordinator(ctx).sendOffsets(transactionalId, producerId, epoch, groupId, offsets)
  } catch (err) {
    error = txnErrorCode(err)
  }
  w.int32(0)
  w.array(topics, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => w.int32(p.index).int16(error))
  })
}

export async function handleEndTxn(ctx: WireContext, _req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const transactionalId = r.string()
  const producerId = r.int64()
  const epoch = r.int16()
  const commit = r.bool()
  w.int32(0)
  try {
    await coordinator(ctx).endTransaction(transactionalId, producerId, epoch, commit)
    w.int16(ErrorCode.NONE)
  } catch (err) {
    w.int16(txnErrorCode(err))
  }
}
