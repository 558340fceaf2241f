// Regression tests for KafkaJS facade defects found in review (reproduction scripts t1–t10) and
// fixed since: each test failed on the facade before the fix and passes now. Committed offsets are
// read back through admin.fetchOffsets, as an application would see them.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { closeSharedBrokers } from '../../src/kafkajs/index.js'
import type { Admin, ConsumerGroupJoinEvent } from '../fixtures/kafkajs-target.js'
import { deferred, tempDir, waitFor, withDeadline } from '../fixtures/helpers.js'
import { connectedAdmin, connectedConsumer, connectedProducer, newKafka, waitForAsync, closeTargets, facadeOnly, isWire, test } from '../fixtures/kafkajs.js'

after(() => closeTargets())

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** The group's committed offset per partition of `topic` ('-1' where none). */
async function committed(admin: Admin, groupId: string, topic: string): Promise<Record<number, string>> {
  const [row] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return Object.fromEntries(row!.partitions.map((p) => [p.partition, p.offset]))
}

/** Polls the committed offsets until they are `expected` (or `ms` passed); returns the last seen. */
async function pollCommitted(admin: Admin, groupId: string, topic: string, expected: Record<number, string>, ms: number): Promise<Record<number, string>> {
  let last: Record<number, string> = {}
  await waitForAsync(async () => JSON.stringify((last = await committed(admin, groupId, topic))) === JSON.stringify(expected), ms, 'committed offsets').catch(() => undefined)
  return last
}

/** The high watermark per partition of `topic`. */
async function highs(admin: Admin, topic: string): Promise<Record<number, string>> {
  return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]))
}

// Guards t2: after a transaction's committed messages were consumed, the group's committed offset
// stopped at the last message (2) instead of moving past the transaction marker to the high
// watermark (3), so the group showed a lag of 1 forever — with eachMessage and with eachBatch.
test('transaction markers: the committed offset reaches the high watermark (eachMessage and eachBatch)', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka, { transactionalId: 'reg-tx', idempotent: true, maxInFlightRequests: 1 })
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'reg-tx' }] })
  const tx = await producer.transaction()
  await tx.send({ topic: 'reg-tx', messages: [{ value: 'a' }, { value: 'b' }] })
  await tx.commit()
  assert.deepEqual(await highs(admin, 'reg-tx'), { 0: '3' }, 'two messages and the commit marker')
  for (const mode of ['eachMessage', 'eachBatch'] as const) {
    const groupId = `reg-tx-${mode}`
    const consumer = await connectedConsumer(t, kafka, { groupId, heartbeatInterval: 100 })
    await consumer.subscribe({ topics: ['reg-tx'], fromBeginning: true })
    const values: string[] = []
    // Real KafkaJS 2.2.4 (against Kafka too) resolves the marker's offset when it fetches the marker
    // alone (a control-only batch), but commits that through autoCommitOffsetsIfNecessary(), which
    // commits only with an autoCommitInterval or autoCommitThreshold: without one the group stays at
    // 2. In wire mode the test sets autoCommitInterval: 0, so it checks that the server delivers the
    // control batch past the messages (KafkaJS's only way to move past the marker).
    const commitConfig = isWire ? { autoCommitInterval: 0 } : {}
    await consumer.run(
      mode === 'eachMessage'
        ? { ...commitConfig, eachMessage: async ({ message }) => void values.push(String(message.value)) }
        : { ...commitConfig, eachBatch: async ({ batch }) => void values.push(...batch.messages.map((m) => String(m.value))) },
    )
    await waitFor(() => values.length >= 2, 5000, `${mode}: both messages`)
    assert.deepEqual(values, ['a', 'b'], `${mode}: the transaction's messages, once each`)
    assert.deepEqual(await pollCommitted(admin, groupId, 'reg-tx', { 0: '3' }, 3000), { 0: '3' }, `${mode}: while running, the committed offset reaches 3, past the marker`)
    await withDeadline(consumer.disconnect(), 5000, `${mode}: disconnect`)
    assert.deepEqual(await committed(admin, groupId, 'reg-tx'), { 0: '3' }, `${mode}: after disconnect the committed offset is still the high watermark, past the marker`)
  }
})

