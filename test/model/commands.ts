// The commands of the broker model test and their fast-check arbitraries. Most commands name no
// topic, partition, offset or timestamp directly: they carry a pick (an existing topic or any name;
// a partition of the topic or just past its last; earliest, latest, somewhere inside or just outside
// the readable offsets) that the runner resolves against the model when the command runs. So most
// commands land on something that exists, and shrinking a sequence keeps its commands meaningful.
import fc from 'fast-check'
import { SEND_WITHOUT_TIMESTAMP } from './known-defects.js'
import type { CleanupPolicy, Headers, TopicSpec } from './model.js'

export const TOPICS = ['a', 'b', 'c'] as const
/** Not a valid Kafka topic name: createTopic must refuse it (InvalidTopicError). */
export const BAD_TOPIC = 'bad/name'

export const GROUPS = ['g0', 'g1'] as const
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4'] as const

/** One of the model's topics (when it has any and `known`), else any name of TOPICS. */
export interface TopicPick {
  known: boolean
  frac: number
}

/** A partition of the topic (by `frac`), or 'outside': the first index past its last partition. */
export type PartitionPick = { frac: number } | 'outside'

/** Where in [log start, high watermark] an offset lands; 'before'/'after' are just outside it. */
export interface OffsetPick {
  at: 'earliest' | 'latest' | 'inside' | 'before' | 'after'
  frac: number
}

/** A timestamp near a readable record's (picked by `frac`), or near the clock when there is none. */
export interface TimestampPick {
  frac: number
  delta: number
}

export interface GenMessage {
  key: string | null
  value: string | null
  headers: Array<[string, string | null]>
  /** Relative to the clock; 'default' leaves the timestamp to the producer. */
  tsDelta: number | 'default'
  partition: PartitionPick | undefined
}

export type Acks = 'all' | 'leader'
export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4'

export type Cmd =
  | { t: 'createTopic'; topic: string; spec: TopicSpec }
  | { t: 'send'; topic: TopicPick; acks: Acks; compression: Compression; messages: GenMessage[] }
  | { t: 'sendConcurrent'; topic: TopicPick; acks: Acks; sends: GenMessage[][] }
  | { t: 'read'; topic: TopicPick; partition: PartitionPick; from: OffsetPick; via: 'consumer' | 'raw'; maxBytes: number }
  | { t: 'seekRead'; topic: TopicPick; partition: PartitionPick; from: OffsetPick; take: number; to: OffsetPick | TimestampPick }
  | { t: 'offsetForTimestamp'; topic: TopicPick; partition: PartitionPick; at: TimestampPick }
  | { t: 'commitOffsets'; group: string; topic: TopicPick; partition: PartitionPick; offset: OffsetPick }
  | { t: 'resetOffsets'; group: string; topic: TopicPick; partition: PartitionPick | 'all'; to: ResetPick }
  | { t: 'groupConsume'; group: string; topic: TopicPick }
  | { t: 'tick'; ms: number }
  | { t: 'clean' }
  | { t: 'reopen' }
  | { t: 'crash' }
  | { t: 'deleteTopic'; topic: TopicPick }
  | { t: 'deleteRecords'; topic: TopicPick; partition: PartitionPick; before: OffsetPick }
  | { t: 'createPartitions'; topic: TopicPick; add: number }
  | { t: 'alterConfig'; topic: TopicPick; changes: ConfigChanges }
  | { t: 'deleteGroup'; group: string }
  | { t: 'crashDuring'; op: CrashableCmd; at: number }

/**
 * The operations a crash may interrupt: `crashDuring` fails every file operation that changes
 * something from the `at`-th on (as if the process had died there), then crashes and reopens.
 */
export type CrashableCmd = Extract<Cmd, { t: 'createTopic' | 'deleteTopic' | 'createPartitions' | 'alterConfig' | 'deleteRecords' | 'clean' | 'tick' }>

/** The configs alterConfig changes: a value, or null to reset it to the default. */
export interface ConfigChanges {
  retentionMs?: number | null
  retentionBytes?: number | null
  deleteRetentionMs?: number | null
  minCleanableDirtyRatio?: number | null
  cleanupPolicy?: CleanupPolicy | null
}

/** Where an admin commit (resetOffsets) goes: an offset, the log start or end, or a timestamp. */
export type ResetPick = OffsetPick | { to: 'earliest' | 'latest' } | TimestampPick

