// A KafkaJS consumer's commits: the offsets it resolved, committed through kafkalite's group member
// when due (autoCommitInterval/Threshold), after each batch, before a revoke and at stop, with
// KafkaJS's COMMIT_OFFSETS event after each. Only the facade's Consumer uses it.
import type { Consumer as CoreConsumer } from '../index.js'
import { toKafkaJSError } from './errors.js'
import { OffsetTracker, tpKey } from './offset-tracker.js'

export interface CommitHost {
  /** The group member, while running. */
  core(): CoreConsumer | null
  /** Whether a batch of the partition `key` is being handled (its position runs ahead then). */
  inHand(key: string): boolean
  /** Called with KafkaJS's COMMIT_OFFSETS payload after each commit. */
  committed(payload: object): void
  groupId: string
}

export class Commits {
  readonly offsets = new OffsetTracker()

  constructor(private readonly host: CommitHost) {}

  /** Commits when autoCommitInterval or autoCommitThreshold call for it. */
  async ifDue(intervalMs: number | null | undefined, threshold: number | null | undefined): Promise<void> {
    if (this.offsets.due(intervalMs, threshold)) await this.resolved()
  }

  /**
   * Commits the resolved offsets of the partitions the member still owns (`only` these). Where
   * everything handed out is resolved and no batch is in hand, the member's position counts: it is
   * past transaction markers and aborted records after the last message.
   */
  async resolved(only?: Array<{ topic: string; partitions: number[] }>): Promise<void> {
    const core = this.host.core()
    if (!core) return
    const owned = new Set(
      core
        .assignment()
        .filter((a) => !only || only.some((t) => t.topic === a.topic && t.partitions.includes(a.partition)))
        .map((a) => tpKey(a.topic, a.partition)),
    )
    const list = this.offsets.pending(owned, (key, r) => (this.host.inHand(key) ? undefined : core.position(r.topic, r.partition)))
    if (list.length > 0) await this.commit(list)
    this.offsets.roundDone()
  }

  /** Commits these offsets (each the next offset to read) for the member's generation. */
  async commit(offsets: Array<{ topic: string; partition: number; offset: number; metadata?: string | null }>): Promise<void> {
    const core = this.host.core()
    if (!core || offsets.length === 0) return
    try {
      await core.commitOffsets(offsets)
    } catch (err) {
      throw toKafkaJSError(err)
    }
    this.offsets.committedNow(offsets)
    const meta = core.groupMetadata()
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>()
    for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), { partition: o.partition, offset: String(o.offset) }])
    this.host.committed({
      groupId: this.host.groupId,
      memberId: meta?.memberId ?? '',
      groupGenerationId: meta?.generationId ?? -1,
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    })
  }
}