for (const mode of ['eachMessage', 'eachBatch'] as const) {
  // Guards t3 (one test per mode; eachBatch resolves and heartbeats per message): a handler that
  // runs long and calls heartbeat() after each message did not keep the member in its group — the
  // session timed out, the member rejoined, the messages were delivered again and their offsets
  // were never committed.
  test(`heartbeat() inside a long ${mode} handler keeps the session alive: no re-delivery, offsets committed`, async (t) => {
    const n = 10
    const kafka = newKafka()
    const producer = await connectedProducer(t, kafka)
    const admin = await connectedAdmin(t, kafka)
    const topic = `reg-hb-${mode}`
    const groupId = `${topic}-g`
    await producer.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ value: `v${i}` })) })
    // The handlers take 10 × 100 ms, 2.5 times the session timeout.
    const consumer = await connectedConsumer(t, kafka, { groupId, sessionTimeout: 400, heartbeatInterval: 100 })
    const joins: string[] = []
    consumer.on(consumer.events.GROUP_JOIN, (e: ConsumerGroupJoinEvent) => void joins.push(e.payload.memberId))
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    const seen: string[] = []
    const work = () => sleep(100) // simulated work in the handler, not a wait for a condition
    if (mode === 'eachMessage') {
      await consumer.run({ eachMessage: async ({ message, heartbeat }) => {
        seen.push(message.offset)
        await work()
        await heartbeat()
      } })
    } else {
      await consumer.run({ eachBatch: async ({ batch, heartbeat, resolveOffset }) => {
        for (const m of batch.messages) {
          seen.push(m.offset)
          await work()
          resolveOffset(m.offset)
          await heartbeat()
        }
      } })
    }
    await waitForAsync(
      async () => joins.length > 1 || seen.length > n || (seen.length === n && (await committed(admin, groupId, topic))[0] === String(n)),
      5000,
      `all ${n} messages handled and committed, or a rejoin`,
    ).catch(() => undefined) // the assertions below say what went wrong
    assert.equal(joins.length, 1, `the member joined once: its session never timed out (joins: ${joins.join(', ')})`)
    assert.deepEqual(seen, Array.from({ length: n }, (_, i) => String(i)), 'each message delivered once, in order')
    assert.deepEqual(await committed(admin, groupId, topic), { 0: String(n) }, 'every message committed')
    const [group] = (await admin.describeGroups([groupId])).groups
    assert.equal(group!.state, 'Stable', 'the group is stable')
    assert.equal(group!.members.length, 1, 'with its one member')
  })
}

