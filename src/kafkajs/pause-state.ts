// What a KafkaJS consumer's application paused: partitions, and topics paused as a whole (whose
// partitions assigned later are paused too). kafkalite's consumer also pauses partitions whose
// batch is handled in the background; those do not show in paused(). Only the Consumer uses it.
import { tpKey } from './offset-tracker.js'
import type { TopicPartitions } from './types.js'

export class PauseState {
  private partitions = new Set<string>()
  private topics = new Set<string>()

  /** Pauses or resumes; `partitionsOf(topic)` lists a topic's partitions for a topic-wide call. */
  mark(list: Array<{ topic: string; partitions?: number[] }>, paused: boolean, partitionsOf: (topic: string) => number[]): void {
    for (const { topic, partitions } of list) {
      if (partitions === undefined) {
        if (paused) this.topics.add(topic)
        else this.topics.delete(topic)
      }
      for (const p of partitions ?? partitionsOf(topic)) {
        if (paused) this.partitions.add(tpKey(topic, p))
        else this.partitions.delete(tpKey(topic, p))
      }
    }
  }

  /** Whether the application paused this partition, itself or through its topic. */
  has(topic: string, partition: number): boolean {
    return this.partitions.has(tpKey(topic, partition)) || this.topics.has(topic)
  }

  /** A newly assigned partition of a paused topic counts as paused. */
  inherit(topic: string, partition: number): boolean {
    if (!this.has(topic, partition)) return false
    this.partitions.add(tpKey(topic, partition))
    return true
  }

  list(): TopicPartitions[] {
    const byTopic = new Map<string, number[]>()
    for (const key of this.partitions) {
      const [topic, p] = key.split('\u0000') as [string, string]
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), Number(p)].sort((a, b) => a - b))
    }
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }))
  }

  clear(): void {
    this.partitions.clear()
    this.topics.clear()
  }
}
