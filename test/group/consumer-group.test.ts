// Consumer groups end to end through the public API: partitions shared, rebalances on join, leave and
// session timeout, fenced commits, durable offsets and restart, at-least-once and exactly-once runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Broker, type Consumer, type Message } from '../../src/index.js'
import { MemoryFileIO } from '../../src/util/file-io.js'
import { tempDir, waitFor } from '../fixtures/helpers.js'

interface Worker {
  consumer: Consumer
  seen: Message[]
  owned(): string[]
}

async function worker(broker: Broker, opts: Record<string, unknown> = {}, handler?: (m: Message) => Promise<void>): Promise<Worker> {
  const consumer = broker.consumer({ groupId: 'g', fromBeginning: true, sessionTimeoutMs: 2000, heartbeatIntervalMs: 50, ...opts })
  const seen: Message[] = []
  await consumer.subscribe(['t'])
  await consumer.run({
    eachMessage: async (m) => {
      seen.push(m)
      await handler?.(m)
    },
  })
  return { consumer, seen, owned: () => consumer.assignment().map((a) => `${a.topic}-${a.partition}`).sort() }
}

function disjointCover(workers: Worker[], n: number): void {
  const all = workers.flatMap((w) => w.owned())
  assert.equal(new Set(all).size, all.length, `a partition is owned twice: ${all}`)
  assert.equal(all.length, n, `owned ${all.length} of ${n}`)
}

async function produce(broker: Broker, n: number, from = 0): Promise<void> {
  const messages = Array.from({ length: n }, (_, i) => ({ key: `k${from + i}`, value: `v${from + i}` }))
  await broker.producer().send('t', messages)
}

test('6 partitions × 3 consumers → 2 each; a 4th joins → rebalanced; one leaves → reassigned', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('t', { partitions: 6 })
  const ws = [await worker(broker), await worker(broker), await worker(broker)]
  await waitFor(() => ws.every((w) => w.owned().length === 2), 5000, 'three members with two partitions each')
  disjointCover(ws, 6)
  const g = broker.group('g').describe()
  assert.equal(g.state, 'Stable')
  assert.equal(g.members.length, 3)
  assert.equal(g.protocol, 'range')

  ws.push(await worker(broker))
  await waitFor(() => broker.group('g').describe().members.length === 4 && broker.group('g').describe().state === 'Stable', 5000, 'four members')
  await waitFor(() => ws.every((w) => w.owned().length >= 1) && ws.flatMap((w) => w.owned()).length === 6, 5000, 'rebalanced over four')
  disjointCover(ws, 6)

  await ws[0]!.consumer.close()
  const rest = ws.slice(1)
  await waitFor(() => rest.every((w) => w.owned().length === 2), 5000, 'reassigned over three')
  disjointCover(rest, 6)

  await produce(broker, 600)
  await waitFor(() => rest.reduce((n, w) => n + w.seen.length, 0) >= 600, 5000, 'all records consumed')
  const offsets = rest.flatMap((w) => w.seen.map((m) => `${m.partition}:${m.offset}`))
  assert.equal(new Set(offsets).size, 600, 'each record exactly once in a clean run')
})

test('a stuck handler: the member is removed after its session timeout, its partitions move, its commit is refused', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('t', { partitions: 2 })
  let release!: () => void
  const stuck = new Promise<void>((r) => (release = r))
  const errors: unknown[] = []
  let stuckOn: Message | null = null
  const a = await worker(broker, { sessionTimeoutMs: 200, autoCommit: false }, async (m) => {
    if (!stuckOn) {
      stuckOn = m
      await stuck
    }
    await a.consumer.commitOffsets([{ topic: m.topic, partition: m.partition, offset: m.offset + 1 }]).catch((e) => errors.push(e))
  })
  const b = await worker(broker, { sessionTimeoutMs: 5000 })
  await waitFor(() => a.owned().length === 1 && b.owned().length === 1, 5000, 'one partition each')
  await broker.producer().send('t', [{ value: 'x', partition: 0 }, { value: 'y', partition: 1 }])
  await waitFor(() => broker.group('g').describe().members.length === 1, 5000, 'stuck member removed')
  await waitFor(() => b.owned().length === 2, 5000, 'its partitions moved')
  await waitFor(() => b.seen.some((m) => m.partition === stuckOn!.partition && m.offset === stuckOn!.offset), 5000, 'the record redelivered to the new owner')
  release()
  await waitFor(() => errors.length > 0, 5000, 'the stuck member commits')
  assert.ok(['UNKNOWN_MEMBER', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS'].includes((errors[0] as { code: string }).code), String(errors[0]))
})

test('committed offsets survive a restart: a new consumer resumes where the group left off', async () => {
  const fileIO = new MemoryFileIO()
  let broker = await Broker.open({ fileIO, dir: '/d' })
  await broker.createTopic('t', { partitions: 3 })
  await produce(broker, 90)
  const w = await worker(broker)
  await waitFor(() => w.seen.length === 90, 5000, 'first 90 consumed')
  await broker.close()
  broker = await Broker.open({ fileIO, dir: '/d' })
  const lag = broker.group('g').lag()
  assert.equal(lag.reduce((n, l) => n + l.lag, 0), 0)
  await produce(broker, 30, 90)
  const w2 = await worker(broker)
  await waitFor(() => w2.seen.length === 30, 5000, 'the next 30 consumed')
  assert.deepEqual(w2.seen.map((m) => m.value!.toString()).sort(), Array.from({ length: 30 }, (_, i) => `v${90 + i}`).sort())
  await broker.close()
})

test('group admin: lag, resetOffsets (refused with members), delete, unknown group', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  await broker.createTopic('t', { partitions: 2 })
  await produce(broker, 10)
  assert.throws(() => broker.group('nope').describe(), { code: 'GROUP_NOT_FOUND' })
  const g = broker.group('g')
  await g.resetOffsets({ topic: 't', to: 'earliest' })
  assert.equal(g.lag().reduce((n, l) => n + l.lag, 0), 10)
  await g.resetOffsets({ topic: 't', to: 'latest' })
  assert.equal(g.lag().reduce((n, l) => n + l.lag, 0), 0)
  const w = await worker(broker)
  await assert.rejects(g.resetOffsets({ topic: 't', to: 'earliest' }), { code: 'NON_EMPTY_GROUP' })
  await assert.rejects(g.delete(), { code: 'NON_EMPTY_GROUP' })
  await w.consumer.close()
  assert.deepEqual(broker.groups().map((x) => x.groupId), ['g'])
  await g.delete()
  assert.deepEqual(broker.groups(), [])
})

