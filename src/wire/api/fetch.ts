// Fetch (API 1), v4-v11: whole stored batches from `partition.readBatches`, sent as the bytes read
// from the segment (never decoded), with the high watermark, last stable offset and, for
// read_committed, the aborted transactions in range. Long-polls until minBytes are there, maxWaitMs
// passes, or the listener closes; any append to a requested partition (a transaction marker too)
// wakes it. No incremental fetch sessions: session_id is always 0, so clients send full requests.
//
// request  replica_id int32, max_wait_ms int32, min_bytes int32, max_bytes int32, isolation_level int8,
//          session_id int32 (v7+), session_epoch int32 (v7+),
//          topics [topic STRING, partitions [partition int32, current_leader_epoch int32 (v9+), fetch_offset int64,
//                   log_start_offset int64 (v5+), partition_max_bytes int32]],
//          forgotten_topics_data [topic STRING, partitions [int32]] (v7+), rack_id STRING (v11+)
// response throttle_time_ms int32, error_code int16 (v7+), session_id int32 (v7+),
//          responses [topic STRING, partitions [partition_index int32, error_code int16, high_watermark int64,
//                     last_stable_offset int64, log_start_offset int64 (v5+),
//                     aborted_transactions NULLABLE [producer_id int64, first_offset int64],
//                     preferred_read_replica int32 (v11+), records NULLABLE_BYTES]]
import type { Isolation, Partition } from '../../broker/partition.js'
import type { ConnectionState, RequestInfo, WireContext } from '../context.js'
import { ErrorCode, errorCodeOf } from '../errors.js'
import type { Reader, Writer } from '../protocol.js'

const EMPTY = Buffer.alloc(0)
/** A long poll never waits longer than this, whatever the client asks. */
const FETCH_WAIT_MS_MAX = 60_000

interface FetchPartition {
  index: number
  offset: number
  maxBytes: number
}

interface PartitionData {
  index: number
  error: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  aborted: Array<{ producerId: number; firstOffset: number }> | null
  records: Buffer
}

export async function handleFetch(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const v = req.version
  r.int32() // replica_id
  const maxWaitMs = Math.min(Math.max(r.int32(), 0), FETCH_WAIT_MS_MAX)
  const minBytes = r.int32()
  const maxBytes = r.int32()
  const isolation: Isolation = r.int8() === 1 ? 'read_committed' : 'read_uncommitted'
  let sessionId = 0
  if (v >= 7) {
    sessionId = r.int32()
    r.int32() // session_epoch
  }
  const topics = r.array((r) => ({
    name: r.string(),
    partitions: r.array((r): FetchPartition => {
      const index = r.int32()
      if (v >= 9) r.int32() // current_leader_epoch
      const offset = r.int64()
      if (v >= 5) r.int64() // log_start_offset (a follower's)
      return { index, offset, maxBytes: r.int32() }
    }),
  }))
  if (v >= 7) r.array((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) }))
  if (v >= 11) r.string() // rack_id

  if (sessionId !== 0) {
    // No fetch session is ever handed out: the client starts over with a full fetch.
    w.int32(0).int16(FETCH_SESSION_ID_NOT_FOUND).int32(0)
    w.array([], () => undefined)
    return
  }
  const deadline = Date.now() + maxWaitMs
  let result = readAll(ctx, topics, maxBytes, isolation)
  // A partition in error is answered at once, as Kafka does.
  while (result.bytes < minBytes && !result.failed && Date.now() < deadline && !ctx.isClosing) {
    if (req.conn.closed) break
    await waitForAppend(ctx, req.conn, topics, deadline)
    result = readAll(ctx, topics, maxBytes, isolation)
  }

  w.int32(0)
  if (v >= 7) {
    w.int16(ErrorCode.NONE)
    w.int32(0)
  }
  w.array(result.topics, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => {
      w.int32(p.index).int16(p.error).int64(p.highWatermark).int64(p.lastStableOffset)
      if (v >= 5) w.int64(p.logStartOffset)
      w.nullableArray(p.aborted, (w, a) => w.int64(a.producerId).int64(a.firstOffset))
      if (v >= 11) w.int32(-1)
      w.bytes(p.records)
    })
  })
}