// Guards t4: a member whose handler outlasted its session timeout was removed from the group,
// found out only at its next heartbeat (so its partitions were never revoked), kept the offsets it
// had resolved, rejoined and committed them — after B had taken over and committed further — so
// the group's committed offset went backwards. Now the blocked member stays in the group (the
// facade heartbeats while a handler awaits) and the offsets end at the high watermarks.
test('a member whose handler outlasts its session timeout does not move the group\'s committed offsets backwards', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'reg-stale', numPartitions: 2 }] })
  const send = (partition: number, n: number, tag: string) =>
    producer.send({ topic: 'reg-stale', messages: Array.from({ length: n }, (_, i) => ({ value: `${tag}${i}`, partition })) })
  await send(0, 10, 'a')
  await send(1, 10, 'a')

  const blocked = deferred()
  const release = deferred()
  t.after(() => release.resolve()) // never leave A's handler hanging, whatever fails
  const A = await connectedConsumer(t, kafka, { groupId: 'reg-stale-g', sessionTimeout: 500, heartbeatInterval: 100 })
  const B = await connectedConsumer(t, kafka, { groupId: 'reg-stale-g', sessionTimeout: 500, heartbeatInterval: 100 })
  const aJoins: ConsumerGroupJoinEvent['payload'][] = []
  A.on(A.events.GROUP_JOIN, (e: ConsumerGroupJoinEvent) => void aJoins.push(e.payload))
  let aHeartbeats = 0
  A.on(A.events.HEARTBEAT, () => void aHeartbeats++)

  await A.subscribe({ topics: ['reg-stale'], fromBeginning: true })
  let slow = true
  await A.run({
    eachMessage: async ({ partition, message }) => {
      if (slow && partition === 0 && message.offset === '3') {
        slow = false
        blocked.resolve()
        await release.promise
      }
    },
  })
  await withDeadline(blocked.promise, 5000, 'A reached partition 0 offset 3')
  if (isWire) {
    // Real KafkaJS sends no heartbeat while a handler awaits (the facade does), so, as against Kafka,
    // A's session (500 ms) expires and the server removes it from the group. What the server must
    // then guarantee is the same end state: A's late commit (stale member and generation) is refused,
    // so the committed offsets never go back.
    await waitForAsync(async () => (await admin.describeGroups(['reg-stale-g'])).groups[0]!.members.length === 0, 5000, 'the server expired A\'s session')
  } else {
    // A's handler is blocked for longer than the session timeout (500 ms), counted in A's own
    // heartbeat ticks (every 100 ms): before the fix A was removed from the group by now.
    const ticks = aHeartbeats
    await waitFor(() => aHeartbeats >= ticks + 8, 5000, 'A\'s handler blocked for 8 heartbeat intervals')
  }

  // B joins while A is still blocked, and 10 more messages arrive on partition 0.
  await B.subscribe({ topics: ['reg-stale'], fromBeginning: true })
  const bRun = B.run({ eachMessage: async () => {} })
  await send(0, 10, 'b')
  // Before the fix B alone held both partitions and committed everything; now the group waits
  // for A to rejoin. Either way, A's handler returns then.
  await waitForAsync(
    async () => {
      const [group] = (await admin.describeGroups(['reg-stale-g'])).groups
      return (!isWire && group!.state === 'PreparingRebalance') || JSON.stringify(await committed(admin, 'reg-stale-g', 'reg-stale')) === JSON.stringify({ 0: '20', 1: '10' })
    },
    5000,
    'a rebalance waiting for A, or B done',
  )
  release.resolve()
  await withDeadline(bRun, 5000, 'B.run()')
  await waitFor(() => aJoins.length >= 2, 5000, 'A joined the next generation')
  assert.deepEqual(await pollCommitted(admin, 'reg-stale-g', 'reg-stale', { 0: '20', 1: '10' }, 5000), { 0: '20', 1: '10' }, 'all messages consumed and committed')
  await withDeadline(A.disconnect(), 5000, 'A.disconnect()')
  await withDeadline(B.disconnect(), 5000, 'B.disconnect()')
  assert.deepEqual(await highs(admin, 'reg-stale'), { 0: '20', 1: '10' }, 'high watermarks')
  assert.deepEqual(await committed(admin, 'reg-stale-g', 'reg-stale'), { 0: '20', 1: '10' }, 'after both members left, the committed offsets are still the high watermarks: A did not commit the stale offset 10 for partition 0')
})

