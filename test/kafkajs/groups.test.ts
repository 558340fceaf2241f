// Consumer groups through the facade: members split the partitions (KafkaJS's round robin), a member
// that disconnects hands its partitions over quickly (it leaves the group; no session timeout), the
// REBALANCING and GROUP_JOIN events, independent groups, and a custom PartitionAssigner.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import {
  AssignerProtocol,
  type ConsumerGroupJoinEvent,
  type PartitionAssigner,
} from '../fixtures/kafkajs-target.js'
import { deferred, withDeadline } from '../fixtures/helpers.js'
import { collectingConsumer, connectedAdmin, connectedProducer, newKafka, waitForAsync, type Collector, closeTargets, test } from '../fixtures/kafkajs.js'

after(() => closeTargets())

const assigned = (c: { joins: ConsumerGroupJoinEvent[] }): Record<string, number[]> => {
  const last = c.joins.at(-1)
  return last ? last.payload.memberAssignment : {}
}

test('two members split the partitions; when one disconnects the other gets them all within a couple of seconds', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'split', numPartitions: 4 }] })
  const producer = await connectedProducer(t, kafka)

  const joinsA: ConsumerGroupJoinEvent[] = []
  const joinsB: ConsumerGroupJoinEvent[] = []
  const rebalancingA: unknown[] = []
  // Register the listeners before run() so no GROUP_JOIN is missed.
  const a = await startMember(t, kafka, 'split-g', joinsA, rebalancingA)
  assert.deepEqual(assigned({ joins: joinsA }), { split: [0, 1, 2, 3] }, 'alone, A has every partition')
  const b = await startMember(t, kafka, 'split-g', joinsB, [])
  await waitForAsync(
    () => joinsA.length >= 2 && (assigned({ joins: joinsA }).split ?? []).length === 2,
    5000,
    'A rejoined with half of the partitions',
  )
  const partsA = assigned({ joins: joinsA }).split ?? []
  const partsB = assigned({ joins: joinsB }).split ?? []
  assert.deepEqual([...partsA, ...partsB].sort(), [0, 1, 2, 3], 'together they cover every partition once')
  assert.equal(partsB.length, 2, 'B has two partitions')
  assert.ok(rebalancingA.length >= 1, 'A emitted REBALANCING when B joined')

  await producer.send({ topic: 'split', messages: [0, 1, 2, 3].map((p) => ({ value: `first-${p}`, partition: p })) })
  await waitForAsync(() => a.received.length + b.received.length >= 4, 5000, 'four messages across the members')
  assert.deepEqual(a.received.map((r) => r.partition).sort(), [...partsA].sort(), 'A got the messages of its partitions')
  assert.deepEqual(b.received.map((r) => r.partition).sort(), [...partsB].sort(), 'B got the messages of its partitions')

  const started = Date.now()
  await withDeadline(b.consumer.disconnect(), 5000, 'B disconnects')
  await waitForAsync(() => (assigned({ joins: joinsA }).split ?? []).length === 4, 3000, 'A owns all four partitions again')
  assert.ok(Date.now() - started < 3000, 'handover without waiting for a session timeout')
  await producer.send({ topic: 'split', messages: [0, 1, 2, 3].map((p) => ({ value: `second-${p}`, partition: p })) })
  await waitForAsync(() => a.received.filter((r) => r.value!.startsWith('second')).length === 4, 5000, 'A gets every new message')
  assert.equal(b.received.length, 2, 'B got nothing after it left')
  const everything = [...a.received, ...b.received].map((r) => r.value).sort()
  assert.deepEqual(everything, [...new Set(everything)], 'no message delivered twice')
})

async function startMember(
  t: Parameters<typeof collectingConsumer>[0],
  kafka: ReturnType<typeof newKafka>,
  groupId: string,
  joins: ConsumerGroupJoinEvent[],
  rebalancing: unknown[],
): Promise<Collector> {
  const received: Collector['received'] = []
  const consumer = kafka.consumer({ groupId, heartbeatInterval: 100, sessionTimeout: 6000 })
  t.after(() => withDeadline(consumer.disconnect(), 5000, 'member disconnect'))
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joins.push(e)
  })
  consumer.on(consumer.events.REBALANCING, (e) => {
    rebalancing.push(e.payload)
  })
  await consumer.connect()
  await consumer.subscribe({ topics: ['split'], fromBeginning: true })
  await withDeadline(
    consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        received.push({ topic, partition, offset: message.offset, key: null, value: String(message.value), payload: undefined as never })
      },
    }),
    5000,
    'run()',
  )
  return { consumer, received, waitForCount: (n, ms = 5000) => waitForAsync(() => received.length >= n, ms, `${n} messages`) }
}

