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
  LOG_OVERHEAD, NO_HEADERS, decodeRecords, decodeRecordsWith, readBatchHeader, type BatchHeader, type DecodedRecord, type RecordBuilder, type RecordHeader,
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

/** What one fetch got from one partition; its messages are decoded batch by batch as they are handed out. */
export interface Chunk {
  a: FetchPosition
  epoch: number
  /** The consumer's assignment version this chunk's partition was last found assigned in (-1: not yet). */
  checked: number
  records: FetchedRecords
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
    const records = new FetchedRecords(a.topic, p.index, r.bytes, a.position, limits.keyCodec, limits.valueCodec, aborted)
    a.position = records.nextOffset
    budget -= r.bytes.length
    out.push({ a, epoch: a.epoch, checked: -1, records, highWatermark: r.highWatermark })
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
  const records = new FetchedRecords(topic, partition, bytes, fromOffset, keyCodec, valueCodec, abortedTransactions)
  return { messages: records.all(), nextOffset: records.nextOffset }
}

/**
 * The messages of one fetch (see decodeFetch), decoded one record batch at a time: a consumer
 * handing messages out one by one keeps about one batch of message objects alive, not the whole
 * fetch, so they die young. `nextOffset` is known up front from the batch headers.
 */
export class FetchedRecords {
  /** Offset after the last batch: the next position to read. */
  readonly nextOffset: number
  private pos = 0
  private readonly aborted: AbortedTransactions | null
  private readonly build: RecordBuilder<DeliveredMessage<unknown, unknown>>

  constructor(
    private readonly topic: string,
    private readonly partition: number,
    private readonly bytes: Buffer,
    private readonly fromOffset: number,
    keyCodec: ResolvedCodec,
    valueCodec: ResolvedCodec,
    abortedTransactions: readonly AbortedTransaction[] | null,
  ) {
    this.aborted = abortedTransactions ? new AbortedTransactions(abortedTransactions) : null
    this.build = messageBuilder(topic, partition, keyCodec, valueCodec)
    let next = fromOffset
    for (let pos = 0; pos < bytes.length; ) {
      const h = this.header(pos, fromOffset)
      if (h.baseOffset + h.lastOffsetDelta + 1 > next) next = h.baseOffset + h.lastOffsetDelta + 1
      pos += LOG_OVERHEAD + h.batchLength
    }
    this.nextOffset = next
  }

  /** Every message left. */
  all(): DeliveredMessage<unknown, unknown>[] {
    const out: DeliveredMessage<unknown, unknown>[] = []
    while (this.next(out)) {
      // each call appends one batch's messages
    }
    return out
  }

  /** The messages left, one record batch decoded at a time. */
  *[Symbol.iterator](): Generator<DeliveredMessage<unknown, unknown>, void, undefined> {
    const batch: DeliveredMessage<unknown, unknown>[] = []
    while (this.next(batch)) {
      for (let i = 0; i < batch.length; i++) yield batch[i]!
      batch.length = 0
    }
  }

  /** Appends the messages of the next record batch (possibly none) to `out`; false at the end. */
  next(out: DeliveredMessage<unknown, unknown>[]): boolean {
    const { bytes, pos, topic, partition, fromOffset } = this
    if (pos >= bytes.length) return false
    const h = this.header(pos, fromOffset)
    this.pos = pos + LOG_OVERHEAD + h.batchLength
    try {
      const last = h.baseOffset + h.lastOffsetDelta
      let wanted = !h.isControl && last >= fromOffset
      // Every batch with a producer id passes through `aborted`, in order, as Kafka's consumer does.
      if (this.aborted && h.producerId >= 0) {
        const marker = h.isControl ? markerType(decodeRecords(bytes, pos)) : null
        if (this.aborted.skips(h, last, marker)) {
          debug('%s-%d: skipping aborted batch of producer %d, offsets %d to %d', topic, partition, h.producerId, h.baseOffset, last)
          wanted = false
        }
      }
      if (wanted) decodeRecordsWith(bytes, pos, fromOffset, this.build, out)
    } catch (err) {
      if (err instanceof InvalidRecordError) throw err
      throw this.corrupt(err, h.baseOffset)
    }
    return true
  }

  private header(pos: number, offset: number): BatchHeader {
    try {
      return readBatchHeader(this.bytes, pos)
    } catch (err) {
      throw this.corrupt(err, offset)
    }
  }

  /** file: the partition; position: the batch's offset (the bytes are a read, not a file). */
  private corrupt(err: unknown, offset: number): CorruptionError {
    return new CorruptionError(`undecodable record batch: ${(err as Error).message}`, `${this.topic}-${this.partition}`, offset, { cause: err })
  }
}

/** Decoded records straight into delivered messages (no intermediate objects); codecs applied. */
function messageBuilder(topic: string, partition: number, keyCodec: ResolvedCodec, valueCodec: ResolvedCodec): RecordBuilder<DeliveredMessage<unknown, unknown>> {
  const raw = keyCodec.identity && valueCodec.identity
  return (offset, timestamp, k, v, h) => {
    const headers = h === NO_HEADERS ? {} : headerObject(h)
    if (raw) return { topic, partition, offset, timestamp, key: k, value: v, headers }
    let key: unknown, value: unknown
    try {
      key = keyCodec.decode(k)
      value = valueCodec.decode(v)
    } catch (err) {
      throw new InvalidRecordError(`${topic}-${partition} offset ${offset}: the codec cannot decode it: ${(err as Error).message}`, { cause: err })
    }
    return { topic, partition, offset, timestamp, key, value, headers }
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
