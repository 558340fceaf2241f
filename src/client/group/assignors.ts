// Partition assignors, run by the group's leader member: range (Java's default), roundrobin and
// cooperative-sticky. Each maps every subscribed partition to exactly one member.
import type { Subscription, TopicPartitions } from './consumer-protocol.js'

export interface AssignorMember {
  memberId: string
  subscription: Subscription
}

export interface AssignArgs {
  members: AssignorMember[]
  /** Partition count of every topic some member subscribes to (missing topics are skipped). */
  partitionsPerTopic: Map<string, number>
}

export type RebalanceProtocol = 'eager' | 'cooperative'

export interface PartitionAssignor {
  /** The protocol name offered in JoinGroup ('range', 'roundrobin', 'cooperative-sticky', ...). */
  name: string
  /** eager: every member revokes everything before a rebalance; cooperative: only moved partitions. */
  rebalanceProtocol: RebalanceProtocol
  /** Each member's partitions; may resolve later (the group leader awaits it before it syncs). */
  assign(args: AssignArgs): Map<string, TopicPartitions[]> | Promise<Map<string, TopicPartitions[]>>
}

/** kafkalite's own assignors, which answer at once. */
export interface SyncPartitionAssignor extends PartitionAssignor {
  assign(args: AssignArgs): Map<string, TopicPartitions[]>
}

type Owner = Map<string, string[]>

function byMemberId(a: AssignorMember, b: AssignorMember): number {
  return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0
}

function toAssignment(members: AssignorMember[], pairs: Map<string, Array<[string, number]>>): Map<string, TopicPartitions[]> {
  const out = new Map<string, TopicPartitions[]>()
  for (const m of members) {
    const byTopic = new Map<string, number[]>()
    for (const [t, p] of pairs.get(m.memberId) ?? []) {
      if (!byTopic.has(t)) byTopic.set(t, [])
      byTopic.get(t)!.push(p)
    }
    out.set(
      m.memberId,
      [...byTopic].sort(([a], [b]) => (a < b ? -1 : 1)).map(([topic, ps]) => ({ topic, partitions: ps.sort((x, y) => x - y) })),
    )
  }
  return out
}

/** Java's RangeAssignor: per topic, consecutive ranges to the subscribed members sorted by id. */
export const rangeAssignor: SyncPartitionAssignor = {
  name: 'range',
  rebalanceProtocol: 'eager',
  assign({ members, partitionsPerTopic }) {
    const pairs = new Map<string, Array<[string, number]>>(members.map((m) => [m.memberId, []]))
    const topics = new Set(members.flatMap((m) => m.subscription.topics))
    for (const topic of [...topics].sort()) {
      const n = partitionsPerTopic.get(topic)
      if (n === undefined) continue
      const subs = members.filter((m) => m.subscription.topics.includes(topic)).sort(byMemberId)
      const per = Math.floor(n / subs.length)
      const extra = n % subs.length
      subs.forEach((m, i) => {
        const start = per * i + Math.min(i, extra)
        const len = per + (i < extra ? 1 : 0)
        for (let p = start; p < start + len; p++) pairs.get(m.memberId)!.push([topic, p])
      })
    }
    return toAssignment(members, pairs)
  },
}

/** Java's RoundRobinAssignor: all partitions in (topic, partition) order dealt to members in id order. */
export const roundRobinAssignor: SyncPartitionAssignor = {
  name: 'roundrobin',
  rebalanceProtocol: 'eager',
  assign({ members, partitionsPerTopic }) {
    const sorted = [...members].sort(byMemberId)
    const pairs = new Map<string, Array<[string, number]>>(members.map((m) => [m.memberId, []]))
    const topics = [...new Set(members.flatMap((m) => m.subscription.topics))].filter((t) => partitionsPerTopic.has(t)).sort()
    let next = 0
    for (const topic of topics) {
      for (let p = 0; p < partitionsPerTopic.get(topic)!; p++) {
        for (let tries = 0; tries < sorted.length; tries++) {
          const m = sorted[next++ % sorted.length]!
          if (m.subscription.topics.includes(topic)) {
            pairs.get(m.memberId)!.push([topic, p])
            break
          }
        }
      }
    }
    return toAssignment(members, pairs)
  },
}

