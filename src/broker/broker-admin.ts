// Topic administration on top of the storage engine: create, delete, grow, reconfigure, and delete
// records. Every operation runs through the broker's admin queue, validates its input before
// anything is written, and writes its metadata record (fsync'd) before it touches partitions.
import { randomUUID } from 'node:crypto'
import * as path from 'node:path'
import createDebug from 'debug'
import { InvalidConfigError, TopicExistsError, UnknownTopicError } from '../errors.js'
import { METADATA_DIR, partitionDirName } from '../storage/file-names.js'
import { BrokerCore, NEW_TOPIC, type CreateTopicOptions, type TopicState } from './broker-core.js'
import type { TopicRecord } from './metadata.js'
import type { Topic, TopicDescription } from './topic.js'
import { resolveTopicConfig, validatePartitionCount, validateTopicName, type TopicConfig } from './topic-config.js'

const debug = createDebug('kafkalite:broker')

export abstract class BrokerAdmin extends BrokerCore {
  /**
   * Creates a topic. The metadata record is fsync'd before the partitions' directories exist. Bad
   * input rejects (never throws synchronously) before anything is written.
   */
  async createTopic(name: string, options: CreateTopicOptions = {}): Promise<Topic> {
    this.assertWritable()
    validateTopicName(name)
    if (options === null || typeof options !== 'object') throw new InvalidConfigError('createTopic options must be an object')
    const { partitions = 1, ...overrides } = options
    validatePartitionCount(partitions)
    if (name === METADATA_DIR) throw new InvalidConfigError(`topic name ${name} is reserved`)
    resolveTopicConfig(overrides, this.topicDefaults)
    return this.admin(async () => {
      this.assertWritable()
      if (this.topicStates.has(name)) throw new TopicExistsError(`topic ${name} already exists`)
      const record: TopicRecord = {
        t: 'topic',
        name,
        id: randomUUID(),
        partitions,
        config: stripUndefined(overrides),
        createdMs: this.now(),
      }
      await this.meta.append(record)
      let topic: Topic
      try {
        topic = await this.openTopic(record, NEW_TOPIC)
      } catch (err) {
        // The partitions could not be created: take the topic back (the next open removes what
        // was made of its directories). Should that fail too, the topic is there after a reopen.
        await this.meta.append({ t: 'deleteTopic', name, id: record.id }).catch(() => undefined)
        throw err
      }
      await this.io.syncDir(this.dir)
      debug('created topic %s with %d partitions', name, partitions)
      return topic
    })
  }

  protected writableTopic(name: string): TopicState {
    this.assertWritable()
    const state = this.topicStates.get(name)
    if (!state) throw new UnknownTopicError(`unknown topic ${String(name)}`)
    return state
  }

  /**
   * Deletes a topic: the metadata record is fsync'd first (the topic is gone from then on), then
   * each partition directory is renamed to `<dir>.<id>-delete` and removed. An open after a crash
   * anywhere in between removes what is left. Only the topic's own directories are touched.
   */
  deleteTopic(name: string): Promise<void> {
    return this.admin(async () => {
      const state = this.writableTopic(name)
      if (name.startsWith('__')) throw new InvalidConfigError(`internal topic ${name} cannot be deleted`)
      await this.meta.append({ t: 'deleteTopic', name, id: state.record.id })
      this.topicStates.delete(name)
      for (const p of state.partitions) p.abandon()
      const tag = state.record.id.replace(/-/g, '')
      const doomed: string[] = []
      for (const p of state.partitions) {
        const dir = path.join(this.dir, partitionDirName(name, p.index))
        if (!this.io.exists(dir)) continue
        this.io.rename(dir, `${dir}.${tag}-delete`)
        doomed.push(`${dir}.${tag}-delete`)
      }
      await this.io.syncDir(this.dir)
      // Checkpoints without the topic's partitions, so that one created again under the name
      // starts from nothing (a crash before this is handled at the next open).
      await this.checkpointRecoveryPoints()
      await this.compaction.forget(name, state.partitions.length)
      for (const d of doomed) this.io.rmrf(d)
      await this.io.syncDir(this.dir)
      debug('deleted topic %s', name)
      this.emit('topicDeleted', name)
    })
  }

  /** Topics whose partition count must not change while this broker is open, and why. */
  private readonly fixedPartitions = new Map<string, string>()

  /**
   * Refuses createPartitions on `name` from now on, while this broker is open (for a topic whose
   * keys must stay on their partition, such as an event store's streams).
   */
  fixPartitionCount(name: string, reason: string): void {
    this.topic(name)
    this.fixedPartitions.set(name, reason)
  }

  /** Raises a topic's partition count (it can only grow: keys would move otherwise). */
  createPartitions(name: string, count: number): Promise<Topic> {
    return this.admin(async () => {
      const state = this.writableTopic(name)
      const fixed = this.fixedPartitions.get(name)
      if (fixed !== undefined) throw new InvalidConfigError(`topic ${name} cannot get more partitions: ${fixed}`)
      validatePartitionCount(count)
      if (count <= state.partitions.length) {
        throw new InvalidConfigError(`topic ${name} has ${state.partitions.length} partitions; createPartitions can only increase it`)
      }
      await this.meta.append({ t: 'partitions', name, partitions: count })
      state.record.partitions = count
      for (let i = state.partitions.length; i < count; i++) state.partitions.push(await this.openPartition(state, i, NEW_TOPIC))
      await this.io.syncDir(this.dir)
      return state.topic
    })
  }

  /** Sets config overrides (null resets one to the default); validated before anything is written. */
  alterTopicConfig(name: string, changes: { [K in keyof TopicConfig]?: TopicConfig[K] | null }): Promise<Readonly<TopicConfig>> {
    return this.admin(async () => {
      const state = this.writableTopic(name)
      if (!changes || typeof changes !== 'object') throw new InvalidConfigError('alterTopicConfig takes an object of configs')
      const overrides: Record<string, unknown> = { ...state.record.config }
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete overrides[k]
        else if (v !== undefined) overrides[k] = v
      }
      const next = resolveTopicConfig(overrides, this.topicDefaults)
      await this.meta.append({ t: 'config', name, config: overrides as Partial<TopicConfig> })
      state.record.config = overrides as Partial<TopicConfig>
      Object.assign(state.config, next)
      return state.config
    })
  }

  /** Config and, per partition, earliest/latest offsets, size on disk and segment count. */
  describeTopic(name: string): TopicDescription {
    return this.topic(name).describe()
  }

  /** Makes every offset below `beforeOffset` unreadable (Kafka's DeleteRecords); returns the new log start. */
  deleteRecords(name: string, options: { partition: number; beforeOffset: number }): Promise<{ partition: number; logStartOffset: number }> {
    return this.admin(async () => {
      const state = this.writableTopic(name)
      const p = state.topic.partition(options?.partition)
      const before = options.beforeOffset
      if (typeof before !== 'number' || !Number.isSafeInteger(before)) throw new InvalidConfigError('beforeOffset must be an integer')
      await p.log.advanceLogStart(before)
      await this.checkpointRecoveryPoints()
      return { partition: p.index, logStartOffset: p.logStartOffset }
    })
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v
  return out
}