test('GROUP_JOIN payload: groupId, memberId, leaderId, isLeader, memberAssignment, groupProtocol, duration', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'gj-a', numPartitions: 2 }, { topic: 'gj-b' }] })
  const joined = deferred<ConsumerGroupJoinEvent>()
  const consumer = kafka.consumer({ groupId: 'gj-g' })
  t.after(() => withDeadline(consumer.disconnect(), 5000, 'disconnect'))
  const remove = consumer.on(consumer.events.GROUP_JOIN, (e) => joined.resolve(e))
  assert.equal(typeof remove, 'function', 'on() returns a remover')
  await consumer.connect()
  await consumer.subscribe({ topics: ['gj-a', 'gj-b'] })
  await consumer.run({ eachMessage: async () => {} })
  const event = await withDeadline(joined.promise, 5000, 'GROUP_JOIN')
  assert.equal(event.type, 'consumer.group_join', 'event type')
  assert.ok(event.id !== undefined && event.id !== null, 'event id (a number in KafkaJS, typed as string)')
  assert.equal(typeof event.timestamp, 'number', 'event timestamp')
  const { payload } = event
  assert.equal(payload.groupId, 'gj-g', 'groupId')
  assert.equal(typeof payload.memberId, 'string', 'memberId')
  assert.equal(payload.leaderId, payload.memberId, 'the only member leads')
  assert.equal(payload.isLeader, true, 'isLeader')
  assert.deepEqual(payload.memberAssignment, { 'gj-a': [0, 1], 'gj-b': [0] }, 'memberAssignment { topic: partitions }')
  assert.equal(payload.groupProtocol, 'RoundRobinAssigner', 'KafkaJS\'s default assigner name')
  assert.equal(typeof payload.duration, 'number', 'duration')
})

test('two groups each read every message', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'fanout', messages: [{ value: 'a' }, { value: 'b' }] })
  const one = await collectingConsumer(t, kafka, { groupId: 'fan-1', topics: ['fanout'] })
  const two = await collectingConsumer(t, kafka, { groupId: 'fan-2', topics: ['fanout'] })
  await one.waitForCount(2)
  await two.waitForCount(2)
  assert.deepEqual(one.received.map((r) => r.value), ['a', 'b'], 'group 1')
  assert.deepEqual(two.received.map((r) => r.value), ['a', 'b'], 'group 2')
})

test('a custom PartitionAssigner (KafkaJS API): the leader assigns everything to itself', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'custom-assign', numPartitions: 3 }] })
  const AllToLeader: PartitionAssigner = ({ cluster }) => ({
    name: 'AllToLeader',
    version: 1,
    async assign({ members, topics }) {
      const leader = members.map((m) => m.memberId).sort()[0]
      const assignment: Record<string, number[]> = {}
      for (const topic of topics) assignment[topic] = cluster.findTopicPartitionMetadata(topic).map((m: { partitionId: number }) => m.partitionId)
      return members.map(({ memberId }) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: memberId === leader ? assignment : {},
          userData: Buffer.alloc(0),
        }),
      }))
    },
    protocol({ topics }) {
      return { name: 'AllToLeader', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) }
    },
  })
  const joins: ConsumerGroupJoinEvent[][] = [[], []]
  const consumers = [0, 1].map((i) => {
    const c = kafka.consumer({ groupId: 'custom-g', partitionAssigners: [AllToLeader] })
    t.after(() => withDeadline(c.disconnect(), 5000, 'disconnect'))
    c.on(c.events.GROUP_JOIN, (e) => {
      joins[i]!.push(e)
    })
    return c
  })
  for (const c of consumers) {
    await c.connect()
    await c.subscribe({ topics: ['custom-assign'] })
    await c.run({ eachMessage: async () => {} })
  }
  await waitForAsync(
    // the first member joined alone, so it has to rejoin once the second one arrives
    () => joins[0]!.length >= 2 && joins[1]!.length >= 1,
    5000,
    'both members joined the same generation',
  )
  const last = joins.map((j) => j.at(-1)!.payload)
  assert.ok(last.every((p) => p.groupProtocol === 'AllToLeader'), 'the custom protocol was chosen')
  const owners = last.filter((p) => (p.memberAssignment['custom-assign'] ?? []).length > 0)
  assert.equal(owners.length, 1, 'one member owns everything')
  assert.deepEqual(owners[0]!.memberAssignment['custom-assign'], [0, 1, 2], 'all three partitions')
  assert.equal(owners[0]!.memberId, [last[0]!.memberId, last[1]!.memberId].sort()[0], 'the owner is the first member id, as the assigner decided')
})