test('cooperative-sticky: a joining member takes partitions without the others revoking theirs', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('t', { partitions: 6 })
  const revoked: string[] = []
  const opts = (name: string) => ({
    partitionAssigners: ['cooperative-sticky'],
    onPartitionsRevoked: (tps: Array<{ topic: string; partitions: number[] }>) => {
      for (const tp of tps) for (const p of tp.partitions) revoked.push(`${name}:${p}`)
    },
  })
  const a = await worker(broker, opts('a'))
  const b = await worker(broker, opts('b'))
  await waitFor(() => a.owned().length === 3 && b.owned().length === 3, 5000, 'three each')
  const before = new Map([...a.owned().map((p) => [p, 'a'] as const), ...b.owned().map((p) => [p, 'b'] as const)])
  revoked.length = 0
  const c = await worker(broker, opts('c'))
  await waitFor(() => c.owned().length === 2 && a.owned().length === 2 && b.owned().length === 2, 5000, 'two each')
  disjointCover([a, b, c], 6)
  assert.equal(revoked.length, 2, `only the two moved partitions are revoked: ${revoked}`)
  for (const p of [...a.owned(), ...b.owned()]) assert.ok(before.has(p), `${p} stayed with its owner`)
  assert.equal(broker.group('g').describe().protocol, 'cooperative-sticky')
})

test('a RegExp subscription picks up a topic created later, with a rebalance', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('events-a', { partitions: 2 })
  const consumer = broker.consumer({ groupId: 'rx', fromBeginning: true, heartbeatIntervalMs: 20 })
  const seen: string[] = []
  await consumer.subscribe(/^events-/)
  await consumer.run({ eachMessage: async (m) => void seen.push(`${m.topic}:${m.value}`) })
  await broker.createTopic('events-b', { partitions: 3 })
  await waitFor(() => consumer.assignment().length === 5, 5000, 'the new topic assigned')
  await broker.producer().send('events-b', { value: 'hello' })
  await waitFor(() => seen.includes('events-b:hello'), 5000, 'a record of the new topic delivered')
})

test('the async iterator in a group: a message counts as processed when the loop asks for the next one', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('t', { partitions: 1 })
  await produce(broker, 5)
  const consumer = broker.consumer({ groupId: 'it', fromBeginning: true, autoCommit: false })
  await consumer.subscribe('t')
  let n = 0
  for await (const m of consumer) {
    if (++n === 3) {
      await consumer.commit()
      // Messages 0 and 1 are processed; 2 is in hand.
      assert.equal(broker.group('it').lag()[0]!.committed, 2)
      assert.equal(m.offset, 2)
      break
    }
  }
  await consumer.close()
})

test('a member closing in the middle of a batch commits what it processed: nothing is processed twice', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('t', { partitions: 2 })
  const counts = new Map<string, number>()
  const count = async (m: Message): Promise<void> => {
    counts.set(`${m.partition}:${m.offset}`, (counts.get(`${m.partition}:${m.offset}`) ?? 0) + 1)
    await new Promise((r) => setImmediate(r))
  }
  const a = await worker(broker, {}, count)
  const b = await worker(broker, {}, count)
  await waitFor(() => a.owned().length === 1 && b.owned().length === 1, 5000, 'one partition each')
  await produce(broker, 400)
  await waitFor(() => a.seen.length > 20, 5000, 'a is processing')
  await a.consumer.close()
  await waitFor(() => counts.size === 400, 5000, 'every record processed')
  assert.deepEqual([...counts.values()].filter((n) => n > 1), [])
})

test('auto-commit on an interval while running, and a subscription change rebalances the group', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('t', { partitions: 2 })
  await broker.createTopic('u', { partitions: 2 })
  await produce(broker, 50)
  const w = await worker(broker, { autoCommitIntervalMs: 20, heartbeatIntervalMs: 10 })
  await waitFor(() => w.seen.length === 50, 5000, 'consumed')
  await waitFor(() => broker.group('g').lag().reduce((n, l) => n + l.lag, 0) === 0, 5000, 'committed without close')
  const generation = broker.group('g').describe().generation
  await w.consumer.subscribe('u')
  await waitFor(() => w.owned().length === 4, 5000, 'the new topic assigned too')
  assert.ok(broker.group('g').describe().generation > generation)
})
