import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  cooperativeStickyAssignor,
  rangeAssignor,
  roundRobinAssignor,
  type AssignorMember,
  type SyncPartitionAssignor,
} from '../../../../src/client/group/assignors.js'
import type { TopicPartitions } from '../../../../src/client/group/consumer-protocol.js'

function member(memberId: string, topics: string[], owned: TopicPartitions[] = [], generationId = -1): AssignorMember {
  return { memberId, subscription: { topics, userData: null, ownedPartitions: owned, generationId, rackId: null } }
}

function flatten(result: Map<string, TopicPartitions[]>): Map<string, string> {
  const owner = new Map<string, string>()
  for (const [m, list] of result) {
    for (const { topic, partitions } of list) {
      for (const p of partitions) {
        const k = `${topic}-${p}`
        assert.ok(!owner.has(k), `${k} assigned to ${owner.get(k)} and ${m}`)
        owner.set(k, m)
      }
    }
  }
  return owner
}

const scenario = fc.record({
  topics: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 4 }),
  counts: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 4, maxLength: 4 }),
  members: fc.integer({ min: 1, max: 12 }),
})

for (const assignor of [rangeAssignor, roundRobinAssignor, cooperativeStickyAssignor] as SyncPartitionAssignor[]) {
  test(`${assignor.name}: every partition to exactly one subscribed member`, () => {
    fc.assert(
      fc.property(scenario, fc.array(fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1 }), { minLength: 1, maxLength: 8 }), (s, subs) => {
        const partitionsPerTopic = new Map(s.topics.map((t, i) => [t, s.counts[i]!]))
        const members = subs.map((topics, i) => member(`m${i}`, topics))
        const owner = flatten(assignor.assign({ members, partitionsPerTopic }))
        for (const [t, n] of partitionsPerTopic) {
          const subscribed = members.filter((m) => m.subscription.topics.includes(t))
          for (let p = 0; p < n; p++) {
            const o = owner.get(`${t}-${p}`)
            if (subscribed.length === 0) assert.equal(o, undefined)
            else assert.ok(o && subscribed.some((m) => m.memberId === o), `${t}-${p} owned by ${o}`)
          }
        }
      }),
    )
  })

  test(`${assignor.name}: balanced within 1 when all members subscribe to the same topics`, () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const partitionsPerTopic = new Map(s.topics.map((t, i) => [t, s.counts[i]!]))
        const members = Array.from({ length: s.members }, (_, i) => member(`m${String(i).padStart(2, '0')}`, s.topics))
        const result = assignor.assign({ members, partitionsPerTopic })
        const sizes = [...result.values()].map((l) => l.reduce((n, tp) => n + tp.partitions.length, 0))
        if (assignor === rangeAssignor) {
          // Range balances per topic, so the total may differ by up to one per topic.
          for (const t of s.topics) {
            const per = [...result.values()].map((l) => l.find((tp) => tp.topic === t)?.partitions.length ?? 0)
            assert.ok(Math.max(...per) - Math.min(...per) <= 1)
          }
        } else assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes}`)
      }),
    )
  })
}

test('range matches Java: 3 members, 7 partitions → 3/2/2 in member order', () => {
  const r = rangeAssignor.assign({ members: [member('c', ['t']), member('a', ['t']), member('b', ['t'])], partitionsPerTopic: new Map([['t', 7]]) })
  assert.deepEqual(r.get('a'), [{ topic: 't', partitions: [0, 1, 2] }])
  assert.deepEqual(r.get('b'), [{ topic: 't', partitions: [3, 4] }])
  assert.deepEqual(r.get('c'), [{ topic: 't', partitions: [5, 6] }])
})

test('roundrobin deals partitions in order', () => {
  const r = roundRobinAssignor.assign({ members: [member('b', ['t']), member('a', ['t'])], partitionsPerTopic: new Map([['t', 5]]) })
  assert.deepEqual(r.get('a'), [{ topic: 't', partitions: [0, 2, 4] }])
  assert.deepEqual(r.get('b'), [{ topic: 't', partitions: [1, 3] }])
})

/** Runs cooperative rounds until no partition is withheld, as members rejoining would. */
function settle(topics: string[], partitionsPerTopic: Map<string, number>, owned: Map<string, TopicPartitions[]>, gen: number) {
  let current = owned
  let moved = 0
  for (let round = 0; round < 3; round++) {
    const members = [...current.keys()].map((id) => member(id, topics, current.get(id)!, gen + round))
    const next = cooperativeStickyAssignor.assign({ members, partitionsPerTopic })
    const before = flatten(current)
    for (const [k, o] of flatten(next)) if (before.has(k) && before.get(k) !== o) moved++
    const total = [...partitionsPerTopic.values()].reduce((a, b) => a + b, 0)
    current = next
    if (flatten(next).size === total) break
  }
  return { assignment: current, moved }
}

test('cooperative-sticky: a joining member takes only the partitions balance needs; nothing else moves', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 8 }), (n, k) => {
      const ppt = new Map([['t', n]])
      const initial = new Map(Array.from({ length: k }, (_, i) => [`m${i}`, [] as TopicPartitions[]]))
      const first = settle(['t'], ppt, initial, 1).assignment
      const before = flatten(first)
      const withNew = new Map(first)
      withNew.set('new', [])
      // Round 1 only revokes (withholds) what moves; no partition changes owner directly.
      const round1 = cooperativeStickyAssignor.assign({
        members: [...withNew.keys()].map((id) => member(id, ['t'], withNew.get(id)!, 2)),
        partitionsPerTopic: ppt,
      })
      const r1 = flatten(round1)
      for (const [tp, o] of r1) assert.equal(o, before.get(tp), `${tp} moved without being revoked first`)
      const after = settle(['t'], ppt, round1, 3).assignment
      const owner = flatten(after)
      assert.equal(owner.size, n)
      let changed = 0
      for (const [tp, o] of owner) if (before.get(tp) !== o) changed++
      // The minimum: the newcomer's fair share, floor(n / (k + 1)).
      assert.equal(changed, Math.floor(n / (k + 1)))
    }),
  )
})

test('cooperative-sticky: when a member leaves, only its partitions move', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 2, max: 8 }), (n, k) => {
      const ppt = new Map([['t', n]])
      const first = settle(['t'], ppt, new Map(Array.from({ length: k }, (_, i) => [`m${i}`, [] as TopicPartitions[]])), 1).assignment
      const before = flatten(first)
      const remaining = new Map(first)
      remaining.delete('m0')
      const after = flatten(settle(['t'], ppt, remaining, 2).assignment)
      assert.equal(after.size, n)
      for (const [tp, o] of after) if (before.get(tp) !== 'm0') assert.equal(o, before.get(tp))
    }),
  )
})