// Guards t5: with `kafkalite: { dir }`, a client connected before closeSharedBrokers() that
// disconnected later released the data dir's *current* broker — the one a newer client had opened
// after closeSharedBrokers() — and closed it under that client ("broker is closed").
facadeOnly('the kafkalite: { dir } option and closeSharedBrokers() are facade features')('data dir: a client from before closeSharedBrokers() disconnecting later does not close a newer client\'s broker', async (t) => {
  const dir = tempDir(t, 'kafkalite-reg-')
  const p1 = newKafka({ kafkalite: { dir } }).producer()
  await withDeadline(p1.connect(), 5000, 'p1.connect()')
  await p1.send({ topic: 'reg-dir', messages: [{ value: 'a' }] })
  await withDeadline(closeSharedBrokers(), 5000, 'closeSharedBrokers() while p1 is connected')

  const p2 = newKafka({ kafkalite: { dir } }).producer()
  await withDeadline(p2.connect(), 5000, 'p2.connect()')
  let p2Connected = true
  t.after(() => (p2Connected ? withDeadline(p2.disconnect(), 5000, 'p2.disconnect()') : undefined))
  await p2.send({ topic: 'reg-dir', messages: [{ value: 'b' }] })
  await withDeadline(p1.disconnect(), 5000, 'late p1.disconnect()')
  await assert.doesNotReject(p2.send({ topic: 'reg-dir', messages: [{ value: 'c' }] }), 'p2 can still send after the old client disconnected')
  await withDeadline(p2.disconnect(), 5000, 'p2.disconnect()')
  p2Connected = false

  // p2 was the dir's last client: its broker closed, and a new client sees everything.
  const admin = await connectedAdmin(t, newKafka({ kafkalite: { dir } }))
  assert.deepEqual(await highs(admin, 'reg-dir'), { 0: '3' }, 'a, b and c are all in the log')
})

// Guards t6 (first part): fromBeginning was decided once for all subscriptions: one subscribe()
// with fromBeginning: true made every subscribed topic start at the beginning.
test('fromBeginning is per subscribe() call', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'reg-fb-a', messages: [{ value: 'old-a' }] })
  await producer.send({ topic: 'reg-fb-b', messages: [{ value: 'old-b' }] })
  const consumer = await connectedConsumer(t, kafka, { groupId: 'reg-fb-g' })
  await consumer.subscribe({ topics: ['reg-fb-a'], fromBeginning: true })
  await consumer.subscribe({ topics: ['reg-fb-b'], fromBeginning: false })
  const got: string[] = []
  await consumer.run({ eachMessage: async ({ topic, message }) => void got.push(`${topic}:${message.value}`) })
  await producer.send({ topic: 'reg-fb-a', messages: [{ value: 'new-a' }] })
  await producer.send({ topic: 'reg-fb-b', messages: [{ value: 'new-b' }] })
  // Messages of a partition arrive in order: once new-b is in, old-b would have come before it.
  await waitFor(() => got.includes('reg-fb-a:new-a') && got.includes('reg-fb-b:new-b'), 5000, 'the new messages')
  assert.deepEqual(got.sort(), ['reg-fb-a:new-a', 'reg-fb-a:old-a', 'reg-fb-b:new-b'], 'reg-fb-a from the beginning, reg-fb-b from the end')
})

// Guards t6 (second part): a committed offset out of range (below the log start) was reset to the
// earliest offset even though the topic was subscribed with fromBeginning: false (KafkaJS resets
// to the latest).
test('an out-of-range committed offset resets to latest when fromBeginning is false', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const admin = await connectedAdmin(t, kafka)
  await producer.send({ topic: 'reg-reset', messages: Array.from({ length: 10 }, (_, i) => ({ value: `c${i}` })) })
  await admin.setOffsets({ groupId: 'reg-reset-g', topic: 'reg-reset', partitions: [{ partition: 0, offset: '2' }] })
  await admin.deleteTopicRecords({ topic: 'reg-reset', partitions: [{ partition: 0, offset: '5' }] })
  const consumer = await connectedConsumer(t, kafka, { groupId: 'reg-reset-g' })
  await consumer.subscribe({ topics: ['reg-reset'], fromBeginning: false })
  const got: string[] = []
  await consumer.run({ eachMessage: async ({ message }) => void got.push(`${message.offset}:${message.value}`) })
  // The reset happens at the consumer's first fetch, which may come after a message produced now:
  // markers are produced until one arrives. Messages of a partition arrive in order, so once a
  // marker is in, c5–c9 would have come before it.
  await waitForAsync(
    async () => {
      if (got.length === 0) await producer.send({ topic: 'reg-reset', messages: [{ value: 'marker' }] })
      return got.length > 0
    },
    5000,
    'a marker',
  )
  assert.ok(got.every((g) => g.endsWith(':marker')), `committed offset 2 is below the log start 5: reset to latest, so only markers (got ${got.join(', ')})`)
  assert.ok(Number(got[0]!.split(':')[0]) >= 10, `the first message is past the old ones (got ${got.join(', ')})`)
})

