// KafkaJS 2.2's admin client on a kafkalite Broker: topics (create, delete, grow, metadata, offsets,
// configs, records), consumer groups (offsets, describe, list, delete) and the cluster, with KafkaJS's
// argument checks, return shapes (offsets as strings) and errors. Called by user code through
// `kafka.admin(config)`; it uses kafkalite's public API only. ACLs and partition reassignments are
// not implemented (one broker, no authorization).
import { DEFAULT_TOPIC_CONFIG, topicConfigFromEntries, topicConfigToEntries } from '../index.js'
import type { Broker, CreateTopicOptions, PartitionLag, PartitionOffsets } from '../index.js'
import { ConfigResourceTypes, ConfigSource } from './constants.js'
import { describeGroupOf } from './describe-group.js'
import { KafkaJSAggregateError, KafkaJSBrokerNotFound, KafkaJSCreateTopicError, KafkaJSDeleteGroupsError } from './errors.js'
import { KafkaJSDeleteTopicRecordsError, KafkaJSNonRetriableError, KafkaJSNotImplemented, KafkaJSProtocolError } from './errors.js'
import { kafkajsErrors, protocolError, toKafkaJSError } from './errors.js'
import { Instrumentation } from './instrumentation.js'
import type { ClientContext } from './kafka.js'
import type { AdminConfig, AdminEvents, ConfigEntries, DeleteGroupsResult, DescribeConfigResponse, FetchOffsetsPartition } from './types.js'
import type { GroupDescription, GroupOverview, InstrumentationEvent, IResourceConfig, ITopicConfig, ITopicMetadata } from './types.js'
import type { ITopicPartitionConfig, Logger, PartitionMetadata, RemoveInstrumentationEventListener, ResourceConfigQuery, SeekEntry } from './types.js'

const EVENTS: AdminEvents = {
  CONNECT: 'admin.connect',
  DISCONNECT: 'admin.disconnect',
  REQUEST: 'admin.network.request',
  REQUEST_TIMEOUT: 'admin.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'admin.network.request_queue_size',
}

/** KafkaJS's special offsets (setOffsets, fetchOffsets; -1 is also DeleteRecords' "high watermark"). */
const LATEST = -1
const EARLIEST = -2
/** kafkalite's limit of partitions per topic, checked here so that validateOnly sees it too. */
const PARTITIONS_MAX = 10_000
/** Kafka's topic configs that kafkalite has no use for (replication, flushing, tiered storage...): accepted, not kept. */
const IGNORED_CONFIGS = new Set(
  `compression.type compression.gzip.level compression.lz4.level compression.zstd.level file.delete.delay.ms flush.messages flush.ms
  follower.replication.throttled.replicas leader.replication.throttled.replicas local.retention.bytes local.retention.ms
  max.compaction.lag.ms message.downconversion.enable message.format.version message.timestamp.after.max.ms
  message.timestamp.before.max.ms message.timestamp.difference.max.ms min.compaction.lag.ms min.insync.replicas preallocate
  remote.log.copy.disable remote.log.delete.on.disable remote.storage.enable segment.index.bytes segment.jitter.ms
  unclean.leader.election.enable`.split(/\s+/),
)
const BELOW_LOG_START =
  'The requested offset is before the earliest offset maintained on the partition - no records will be deleted from this partition'

const fail = (message: string): KafkaJSNonRetriableError => new KafkaJSNonRetriableError(message)
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)
const byTopic = <T extends { topic: string }>(a: T, b: T): number => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0)
const codeOf = (err: unknown): unknown => (err as { code?: unknown })?.code

type FetchedOffsets = Array<{ topic: string; partitions: FetchOffsetsPartition[] }>
type GroupOffsets = Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>

/**
 * KafkaJS commits its markers as they are (resetOffsets: -2 earliest, -1 latest) and fetchOffsets shows
 * them; kafkalite commits only real offsets, so the marker is remembered beside the offset it stood for
 * and shown while that offset is still the committed one.
 */
