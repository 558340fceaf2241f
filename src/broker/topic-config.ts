// Topic configs: Kafka's topic-level config names camelCased (`retention.ms` → `retentionMs`), their
// defaults, and validation. Bad values raise InvalidConfigError before anything is written.
import { InvalidConfigError, InvalidTopicError } from '../errors.js'

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete'
export type MessageTimestampType = 'CreateTime' | 'LogAppendTime'

export interface TopicConfig {
  /** segment.bytes: roll the active segment when it would grow past this (default 1 GiB, min 1 KiB). */
  segmentBytes: number
  /** segment.ms: roll the active segment when its first record is older than this (default 7 days). */
  segmentMs: number
  /** retention.ms: delete segments whose newest record is older (default 7 days, -1 = forever). */
  retentionMs: number
  /** retention.bytes: per partition, delete the oldest segments above this size (default -1 = unlimited). */
  retentionBytes: number
  /** max.message.bytes: largest record batch accepted (default 1 MiB + 12 bytes, as Kafka). */
  maxMessageBytes: number
  /** message.timestamp.type: keep the producer's CreateTime or stamp LogAppendTime. */
  messageTimestampType: MessageTimestampType
  /** cleanup.policy */
  cleanupPolicy: CleanupPolicy
  /** index.interval.bytes: bytes of log between offset index entries (default 4096). */
  indexIntervalBytes: number
  /** delete.retention.ms: how long tombstones survive compaction (default 1 day). */
  deleteRetentionMs: number
  /** min.cleanable.dirty.ratio (default 0.5). */
  minCleanableDirtyRatio: number
}

export const DEFAULT_TOPIC_CONFIG: Readonly<TopicConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  maxMessageBytes: 1024 * 1024 + 12,
  messageTimestampType: 'CreateTime',
  cleanupPolicy: 'delete',
  indexIntervalBytes: 4096,
  deleteRetentionMs: 24 * 3600 * 1000,
  minCleanableDirtyRatio: 0.5,
})

export const TOPIC_NAME_MAX = 249
export const PARTITIONS_MAX = 10_000

const intRange: Record<string, [number, number]> = {
  segmentBytes: [1024, 0x7fffffff],
  segmentMs: [1, Number.MAX_SAFE_INTEGER],
  retentionMs: [-1, Number.MAX_SAFE_INTEGER],
  retentionBytes: [-1, Number.MAX_SAFE_INTEGER],
  maxMessageBytes: [0, 0x7fffffff],
  indexIntervalBytes: [0, 0x7fffffff],
  deleteRetentionMs: [0, Number.MAX_SAFE_INTEGER],
}

/** Kafka's rule: [a-zA-Z0-9._-], 1..249 characters, not '.' or '..'. Keeps every path inside the dir. */
export function validateTopicName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidTopicError('topic name must be a non-empty string')
  if (name.length > TOPIC_NAME_MAX) throw new InvalidTopicError(`topic name is longer than ${TOPIC_NAME_MAX} characters`)
  if (name === '.' || name === '..') throw new InvalidTopicError(`topic name cannot be '${name}'`)
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    throw new InvalidTopicError(`topic name '${name}' has characters other than ASCII letters, digits, '.', '_' and '-'`)
  }
}

/** Merges `input` over `base`, rejecting unknown names and bad values. */
export function resolveTopicConfig(input: Record<string, unknown>, base: Readonly<TopicConfig> = DEFAULT_TOPIC_CONFIG): TopicConfig {
  const out: TopicConfig = { ...base }
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue
    if (!(key in DEFAULT_TOPIC_CONFIG)) throw new InvalidConfigError(`unknown topic config '${key}'`)
    const range = intRange[key]
    if (range) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < range[0] || value > range[1]) {
        throw new InvalidConfigError(`${key} must be an integer in [${range[0]}, ${range[1]}], got ${String(value)}`)
      }
      ;(out as unknown as Record<string, number>)[key] = value
    } else if (key === 'messageTimestampType') {
      if (value !== 'CreateTime' && value !== 'LogAppendTime') {
        throw new InvalidConfigError(`messageTimestampType must be 'CreateTime' or 'LogAppendTime'`)
      }
      out.messageTimestampType = value
    } else if (key === 'cleanupPolicy') {
      if (value !== 'delete' && value !== 'compact' && value !== 'compact,delete' && value !== 'delete,compact') {
        throw new InvalidConfigError(`cleanupPolicy must be 'delete', 'compact' or 'compact,delete'`)
      }
      out.cleanupPolicy = value === 'delete,compact' ? 'compact,delete' : value
    } else if (key === 'minCleanableDirtyRatio') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new InvalidConfigError('minCleanableDirtyRatio must be in [0, 1]')
      out.minCleanableDirtyRatio = value
    }
  }
  return out
}