// Guards t8b: disconnect() right after a run() that was not awaited did not stop the consumer: it
// joined its group after disconnect() returned, went on delivering messages, and held the process
// open. Run in a child process, since the symptom is a process that does not exit.
facadeOnly('process exit of a child script using the facade in process')('disconnect() right after an un-awaited run() stops the consumer and lets the process exit', async () => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/kafkajs/fixtures/run-then-disconnect.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const outcome = await withDeadline(exited, 12_000, 'the child process exit').catch((e: Error) => {
    child.kill('SIGKILL')
    assert.fail(`${e.message} (stdout: ${stdout.trim()}; stderr: ${stderr.trim().slice(0, 2000)})`)
  })
  const lines = stdout.trim().split('\n')
  assert.ok(!lines.some((l) => l.startsWith('delivered after disconnect')), `no message delivered after disconnect() (stdout: ${stdout.trim()})`)
  assert.ok(!lines.includes('STILL ALIVE 3 s after the end of the script'), `nothing held the process open (stdout: ${stdout.trim()})`)
  assert.deepEqual(outcome, { code: 0, signal: null }, `exit code 0 (stdout: ${stdout.trim()}; stderr: ${stderr.trim().slice(0, 2000)})`)
  assert.ok(lines.includes('end of script'), `the script ran to its end (stdout: ${stdout.trim()})`)
  assert.ok(lines.some((l) => l.startsWith('run settled')), `run() settled (stdout: ${stdout.trim()})`)
}, 15_000)

