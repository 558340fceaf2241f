// A consumer's fetch: bounded reads over its assigned partitions (round-robin, at least one whole
// batch each, KIP-74), turned into delivered messages: skips control batches, aborted transactions
// (read_committed) and records before the requested offset, converts headers into an object of
// Buffers and applies codecs. The position always moves past every batch read, so markers and
// skipped data never stall a consumer.
import createDebug from 'debug'
import { CorruptionError, InvalidRecordError, OffsetOutOfRangeError } from '../errors.js'
import type { Isolation, Partition } from '../broker/partition.js'
import { decodeControlRecordType } from '../storage/control-batch.js'
import {
  LOG_OVERHEAD, decodeRecords, readBatchHeader, type BatchHeader, type DecodedRecord, type RecordHeader,
} from '../storage/record-batch.js'
import { AbortedTransactions, type AbortedTransaction } from './aborted-transactions.js'
import type { ResolvedCodec } from './serde.js'

const debug = createDebug('kafkalite:consumer')

export type AutoOffsetReset = 'earliest' | 'latest' | 'none'

/** Where a consumer stands in one assigned partition. */
export interface FetchPosition {
  topic: string
  partition: Partition
  /** Next offset to fetch. */
  position: number
  /** Next offset after the last message handed to the application. */
  delivered: number
  paused: boolean
  /** Set by pause(): the next fetch starts again at `delivered` (what was fetched beyond it is dropped). */
  rewind: boolean
  /** Bumped by seek and offset resets: fetched messages of an older epoch are dropped. */
  epoch: number
}

/** The messages one fetch got from one partition. */
export interface Chunk {
  a: FetchPosition
  epoch: number
  messages: DeliveredMessage<unknown, unknown>[]
  nextOffset: number
  highWatermark: number
}

export interface FetchLimits {
  /** Bytes per fetch over all partitions, and per partition (soft: at least one batch). */
  maxBytes: number
  maxBytesPerPartition: number
  autoOffsetReset: AutoOffsetReset
  /** 'read_committed': read up to the last stable offset and skip aborted transactions. */
  isolation: Isolation
  keyCodec: ResolvedCodec
  valueCodec: ResolvedCodec
}

/** One bounded fetch over `list`, starting at index `start` (round-robin); empty when nothing is new. */
export function fetchChunks(list: FetchPosition[], start: number, limits: FetchLimits): Chunk[] {
  const out: Chunk[] = []
  let budget = limits.maxBytes
  for (let k = 0; k < list.length && budget > 0; k++) {
    const a = list[(start + k) % list.length]!
    const p = a.partition
    if (a.paused || p.isClosed) continue
    if (a.rewind) {
      a.position = a.delivered
      a.rewind = false
    }
    if (a.position < p.logStartOffset || a.position > p.highWatermark) resetOutOfRange(a, limits)
    // read_committed waits at the last stable offset (an open transaction) until a marker moves it.
    if (a.position >= endOffset(p, limits.isolation)) continue
    const r = p.readBatches({ offset: a.position, maxBytes: Math.min(limits.maxBytesPerPartition, budget), isolation: limits.isolation })
    if (r.bytes.length === 0) {
      // Nothing is left below the end (compacted away): go there.
      a.position = limits.isolation === 'read_committed' ? r.lastStableOffset : r.highWatermark
      continue
    }
    const aborted = limits.isolation === 'read_committed' ? r.abortedTransactions : null
    const dec = decodeFetch(a.topic, p.index, r.bytes, a.position, limits.keyCodec, limits.valueCodec, aborted)
    a.position = dec.nextOffset
    budget -= r.bytes.length
    out.push({ a, epoch: a.epoch, messages: dec.messages, nextOffset: dec.nextOffset, highWatermark: r.highWatermark })
  }
  return out
}

/**
 * The offset a consumer reads up to and 'latest' means: the last stable offset under
 * read_committed (as Kafka's ListOffsets answers such a consumer), else the high watermark.
 */
export function endOffset(p: Partition, isolation: Isolation): number {
  return isolation === 'read_committed' ? p.lastStableOffset : p.highWatermark
}

function resetOutOfRange(a: FetchPosition, limits: FetchLimits): void {
  const p = a.partition
  const reset = limits.autoOffsetReset
  if (reset === 'none') {
    throw new OffsetOutOfRangeError(
      `offset ${a.position} of ${a.topic}-${p.index} is out of range [${p.logStartOffset}, ${p.highWatermark}] and autoOffsetReset is 'none'`,
    )
  }
  const to = reset === 'earliest' ? p.logStartOffset : endOffset(p, limits.isolation)
  debug('%s-%d: offset %d out of range, reset to %d', a.topic, p.index, a.position, to)
  a.position = to
  a.delivered = to
  a.epoch++
}