/** A fraction in [0, 1) that picks among what exists; integers underneath, so that it shrinks fast. */
const frac = fc.nat({ max: 999 }).map((n) => n / 1000)
const topic: fc.Arbitrary<TopicPick> = fc.record({ known: fc.oneof({ weight: 20, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), frac })
const partition: fc.Arbitrary<PartitionPick> = fc.oneof(
  { weight: 15, arbitrary: fc.record({ frac }) },
  { weight: 1, arbitrary: fc.constant('outside' as const) },
)

const offsetPick: fc.Arbitrary<OffsetPick> = fc.record({
  at: fc.oneof(
    { weight: 6, arbitrary: fc.constant('inside' as const) },
    { weight: 2, arbitrary: fc.constantFrom('earliest' as const, 'latest' as const) },
    { weight: 1, arbitrary: fc.constantFrom('before' as const, 'after' as const) },
  ),
  frac,
})

const timestampPick: fc.Arbitrary<TimestampPick> = fc.record({ frac, delta: fc.integer({ min: -2, max: 2 }) })

const ascii = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme-ascii', maxLength })

const message: fc.Arbitrary<GenMessage> = fc.record({
  // A key-less message to a compacted topic fails the whole send (InvalidRecordError): keep them rare.
  key: fc.option(fc.constantFrom(...KEYS), { nil: null, freq: 12 }),
  // Long values roll the small segments often; null is a tombstone.
  value: fc.option(fc.oneof({ weight: 1, arbitrary: ascii(12) }, { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 40, maxLength: 200 }) }), { nil: null, freq: 6 }),
  headers: fc.array(fc.tuple(fc.constantFrom('h0', 'h1'), fc.option(ascii(6), { nil: null, freq: 5 })), { maxLength: 3 }),
  tsDelta: SEND_WITHOUT_TIMESTAMP
    ? fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant('default' as const) }, { weight: 1, arbitrary: fc.integer({ min: -3000, max: 1000 }) })
    : fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3000, max: 1000 }) }),
  partition: fc.oneof(
    { weight: 30, arbitrary: fc.constant(undefined) },
    { weight: 8, arbitrary: fc.record({ frac }) },
    { weight: 1, arbitrary: fc.constant('outside' as const) },
  ),
})

const messages = fc.array(message, { minLength: 1, maxLength: 6 })

const topicSpec: fc.Arbitrary<TopicSpec> = fc.record({
    partitions: fc.integer({ min: 1, max: 3 }),
    cleanupPolicy: fc.oneof(
      { weight: 3, arbitrary: fc.constant<CleanupPolicy>('delete') },
      { weight: 2, arbitrary: fc.constant<CleanupPolicy>('compact') },
      { weight: 1, arbitrary: fc.constant<CleanupPolicy>('compact,delete') },
    ),
    segmentBytes: fc.constantFrom(1024, 2048),
    segmentMs: fc.constantFrom(7 * 24 * 3600 * 1000, 4000),
    retentionMs: fc.constantFrom(-1, 3000, 10_000),
    retentionBytes: fc.constantFrom(-1, 1500, 4000),
    deleteRetentionMs: fc.constantFrom(0, 2000, 24 * 3600 * 1000),
    minCleanableDirtyRatio: fc.constantFrom(0, 0.5),
    messageTimestampType: fc.oneof(
      { weight: 4, arbitrary: fc.constant('CreateTime' as const) },
      { weight: 1, arbitrary: fc.constant('LogAppendTime' as const) },
    ),
    // Small intervals put offset and time index entries in every segment, so reads and
    // offsetForTimestamp go through the indexes rather than a scan from the segment's start.
    indexIntervalBytes: fc.constantFrom(4096, 0, 200),
})

/** A valid createTopic (its name may exist already). */
const createTopic = fc.record({ t: fc.constant('createTopic' as const), topic: fc.constantFrom(...TOPICS), spec: topicSpec })

/** A createTopic with a bad name or a segmentBytes below the 1 KiB minimum: refused, nothing written. */
const createBadTopic: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ t: fc.constant('createTopic' as const), topic: fc.constant(BAD_TOPIC), spec: topicSpec }),
  fc.record({ t: fc.constant('createTopic' as const), topic: fc.constantFrom(...TOPICS), spec: topicSpec.map((spec) => ({ ...spec, segmentBytes: 512 })) }),
)

