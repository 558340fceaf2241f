// A group consumer's side of its group: subscription, joining and rejoining, heartbeats, where each
// newly assigned partition starts (committed offset, else fromBeginning/latest), and commits
// (automatic on an interval, on revoke and on close; manual through the consumer). The Consumer
// calls `maintain()` before each fetch and `owns()` before each delivery.
import createDebug from 'debug'
import type { BrokerCore } from '../../broker/broker-core.js'
import { InvalidConfigError, KafkaliteError } from '../../errors.js'
import { endOffset, type FetchPosition } from '../fetch-decode.js'
import type { Isolation } from '../../broker/partition.js'
import { BUILTIN_ASSIGNORS, type PartitionAssignor } from './assignors.js'
import type { TopicPartitions } from './consumer-protocol.js'
import type { GroupCoordinator } from './coordinator.js'
import { intOption } from '../options.js'
import { GroupMembership, tpKey } from './membership.js'
import type { OffsetCommit } from './offset-store.js'

const debug = createDebug('kafkalite:group')

export interface GroupOptions {
  groupId: string
  clientId?: string
  /** Commit processed offsets automatically (default true): every interval, on revoke and on close. */
  autoCommit?: boolean
  autoCommitIntervalMs?: number
  sessionTimeoutMs?: number
  rebalanceTimeoutMs?: number
  heartbeatIntervalMs?: number
  /** Assignors by preference: 'range' (default), 'roundrobin', 'cooperative-sticky' or your own. */
  partitionAssigners?: Array<'range' | 'roundrobin' | 'cooperative-sticky' | PartitionAssignor>
  /** Awaited before partitions are taken away (commit here when autoCommit is off). */
  onPartitionsRevoked?: (partitions: TopicPartitions[]) => Promise<void> | void
  /** Awaited after partitions are assigned. */
  onPartitionsAssigned?: (partitions: TopicPartitions[]) => Promise<void> | void
}

export interface SessionHost {
  readonly fromBeginning: boolean
  /** read_committed members without a committed offset start at the last stable offset. */
  readonly isolation: Isolation
  readonly assigned: Map<string, FetchPosition>
  /** Wakes the consumer's fetch loop (a rebalance started). */
  wake(): void
  emit(event: string, payload: unknown): void
}


export class GroupSession {
  readonly membership: GroupMembership
  readonly groupId: string
  private readonly autoCommit: boolean
  private readonly autoCommitIntervalMs: number
  private lastCommit = Date.now()
  /** Offsets last committed per partition, so unchanged ones are not committed again. */
  private committed = new Map<string, number>()

  constructor(
    private readonly broker: BrokerCore,
    private readonly coordinator: GroupCoordinator,
    private readonly host: SessionHost,
    private readonly options: GroupOptions,
  ) {
    if (typeof options.groupId !== 'string' || options.groupId.length === 0) throw new InvalidConfigError('groupId must be a non-empty string')
    this.groupId = options.groupId
    this.autoCommit = options.autoCommit ?? true
    this.autoCommitIntervalMs = intOption(options.autoCommitIntervalMs ?? 5000, 'autoCommitIntervalMs')
    const sessionTimeoutMs = intOption(options.sessionTimeoutMs ?? 30_000, 'sessionTimeoutMs')
    const heartbeatIntervalMs = intOption(options.heartbeatIntervalMs ?? Math.min(3000, Math.floor(sessionTimeoutMs / 3) || 1), 'heartbeatIntervalMs')
    const assignors = (options.partitionAssigners ?? ['range']).map((a) => {
      const found = typeof a === 'string' ? BUILTIN_ASSIGNORS[a] : a
      if (!found || typeof found.assign !== 'function' || typeof found.name !== 'string') {
        throw new InvalidConfigError(`unknown partition assigner ${String(typeof a === 'string' ? a : (a as { name?: string })?.name)}`)
      }
      return found
    })
    if (assignors.length === 0) throw new InvalidConfigError('partitionAssigners must not be empty')
    this.membership = new GroupMembership(
      coordinator,
      {
        groupId: this.groupId,
        clientId: options.clientId ?? 'kafkalite',
        sessionTimeoutMs,
        rebalanceTimeoutMs: intOption(options.rebalanceTimeoutMs ?? 60_000, 'rebalanceTimeoutMs'),
        heartbeatIntervalMs,
        assignors,
      },
      {
        partitionCounts: (topics) => {
          const m = new Map<string, number>()
          for (const t of topics) if (this.broker.hasTopic(t)) m.set(t, this.broker.topic(t).partitions)
          return m
        },
        onRevoke: (tps) => this.revoke(tps),
        onAssign: (tps) => this.assign(tps),
        onRebalanceNeeded: () => this.host.wake(),
        onJoined: (info) => this.host.emit('group.join', info),
      },
    )
  }

  get heartbeatIntervalMs(): number {
    return this.membership.options.heartbeatIntervalMs
  }

  /** Topic names and patterns; patterns are matched again before each fetch, so new topics join in. */
  subscribe(topics: Array<string | RegExp>): void {
    for (const t of topics) if (!this.patterns.some((p) => String(p) === String(t))) this.patterns.push(t)
    this.refreshSubscription()
    this.host.wake()
  }

  private patterns: Array<string | RegExp> = []
  /** Partition counts of the subscribed topics when this member last joined. */
  private joinedCounts = ''