const FETCH_SESSION_ID_NOT_FOUND = 70

function readAll(
  ctx: WireContext,
  topics: Array<{ name: string; partitions: FetchPartition[] }>,
  maxBytes: number,
  isolation: Isolation,
): { bytes: number; failed: boolean; topics: Array<{ name: string; partitions: PartitionData[] }> } {
  let budget = Math.max(maxBytes, 0)
  let bytes = 0
  let failed = false
  const out = topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((fp) => {
      const limit = Math.min(fp.maxBytes, budget)
      const d = readPartition(ctx, t.name, fp, bytes === 0 ? Math.max(limit, 1) : limit, isolation)
      // KIP-74: only the first partition with data may go over its limits (one whole batch); after
      // it, a batch that does not fit is left for the next fetch.
      if (bytes > 0 && d.records.length > limit) d.records = EMPTY
      bytes += d.records.length
      budget -= d.records.length
      if (d.error !== ErrorCode.NONE) failed = true
      return d
    }),
  }))
  return { bytes, failed, topics: out }
}

function readPartition(ctx: WireContext, topic: string, fp: FetchPartition, maxBytes: number, isolation: Isolation): PartitionData {
  const fail = (error: number, p?: Partition): PartitionData => ({
    index: fp.index,
    error,
    highWatermark: p?.highWatermark ?? -1,
    lastStableOffset: p?.lastStableOffset ?? -1,
    logStartOffset: p?.logStartOffset ?? -1,
    aborted: null,
    records: EMPTY,
  })
  const p = partitionOf(ctx, topic, fp.index)
  if (!p) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  if (fp.offset < p.logStartOffset || fp.offset > p.highWatermark) return fail(ErrorCode.OFFSET_OUT_OF_RANGE, p)
  try {
    const read = maxBytes > 0 ? p.readBatches({ offset: fp.offset, maxBytes, isolation }) : null
    const aborted = isolation === 'read_committed' ? [...(read?.abortedTransactions ?? [])].sort((a, b) => a.firstOffset - b.firstOffset) : null
    return {
      index: fp.index,
      error: ErrorCode.NONE,
      highWatermark: read?.highWatermark ?? p.highWatermark,
      lastStableOffset: read?.lastStableOffset ?? p.lastStableOffset,
      logStartOffset: read?.logStartOffset ?? p.logStartOffset,
      aborted,
      records: read?.bytes ?? EMPTY,
    }
  } catch (err) {
    return fail(errorCodeOf(err), p)
  }
}

function partitionOf(ctx: WireContext, topic: string, index: number): Partition | null {
  if (!ctx.broker.hasTopic(topic)) return null
  const t = ctx.broker.topic(topic)
  return index >= 0 && index < t.partitions ? t.partition(index) : null
}

/** Resolves at the first append to any requested partition, at the deadline, or when the listener or the connection closes. */
function waitForAppend(ctx: WireContext, conn: ConnectionState, topics: Array<{ name: string; partitions: FetchPartition[] }>, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe: Array<() => void> = []
    let timer: NodeJS.Timeout | undefined
    const done = (): void => {
      clearTimeout(timer)
      for (const u of unsubscribe) u()
      resolve()
    }
    for (const t of topics) {
      for (const fp of t.partitions) {
        const p = partitionOf(ctx, t.name, fp.index)
        if (p) unsubscribe.push(p.onAppend(done))
      }
    }
    timer = setTimeout(done, Math.max(deadline - Date.now(), 0))
    unsubscribe.push(ctx.onClosing(done), conn.onClose(done))
  })
}
