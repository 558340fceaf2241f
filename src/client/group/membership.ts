// One consumer's membership in a group: the client half of JoinGroup/SyncGroup/Heartbeat. It offers
// the configured assignors, runs the chosen one when elected leader, and applies assignments with the
// eager protocol (revoke everything, then rejoin) or the cooperative one (revoke only what moved,
// then rejoin once more so the moved partitions reach their new owner).
import createDebug from 'debug'
import { IllegalGenerationError, KafkaliteError, RebalanceInProgressError, UnknownMemberError } from '../../errors.js'
import type { PartitionAssignor } from './assignors.js'
import type { GroupCoordinator } from './coordinator.js'
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type TopicPartitions,
} from './consumer-protocol.js'

const debug = createDebug('kafkalite:group')

export interface MembershipOptions {
  groupId: string
  clientId: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  heartbeatIntervalMs: number
  assignors: PartitionAssignor[]
}

export interface MembershipHooks {
  /** Partition counts of these topics (missing topics left out). */
  partitionCounts(topics: string[]): Map<string, number>
  /** Called before partitions are given up: commit their offsets here. */
  onRevoke(partitions: TopicPartitions[]): Promise<void>
  /** Called when partitions are newly assigned. */
  onAssign(partitions: TopicPartitions[]): Promise<void>
  /** Called when the coordinator starts a rebalance (wake the consumer's loop). */
  onRebalanceNeeded(): void
  /** Called after every join and sync, with the generation and this member's whole assignment. */
  onJoined?(info: JoinInfo): void
}

/** One completed join of a member: what the consumer's 'group.join' event carries. */
export interface JoinInfo {
  groupId: string
  memberId: string
  generationId: number
  leaderId: string
  protocol: string
  assignment: TopicPartitions[]
  durationMs: number
}

export type TpSet = Set<string>

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

export function toSet(list: TopicPartitions[]): TpSet {
  const s = new Set<string>()
  for (const { topic, partitions } of list) for (const p of partitions) s.add(tpKey(topic, p))
  return s
}

export function fromSet(s: Iterable<string>): TopicPartitions[] {
  const m = new Map<string, number[]>()
  for (const k of s) {
    const i = k.indexOf('\u0000')
    const t = k.slice(0, i)
    if (!m.has(t)) m.set(t, [])
    m.get(t)!.push(Number(k.slice(i + 1)))
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }))
}

export class GroupMembership {
  memberId = ''
  generationId = -1
  protocol: PartitionAssignor | null = null
  /** Partitions owned in the current generation. */
  owned: TpSet = new Set()
  needsRejoin = true
  private topics: string[] = []
  private lastHeartbeat = 0
  private left = false

  constructor(
    private readonly coordinator: GroupCoordinator,
    readonly options: MembershipOptions,
    private readonly hooks: MembershipHooks,
  ) {}

  get subscription(): string[] {
    return this.topics
  }

  setSubscription(topics: string[]): void {
    const next = [...new Set(topics)].sort()
    if (next.join('\u0000') === this.topics.join('\u0000')) return
    this.topics = next
    this.needsRejoin = true
  }

  /** Joins (or rejoins) until this member holds a stable assignment; returns it. */
  async join(): Promise<TopicPartitions[]> {
    const eager = this.options.assignors.every((a) => a.rebalanceProtocol === 'eager')
    for (let attempt = 0; !this.left; attempt++) {
      if (eager && this.owned.size > 0) await this.revoke([...this.owned])
      try {
        const result = await this.joinOnce()
        if (result) return fromSet(this.owned)
      } catch (err) {
        if (err instanceof UnknownMemberError) {
          this.memberId = ''
          this.generationId = -1
          if (this.owned.size > 0) await this.revoke([...this.owned], true)
        } else if (!(err instanceof RebalanceInProgressError || err instanceof IllegalGenerationError)) throw err
        debug('group %s: rejoining after %s', this.options.groupId, (err as Error).message)
      }
    }
    return []
  }

