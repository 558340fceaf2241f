// The group coordinator, in process: Kafka's JoinGroup / SyncGroup / Heartbeat / LeaveGroup /
// OffsetCommit shape and its group states (Empty → PreparingRebalance → CompletingRebalance →
// Stable, Dead). Members offer protocols (assignor name + ConsumerProtocol subscription bytes); the
// coordinator picks one all support, the leader member runs the assignor and hands the result back
// in SyncGroup. In-process members also get a push when a rebalance starts, so they rejoin at once;
// wire clients learn it from heartbeats.
import { randomUUID } from 'node:crypto'
import createDebug from 'debug'
import {
  GroupNotFoundError,
  IllegalGenerationError,
  InvalidConfigError,
  NonEmptyGroupError,
  RebalanceInProgressError,
  UnknownMemberError,
} from '../../errors.js'
import type { OffsetCommit, OffsetStore } from './offset-store.js'

const debug = createDebug('kafkalite:group')

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

export interface JoinGroupRequest {
  groupId: string
  /** '' for a new member. */
  memberId: string
  groupInstanceId?: string | null
  clientId: string
  /** Where a wire client connects from (DescribeGroups shows it); '' in process. */
  clientHost?: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: Array<{ name: string; metadata: Buffer }>
  /** In-process members: called when a rebalance starts (instead of waiting for a heartbeat). */
  onRebalance?: () => void
}

export interface JoinGroupResult {
  generationId: number
  protocolName: string
  leader: string
  memberId: string
  /** Filled for the leader only: every member with its metadata for the chosen protocol. */
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>
}

export interface SyncGroupRequest {
  groupId: string
  generationId: number
  memberId: string
  /** The leader's assignment for every member; empty from followers. */
  assignments: Array<{ memberId: string; assignment: Buffer }>
}

interface Waiter<T> {
  resolve: (v: T) => void
  reject: (e: unknown) => void
}

interface Member {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: Array<{ name: string; metadata: Buffer }>
  assignment: Buffer
  join: Waiter<JoinGroupResult> | null
  sync: Waiter<Buffer> | null
  session: NodeJS.Timeout | null
  onRebalance: (() => void) | undefined
}

interface Group {
  id: string
  state: GroupState
  generation: number
  protocolType: string | null
  protocolName: string | null
  leader: string | null
  members: Map<string, Member>
  rebalanceTimer: NodeJS.Timeout | null
}

export interface GroupDescription {
  groupId: string
  state: GroupState
  generation: number
  protocolType: string | null
  protocol: string | null
  leader: string | null
  members: Array<{
    memberId: string
    clientId: string
    clientHost: string
    groupInstanceId: string | null
    /** The member's subscription metadata for the group's protocol (empty while none is chosen). */
    metadata: Buffer
    assignment: Buffer
  }>
}