const markers = new WeakMap<Broker, Map<string, { marker: number; offset: number }>>()
const markersOf = (broker: Broker) => markers.get(broker) ?? markers.set(broker, new Map()).get(broker)!
const markerKey = (groupId: string, topic: string, partition: number): string => JSON.stringify([groupId, topic, partition])
const forgetMarkers = (broker: Broker, groupId: string): void => {
  for (const key of markersOf(broker).keys()) if (JSON.parse(key)[0] === groupId) markersOf(broker).delete(key)
}

export class Admin {
  readonly events: AdminEvents = { ...EVENTS }
  private readonly instrumentation = new Instrumentation(EVENTS)
  private readonly log: Logger
  private broker: Promise<Broker> | null = null

  /** `config.retry` is accepted and unused: nothing here fails in a way a retry would fix. */
  constructor(private readonly context: ClientContext, _config: AdminConfig = {}) {
    this.log = context.logger.namespace('Admin')
  }

  async connect(): Promise<void> {
    await kafkajsErrors(() => this.open())
    this.instrumentation.emit(EVENTS.CONNECT, null)
  }

  /** Releases the broker taken by connect() or by the first call; again, it only emits the event. */
  async disconnect(): Promise<void> {
    const acquired = this.broker
    this.broker = null
    const broker = acquired ? await acquired.catch(() => null) : null
    if (broker) await kafkajsErrors(() => this.context.release(broker))
    this.instrumentation.emit(EVENTS.DISCONNECT, null)
  }

  listTopics(): Promise<string[]> {
    return this.run(() => null, (broker) => broker.topics().map((t) => t.name))
  }

  /** true when every topic was created; false when some already existed (the others are created). */
  createTopics(options: { validateOnly?: boolean; waitForLeaders?: boolean; timeout?: number; topics: ITopicConfig[] }): Promise<boolean> {
    return this.run(() => checkTopicConfigs(checkTopicList(options?.topics, 'topics array')), async (broker, topics) => {
      const errors: KafkaJSCreateTopicError[] = []
      for (const t of topics) await createTopic(broker, t, !!options.validateOnly).catch((err) => errors.push(createTopicError(err, t.topic)))
      if (errors.length === 0) return true
      if (errors.every((e) => e.type === 'TOPIC_ALREADY_EXISTS')) return false
      throw new KafkaJSAggregateError('Topic creation errors', errors.sort(byTopic))
    })
  }

  deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void> {
    const check = (): string[] => {
      const topics = checkArray(options?.topics, `Invalid topics array ${options?.topics}`)
      if (topics.some((t) => typeof t !== 'string')) throw fail('Invalid topics array, the names must be a valid string')
      return topics
    }
    return this.run(check, (broker, topics) => eachTopic(topics.map((topic) => ({ topic })), ({ topic }) => broker.deleteTopic(topic)))
  }

  /** Grows each topic to `count` partitions (KafkaJS resolves nothing; its type says boolean: true). */
  createPartitions(options: { validateOnly?: boolean; timeout?: number; topicPartitions: ITopicPartitionConfig[] }): Promise<boolean> {
    const check = (): ITopicPartitionConfig[] => {
      if (options?.topicPartitions?.length === 0) throw fail('Empty topic partitions array')
      return checkTopicList(options?.topicPartitions, 'topic partitions array')
    }
    return this.run(check, async (broker, list) => {
      await eachTopic(list, async ({ topic, count }) => {
        const current = broker.topic(topic).partitions
        if (!Number.isInteger(count) || count > PARTITIONS_MAX) throw protocolError('INVALID_PARTITIONS', `Invalid partition count ${count}`)
        if (count <= current) {
          throw protocolError('INVALID_PARTITIONS', `Topic currently has ${current} partitions, which is higher than the requested ${count}.`)
        }
        if (!options.validateOnly) await broker.createPartitions(topic, count)
      })
      return true
    })
  }