export function validatePartitionCount(n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > PARTITIONS_MAX) {
    throw new InvalidConfigError(`partitions must be an integer in [1, ${PARTITIONS_MAX}], got ${String(n)}`)
  }
}

/** Kafka's dotted name of each topic config (`retentionMs` ↔ `retention.ms`). */
export const KAFKA_TOPIC_CONFIG_NAMES: Readonly<Record<keyof TopicConfig, string>> = Object.freeze({
  segmentBytes: 'segment.bytes',
  segmentMs: 'segment.ms',
  retentionMs: 'retention.ms',
  retentionBytes: 'retention.bytes',
  maxMessageBytes: 'max.message.bytes',
  messageTimestampType: 'message.timestamp.type',
  cleanupPolicy: 'cleanup.policy',
  indexIntervalBytes: 'index.interval.bytes',
  deleteRetentionMs: 'delete.retention.ms',
  minCleanableDirtyRatio: 'min.cleanable.dirty.ratio',
})

const byKafkaName = new Map<string, keyof TopicConfig>(
  Object.entries(KAFKA_TOPIC_CONFIG_NAMES).map(([camel, dotted]) => [dotted, camel as keyof TopicConfig]),
)

/** The config key for a Kafka dotted name (`retention.ms`) or a camelCase one (`retentionMs`). */
export function topicConfigKey(name: string): keyof TopicConfig {
  const key = byKafkaName.get(name) ?? (name in DEFAULT_TOPIC_CONFIG ? (name as keyof TopicConfig) : undefined)
  if (!key) throw new InvalidConfigError(`unknown topic config '${name}'`)
  return key
}

/**
 * Kafka-style string entries (`{ 'retention.ms': '86400000' }`, as in CreateTopics, kafka-topics.sh
 * `--config` and KafkaJS's `configEntries`) as typed, validated topic configs. camelCase names are
 * accepted too; a null value stays null (alterTopicConfig resets it to the default).
 */
export function topicConfigFromEntries(entries: Readonly<Record<string, string | number | null>>): {
  [K in keyof TopicConfig]?: TopicConfig[K] | null
} {
  const out: Record<string, unknown> = {}
  for (const [name, raw] of Object.entries(entries)) {
    const key = topicConfigKey(name)
    if (raw === null) {
      out[key] = null
      continue
    }
    const text = String(raw).trim()
    if (key in intRange || key === 'minCleanableDirtyRatio') {
      const pattern = key === 'minCleanableDirtyRatio' ? /^\d+(\.\d+)?$|^\.\d+$/ : /^-?\d+$/
      if (!pattern.test(text)) throw new InvalidConfigError(`${name} must be a number, got '${text}'`)
      out[key] = Number(text)
    } else out[key] = text
  }
  resolveTopicConfig(Object.fromEntries(Object.entries(out).filter(([, v]) => v !== null)))
  return out as { [K in keyof TopicConfig]?: TopicConfig[K] | null }
}

/** Topic configs as Kafka-style entries: dotted names, string values. */
export function topicConfigToEntries(config: Readonly<Partial<TopicConfig>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue
    out[KAFKA_TOPIC_CONFIG_NAMES[key as keyof TopicConfig] ?? key] = String(value)
  }
  return out
}
