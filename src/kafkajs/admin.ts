// KafkaJS 2.2's admin client on a kafkalite Broker: topics (create, delete, grow, metadata, offsets,
// configs, records), consumer groups (offsets, describe, list, delete) and the cluster, with KafkaJS's
// argument checks, return shapes (offsets as strings) and errors. Called by user code through
// `kafka.admin(config)`; it uses kafkalite's public API only. This file holds the Admin class (the
// broker it acquires, its events, one thin method per call); the operations are in admin-topics.ts,
// admin-configs.ts and admin-groups.ts, their shared checks in admin-checks.ts. ACLs and partition
// reassignments are not implemented (one broker, no authorization).
import type { Broker } from '../index.js'
import { checkArray, checkTopic, fail } from './admin-checks.js'
import { alterConfigs, checkAlterConfigs, checkDescribeConfigs, describeConfigs } from './admin-configs.js'
import { checkDeleteGroups, checkFetchOffsets, checkGroupTopic, checkSetOffsets, deleteGroups, describeGroups } from './admin-groups.js'
import { fetchOffsets, resetOffsets, setOffsets } from './admin-groups.js'
import type { FetchedOffsets } from './admin-groups.js'
import { checkCreatePartitions, checkCreateTopics, checkDeleteTopicRecords, checkDeleteTopics, createPartitions } from './admin-topics.js'
import { createTopics, deleteTopicRecords, deleteTopics, fetchTopicMetadata, fetchTopicOffsets, fetchTopicOffsetsByTimestamp } from './admin-topics.js'
import { kafkajsErrors, KafkaJSNotImplemented } from './errors.js'
import { Instrumentation } from './instrumentation.js'
import type { ClientContext } from './kafka.js'
import type { AdminConfig, AdminEvents, DeleteGroupsResult, DescribeConfigResponse, GroupDescription, GroupOverview } from './types.js'
import type { InstrumentationEvent, IResourceConfig, ITopicConfig, ITopicMetadata, ITopicPartitionConfig, Logger } from './types.js'
import type { RemoveInstrumentationEventListener, ResourceConfigQuery, SeekEntry } from './types.js'

const EVENTS: AdminEvents = {
  CONNECT: 'admin.connect',
  DISCONNECT: 'admin.disconnect',
  REQUEST: 'admin.network.request',
  REQUEST_TIMEOUT: 'admin.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'admin.network.request_queue_size',
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
    return this.run(() => checkCreateTopics(options), (broker, topics) => createTopics(broker, topics, !!options.validateOnly))
  }

  deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void> {
    return this.run(() => checkDeleteTopics(options), deleteTopics)
  }

  /** Grows each topic to `count` partitions (KafkaJS resolves nothing; its type says boolean: true). */
  createPartitions(options: { validateOnly?: boolean; timeout?: number; topicPartitions: ITopicPartitionConfig[] }): Promise<boolean> {
    return this.run(() => checkCreatePartitions(options), (broker, list) => createPartitions(broker, list, !!options.validateOnly))
  }

  fetchTopicMetadata(options: { topics?: string[] } = {}): Promise<{ topics: ITopicMetadata[] }> {
    return this.run(() => (options?.topics ?? []).map(checkTopic), fetchTopicMetadata)
  }

  fetchTopicOffsets(topic: string): Promise<Array<SeekEntry & { high: string; low: string }>> {
    return this.run(() => checkTopic(topic), fetchTopicOffsets)
  }

  /** Per partition, the first offset whose timestamp is ≥ `timestamp`, else (or without one) the high watermark. */
  fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<SeekEntry[]> {
    return this.run(() => checkTopic(topic), (broker, name) => fetchTopicOffsetsByTimestamp(broker, name, timestamp))
  }

  /** Committed offsets ('-1' where none) of `topics`, or of every topic the group has committed for. */
  fetchOffsets(options: { groupId: string; topics?: string[]; resolveOffsets?: boolean }): Promise<FetchedOffsets> {
    return this.run(() => checkFetchOffsets(options), (broker, topics) => fetchOffsets(broker, options.groupId, topics, !!options.resolveOffsets))
  }

  /** Commits offsets ('-1' the high watermark, '-2' the log start) of a group without running members. */
  setOffsets(options: { groupId: string; topic: string; partitions: SeekEntry[] }): Promise<void> {
    return this.run(() => checkSetOffsets(options), (broker) => setOffsets(broker, options.groupId, options.topic, options.partitions))
  }

  resetOffsets(options: { groupId: string; topic: string; earliest?: boolean }): Promise<void> {
    return this.run(() => checkGroupTopic(options), (broker) => resetOffsets(broker, options.groupId, options.topic, !!options.earliest))
  }

  /** Topic configs by Kafka's names; other resources (brokers) have none to describe here. */
  describeConfigs(options: { resources: ResourceConfigQuery[]; includeSynonyms: boolean }): Promise<DescribeConfigResponse> {
    return this.run(() => checkDescribeConfigs(options), (broker, resources) => describeConfigs(broker, resources, !!options.includeSynonyms))
  }

  /**
   * Kafka's (non-incremental) AlterConfigs: a topic's overrides become exactly its `configEntries`,
   * the others return to their defaults. Every resource is checked before any is changed.
   */
  alterConfigs(options: { validateOnly: boolean; resources: IResourceConfig[] }): Promise<any> {
    return this.run(() => checkAlterConfigs(options), (broker, resources) => alterConfigs(broker, resources, !!options.validateOnly))
  }

  listGroups(): Promise<{ groups: GroupOverview[] }> {
    return this.run(() => null, (broker) => ({ groups: broker.groups().map((g) => ({ groupId: g.groupId, protocolType: 'consumer' })) }))
  }

  /** Kafka's DescribeGroups: a group it does not know is 'Dead' with no members. */
  describeGroups(groupIds: string[]): Promise<{ groups: Array<GroupDescription & { errorCode: number }> }> {
    return this.run(() => checkArray(groupIds, `Invalid groupIds array ${groupIds}`), describeGroups)
  }

  /** Deletes each group it can; the others fail together in a KafkaJSDeleteGroupsError. */
  deleteGroups(groupIds: string[]): Promise<DeleteGroupsResult[]> {
    return this.run(() => checkDeleteGroups(groupIds), deleteGroups)
  }

  /** Kafka's DeleteRecords: offset '-1' is the high watermark; one below the log start changes nothing. */
  deleteTopicRecords(options: { topic: string; partitions: SeekEntry[] }): Promise<void> {
    const fn = (broker: Broker, partitions: SeekEntry[]) => deleteTopicRecords(broker, options.topic, partitions, this.log)
    return this.run(() => checkDeleteTopicRecords(options), fn)
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