  fetchTopicMetadata(options: { topics?: string[] } = {}): Promise<{ topics: ITopicMetadata[] }> {
    const check = (): string[] => (options?.topics ?? []).map(checkTopic)
    return this.run(check, (broker, names) => {
      const topics = names.length > 0 ? names.map((n) => broker.topic(n)) : broker.topics()
      return { topics: topics.map((t) => ({ name: t.name, partitions: range(t.partitions).map(partitionMetadata) })) }
    })
  }

  fetchTopicOffsets(topic: string): Promise<Array<SeekEntry & { high: string; low: string }>> {
    const entry = ({ partition, earliest, latest }: PartitionOffsets) => ({ partition, offset: `${latest}`, high: `${latest}`, low: `${earliest}` })
    return this.run(() => checkTopic(topic), (broker, name) => broker.topic(name).offsets().map(entry))
  }

  /** Per partition, the first offset whose timestamp is ≥ `timestamp`, else (or without one) the high watermark. */
  fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<SeekEntry[]> {
    return this.run(() => checkTopic(topic), (broker, name) => {
      const t = broker.topic(name)
      const at = (p: number): number | null => (timestamp == null ? null : t.offsetForTimestamp(p, Number(timestamp)))
      return t.offsets().map(({ partition, latest }) => ({ partition, offset: String(at(partition) ?? latest) }))
    })
  }

  /** Committed offsets ('-1' where none) of `topics`, or of every topic the group has committed for. */
  fetchOffsets(options: { groupId: string; topics?: string[]; resolveOffsets?: boolean }): Promise<FetchedOffsets> {
    const check = (): string[] => {
      checkGroupId(options?.groupId)
      if (!Array.isArray(options.topics ?? [])) throw fail('Expected topics array to be set')
      return options.topics ?? []
    }
    return this.run(check, async (broker, topics) => {
      let offsets = committedOffsets(broker, options.groupId, topics)
      if (options.resolveOffsets) offsets = await resolveOffsets(broker, options.groupId, offsets)
      return offsets.map(({ topic, partitions }) => ({ topic, partitions: partitions.map((p) => ({ ...p, metadata: null })) }))
    })
  }

  /** Commits offsets ('-1' the high watermark, '-2' the log start) of a group without running members. */
  setOffsets(options: { groupId: string; topic: string; partitions: SeekEntry[] }): Promise<void> {
    const check = (): void => {
      checkGroupTopic(options)
      if (!options.partitions || options.partitions.length === 0) throw fail('Invalid partitions')
    }
    return this.run(check, async (broker) => {
      broker.topic(options.topic)
      assertNotRunning(broker, options.groupId)
      await commitOffsets(broker, options.groupId, options.topic, options.partitions)
    })
  }

  resetOffsets(options: { groupId: string; topic: string; earliest?: boolean }): Promise<void> {
    return this.run(() => checkGroupTopic(options), async (broker) => {
      assertNotRunning(broker, options.groupId)
      const marker = options.earliest ? EARLIEST : LATEST
      const partitions = range(broker.topic(options.topic).partitions).map((partition) => ({ partition, offset: String(marker) }))
      await commitOffsets(broker, options.groupId, options.topic, partitions)
    })
  }

  /** Topic configs by Kafka's names; other resources (brokers) have none to describe here. */
  describeConfigs(options: { resources: ResourceConfigQuery[]; includeSynonyms: boolean }): Promise<DescribeConfigResponse> {
    const check = (): ResourceConfigQuery[] => {
      const resources = checkResources(options?.resources)
      const bad = resources.find((r) => r.configNames != null && !Array.isArray(r.configNames))
      if (bad) throw fail(`Invalid resource configNames ${bad.configNames}: ${JSON.stringify(bad)}`)
      return resources
    }
    return this.run(check, (broker, resources) => {
      const synonyms = !!options.includeSynonyms
      const entries = (r: ResourceConfigQuery) => (r.type === ConfigResourceTypes.TOPIC ? topicConfigEntries(broker, r, synonyms) : [])
      const errorMessage = null as unknown as string
      const out = resources.map((r) => ({ configEntries: entries(r), errorCode: 0, errorMessage, resourceName: r.name, resourceType: r.type }))
      return { resources: out, throttleTime: 0 }
    })
  }