  /** Re-resolves patterns, and asks for a rebalance when a subscribed topic's partition count changed. */
  private refreshSubscription(): void {
    const names = new Set<string>()
    for (const p of this.patterns) {
      if (typeof p === 'string') names.add(p)
      else for (const t of this.broker.topics()) if (t.name.search(p) !== -1) names.add(t.name)
    }
    this.membership.setSubscription([...names])
    if (!this.membership.needsRejoin && this.countsSignature() !== this.joinedCounts) this.membership.needsRejoin = true
  }

  private countsSignature(): string {
    return this.membership.subscription.map((t) => `${t}:${this.broker.hasTopic(t) ? this.broker.topic(t).partitions : -1}`).join(',')
  }

  /** A heartbeat when one is due (from a handler that runs long). */
  heartbeatIfDue(): void {
    this.membership.heartbeatIfDue()
  }

  /** Before each fetch: heartbeat when due, rejoin when asked, auto-commit when due. */
  async maintain(): Promise<void> {
    this.refreshSubscription()
    this.membership.heartbeatIfDue()
    if (this.membership.memberId === '' && this.host.assigned.size > 0) {
      // Removed from the group (session timeout): the partitions are someone else's now.
      this.host.assigned.clear()
      this.committed.clear()
    }
    if (this.membership.needsRejoin) {
      await this.coordinator.offsets.ensureTopic()
      this.joinedCounts = this.countsSignature()
      await this.membership.join()
    }
    if (this.autoCommit && Date.now() - this.lastCommit >= this.autoCommitIntervalMs) {
      await this.commit().catch((err) => this.commitFailed(err))
    }
  }

  /** The member still belongs to the generation it was assigned this partition in. */
  owns(topic: string, partition: number): boolean {
    return this.membership.owned.has(tpKey(topic, partition)) && this.coordinator.isCurrentMember(this.groupId, this.membership.memberId, this.membership.generationId)
  }

  private async assign(tps: TopicPartitions[]): Promise<void> {
    for (const { topic, partitions } of tps) {
      if (!this.broker.hasTopic(topic)) continue
      for (const i of partitions) {
        const p = this.broker.topic(topic).partition(i)
        const c = this.coordinator.offsets.get(this.groupId, topic, i)
        // A committed offset wins; out of range it is reset by autoOffsetReset at the next fetch.
        const offset = c ? c.offset : this.host.fromBeginning ? p.logStartOffset : endOffset(p, this.host.isolation)
        this.host.assigned.set(tpKey(topic, i), { topic, partition: p, position: offset, delivered: offset, paused: false, rewind: false, epoch: 0 })
        this.committed.set(tpKey(topic, i), c?.offset ?? -1)
      }
    }
    debug('group %s: assigned %o', this.groupId, tps)
    this.host.emit('assigned', tps)
    await this.options.onPartitionsAssigned?.(tps)
  }

  private async revoke(tps: TopicPartitions[]): Promise<void> {
    if (this.autoCommit) await this.commit(tps).catch((err) => this.commitFailed(err))
    this.host.emit('revoked', tps)
    await this.options.onPartitionsRevoked?.(tps)
    for (const { topic, partitions } of tps) {
      for (const i of partitions) {
        const a = this.host.assigned.get(tpKey(topic, i))
        if (a) a.epoch++ // prefetched records of a revoked partition are dropped
        this.host.assigned.delete(tpKey(topic, i))
        this.committed.delete(tpKey(topic, i))
      }
    }
    debug('group %s: revoked %o', this.groupId, tps)
  }

  /** Commits what was processed (`delivered`) on the owned partitions (or just `only`). */
  async commit(only?: TopicPartitions[]): Promise<void> {
    this.lastCommit = Date.now()
    const want = only ? new Set(only.flatMap((tp) => tp.partitions.map((p) => tpKey(tp.topic, p)))) : null
    const offsets: OffsetCommit[] = []
    for (const [k, a] of this.host.assigned) {
      if (want && !want.has(k)) continue
      if (this.committed.get(k) === a.delivered) continue
      offsets.push({ topic: a.topic, partition: a.partition.index, offset: a.delivered })
    }
    await this.commitOffsets(offsets)
  }

  /** Commits explicit offsets (each the next offset to read) for this member's generation. */
  async commitOffsets(offsets: OffsetCommit[]): Promise<void> {
    if (offsets.length === 0) return
    for (const o of offsets) {
      this.broker.topic(o.topic).partition(o.partition)
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) throw new InvalidConfigError(`offset ${o.offset} must be an integer ≥ 0`)
    }
    await this.coordinator.commitOffsets({
      groupId: this.groupId,
      generationId: this.membership.generationId,
      memberId: this.membership.memberId,
      offsets,
    })
    for (const o of offsets) this.committed.set(tpKey(o.topic, o.partition), o.offset)
  }

  private commitFailed(err: unknown): void {
    // A fenced or removed member cannot commit: it rejoins and the partitions' new owner goes on
    // from the last successful commit (at-least-once).
    debug('group %s: commit failed: %s', this.groupId, (err as Error)?.message)
    if (!(err instanceof KafkaliteError)) throw err
    this.membership.needsRejoin = true
  }

  /** Commits (when autoCommit) and leaves the group. */
  async leave(): Promise<void> {
    if (this.autoCommit && this.membership.memberId) await this.commit().catch((err) => this.commitFailed(err))
    this.membership.leave()
    this.host.assigned.clear()
  }
}
