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

export class Topic {
  /** @internal */
  constructor(
    readonly name: string,
    readonly id: string,
    /** @internal */ readonly partitionList: readonly Partition[],
    private readonly getConfig: () => Readonly<TopicConfig>,
  ) {}

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