  /**
   * Kafka's (non-incremental) AlterConfigs: a topic's overrides become exactly its `configEntries`,
   * the others return to their defaults. Every resource is checked before any is changed.
   */
  alterConfigs(options: { validateOnly: boolean; resources: IResourceConfig[] }): Promise<any> {
    const check = (): IResourceConfig[] => {
      const resources = checkResources(options?.resources)
      const noEntries = resources.find((r) => !Array.isArray(r.configEntries))
      if (noEntries) throw fail(`Invalid resource configEntries ${noEntries.configEntries}: ${JSON.stringify(noEntries)}`)
      const badValue = resources.find((r) => r.configEntries.some((e) => typeof e?.name !== 'string' || typeof e?.value !== 'string'))
      if (badValue) throw fail(`Invalid resource config value: ${JSON.stringify(badValue)}`)
      return resources
    }
    return this.run(check, async (broker, resources) => {
      const changes = resources.map((r) => configChanges(broker, r))
      for (const [i, r] of resources.entries()) if (changes[i] && !options.validateOnly) await broker.alterTopicConfig(r.name, changes[i]!)
      const out = resources.map((r) => ({ errorCode: 0, errorMessage: null, resourceName: r.name, resourceType: r.type }))
      return { resources: out, throttleTime: 0 }
    })
  }

  listGroups(): Promise<{ groups: GroupOverview[] }> {
    return this.run(() => null, (broker) => ({ groups: broker.groups().map((g) => ({ groupId: g.groupId, protocolType: 'consumer' })) }))
  }

  /** Kafka's DescribeGroups: a group it does not know is 'Dead' with no members. */
  describeGroups(groupIds: string[]): Promise<{ groups: Array<GroupDescription & { errorCode: number }> }> {
    const check = (): string[] => checkArray(groupIds, `Invalid groupIds array ${groupIds}`)
    return this.run(check, (broker, ids) => ({ groups: ids.map((id) => ({ errorCode: 0, ...describeGroupOf(broker, id) })) }))
  }

  /** Deletes each group it can; the others fail together in a KafkaJSDeleteGroupsError. */
  deleteGroups(groupIds: string[]): Promise<DeleteGroupsResult[]> {
    const check = (): string[] => {
      const invalid = checkArray(groupIds, `Invalid groupIds array ${groupIds}`).find((g) => typeof g !== 'string')
      if (invalid !== undefined) throw fail(`Invalid groupId name: ${JSON.stringify(invalid)}`)
      return groupIds
    }
    return this.run(check, async (broker, ids) => {
      const [deleted, failed]: DeleteGroupsResult[][] = [[], []]
      for (const groupId of ids) {
        const error = await broker.group(groupId).delete().then(() => null, asProtocolError)
        if (error) failed.push({ groupId, errorCode: error.code, error })
        else {
          deleted.push({ groupId, errorCode: 0 })
          forgetMarkers(broker, groupId)
        }
      }
      if (failed.length > 0) throw new KafkaJSDeleteGroupsError('Error in DeleteGroups', failed)
      return deleted
    })
  }

