// A KafkaJS consumer's offsets, as KafkaJS keeps them: per partition the offset after the last
// resolved message (what a commit writes), what was committed last, and the offset after the last
// message handed to the application. Only the facade's Consumer uses it.
import type { OffsetsByTopicPartition } from './types.js'

export interface TopicPartitionOffsetNumber {
  topic: string
  partition: number
  offset: number
}

export const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`

export class OffsetTracker {
  private resolved = new Map<string, TopicPartitionOffsetNumber>()
  private committed = new Map<string, number>()
  private handedOut = new Map<string, number>()
  private uncommittedCount = 0
  private lastCommitMs = Date.now()

  /** The message at `offset` is processed: a commit may write offset + 1. */
  resolve(topic: string, partition: number, offset: number): void {
    const key = tpKey(topic, partition)
    if (offset + 1 <= (this.resolved.get(key)?.offset ?? -1)) return
    this.resolved.set(key, { topic, partition, offset: offset + 1 })
    this.uncommittedCount++
  }

  /** The offset after the last resolved message of the partition `key`. */
  next(key: string): number | undefined {
    return this.resolved.get(key)?.offset
  }

  /** Messages up to `end` (exclusive) of the partition `key` were handed to the application. */
  handOut(key: string, end: number): void {
    this.handedOut.set(key, end)
  }

  /** Drops what was resolved (a seek moved the partition, or it was revoked). */
  forgetResolved(key: string): void {
    this.resolved.delete(key)
  }

  /** Drops everything known of the partition (it was assigned anew). */
  forget(key: string): void {
    this.resolved.delete(key)
    this.committed.delete(key)
    this.handedOut.delete(key)
  }

  clear(): void {
    this.resolved.clear()
    this.committed.clear()
    this.handedOut.clear()
  }

  /** Resolved offsets not committed yet, in KafkaJS's shape. */
  uncommitted(): OffsetsByTopicPartition {
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>()
    for (const [key, r] of this.resolved) {
      if (this.committed.get(key) === r.offset) continue
      byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), { partition: r.partition, offset: String(r.offset) }])
    }
    return { topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) }
  }

  /** Whether autoCommitInterval or autoCommitThreshold call for a commit now (neither set: never). */
  due(intervalMs: number | null | undefined, threshold: number | null | undefined): boolean {
    return (intervalMs != null && Date.now() - this.lastCommitMs >= intervalMs) || (threshold != null && this.uncommittedCount >= threshold)
  }

  /**
   * What to commit for the partitions in `owned`. Where everything handed out is resolved,
   * `position(key, r)` (the consumer's position, past transaction markers and aborted records)
   * may move the offset further; it returns undefined where it must not.
   */
  pending(owned: Set<string>, position: (key: string, r: TopicPartitionOffsetNumber) => number | undefined): TopicPartitionOffsetNumber[] {
    const list: TopicPartitionOffsetNumber[] = []
    for (const [key, r] of this.resolved) {
      if (!owned.has(key)) continue
      let offset = r.offset
      if (offset === this.handedOut.get(key)) offset = Math.max(offset, position(key, r) ?? offset)
      if (this.committed.get(key) !== offset) list.push({ topic: r.topic, partition: r.partition, offset })
    }
    return list
  }

  /** These offsets were committed. */
  committedNow(offsets: TopicPartitionOffsetNumber[]): void {
    for (const o of offsets) this.committed.set(tpKey(o.topic, o.partition), o.offset)
  }

  /** A commit round ended (counted from here for autoCommitInterval/Threshold). */
  roundDone(): void {
    this.lastCommitMs = Date.now()
    this.uncommittedCount = 0
  }
}
