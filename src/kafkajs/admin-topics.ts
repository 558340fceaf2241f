// The admin client's topic operations: createTopics, deleteTopics, createPartitions, topic metadata,
// offset queries and deleteTopicRecords, with KafkaJS's argument checks and Kafka's per-topic errors.
// Called by admin.ts (the Admin class runs each check, then the operation on its broker).
import type { Broker, CreateTopicOptions, PartitionOffsets } from '../index.js'
import { asProtocolError, checkArray, fail, LATEST, parseOffset, range } from './admin-checks.js'
import { configFromEntries } from './admin-configs.js'
import { KafkaJSAggregateError, KafkaJSBrokerNotFound, KafkaJSCreateTopicError, KafkaJSDeleteTopicRecordsError } from './errors.js'
import { KafkaJSProtocolError, protocolError, toKafkaJSError } from './errors.js'
import type { ITopicConfig, ITopicMetadata, ITopicPartitionConfig, Logger, PartitionMetadata, SeekEntry } from './types.js'

/** kafkalite's limit of partitions per topic, checked here so that validateOnly sees it too. */
const PARTITIONS_MAX = 10_000
const BELOW_LOG_START =
  'The requested offset is before the earliest offset maintained on the partition - no records will be deleted from this partition'

const byTopic = <T extends { topic: string }>(a: T, b: T): number => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0)

/** createTopics' argument checks. */
export function checkCreateTopics(options: { topics: ITopicConfig[] }): ITopicConfig[] {
  return checkTopicConfigs(checkTopicList(options?.topics, 'topics array'))
}

/** true when every topic was created; false when some already existed (the others are created). */
export async function createTopics(broker: Broker, topics: ITopicConfig[], validateOnly: boolean): Promise<boolean> {
  const errors: KafkaJSCreateTopicError[] = []
  for (const t of topics) await createTopic(broker, t, validateOnly).catch((err) => errors.push(createTopicError(err, t.topic)))
  if (errors.length === 0) return true
  if (errors.every((e) => e.type === 'TOPIC_ALREADY_EXISTS')) return false
  throw new KafkaJSAggregateError('Topic creation errors', errors.sort(byTopic))
}

/** deleteTopics' argument checks. */
export function checkDeleteTopics(options: { topics: string[] }): string[] {
  const topics = checkArray(options?.topics, `Invalid topics array ${options?.topics}`)
  if (topics.some((t) => typeof t !== 'string')) throw fail('Invalid topics array, the names must be a valid string')
  return topics
}

export function deleteTopics(broker: Broker, topics: string[]): Promise<void> {
  return eachTopic(topics.map((topic) => ({ topic })), ({ topic }) => broker.deleteTopic(topic))
}

/** createPartitions' argument checks. */
export function checkCreatePartitions(options: { topicPartitions: ITopicPartitionConfig[] }): ITopicPartitionConfig[] {
  if (options?.topicPartitions?.length === 0) throw fail('Empty topic partitions array')
  return checkTopicList(options?.topicPartitions, 'topic partitions array')
}

/** Grows each topic to `count` partitions (KafkaJS resolves nothing; its type says boolean: true). */
export async function createPartitions(broker: Broker, list: ITopicPartitionConfig[], validateOnly: boolean): Promise<boolean> {
  await eachTopic(list, async ({ topic, count }) => {
    const current = broker.topic(topic).partitions
    if (!Number.isInteger(count) || count > PARTITIONS_MAX) throw protocolError('INVALID_PARTITIONS', `Invalid partition count ${count}`)
    if (count <= current) {
      throw protocolError('INVALID_PARTITIONS', `Topic currently has ${current} partitions, which is higher than the requested ${count}.`)
    }
    if (!validateOnly) await broker.createPartitions(topic, count)
  })
  return true
}

/** The metadata of topics `names`, or of every topic without names. */
export function fetchTopicMetadata(broker: Broker, names: string[]): { topics: ITopicMetadata[] } {
  const topics = names.length > 0 ? names.map((n) => broker.topic(n)) : broker.topics()
  return { topics: topics.map((t) => ({ name: t.name, partitions: range(t.partitions).map(partitionMetadata) })) }
}

export function fetchTopicOffsets(broker: Broker, name: string): Array<SeekEntry & { high: string; low: string }> {
  const entry = ({ partition, earliest, latest }: PartitionOffsets) => ({ partition, offset: `${latest}`, high: `${latest}`, low: `${earliest}` })
  return broker.topic(name).offsets().map(entry)
}

/** Per partition, the first offset whose timestamp is ≥ `timestamp`, else (or without one) the high watermark. */
export function fetchTopicOffsetsByTimestamp(broker: Broker, name: string, timestamp?: number): SeekEntry[] {
  const t = broker.topic(name)
  const at = (p: number): number | null => (timestamp == null ? null : t.offsetForTimestamp(p, Number(timestamp)))
  return t.offsets().map(({ partition, latest }) => ({ partition, offset: String(at(partition) ?? latest) }))
}