  /** Kafka's DeleteRecords: offset '-1' is the high watermark; one below the log start changes nothing. */
  deleteTopicRecords(options: { topic: string; partitions: SeekEntry[] }): Promise<void> {
    const check = (): SeekEntry[] => {
      if (!options?.topic || typeof options.topic !== 'string') throw fail(`Invalid topic "${options?.topic}"`)
      if (!options.partitions || options.partitions.length === 0) throw fail('Invalid partitions')
      return options.partitions
    }
    return this.run(check, async (broker, partitions) => {
      const t = broker.topic(options.topic)
      const unknown = partitions.filter((p) => !(Number.isInteger(p?.partition) && p.partition >= 0 && p.partition < t.partitions))
      if (unknown.length > 0) throw new KafkaJSDeleteTopicRecordsError({ partitions: unknown.map((p) => ({ ...p, error: noLeader() })) })
      const errors: Array<{ partition: number; offset: string; error: KafkaJSProtocolError }> = []
      for (const { partition, offset } of partitions) {
        const requested = parseOffset(offset)
        const before = requested === LATEST ? t.latestOffset(partition) : requested
        if (before < 0 || before > t.latestOffset(partition)) errors.push({ partition, offset, error: protocolError('OFFSET_OUT_OF_RANGE') })
        else if (before < t.earliestOffset(partition)) this.log.warn(BELOW_LOG_START, { topic: options.topic, partition, offset })
        else await broker.deleteRecords(options.topic, { partition, beforeOffset: before })
      }
      if (errors.length > 0) throw new KafkaJSDeleteTopicRecordsError({ partitions: errors })
    })
  }

  /** One broker, node 0, its own controller; it has no network address, so KafkaJS's default one. */
  describeCluster(): Promise<{ brokers: Array<{ nodeId: number; host: string; port: number }>; controller: number | null; clusterId: string }> {
    return this.run(() => null, () => ({ brokers: [{ nodeId: 0, host: 'localhost', port: 9092 }], controller: 0, clusterId: 'kafkalite' }))
  }

  describeAcls = (_options?: unknown): Promise<never> => notImplemented('describeAcls')
  createAcls = (_options?: unknown): Promise<never> => notImplemented('createAcls')
  deleteAcls = (_options?: unknown): Promise<never> => notImplemented('deleteAcls')
  alterPartitionReassignments = (_request?: unknown): Promise<never> => notImplemented('alterPartitionReassignments')
  listPartitionReassignments = (_request?: unknown): Promise<never> => notImplemented('listPartitionReassignments')

  logger(): Logger {
    return this.log
  }

  on(eventName: AdminEvents[keyof AdminEvents], listener: (event: InstrumentationEvent<any>) => void): RemoveInstrumentationEventListener<string> {
    if (!Object.values(EVENTS).includes(eventName)) {
      throw fail(`Event name should be one of ${Object.keys(EVENTS).map((k) => `admin.events.${k}`).join(', ')}`)
    }
    const report = (e: Error): void => this.log.error(`Failed to execute listener: ${e?.message}`, { eventName, stack: e?.stack })
    return this.instrumentation.on(eventName, (event) => void Promise.resolve(listener(event)).catch(report))
  }

  /** The broker, acquired once (by connect() or the first call) until disconnect(). */
  private open(): Promise<Broker> {
    if (!this.broker) {
      const acquiring = this.context.acquire()
      this.broker = acquiring
      acquiring.catch(() => this.broker === acquiring && (this.broker = null))
    }
    return this.broker
  }

  /** KafkaJS's argument checks, then `fn` on the broker; whatever fails rejects with KafkaJS's error. */
  private run<A, T>(check: () => A, fn: (broker: Broker, args: A) => T | Promise<T>): Promise<T> {
    return kafkajsErrors(async () => {
      const args = check()
      return fn(await this.open(), args)
    })
  }
}

function notImplemented(method: string): Promise<never> {
  return Promise.reject(new KafkaJSNotImplemented(`admin.${method}() is not implemented by kafkalite`))
}

function checkTopic(topic: unknown): string {
  if (!topic || typeof topic !== 'string') throw fail(`Invalid topic ${topic}`)
  return topic
}

function checkGroupId(groupId: unknown): void {
  if (!groupId) throw fail(`Invalid groupId ${groupId}`)
}

function checkGroupTopic(options: { groupId: string; topic: string }): void {
  checkGroupId(options?.groupId)
  if (!options.topic) throw fail(`Invalid topic ${options.topic}`)
}

