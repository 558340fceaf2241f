import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Broker } from '../../../../src/index.js'
import { GroupCoordinator } from '../../../../src/client/group/coordinator.js'
import { OffsetStore } from '../../../../src/client/group/offset-store.js'
import { MemoryFileIO } from '../../../../src/util/file-io.js'

async function setup(fileIO = new MemoryFileIO()) {
  const broker = await Broker.open({ fileIO, dir: '/data' })
  const store = new OffsetStore(broker, Date.now)
  await store.load()
  return { broker, store, coordinator: new GroupCoordinator(store), fileIO }
}

const proto = (name = 'range') => [{ name, metadata: Buffer.from(name) }]
const req = (memberId = '', protocols = proto(), sessionTimeoutMs = 10_000) => ({
  groupId: 'g',
  memberId,
  clientId: 'c',
  sessionTimeoutMs,
  rebalanceTimeoutMs: 5_000,
  protocolType: 'consumer',
  protocols,
})

test('first member: join → leader, sync → Stable; generations count up', async (t) => {
  const { broker, coordinator } = await setup()
  t.after(() => (coordinator.close(), broker.close()))
  const j = await coordinator.joinGroup(req())
  assert.equal(j.generationId, 1)
  assert.equal(j.leader, j.memberId)
  assert.equal(j.protocolName, 'range')
  assert.equal(j.members.length, 1)
  assert.equal(coordinator.describe('g').state, 'CompletingRebalance')
  const a = await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: j.memberId, assignments: [{ memberId: j.memberId, assignment: Buffer.from('x') }] })
  assert.equal(a.toString(), 'x')
  assert.equal(coordinator.describe('g').state, 'Stable')
  coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: j.memberId })
})

test('a second member triggers a rebalance: the first learns it by push and heartbeat, both get generation 2', async (t) => {
  const { broker, coordinator } = await setup()
  t.after(() => (coordinator.close(), broker.close()))
  let pushed = 0
  const j1 = await coordinator.joinGroup({ ...req(), onRebalance: () => pushed++ })
  await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: j1.memberId, assignments: [] })
  const p2 = coordinator.joinGroup(req())
  assert.equal(pushed, 1)
  assert.equal(coordinator.describe('g').state, 'PreparingRebalance')
  assert.throws(() => coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: j1.memberId }), { code: 'REBALANCE_IN_PROGRESS' })
  const p1 = coordinator.joinGroup(req(j1.memberId))
  const [r1, r2] = await Promise.all([p1, p2])
  assert.equal(r1.generationId, 2)
  assert.equal(r2.generationId, 2)
  assert.equal(r1.leader, j1.memberId, 'the leader stays')
  assert.equal(r1.members.length, 2)
  assert.equal(r2.members.length, 0, 'followers get no member list')
  const s2 = coordinator.syncGroup({ groupId: 'g', generationId: 2, memberId: r2.memberId, assignments: [] })
  await coordinator.syncGroup({
    groupId: 'g', generationId: 2, memberId: r1.memberId,
    assignments: [{ memberId: r1.memberId, assignment: Buffer.from('1') }, { memberId: r2.memberId, assignment: Buffer.from('2') }],
  })
  assert.equal((await s2).toString(), '2')
  // A stale generation is refused.
  assert.throws(() => coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: j1.memberId }), { code: 'ILLEGAL_GENERATION' })
  await assert.rejects(coordinator.commitOffsets({ groupId: 'g', generationId: 1, memberId: j1.memberId, offsets: [] }), { code: 'ILLEGAL_GENERATION' })
})

test('a member that stops heartbeating is removed after its session timeout; its commits are refused', async (t) => {
  const { broker, coordinator } = await setup()
  t.after(() => (coordinator.close(), broker.close()))
  await broker.createTopic('t')
  const j = await coordinator.joinGroup(req('', proto(), 50))
  await coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: j.memberId, assignments: [] })
  const deadline = Date.now() + 5000
  while (coordinator.describe('g').members.length > 0) {
    assert.ok(Date.now() < deadline, 'member not removed in time')
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.equal(coordinator.describe('g').state, 'Empty')
  await assert.rejects(
    coordinator.commitOffsets({ groupId: 'g', generationId: 1, memberId: j.memberId, offsets: [{ topic: 't', partition: 0, offset: 1 }] }),
    { code: 'UNKNOWN_MEMBER' },
  )
  assert.equal(coordinator.offsets.get('g', 't', 0), undefined)
})

test('protocol choice: the one every member supports, by vote', async (t) => {
  const { broker, coordinator } = await setup()
  t.after(() => (coordinator.close(), broker.close()))
  const p1 = coordinator.joinGroup(req('', [...proto('roundrobin'), ...proto('range')]))
  const r1 = await p1
  await coordinator.syncGroup({ groupId: 'g', generationId: r1.generationId, memberId: r1.memberId, assignments: [] })
  const p2 = coordinator.joinGroup(req('', proto('range')))
  const p1b = coordinator.joinGroup(req(r1.memberId, [...proto('roundrobin'), ...proto('range')]))
  const [a, b] = await Promise.all([p1b, p2])
  assert.equal(a.protocolName, 'range')
  assert.equal(b.protocolName, 'range')
  assert.throws(() => coordinator.joinGroup(req('', proto('sticky-only'))), { code: 'INVALID_CONFIG' })
})

test('committed offsets are durable: a reopened broker reads them back; delete needs an empty group', async () => {
  const fileIO = new MemoryFileIO()
  {
    const { broker, coordinator } = await setup(fileIO)
    await broker.createTopic('t', { partitions: 2 })
    await coordinator.commitOffsets({ groupId: 'g', generationId: -1, memberId: '', offsets: [{ topic: 't', partition: 1, offset: 42, metadata: 'm' }] })
    const j = await coordinator.joinGroup(req())
    await assert.rejects(coordinator.deleteGroup('g'), { code: 'NON_EMPTY_GROUP' })
    coordinator.leaveGroup({ groupId: 'g', memberId: j.memberId })
    coordinator.close()
    await broker.close()
  }
  const { broker, coordinator } = await setup(fileIO)
  assert.deepEqual(coordinator.offsets.get('g', 't', 1)?.offset, 42)
  assert.equal(coordinator.offsets.get('g', 't', 1)?.metadata, 'm')
  assert.deepEqual(coordinator.list(), [{ groupId: 'g', state: 'Empty' }])
  await coordinator.deleteGroup('g')
  assert.throws(() => coordinator.describe('g'), { code: 'GROUP_NOT_FOUND' })
  await assert.rejects(coordinator.deleteGroup('g'), { code: 'GROUP_NOT_FOUND' })
  coordinator.close()
  await broker.close()
  const again = await setup(fileIO)
  assert.equal(again.coordinator.offsets.get('g', 't', 1), undefined, 'the tombstone is durable')
  await again.broker.close()
})