/** deleteTopicRecords' argument checks. */
export function checkDeleteTopicRecords(options: { topic: string; partitions: SeekEntry[] }): SeekEntry[] {
  if (!options?.topic || typeof options.topic !== 'string') throw fail(`Invalid topic "${options?.topic}"`)
  if (!options.partitions || options.partitions.length === 0) throw fail('Invalid partitions')
  return options.partitions
}

/** Kafka's DeleteRecords: offset '-1' is the high watermark; one below the log start changes nothing (`log` warns). */
export async function deleteTopicRecords(broker: Broker, topic: string, partitions: SeekEntry[], log: Logger): Promise<void> {
  const t = broker.topic(topic)
  const unknown = partitions.filter((p) => !(Number.isInteger(p?.partition) && p.partition >= 0 && p.partition < t.partitions))
  if (unknown.length > 0) throw new KafkaJSDeleteTopicRecordsError({ partitions: unknown.map((p) => ({ ...p, error: noLeader() })) })
  const errors: Array<{ partition: number; offset: string; error: KafkaJSProtocolError }> = []
  for (const { partition, offset } of partitions) {
    const requested = parseOffset(offset)
    const before = requested === LATEST ? t.latestOffset(partition) : requested
    if (before < 0 || before > t.latestOffset(partition)) errors.push({ partition, offset, error: protocolError('OFFSET_OUT_OF_RANGE') })
    else if (before < t.earliestOffset(partition)) log.warn(BELOW_LOG_START, { topic, partition, offset })
    else await broker.deleteRecords(topic, { partition, beforeOffset: before })
  }
  if (errors.length > 0) throw new KafkaJSDeleteTopicRecordsError({ partitions: errors })
}

function partitionMetadata(partitionId: number): PartitionMetadata {
  return { partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0], offlineReplicas: [] }
}

function noLeader(): KafkaJSBrokerNotFound {
  return new KafkaJSBrokerNotFound('Could not find the leader for the partition', { retriable: false })
}

/** Runs `fn` for every item (as Kafka handles each topic of a request), then throws the first failure by topic name. */
async function eachTopic<T extends { topic: string }>(items: T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  const errors: Array<{ topic: string; error: unknown }> = []
  for (const item of items) await fn(item).catch((error) => errors.push({ topic: item.topic, error }))
  if (errors.length > 0) throw toKafkaJSError(errors.sort(byTopic)[0]!.error)
}

/** KafkaJS's checks of a list of `{ topic }` (`what`: 'topics array' or 'topic partitions array'). */
function checkTopicList<T extends { topic: string }>(list: T[] | undefined, what: string): T[] {
  if (!list || !Array.isArray(list)) throw fail(`Invalid ${what} ${list}`)
  if (list.some((t) => typeof t?.topic !== 'string')) throw fail(`Invalid ${what}, the topic names have to be a valid string`)
  if (new Set(list.map((t) => t.topic)).size < list.length) throw fail(`Invalid ${what}, it cannot have multiple entries for the same topic`)
  return list
}

function checkTopicConfigs(topics: ITopicConfig[]): ITopicConfig[] {
  for (const { topic, configEntries } of topics) {
    if (configEntries == null) continue
    if (!Array.isArray(configEntries)) throw fail(`Invalid configEntries for topic "${topic}", must be an array`)
    configEntries.forEach((entry, i) => {
      if (typeof entry !== 'object' || entry == null) throw fail(`Invalid configEntries for topic "${topic}". Entry ${i} must be an object`)
      for (const key of ['name', 'value'] as const) {
        if (typeof entry[key] !== 'string') throw fail(`Invalid configEntries for topic "${topic}". Entry ${i} must have a valid "${key}" property`)
      }
    })
  }
  return topics
}

/** Creates one topic (with validateOnly only checks it), failing with Kafka's error for it. */
async function createTopic(broker: Broker, t: ITopicConfig, validateOnly: boolean): Promise<void> {
  if (broker.hasTopic(t.topic)) throw protocolError('TOPIC_ALREADY_EXISTS', `Topic '${t.topic}' already exists.`)
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(t.topic) || t.topic === '.' || t.topic === '..') throw protocolError('INVALID_TOPIC_EXCEPTION')
  const partitions = t.numPartitions == null || t.numPartitions === -1 ? 1 : t.numPartitions
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) {
    throw protocolError('INVALID_PARTITIONS', `Number of partitions must be in [1, ${PARTITIONS_MAX}], got ${partitions}`)
  }
  const config = configFromEntries(t.configEntries ?? [])
  if (!validateOnly) await broker.createTopic(t.topic, { ...(config as CreateTopicOptions), partitions })
}

function createTopicError(err: unknown, topic: string): KafkaJSCreateTopicError {
  const e = asProtocolError(err)
  return new KafkaJSCreateTopicError({ type: e.type, code: e.code, retriable: e.retriable, message: e.message }, topic)
}