export const MEMBERS_PER_GROUP_MAX = 10_000

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>()
  private closed = false

  constructor(
    readonly offsets: OffsetStore,
    private readonly initialRebalanceDelayMs = 0,
  ) {}

  private group(id: string, create: boolean): Group | undefined {
    let g = this.groups.get(id)
    if (!g && create) {
      g = { id, state: 'Empty', generation: 0, protocolType: null, protocolName: null, leader: null, members: new Map(), rebalanceTimer: null }
      this.groups.set(id, g)
    }
    return g
  }

  joinGroup(req: JoinGroupRequest): Promise<JoinGroupResult> {
    if (typeof req.groupId !== 'string' || req.groupId.length === 0) throw new InvalidConfigError('groupId must be a non-empty string')
    if (req.protocols.length === 0) throw new InvalidConfigError('a member must offer at least one protocol')
    const g = this.group(req.groupId, true)!
    if (g.members.size > 0 && g.protocolType !== null && g.protocolType !== req.protocolType) {
      throw new InvalidConfigError(`group ${g.id} uses protocol type ${g.protocolType}, not ${req.protocolType}`)
    }
    if (g.members.size > 0 && this.commonProtocols(g, req.protocols.map((p) => p.name)).length === 0) {
      throw new InvalidConfigError(`group ${g.id}: none of ${req.protocols.map((p) => p.name).join(', ')} is supported by every member`)
    }
    let m: Member | undefined
    if (req.memberId) {
      m = g.members.get(req.memberId)
      if (!m) throw new UnknownMemberError(`member ${req.memberId} is not in group ${g.id}`)
    } else {
      if (g.members.size >= MEMBERS_PER_GROUP_MAX) throw new InvalidConfigError(`group ${g.id} has ${MEMBERS_PER_GROUP_MAX} members already`)
      const memberId = `${req.clientId || 'kafkalite'}-${randomUUID()}`
      m = {
        memberId, groupInstanceId: req.groupInstanceId ?? null, clientId: req.clientId, clientHost: req.clientHost ?? '', sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs, protocolType: req.protocolType, protocols: req.protocols,
        assignment: Buffer.alloc(0), join: null, sync: null, session: null, onRebalance: req.onRebalance,
      }
      g.members.set(memberId, m)
      if (g.protocolType === null) g.protocolType = req.protocolType
    }
    m.protocols = req.protocols
    m.sessionTimeoutMs = req.sessionTimeoutMs
    m.rebalanceTimeoutMs = req.rebalanceTimeoutMs
    if (req.onRebalance) m.onRebalance = req.onRebalance
    m.join?.reject(new RebalanceInProgressError('superseded by a newer join'))
    const member = m
    const p = new Promise<JoinGroupResult>((resolve, reject) => (member.join = { resolve, reject }))
    this.stopSession(m)
    if (g.state !== 'PreparingRebalance') this.prepareRebalance(g, `member ${m.memberId} joined`)
    this.maybeCompleteJoin(g)
    return p
  }

  private commonProtocols(g: Group, extra?: string[]): string[] {
    let common: string[] | null = extra ?? null
    for (const m of g.members.values()) {
      const names = m.protocols.map((p) => p.name)
      common = common === null ? names : common.filter((n) => names.includes(n))
    }
    return common ?? []
  }

  private prepareRebalance(g: Group, reason: string): void {
    debug('group %s: rebalance (%s)', g.id, reason)
    if (g.state === 'CompletingRebalance') {
      for (const m of g.members.values()) {
        m.sync?.reject(new RebalanceInProgressError(`group ${g.id} is rebalancing`))
        m.sync = null
      }
    }
    g.state = 'PreparingRebalance'
    let timeout = 0
    for (const m of g.members.values()) timeout = Math.max(timeout, m.rebalanceTimeoutMs)
    if (g.rebalanceTimer) clearTimeout(g.rebalanceTimer)
    g.rebalanceTimer = setTimeout(() => this.completeJoin(g), timeout + this.initialRebalanceDelayMs)
    g.rebalanceTimer.unref()
    for (const m of g.members.values()) if (!m.join) m.onRebalance?.()
  }

  private maybeCompleteJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance' || this.initialRebalanceDelayMs > 0 && g.generation === 0) return
    for (const m of g.members.values()) if (!m.join) return
    this.completeJoin(g)
  }

  /** Ends the join phase: members that did not rejoin are removed, a new generation starts. */
  private completeJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance') return
    if (g.rebalanceTimer) clearTimeout(g.rebalanceTimer)
    g.rebalanceTimer = null
    for (const m of [...g.members.values()]) if (!m.join) this.dropMember(g, m, 'did not rejoin in time')
    g.generation++
    if (g.members.size === 0) {
      g.state = 'Empty'
      g.protocolName = null
      g.protocolType = null
      g.leader = null
      return
    }
    g.protocolName = this.chooseProtocol(g)
    if (!g.leader || !g.members.has(g.leader)) g.leader = g.members.keys().next().value!
    g.state = 'CompletingRebalance'
    const all = [...g.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.protocols.find((p) => p.name === g.protocolName)!.metadata,
    }))
    debug('group %s: generation %d, protocol %s, leader %s, %d members', g.id, g.generation, g.protocolName, g.leader, all.length)
    for (const m of g.members.values()) {
      const join = m.join!
      m.join = null
      this.startSession(g, m)
      join.resolve({
        generationId: g.generation,
        protocolName: g.protocolName,
        leader: g.leader,
        memberId: m.memberId,
        members: m.memberId === g.leader ? all : [],
      })
    }
  }

  /** Kafka's vote: each member votes for its most preferred protocol among those all support. */
  private chooseProtocol(g: Group): string {
    const candidates = this.commonProtocols(g)
    const votes = new Map<string, number>()
    for (const m of g.members.values()) {
      const pick = m.protocols.find((p) => candidates.includes(p.name))!.name
      votes.set(pick, (votes.get(pick) ?? 0) + 1)
    }
    return [...votes].sort((a, b) => b[1] - a[1])[0]![0]
  }

  syncGroup(req: SyncGroupRequest): Promise<Buffer> {
    const g = this.group(req.groupId, false)
    const m = g?.members.get(req.memberId)
    if (!g || !m) return Promise.reject(new UnknownMemberError(`member ${req.memberId} is not in group ${req.groupId}`))
    if (req.generationId !== g.generation) {
      return Promise.reject(new IllegalGenerationError(`generation ${req.generationId} of group ${g.id} is stale (now ${g.generation})`))
    }
    this.touch(g, m)
    if (g.state === 'PreparingRebalance') return Promise.reject(new RebalanceInProgressError(`group ${g.id} is rebalancing`))
    if (g.state === 'Stable') return Promise.resolve(m.assignment)
    const p = new Promise<Buffer>((resolve, reject) => (m.sync = { resolve, reject }))
    if (m.memberId === g.leader) {
      const given = new Map(req.assignments.map((a) => [a.memberId, a.assignment]))
      for (const member of g.members.values()) member.assignment = given.get(member.memberId) ?? Buffer.alloc(0)
      g.state = 'Stable'
      for (const member of g.members.values()) {
        member.sync?.resolve(member.assignment)
        member.sync = null
      }
    }
    return p
  }

  /** Keeps a member alive; tells it when it must rejoin. */
  heartbeat(req: { groupId: string; generationId: number; memberId: string }): void {
    const g = this.group(req.groupId, false)
    const m = g?.members.get(req.memberId)
    if (!g || !m) throw new UnknownMemberError(`member ${req.memberId} is not in group ${req.groupId}`)
    if (req.generationId !== g.generation) throw new IllegalGenerationError(`generation ${req.generationId} of group ${g.id} is stale (now ${g.generation})`)
    this.touch(g, m)
    if (g.state === 'PreparingRebalance') throw new RebalanceInProgressError(`group ${g.id} is rebalancing`)
  }

  leaveGroup(req: { groupId: string; memberId: string }): void {
    const g = this.group(req.groupId, false)
    const m = g?.members.get(req.memberId)
    if (!g || !m) return
    this.removeMember(g, m, 'left the group')
  }

  private removeMember(g: Group, m: Member, why: string): void {
    this.dropMember(g, m, why)
    if (g.state === 'Dead') return
    if (g.members.size === 0 && g.state !== 'PreparingRebalance') {
      g.generation++
      g.state = 'Empty'
      g.leader = null
      g.protocolName = null
      g.protocolType = null
      return
    }
    if (g.state !== 'PreparingRebalance') this.prepareRebalance(g, `member ${m.memberId} ${why}`)
    this.maybeCompleteJoin(g)
  }

  private dropMember(g: Group, m: Member, why: string): void {
    debug('group %s: member %s %s', g.id, m.memberId, why)
    this.stopSession(m)
    g.members.delete(m.memberId)
    m.join?.reject(new UnknownMemberError(`member ${m.memberId} ${why}`))
    m.sync?.reject(new UnknownMemberError(`member ${m.memberId} ${why}`))
    m.join = null
    m.sync = null
    if (g.leader === m.memberId) g.leader = null
  }

  private touch(g: Group, m: Member): void {
    if (m.join) return
    this.startSession(g, m)
  }

  private startSession(g: Group, m: Member): void {
    if (this.closed) return
    if (m.session) {
      m.session.refresh()
      return
    }
    m.session = setTimeout(() => {
      m.session = null
      if (g.members.get(m.memberId) === m) this.removeMember(g, m, `missed its session timeout of ${m.sessionTimeoutMs} ms`)
    }, m.sessionTimeoutMs)
    m.session.unref()
  }

  private stopSession(m: Member): void {
    if (m.session) clearTimeout(m.session)
    m.session = null
  }

  /**
   * Commits offsets for a member of the current generation (refused for stale generations or
   * unknown members), or for a group without members (generationId -1, as Kafka's simple commits).
   */
  async commitOffsets(req: { groupId: string; generationId: number; memberId: string; offsets: OffsetCommit[] }): Promise<void> {
    this.checkCommitter(req)
    await this.offsets.commit(req.groupId, req.offsets)
  }

  /** Throws the error Kafka would give a commit from this member and generation. */
  checkCommitter(req: { groupId: string; generationId: number; memberId: string }): void {
    const g = this.group(req.groupId, false)
    if (req.generationId < 0 && !req.memberId) {
      if (g && g.members.size > 0) throw new IllegalGenerationError(`group ${req.groupId} has members: commits need their generation`)
      return
    }
    const m = g?.members.get(req.memberId)
    if (!g || !m) throw new UnknownMemberError(`member ${req.memberId} is not in group ${req.groupId}`)
    if (req.generationId !== g.generation) {
      throw new IllegalGenerationError(`generation ${req.generationId} of group ${g.id} is stale (now ${g.generation})`)
    }
    if (g.state === 'CompletingRebalance') throw new RebalanceInProgressError(`group ${g.id} is rebalancing`)
    this.touch(g, m)
  }

  /**
   * True while `memberId` belongs to the group's generation `generationId` (checked before each
   * delivery). Until a rebalance completes, the old generation's members keep their partitions.
   */
  isCurrentMember(groupId: string, memberId: string, generationId: number): boolean {
    const g = this.groups.get(groupId)
    return !!g && g.generation === generationId && g.members.has(memberId)
  }

  /** Whether `memberId` is in the group now, whatever its generation. */
  isMember(groupId: string, memberId: string): boolean {
    return this.groups.get(groupId)?.members.has(memberId) ?? false
  }

  describe(groupId: string): GroupDescription {
    const g = this.group(groupId, false)
    if (!g && this.offsets.all(groupId).length === 0) throw new GroupNotFoundError(`unknown group ${groupId}`)
    return {
      groupId,
      state: g?.state ?? 'Empty',
      generation: g?.generation ?? 0,
      protocolType: g?.protocolType ?? null,
      protocol: g?.protocolName ?? null,
      leader: g?.leader ?? null,
      members: g
        ? [...g.members.values()].map((m) => ({
            memberId: m.memberId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            groupInstanceId: m.groupInstanceId,
            metadata: m.protocols.find((p) => p.name === g.protocolName)?.metadata ?? Buffer.alloc(0),
            assignment: m.assignment,
          }))
        : [],
    }
  }

  /** Every group with members or committed offsets. */
  list(): Array<{ groupId: string; state: GroupState }> {
    const ids = new Set([...this.offsets.groupIds(), ...[...this.groups.values()].filter((g) => g.members.size > 0).map((g) => g.id)])
    return [...ids].sort().map((groupId) => ({ groupId, state: this.groups.get(groupId)?.state ?? 'Empty' }))
  }

  /** Refuses while the group has members (NonEmptyGroupError). */
  assertEmpty(groupId: string): void {
    const g = this.group(groupId, false)
    if (!g && this.offsets.all(groupId).length === 0) throw new GroupNotFoundError(`unknown group ${groupId}`)
    if (g && g.members.size > 0) throw new NonEmptyGroupError(`group ${groupId} has ${g.members.size} active members`)
  }

  /** Refuses while the group has members; a group not seen yet is fine. */
  assertEmptyOrNew(groupId: string): void {
    const g = this.group(groupId, false)
    if (g && g.members.size > 0) throw new NonEmptyGroupError(`group ${groupId} has ${g.members.size} active members`)
  }

  async deleteGroup(groupId: string): Promise<void> {
    this.assertEmpty(groupId)
    const g = this.groups.get(groupId)
    if (g) g.state = 'Dead'
    this.groups.delete(groupId)
    await this.offsets.delete(groupId)
  }

  close(): void {
    this.closed = true
    for (const g of this.groups.values()) {
      if (g.rebalanceTimer) clearTimeout(g.rebalanceTimer)
      g.rebalanceTimer = null
      for (const m of g.members.values()) this.stopSession(m)
    }
  }
}
