// A consumer's options and the shapes it hands out, and the validation of the options that bound and
// shape its fetches (a bad value is an InvalidConfigError naming the option).
import type { Isolation } from '../broker/partition.js'
import { InvalidConfigError } from '../errors.js'
import type { AutoOffsetReset, DeliveredMessage, FetchLimits } from './fetch-decode.js'
import type { GroupOptions } from './group/session.js'
import { intOption, type RetryOptions } from './options.js'
import { resolveCodec, type CodecSpec } from './serde.js'

export interface ConsumerOptions extends Partial<GroupOptions> {
  /** Start at the log start offset instead of the end (default false; with a group: when it has no committed offset). */
  fromBeginning?: boolean
  /** What to do when the position falls outside the log (e.g. after retention): default 'earliest'. */
  autoOffsetReset?: AutoOffsetReset
  /**
   * 'read_committed' (default, as KafkaJS): only records of committed transactions and plain records,
   * read up to the last stable offset (which is also where 'latest' starts); 'read_uncommitted':
   * every record up to the high watermark. Transaction markers are never delivered.
   */
  isolation?: Isolation
  /** Upper bound of bytes per fetch over all partitions (default 10 MiB; at least one batch). */
  maxBytes?: number
  /** Upper bound of bytes per partition and fetch (default 1 MiB; at least one batch). */
  maxBytesPerPartition?: number
  keyCodec?: CodecSpec
  valueCodec?: CodecSpec
  retry?: RetryOptions
}

export type Message = DeliveredMessage<any, any>

export interface Batch {
  topic: string
  partition: number
  highWatermark: number
  messages: Message[]
}

export interface RunOptions {
  eachMessage?: (message: Message) => Promise<void> | void
  eachBatch?: (batch: Batch) => Promise<void> | void
}

export interface TopicPartitionOffset {
  topic: string
  partition: number
  offset?: number
}

export interface CrashEvent {
  error: unknown
  topic?: string
  partition?: number
  offset?: number
}

/** The fetch limits, isolation and codecs of a consumer's options, validated. */
export function fetchLimits(o: ConsumerOptions): FetchLimits {
  const autoOffsetReset = o.autoOffsetReset ?? 'earliest'
  if (!['earliest', 'latest', 'none'].includes(autoOffsetReset)) {
    throw new InvalidConfigError(`autoOffsetReset must be 'earliest', 'latest' or 'none'`)
  }
  const isolation = o.isolation ?? 'read_committed'
  if (isolation !== 'read_committed' && isolation !== 'read_uncommitted') {
    throw new InvalidConfigError(`isolation must be 'read_committed' or 'read_uncommitted'`)
  }
  return {
    autoOffsetReset,
    isolation,
    maxBytes: intOption(o.maxBytes ?? 10 * 1024 * 1024, 'maxBytes'),
    maxBytesPerPartition: intOption(o.maxBytesPerPartition ?? 1024 * 1024, 'maxBytesPerPartition'),
    keyCodec: resolveCodec(o.keyCodec, 'key'),
    valueCodec: resolveCodec(o.valueCodec, 'value'),
  }
}