function checkArray<T>(value: T[] | undefined, message: string): T[] {
  if (!Array.isArray(value)) throw fail(message)
  return value
}

/** An offset given as a string (or number) of an integer. */
function parseOffset(offset: unknown): number {
  const text = typeof offset === 'number' ? String(offset) : typeof offset === 'string' ? offset.trim() : ''
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw fail(`Invalid offset ${offset}`)
  return Number(text)
}

function partitionMetadata(partitionId: number): PartitionMetadata {
  return { partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0], offlineReplicas: [] }
}

function noLeader(): KafkaJSBrokerNotFound {
  return new KafkaJSBrokerNotFound('Could not find the leader for the partition', { retriable: false })
}

/** A per-item failure as Kafka's protocol error; anything else (a closed broker, storage) is rethrown. */
function asProtocolError(err: unknown): KafkaJSProtocolError {
  const e = toKafkaJSError(err)
  if (e instanceof KafkaJSProtocolError) return e
  throw e
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

/** KafkaJS's condition for committing a group's offsets from the admin: no member is running. */
function assertNotRunning(broker: Broker, groupId: string): void {
  const { state } = describeGroupOf(broker, groupId)
  if (state !== 'Empty' && state !== 'Dead') throw fail(`The consumer group must have no running instances, current state: ${state}`)
}

/** Every partition of `topics` ('-1' without a commit), or without topics every partition committed for. */
function committedOffsets(broker: Broker, groupId: string, topics: string[]): GroupOffsets {
  let lag: PartitionLag[] = []
  try {
    lag = broker.group(groupId).lag().filter((l) => l.committed !== null)
  } catch (err) {
    if (codeOf(err) !== 'GROUP_NOT_FOUND') throw err
  }
  const committed = (topic: string, partition: number): number => {
    const offset = lag.find((l) => l.topic === topic && l.partition === partition)?.committed ?? null
    const marker = markersOf(broker).get(markerKey(groupId, topic, partition))
    return offset === null ? LATEST : marker?.offset === offset ? marker.marker : offset
  }
  const partitionsOf = (topic: string): number[] =>
    topics.length > 0 ? range(broker.topic(topic).partitions) : lag.filter((l) => l.topic === topic).map((l) => l.partition)
  return (topics.length > 0 ? topics : [...new Set(lag.map((l) => l.topic))]).map((topic) => ({
    topic,
    partitions: partitionsOf(topic).map((partition) => ({ partition, offset: String(committed(topic, partition)) })),
  }))
}

/** KafkaJS's resolveOffsets: -1 becomes the high watermark and -2 the log start, and these are committed. */
async function resolveOffsets(broker: Broker, groupId: string, offsets: GroupOffsets): Promise<GroupOffsets> {
  const out: GroupOffsets = []
  for (const { topic, partitions } of offsets) {
    const t = broker.topic(topic)
    const resolve = (p: number, n: number, offset: string): string =>
      n === LATEST ? String(t.latestOffset(p)) : n === EARLIEST ? String(t.earliestOffset(p)) : offset
    const resolved = partitions.map(({ partition, offset }) => ({ partition, offset: resolve(partition, Number(offset), offset) }))
    assertNotRunning(broker, groupId)
    await commitOffsets(broker, groupId, topic, resolved.filter((p, i) => p.offset !== partitions[i]!.offset))
    out.push({ topic, partitions: resolved })
  }
  return out
}

/**
 * Commits each partition's offset with group.resetOffsets, all checked (dry run) before any is
 * committed; KafkaJS's markers '-2' and '-1' commit the log start and the high watermark.
 */
async function commitOffsets(broker: Broker, groupId: string, topic: string, partitions: SeekEntry[]): Promise<void> {
  const group = broker.group(groupId)
  const resets = partitions.map(({ partition, offset }) => {
    const n = parseOffset(offset)
    const to = n === EARLIEST ? ('earliest' as const) : n === LATEST ? ('latest' as const) : { offset: n }
    const reset = (dryRun: boolean) => group.resetOffsets({ topic, partitions: [partition], to, dryRun }).catch(asKafkaJSError(topic, partition))
    return { partition, marker: typeof to === 'string' ? n : null, reset }
  })
  for (const { reset } of resets) await reset(true)
  for (const { partition, marker, reset } of resets) {
    const [{ offset }] = await reset(false)
    if (marker === null) markersOf(broker).delete(markerKey(groupId, topic, partition))
    else markersOf(broker).set(markerKey(groupId, topic, partition), { marker, offset })
  }
}

function asKafkaJSError(topic: string, partition: number): (err: unknown) => Promise<never> {
  return (err) => Promise.reject(toKafkaJSError(err, { topic, partition }))
}

function checkResources<T extends { type: ConfigResourceTypes; name: string }>(resources: T[] | undefined): T[] {
  if (!resources || !Array.isArray(resources)) throw fail(`Invalid resources array ${resources}`)
  if (resources.length === 0) throw fail('Resources array cannot be empty')
  const types = Object.values(ConfigResourceTypes).filter((v) => typeof v === 'number')
  const badType = resources.find((r) => !types.includes(r?.type))
  if (badType) throw fail(`Invalid resource type ${badType?.type}: ${JSON.stringify(badType)}`)
  const badName = resources.find((r) => !r.name || typeof r.name !== 'string')
  if (badName) throw fail(`Invalid resource name ${badName.name}: ${JSON.stringify(badName)}`)
  return resources
}

/**
 * A topic's configs by Kafka's names: overrides come from TOPIC_CONFIG, Kafka's defaults from
 * DEFAULT_CONFIG, and a broker-wide default of Broker.open's `topicDefaults` from STATIC_BROKER_CONFIG.
 */
function topicConfigEntries(broker: Broker, { name, configNames }: ResourceConfigQuery, includeSynonyms: boolean): ConfigEntries[] {
  const d = broker.describeTopic(name)
  const overrides = topicConfigToEntries(d.overrides)
  const builtIn = topicConfigToEntries(DEFAULT_TOPIC_CONFIG)
  const wanted = configNames && configNames.length > 0 ? new Set(configNames) : null
  const sourceOf = (key: string, value: string): ConfigSource =>
    key in overrides ? ConfigSource.TOPIC_CONFIG : value === builtIn[key] ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG
  return Object.entries(topicConfigToEntries(d.config))
    .filter(([configName]) => !wanted || wanted.has(configName))
    .map(([configName, configValue]) => {
      const configSource = sourceOf(configName, configValue)
      const isDefault = configSource === ConfigSource.DEFAULT_CONFIG
      const configSynonyms = includeSynonyms ? [{ configName, configValue, configSource }] : []
      return { configName, configValue, readOnly: false, isDefault, configSource, isSensitive: false, configSynonyms }
    })
}

/** `configEntries` as kafkalite's topic config (validated), without the Kafka configs it ignores. */
function configFromEntries(entries: Array<{ name: string; value: string }>): ReturnType<typeof topicConfigFromEntries> {
  return topicConfigFromEntries(Object.fromEntries(entries.filter((e) => !IGNORED_CONFIGS.has(e.name)).map((e) => [e.name, e.value])))
}

/** The alterTopicConfig changes that make a topic's overrides exactly `configEntries` (null: not a topic). */
function configChanges(broker: Broker, r: IResourceConfig): Record<string, unknown> | null {
  if (r.type !== ConfigResourceTypes.TOPIC) {
    if (r.configEntries.length > 0) throw protocolError('INVALID_CONFIG', `kafkalite has no dynamic configs for resource ${r.name}`)
    return null
  }
  const wanted = configFromEntries(r.configEntries)
  const reset = Object.fromEntries(Object.keys(broker.describeTopic(r.name).overrides).map((k) => [k, null]))
  return { ...reset, ...wanted }
}