/**
 * Cooperative sticky: keeps every partition with its current owner where that stays balanced, moves
 * only what balance needs, and withholds a moved partition from its new owner for one round so the
 * old owner revokes it first (the follow-up rebalance hands it over).
 */
export const cooperativeStickyAssignor: SyncPartitionAssignor = {
  name: 'cooperative-sticky',
  rebalanceProtocol: 'cooperative',
  assign({ members, partitionsPerTopic }) {
    const sorted = [...members].sort(byMemberId)
    const subscribed = new Map(sorted.map((m) => [m.memberId, new Set(m.subscription.topics)]))
    const all: Array<[string, number]> = []
    const topics = [...new Set(sorted.flatMap((m) => m.subscription.topics))].filter((t) => partitionsPerTopic.has(t)).sort()
    for (const t of topics) for (let p = 0; p < partitionsPerTopic.get(t)!; p++) all.push([t, p])

    // Previous owners: the claim with the highest generation wins; invalid claims are dropped.
    const prevOwner = new Map<string, { member: string; generation: number }>()
    for (const m of sorted) {
      for (const { topic, partitions } of m.subscription.ownedPartitions) {
        const n = partitionsPerTopic.get(topic)
        if (n === undefined || !subscribed.get(m.memberId)!.has(topic)) continue
        for (const p of partitions) {
          if (p < 0 || p >= n) continue
          const k = `${topic}\u0000${p}`
          const prev = prevOwner.get(k)
          if (!prev || m.subscription.generationId > prev.generation) prevOwner.set(k, { member: m.memberId, generation: m.subscription.generationId })
        }
      }
    }

    const owned: Owner = new Map(sorted.map((m) => [m.memberId, [] as string[]]))
    const ownerOf = new Map<string, string>()
    const give = (k: string, member: string): void => {
      owned.get(member)!.push(k)
      ownerOf.set(k, member)
    }
    for (const [t, p] of all) {
      const k = `${t}\u0000${p}`
      const prev = prevOwner.get(k)
      if (prev) give(k, prev.member)
    }
    const count = (m: string): number => owned.get(m)!.length
    const eligible = (k: string): string[] => sorted.filter((m) => subscribed.get(m.memberId)!.has(k.split('\u0000')[0]!)).map((m) => m.memberId)
    // Unowned partitions go to the least loaded eligible member.
    for (const [t, p] of all) {
      const k = `${t}\u0000${p}`
      if (ownerOf.has(k)) continue
      const cands = eligible(k)
      if (cands.length === 0) continue
      give(k, cands.reduce((a, b) => (count(b) < count(a) ? b : a)))
    }
    // Then move single partitions from the most to the least loaded member until balanced within 1.
    for (let guard = all.length * sorted.length + 1; guard > 0; guard--) {
      let moved = false
      const byLoad = sorted.map((m) => m.memberId).sort((a, b) => count(b) - count(a) || (a < b ? -1 : 1))
      outer: for (const from of byLoad) {
        for (const to of [...byLoad].reverse()) {
          if (count(from) - count(to) <= 1) break
          const list = owned.get(from)!
          for (let i = list.length - 1; i >= 0; i--) {
            const k = list[i]!
            if (!subscribed.get(to)!.has(k.split('\u0000')[0]!)) continue
            list.splice(i, 1)
            give(k, to)
            moved = true
            break outer
          }
        }
      }
      if (!moved) break
    }
    // A partition changing hands is withheld from its new owner this round: the old owner revokes it.
    const pairs = new Map<string, Array<[string, number]>>()
    for (const m of sorted) {
      const list: Array<[string, number]> = []
      for (const k of owned.get(m.memberId)!) {
        const prev = prevOwner.get(k)
        if (prev && prev.member !== m.memberId) continue
        const [t, p] = k.split('\u0000')
        list.push([t!, Number(p)])
      }
      pairs.set(m.memberId, list)
    }
    return toAssignment(sorted, pairs)
  },
}

export const BUILTIN_ASSIGNORS: Record<string, PartitionAssignor> = {
  range: rangeAssignor,
  roundrobin: roundRobinAssignor,
  'cooperative-sticky': cooperativeStickyAssignor,
}