/** Offsets a consumer may be placed at: from the log start offset up to the high watermark. */
export function checkOffset(p: Partition, offset: number): void {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < p.logStartOffset || offset > p.highWatermark) {
    throw new OffsetOutOfRangeError(
      `offset ${String(offset)} is out of range [${p.logStartOffset}, ${p.highWatermark}] for ${p.topic}-${p.index}`,
    )
  }
}

export interface DeliveredMessage<K = Buffer | null, V = Buffer | null> {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: K
  value: V
  /** Header values as Buffers (an array when a key repeats). */
  headers: Record<string, Buffer | null | Array<Buffer | null>>
}

export interface DecodedFetch {
  messages: DeliveredMessage<unknown, unknown>[]
  /** Offset after the last batch returned: the next position to read. */
  nextOffset: number
}

/**
 * The messages at or after `fromOffset` in `bytes` (whole batches from Partition.readBatches),
 * skipping control batches, and the offset after the last batch. With `abortedTransactions` (a
 * read_committed fetch's list) the batches of those transactions are skipped too. Bytes that do not
 * decode raise CorruptionError; a codec that cannot decode a key or value raises InvalidRecordError.
 */
export function decodeFetch(
  topic: string,
  partition: number,
  bytes: Buffer,
  fromOffset: number,
  keyCodec: ResolvedCodec,
  valueCodec: ResolvedCodec,
  abortedTransactions: readonly AbortedTransaction[] | null = null,
): DecodedFetch {
  const messages: DeliveredMessage<unknown, unknown>[] = []
  const aborted = abortedTransactions ? new AbortedTransactions(abortedTransactions) : null
  let next = fromOffset
  let pos = 0
  while (pos < bytes.length) {
    const { h, records } = decodeBatch(topic, partition, bytes, pos, fromOffset, aborted)
    const size = LOG_OVERHEAD + h.batchLength
    const last = h.baseOffset + h.lastOffsetDelta
    if (records) {
      for (const r of records) {
        if (r.offset < fromOffset) continue
        const headers = r.headers.length > 0 ? headerObject(r.headers) : {}
        let key: unknown, value: unknown
        try {
          key = keyCodec.decode(r.key)
          value = valueCodec.decode(r.value)
        } catch (err) {
          throw new InvalidRecordError(`${topic}-${partition} offset ${r.offset}: the codec cannot decode it: ${(err as Error).message}`, { cause: err })
        }
        messages.push({ topic, partition, offset: r.offset, timestamp: r.timestamp, key, value, headers })
      }
    }
    if (last + 1 > next) next = last + 1
    pos += size
  }
  return { messages, nextOffset: next }
}

/**
 * The header and (unless it is a control batch, aborted data or wholly below `fromOffset`) the
 * records of the batch at `pos`. Every batch with a producer id passes through `aborted` when
 * given, in order, as Kafka's consumer does. Bytes that do not decode raise CorruptionError naming
 * the partition and offset.
 */
function decodeBatch(
  topic: string,
  partition: number,
  bytes: Buffer,
  pos: number,
  fromOffset: number,
  aborted: AbortedTransactions | null,
): { h: BatchHeader; records: DecodedRecord[] | null } {
  let h: BatchHeader | null = null
  try {
    h = readBatchHeader(bytes, pos)
    const last = h.baseOffset + h.lastOffsetDelta
    let wanted = !h.isControl && last >= fromOffset
    if (aborted && h.producerId >= 0) {
      const marker = h.isControl ? markerType(decodeRecords(bytes, pos)) : null
      if (aborted.skips(h, last, marker)) {
        debug('%s-%d: skipping aborted batch of producer %d, offsets %d to %d', topic, partition, h.producerId, h.baseOffset, last)
        wanted = false
      }
    }
    return { h, records: wanted ? decodeRecords(bytes, pos) : null }
  } catch (err) {
    const at = h ? h.baseOffset : fromOffset
    // file: the partition; position: the batch's offset (the bytes are a read, not a file)
    throw new CorruptionError(`undecodable record batch: ${(err as Error).message}`, `${topic}-${partition}`, at, { cause: err })
  }
}

/** The transaction marker a control batch holds; null when it holds none (compacted, or another control type). */
function markerType(records: readonly DecodedRecord[]): 'commit' | 'abort' | null {
  if (records.length === 0) return null
  try {
    return decodeControlRecordType(records[0]!)
  } catch {
    return null
  }
}

/**
 * Header values by key, an array when a key repeats. Own properties only, so a header named
 * `__proto__`, `constructor` or `toString` is a header like any other.
 */
function headerObject(list: readonly RecordHeader[]): DeliveredMessage['headers'] {
  const headers: DeliveredMessage['headers'] = {}
  for (const { key, value } of list) {
    if (!Object.hasOwn(headers, key)) {
      Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true })
      continue
    }
    const prev = headers[key]!
    if (Array.isArray(prev)) prev.push(value)
    else headers[key] = [prev, value]
  }
  return headers
}
