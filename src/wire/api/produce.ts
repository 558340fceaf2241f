// Produce (API 0), v3-v7: the client's RecordBatch v2 bytes go to `partition.appendBatch`, which
// validates them (length, magic, CRC, records) and assigns offsets by patching each batch's
// baseOffset; nothing is re-encoded. A handler call appends synchronously, before its first await,
// so pipelined requests on one connection append in the order they were sent.
//
// request  transactional_id NULLABLE_STRING, acks int16, timeout_ms int32,
//          topic_data [name STRING, partition_data [index int32, records NULLABLE_BYTES]]
// response responses [name STRING, partition_responses [index int32, error_code int16, base_offset int64,
//          log_append_time_ms int64, log_start_offset int64 (v5+)]], throttle_time_ms int32
import createDebug from 'debug'
import type { Acks, AppendInfo } from '../../broker/partition.js'
import { NO_RESPONSE, type RequestInfo, type WireContext } from '../context.js'
import { ErrorCode, errorCodeOf, isInternalTopic } from '../errors.js'
import type { Reader, Writer } from '../protocol.js'

const debug = createDebug('kafkalite:wire')

interface PartitionResult {
  index: number
  error: number
  baseOffset: number
  logAppendTime: number
  logStartOffset: number
}

const ACKS: Record<number, Acks> = { 0: 'none', 1: 'leader', [-1]: 'all' }

export async function handleProduce(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): Promise<void | typeof NO_RESPONSE> {
  const transactionalId = r.nullableString()
  const acksCode = r.int16()
  r.int32() // timeout_ms
  const topics = r.array((r) => ({
    name: r.string(),
    partitions: r.array((r) => ({ index: r.int32(), records: r.nullableBytes() })),
  }))
  const acks = ACKS[acksCode]
  const results = topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => (acks ? append(ctx, transactionalId, t.name, p.index, p.records, acks) : failed(p.index, ErrorCode.INVALID_REQUIRED_ACKS))),
  }))
  if (acksCode === 0) {
    // No response to carry an error: Kafka closes the connection, the one signal such a producer gets.
    // Requests behind this one wait for its appends, and a refusal closes the connection first.
    const settled = results.flatMap((t) =>
      t.partitions.map(async (p) => {
        const x = await p
        if (x.error) req.conn.abort(`acks=0 produce to ${t.name}-${x.index} failed with error ${x.error}`)
      }),
    )
    req.conn.hold(Promise.all(settled))
    return NO_RESPONSE
  }
  const settled = await Promise.all(results.map(async (t) => ({ name: t.name, partitions: await Promise.all(t.partitions) })))
  w.array(settled, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => {
      w.int32(p.index).int16(p.error).int64(p.baseOffset).int64(p.logAppendTime)
      if (req.version >= 5) w.int64(p.logStartOffset)
    })
  })
  w.int32(0)
}

function failed(index: number, error: number): PartitionResult {
  return { index, error, baseOffset: -1, logAppendTime: -1, logStartOffset: -1 }
}

/** Starts the append now (synchronously); the promise settles per `acks`. */
function append(ctx: WireContext, transactionalId: string | null, topic: string, index: number, records: Buffer | null, acks: Acks): PartitionResult | Promise<PartitionResult> {
  if (isInternalTopic(topic)) return failed(index, ErrorCode.INVALID_TOPIC_EXCEPTION)
  if (!ctx.broker.hasTopic(topic)) return failed(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  const t = ctx.broker.topic(topic)
  if (index < 0 || index >= t.partitions) return failed(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  if (!records || records.length === 0) return failed(index, ErrorCode.INVALID_RECORD)
  const refused = checkFormat(records)
  if (refused !== ErrorCode.NONE) return failed(index, refused)
  if (!inTransaction(ctx, transactionalId, topic, index, records)) return failed(index, ErrorCode.INVALID_TXN_STATE)
  const partition = t.partition(index)
  let pending: Promise<AppendInfo>
  try {
    pending = partition.appendBatch(records, { acks })
  } catch (err) {
    return failed(index, produceErrorCode(err))
  }
  return pending.then(
    (info) => ({ index, error: ErrorCode.NONE, baseOffset: info.baseOffset, logAppendTime: info.logAppendTime, logStartOffset: partition.logStartOffset }),
    (err: unknown) => {
      debug('produce to %s-%d refused: %s', topic, index, (err as Error).message)
      return failed(index, produceErrorCode(err))
    },
  )
}

/**
 * Batches kafkalite cannot store as sent: an old message format (magic < 2, which Produce v3+ never
 * carries), or a compression codec it cannot read back (zstd and the undefined 5-7; gzip, snappy
 * and lz4 are read by the consumers and the cleaner).
 */
function checkFormat(records: Buffer): number {
  for (let pos = 0; pos + 23 <= records.length; ) {
    if (records[pos + 16] !== 2) return ErrorCode.INVALID_RECORD
    const codec = records.readInt16BE(pos + 21) & 0x07
    if (codec > 3) return ErrorCode.UNSUPPORTED_COMPRESSION_TYPE
    const size = 12 + records.readInt32BE(pos + 8)
    if (size <= 12) break
    pos += size
  }
  return ErrorCode.NONE
}

/**
 * A transactional batch is written only for a partition its producer added to its ongoing
 * transaction (AddPartitionsToTxn), as Kafka verifies since KIP-890: otherwise it would open a
 * transaction no marker ever ends, and read_committed readers of the partition would stall.
 */
function inTransaction(ctx: WireContext, transactionalId: string | null, topic: string, index: number, records: Buffer): boolean {
  if (records.length < 61 || (records.readInt16BE(21) & TRANSACTIONAL_BIT) === 0) return true
  const producerId = Number(records.readBigInt64BE(43))
  const epoch = records.readInt16BE(51)
  return transactionalId !== null && !!ctx.transactions?.isInTransaction(transactionalId, producerId, epoch, topic, index)
}

const TRANSACTIONAL_BIT = 0x10

function produceErrorCode(err: unknown): number {
  const code = errorCodeOf(err)
  // A batch failing its CRC may have been damaged in transit: CORRUPT_MESSAGE lets the client retry.
  if (code === ErrorCode.INVALID_RECORD && err instanceof Error && /crc|truncated|length/i.test(err.message)) return ErrorCode.CORRUPT_MESSAGE
  return code
}