const configChanges: fc.Arbitrary<ConfigChanges> = fc.record(
  {
    retentionMs: fc.constantFrom(null, -1, 3000, 10_000),
    // -5 is out of range: InvalidConfigError, and nothing changes.
    retentionBytes: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(null, -1, 1500, 4000) }, { weight: 1, arbitrary: fc.constant(-5) }),
    deleteRetentionMs: fc.constantFrom(null, 0, 2000),
    minCleanableDirtyRatio: fc.constantFrom(null, 0, 0.5),
    cleanupPolicy: fc.constantFrom<CleanupPolicy | null>(null, 'delete', 'compact', 'compact,delete'),
  },
  { requiredKeys: [] },
)

const alterConfig = fc.record({ t: fc.constant('alterConfig' as const), topic, changes: configChanges })
const tick = fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 6000 }) })
const clean = fc.constant({ t: 'clean' as const })
const deleteTopic = fc.record({ t: fc.constant('deleteTopic' as const), topic })
const deleteRecords = fc.record({ t: fc.constant('deleteRecords' as const), topic, partition, before: offsetPick })
const createPartitions = fc.record({ t: fc.constant('createPartitions' as const), topic, add: fc.integer({ min: 0, max: 1 }) })

export const command: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: createTopic },
  { weight: 1, arbitrary: createBadTopic },
  {
    weight: 20,
    arbitrary: fc.record({
      t: fc.constant('send' as const),
      topic,
      acks: fc.constantFrom<Acks>('all', 'leader'),
      compression: fc.oneof(
        { weight: 6, arbitrary: fc.constant<Compression>('none') },
        { weight: 1, arbitrary: fc.constant<Compression>('gzip') },
        { weight: 1, arbitrary: fc.constant<Compression>('snappy') },
        { weight: 1, arbitrary: fc.constant<Compression>('lz4') },
      ),
      messages,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('sendConcurrent' as const),
      topic,
      acks: fc.constantFrom<Acks>('all', 'leader'),
      sends: fc.array(messages, { minLength: 2, maxLength: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('read' as const),
      topic,
      partition,
      from: offsetPick,
      via: fc.constantFrom('consumer' as const, 'raw' as const),
      maxBytes: fc.constantFrom(1, 300, 1 << 20),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('seekRead' as const),
      topic,
      partition,
      from: offsetPick,
      take: fc.integer({ min: 0, max: 3 }),
      to: fc.oneof(offsetPick, timestampPick),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('offsetForTimestamp' as const), topic, partition, at: timestampPick }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('commitOffsets' as const), group: fc.constantFrom(...GROUPS), topic, partition, offset: offsetPick }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('resetOffsets' as const),
      group: fc.constantFrom(...GROUPS),
      topic,
      partition: fc.oneof({ weight: 3, arbitrary: partition }, { weight: 1, arbitrary: fc.constant('all' as const) }),
      to: fc.oneof(
        { weight: 3, arbitrary: offsetPick },
        { weight: 1, arbitrary: fc.record({ to: fc.constantFrom('earliest' as const, 'latest' as const) }) },
        { weight: 1, arbitrary: timestampPick },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('deleteGroup' as const), group: fc.constantFrom(...GROUPS) }) },
  { weight: 1, arbitrary: alterConfig },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('groupConsume' as const), group: fc.constantFrom(...GROUPS), topic }) },
  { weight: 3, arbitrary: tick },
  { weight: 2, arbitrary: clean },
  { weight: 2, arbitrary: fc.constant({ t: 'reopen' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'crash' as const }) },
  { weight: 1, arbitrary: deleteTopic },
  { weight: 1, arbitrary: deleteRecords },
  { weight: 1, arbitrary: createPartitions },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('crashDuring' as const),
      op: fc.oneof<fc.Arbitrary<CrashableCmd>[]>(createTopic, deleteTopic, createPartitions, alterConfig, deleteRecords, clean, tick),
      // Most operations take a handful of file operations; a few (compaction, retention) take dozens.
      at: fc.oneof({ weight: 4, arbitrary: fc.nat({ max: 8 }) }, { weight: 1, arbitrary: fc.nat({ max: 60 }) }),
    }),
  },
)

/** A sequence: a topic first (so that sends mostly land), then up to 39 random commands. */
export const sequence: fc.Arbitrary<Cmd[]> = fc
  .tuple(createTopic, fc.array(command, { maxLength: 39, size: 'max' }))
  .map(([first, rest]) => [first, ...rest])

/** Headers as the producer takes them: a repeated key becomes an array, in sending order. */
export function toHeaders(pairs: ReadonlyArray<[string, string | null]>): Headers {
  const out: Headers = {}
  for (const [k, v] of pairs) (out[k] ??= []).push(v)
  return out
}
