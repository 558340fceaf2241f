// `broker.group(id)`: what kafka-consumer-groups.sh shows and does for one group — describe, lag,
// reset offsets, delete — over the in-process coordinator and the committed offsets.
import type { BrokerCore } from '../../broker/broker-core.js'
import type { Isolation } from '../../broker/partition.js'
import { InvalidConfigError, OffsetOutOfRangeError } from '../../errors.js'
import { decodeAssignment } from './consumer-protocol.js'
import type { GroupCoordinator, GroupState } from './coordinator.js'

export interface GroupMemberDescription {
  memberId: string
  clientId: string
  /** Partitions per topic in the current generation. */
  assignment: Record<string, number[]>
}

export interface ConsumerGroupDescription {
  groupId: string
  state: GroupState
  generation: number
  protocol: string | null
  members: GroupMemberDescription[]
}

export interface PartitionLag {
  topic: string
  partition: number
  /** Committed offset (the next one the group reads), or null when nothing is committed. */
  committed: number | null
  /** The high watermark, or the last stable offset when lag() is asked for 'read_committed'. */
  end: number
  /** end − committed; without a commit, end − log start (everything is still to read). */
  lag: number
}

export type ResetTarget = 'earliest' | 'latest' | { timestamp: number } | { offset: number }

export class ConsumerGroup {
  /** @internal use broker.group(id) */
  constructor(
    readonly groupId: string,
    private readonly broker: BrokerCore,
    private readonly coordinator: GroupCoordinator,
  ) {}

  describe(): ConsumerGroupDescription {
    const d = this.coordinator.describe(this.groupId)
    return {
      groupId: d.groupId,
      state: d.state,
      generation: d.generation,
      protocol: d.protocol,
      members: d.members.map((m) => {
        const assignment: Record<string, number[]> = {}
        for (const { topic, partitions } of decodeAssignment(m.assignment).assigned) assignment[topic] = partitions
        return { memberId: m.memberId, clientId: m.clientId, assignment }
      }),
    }
  }

  /** The group's committed offsets, with the metadata each commit carried (sorted by topic, partition). */
  committed(): Array<{ topic: string; partition: number; offset: number; metadata: string | null; commitTimestamp: number }> {
    return this.coordinator.offsets
      .all(this.groupId)
      .map((c) => ({ topic: c.topic, partition: c.partition, offset: c.offset, metadata: c.metadata, commitTimestamp: c.commitTimestamp }))
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
  }

  /**
   * Lag of every partition the group has committed for or is assigned. The group does not know its
   * members' isolation: lag is measured to the high watermark unless asked for 'read_committed',
   * which measures it to the last stable offset (what such consumers can read now).
   */
  lag(options: { isolation?: Isolation } = {}): PartitionLag[] {
    const isolation = options?.isolation ?? 'read_uncommitted'
    if (isolation !== 'read_committed' && isolation !== 'read_uncommitted') {
      throw new InvalidConfigError(`isolation must be 'read_committed' or 'read_uncommitted'`)
    }
    const d = this.describe()
    const keys = new Map<string, { topic: string; partition: number }>()
    for (const c of this.coordinator.offsets.all(this.groupId)) keys.set(`${c.topic}\u0000${c.partition}`, c)
    for (const m of d.members) {
      for (const [topic, ps] of Object.entries(m.assignment)) for (const partition of ps) keys.set(`${topic}\u0000${partition}`, { topic, partition })
    }
    const out: PartitionLag[] = []
    for (const { topic, partition } of keys.values()) {
      if (!this.broker.hasTopic(topic)) continue
      const p = this.broker.topic(topic).partition(partition)
      const committed = this.coordinator.offsets.get(this.groupId, topic, partition)?.offset ?? null
      const end = isolation === 'read_committed' ? p.lastStableOffset : p.highWatermark
      out.push({ topic, partition, committed, end, lag: Math.max(0, end - (committed ?? p.logStartOffset)) })
    }
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
  }

  /**
   * Sets the committed offsets of a topic's partitions; refused while the group has members. With
   * `dryRun` it checks and returns the offsets it would commit, and commits nothing.
   */
  async resetOffsets(options: {
    topic: string
    partitions?: number[]
    to: ResetTarget
    dryRun?: boolean
  }): Promise<Array<{ partition: number; offset: number }>> {
    this.coordinator.assertEmptyOrNew(this.groupId)
    const topic = this.broker.topic(options.topic)
    const partitions = options.partitions ?? Array.from({ length: topic.partitions }, (_, i) => i)
    const to = options.to
    const offsets = partitions.map((i) => {
      const p = topic.partition(i)
      let offset: number
      if (to === 'earliest') offset = p.logStartOffset
      else if (to === 'latest') offset = p.highWatermark
      else if (to && typeof to === 'object' && 'timestamp' in to) offset = p.offsetForTimestamp(to.timestamp) ?? p.highWatermark
      else if (to && typeof to === 'object' && 'offset' in to) {
        offset = to.offset
        if (!Number.isSafeInteger(offset) || offset < p.logStartOffset || offset > p.highWatermark) {
          throw new OffsetOutOfRangeError(`offset ${offset} is out of range [${p.logStartOffset}, ${p.highWatermark}] for ${topic.name}-${i}`)
        }
      } else throw new InvalidConfigError(`resetOffsets 'to' must be 'earliest', 'latest', { timestamp } or { offset }`)
      return { partition: i, offset }
    })
    if (options.dryRun) return offsets
    await this.coordinator.commitOffsets({
      groupId: this.groupId,
      generationId: -1,
      memberId: '',
      offsets: offsets.map((o) => ({ topic: topic.name, partition: o.partition, offset: o.offset })),
    })
    return offsets
  }

  /** Deletes the group and its committed offsets; refused while it has members. */
  delete(): Promise<void> {
    return this.coordinator.deleteGroup(this.groupId)
  }
}