// Guards t10: a partition the application paused was resumed by a rebalance: after another member
// joined, the reassigned partition was fetched again while paused() still listed it.
test('a pause() survives a rebalance (a topic-wide pause covers the partitions assigned afterwards)', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka)
  const admin = await connectedAdmin(t, kafka)
  // Real KafkaJS's RoundRobinAssigner (run by the group leader, against Kafka too) spreads the union of
  // the members' topics over every member, whatever each subscribed: in wire mode both members
  // subscribe to both topics, and the control topic has a partition for each of them.
  const ctlPartitions = isWire ? 2 : 1
  await admin.createTopics({ topics: [{ topic: 'reg-pause', numPartitions: 2 }, { topic: 'reg-pause-ctl', numPartitions: ctlPartitions }] })
  const A = await connectedConsumer(t, kafka, { groupId: 'reg-pause-g' })
  const B = await connectedConsumer(t, kafka, { groupId: 'reg-pause-g' })
  const aJoins: ConsumerGroupJoinEvent['payload'][] = []
  A.on(A.events.GROUP_JOIN, (e: ConsumerGroupJoinEvent) => void aJoins.push(e.payload))
  // A also reads a control topic that only it subscribes to (so it keeps it), which is not paused:
  // once A has handled a control message produced after the paused topic's, and then another one,
  // it has fetched since those were produced.
  const gotA: string[] = []
  const gotB: string[] = []
  await A.subscribe({ topics: ['reg-pause', 'reg-pause-ctl'] })
  await A.run({ eachMessage: async ({ topic, partition, message }) => void gotA.push(`${topic}:${partition}:${message.value}`) })
  A.pause([{ topic: 'reg-pause' }])
  assert.deepEqual(A.paused(), [{ topic: 'reg-pause', partitions: [0, 1] }], 'A paused both partitions')

  await B.subscribe({ topics: isWire ? ['reg-pause', 'reg-pause-ctl'] : ['reg-pause'] })
  await withDeadline(B.run({ eachMessage: async ({ topic, partition, message }) => void gotB.push(`${topic === 'reg-pause' ? '' : `${topic}:`}${partition}:${message.value}`) }), 5000, 'B.run()')
  await waitFor(() => aJoins.length >= 2, 5000, 'A rejoined')
  const mine = aJoins[aJoins.length - 1]!.memberAssignment['reg-pause'] ?? []
  assert.equal(mine.length, 1, `after the rebalance A holds one partition of the paused topic (${JSON.stringify(aJoins[aJoins.length - 1]!.memberAssignment)})`)
  const ctl = aJoins[aJoins.length - 1]!.memberAssignment['reg-pause-ctl'] ?? []
  assert.equal(ctl.length, 1, `A holds one partition of the control topic (${JSON.stringify(aJoins[aJoins.length - 1]!.memberAssignment)})`)
  const ctlPartition = ctl[0]!

  await producer.send({ topic: 'reg-pause', messages: [{ value: 'x', partition: 0 }, { value: 'y', partition: 1 }] })
  await producer.send({ topic: 'reg-pause-ctl', messages: [{ value: 'c1', partition: ctlPartition }] })
  await waitFor(() => gotA.includes(`reg-pause-ctl:${ctlPartition}:c1`) && gotB.length >= 1, 5000, 'c1 at A and a message at B')
  await producer.send({ topic: 'reg-pause-ctl', messages: [{ value: 'c2', partition: ctlPartition }] })
  await waitFor(() => gotA.includes(`reg-pause-ctl:${ctlPartition}:c2`), 5000, 'c2 at A')
  assert.deepEqual(gotA, [`reg-pause-ctl:${ctlPartition}:c1`, `reg-pause-ctl:${ctlPartition}:c2`], 'A received nothing from the topic it paused')
  // Real KafkaJS's paused() lists the paused partitions among those assigned; the facade lists the
  // whole topic's.
  assert.deepEqual(A.paused(), [{ topic: 'reg-pause', partitions: isWire ? mine : [0, 1] }], 'paused() still lists the topic')

  // The pause was what held the message back: resumed, A gets it.
  A.resume([{ topic: 'reg-pause' }])
  const expected = `reg-pause:${mine[0]}:${mine[0] === 0 ? 'x' : 'y'}`
  await waitFor(() => gotA.includes(expected), 5000, `${expected} at A after resume()`)
})

// Guards t1: stop() or disconnect() called from inside eachMessage deadlocked: it waited for the
// handler in flight — the very handler that was waiting for it.
facadeOnly('KafkaJS 2.2.4 itself deadlocks here (its stop() waits for the handler in flight), against Kafka as well')('stop() and disconnect() called from inside eachMessage do not deadlock', async (t) => {
  for (const method of ['disconnect', 'stop'] as const) {
    const kafka = newKafka()
    const producer = await connectedProducer(t, kafka)
    const topic = `reg-inside-${method}`
    await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] })
    const consumer = await connectedConsumer(t, kafka, { groupId: `${topic}-g` })
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    const outcome = deferred<string>()
    let n = 0
    await consumer.run({
      eachMessage: async () => {
        if (++n !== 2) return
        await withDeadline(consumer[method](), 3000, `${method}() from the handler`).then(
          () => outcome.resolve('returned'),
          (e: Error) => outcome.resolve(e.message),
        )
      },
    })
    assert.equal(await withDeadline(outcome.promise, 5000, 'the second message'), 'returned', `${method}() called from eachMessage returns`)
  }
})
