// Projection checkpoints: per projection name, the Checkpoint (next offset per partition) it has
// processed up to, kept in a compacted topic `<topic>-checkpoints` (key = name, value = JSON), so a
// projection resumes where it stopped after a restart. A checkpoint never points past a stored
// event: save() refuses offsets beyond what the store's partitions hold.
import { InvalidConfigError, type Broker, type Producer, type Topic } from '../index.js'
import { committedRecords } from './partition-log.js'
import type { Checkpoint } from './subscription.js'

export class CheckpointStore {
  private readonly latest = new Map<string, Checkpoint>()

  private constructor(
    private readonly events: Topic,
    private readonly topic: Topic,
    private readonly producer: Producer,
  ) {}

  /** @internal opened by EventStore.open */
  static async open(broker: Broker, events: Topic): Promise<CheckpointStore> {
    const name = `${events.name}-checkpoints`
    const topic = broker.hasTopic(name) ? broker.topic(name) : await broker.createTopic(name, { partitions: 1, cleanupPolicy: 'compact' })
    const store = new CheckpointStore(events, topic, broker.producer({ acks: 'all' }))
    for (const r of committedRecords(topic.partition(0), 0)) {
      if (r.key === null) continue
      if (r.value === null) store.latest.delete(r.key.toString())
      else store.latest.set(r.key.toString(), JSON.parse(r.value.toString()) as Checkpoint)
    }
    return store
  }

  /** The partition count the store was created with (kept under the reserved key '$store'). */
  async checkPartitionCount(): Promise<void> {
    const saved = this.latest.get('$store') as unknown as { partitions?: number } | undefined
    const now = this.events.partitions
    if (saved?.partitions !== undefined && saved.partitions !== now) {
      throw new InvalidConfigError(
        `topic ${this.events.name} has ${now} partitions but its event store was made with ${saved.partitions}: streams would have moved to other partitions`,
      )
    }
    if (saved?.partitions === undefined) {
      await this.producer.send(this.topic.name, { key: '$store', value: JSON.stringify({ partitions: now }) })
      this.latest.set('$store', { partitions: now } as unknown as Checkpoint)
    }
  }

  /** The projection's last saved checkpoint, or null (start from the beginning). */
  load(projection: string): Checkpoint | null {
    if (typeof projection !== 'string' || projection.startsWith('$')) return null
    const c = this.latest.get(projection)
    return c ? { offsets: [...c.offsets] } : null
  }

  /** Saves (fsync'd) where the projection is; a checkpoint past the stored events is refused. */
  async save(projection: string, checkpoint: Checkpoint): Promise<void> {
    if (typeof projection !== 'string' || projection === '' || projection.startsWith('$')) {
      throw new InvalidConfigError(`a projection name is a non-empty string not starting with '$', got ${JSON.stringify(projection)}`)
    }
    const offsets = checkpoint?.offsets
    if (!Array.isArray(offsets) || offsets.length !== this.events.partitions) {
      throw new InvalidConfigError(`a checkpoint has one offset per partition (${this.events.partitions})`)
    }
    offsets.forEach((o, p) => {
      if (!Number.isSafeInteger(o) || o < 0 || o > this.events.partition(p).lastStableOffset) {
        throw new InvalidConfigError(`checkpoint offset ${o} of partition ${p} is past the stored events`)
      }
    })
    await this.producer.send(this.topic.name, { key: projection, value: JSON.stringify({ offsets }) })
    this.latest.set(projection, { offsets: [...offsets] })
  }

  /** Forgets a projection's checkpoint (a rebuild from position 0 starts from nothing). */
  async reset(projection: string): Promise<void> {
    await this.producer.send(this.topic.name, { key: projection, value: null })
    this.latest.delete(projection)
  }

  async close(): Promise<void> {
    await this.producer.close()
  }
}