  /** One JoinGroup + SyncGroup round; true when it ended with a stable assignment. */
  private async joinOnce(): Promise<boolean> {
    this.needsRejoin = false
    const owned = fromSet(this.owned)
    const protocols = this.options.assignors.map((a) => ({
      name: a.name,
      metadata: encodeSubscription({ topics: this.topics, ownedPartitions: owned, generationId: this.generationId }),
    }))
    const joinStartedMs = Date.now()
    const join = await this.coordinator.joinGroup({
      groupId: this.options.groupId,
      memberId: this.memberId,
      clientId: this.options.clientId,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
      protocolType: 'consumer',
      protocols,
      onRebalance: () => {
        this.needsRejoin = true
        this.hooks.onRebalanceNeeded()
      },
    })
    this.memberId = join.memberId
    this.generationId = join.generationId
    this.protocol = this.options.assignors.find((a) => a.name === join.protocolName) ?? null
    let assignments: Array<{ memberId: string; assignment: Buffer }> = []
    if (join.leader === join.memberId) assignments = await this.runAssignor(join.protocolName, join.members)
    const bytes = await this.coordinator.syncGroup({
      groupId: this.options.groupId,
      generationId: join.generationId,
      memberId: join.memberId,
      assignments,
    })
    this.lastHeartbeat = Date.now()
    const next = toSet(decodeAssignment(bytes).assigned)
    const revoked = [...this.owned].filter((k) => !next.has(k))
    const added = [...next].filter((k) => !this.owned.has(k))
    if (revoked.length > 0) await this.revoke(revoked)
    this.owned = next
    if (added.length > 0) await this.hooks.onAssign(fromSet(added))
    this.hooks.onJoined?.({
      groupId: this.options.groupId,
      memberId: join.memberId,
      generationId: join.generationId,
      leaderId: join.leader,
      protocol: join.protocolName,
      assignment: fromSet(next),
      durationMs: Date.now() - joinStartedMs,
    })
    debug('group %s: member %s generation %d owns %d partitions', this.options.groupId, this.memberId, this.generationId, next.size)
    // Cooperative: partitions this member gave up go to their new owner in a follow-up round.
    if (revoked.length > 0 && this.protocol?.rebalanceProtocol === 'cooperative') this.needsRejoin = true
    return !this.needsRejoin
  }

  private async runAssignor(name: string, members: Array<{ memberId: string; metadata: Buffer }>): Promise<Array<{ memberId: string; assignment: Buffer }>> {
    const assignor = this.options.assignors.find((a) => a.name === name)
    if (!assignor) throw new KafkaliteError(`group ${this.options.groupId} chose protocol ${name}, which this member does not have`)
    const decoded = members.map((m) => ({ memberId: m.memberId, subscription: decodeSubscription(m.metadata) }))
    const topics = [...new Set(decoded.flatMap((m) => m.subscription.topics))]
    const result = await assignor.assign({ members: decoded, partitionsPerTopic: this.hooks.partitionCounts(topics) })
    return decoded.map((m) => ({ memberId: m.memberId, assignment: encodeAssignment({ assigned: result.get(m.memberId) ?? [] }) }))
  }

  private async revoke(keys: string[], lost = false): Promise<void> {
    for (const k of keys) this.owned.delete(k)
    if (!lost) await this.hooks.onRevoke(fromSet(keys))
    else await this.hooks.onRevoke(fromSet(keys)).catch(() => undefined)
  }

  /** Sends a heartbeat when one is due; flags a rejoin when the coordinator asks for one. */
  heartbeatIfDue(now = Date.now()): void {
    if (this.memberId === '' || this.needsRejoin || now - this.lastHeartbeat < this.options.heartbeatIntervalMs) return
    this.heartbeat(now)
  }

  heartbeat(now = Date.now()): void {
    if (this.memberId === '') return
    this.lastHeartbeat = now
    try {
      this.coordinator.heartbeat({ groupId: this.options.groupId, generationId: this.generationId, memberId: this.memberId })
    } catch (err) {
      if (err instanceof UnknownMemberError) {
        // Removed (session timeout): everything owned is lost, the offsets may not be committed.
        this.memberId = ''
        this.generationId = -1
        this.owned.clear()
      }
      if (!(err instanceof KafkaliteError)) throw err
      this.needsRejoin = true
    }
  }

  /** Leaves the group (after the caller committed). */
  leave(): void {
    this.left = true
    if (this.memberId) this.coordinator.leaveGroup({ groupId: this.options.groupId, memberId: this.memberId })
    this.memberId = ''
    this.owned.clear()
  }
}
