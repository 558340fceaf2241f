// A topic: its name, config and partitions, with the offset queries users ask of it.
import { InvalidPartitionError } from '../errors.js'
import type { Partition } from './partition.js'
import type { TopicConfig } from './topic-config.js'

export interface PartitionOffsets {
  partition: number
  /** Log start offset: the first readable offset. */
  earliest: number
  /** High watermark: the next offset to be written. */
  latest: number
}

export interface TopicDescription {
  name: string
  id: string
  internal: boolean
  /** Effective config (defaults merged with overrides). */
  config: TopicConfig
  /** The configs set on this topic. */
  overrides: Partial<TopicConfig>
  partitions: Array<{ partition: number; earliest: number; latest: number; sizeBytes: number; segments: number }>
}

export class Topic {
  /** @internal */
  constructor(
    readonly name: string,
    readonly id: string,
    /** @internal */ readonly partitionList: readonly Partition[],
    private readonly getConfig: () => Readonly<TopicConfig>,
    private readonly getOverrides: () => Partial<TopicConfig> = () => ({}),
  ) {}

  /** Config, overrides and, per partition, earliest/latest offsets, size on disk and segment count. */
  describe(): TopicDescription {
    return {
      name: this.name,
      id: this.id,
      internal: this.name.startsWith('__'),
      config: { ...this.config },
      overrides: { ...this.getOverrides() },
      partitions: this.partitionList.map((p) => ({
        partition: p.index,
        earliest: p.logStartOffset,
        latest: p.highWatermark,
        sizeBytes: p.sizeInBytes,
        segments: p.log.segmentCount,
      })),
    }
  }

  /** Number of partitions. */
  get partitions(): number {
    return this.partitionList.length
  }

  /** The topic's effective config (defaults merged with its overrides). */
  get config(): Readonly<TopicConfig> {
    return this.getConfig()
  }

  /** The partition with this number; the advanced raw API (`appendBatch`, `readBatches`) lives on it. */
  partition(index: number): Partition {
    const p = Number.isInteger(index) ? this.partitionList[index] : undefined
    if (!p) throw new InvalidPartitionError(`topic ${this.name} has no partition ${index} (it has ${this.partitions})`)
    return p
  }

  earliestOffset(partition: number): number {
    return this.partition(partition).logStartOffset
  }

  latestOffset(partition: number): number {
    return this.partition(partition).highWatermark
  }

  /** First offset whose timestamp is ≥ `timestamp`, or null when every record is older. */
  offsetForTimestamp(partition: number, timestamp: number): number | null {
    return this.partition(partition).offsetForTimestamp(timestamp)
  }

  offsets(): PartitionOffsets[] {
    return this.partitionList.map((p) => ({ partition: p.index, earliest: p.logStartOffset, latest: p.highWatermark }))
  }
}
