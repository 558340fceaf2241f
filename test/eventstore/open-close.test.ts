// EventStore.open on a data dir or on an open Broker, its topic and partitions options, and close():
// the broker is closed only when the store opened it.
import assert from 'node:assert/strict'
import { Broker } from '../../src/index.js'
import { EventStore } from '../../src/eventstore/index.js'
import { test, withDeadline } from '../fixtures/helpers.js'
import { closer, collect, endOffsets, memoryStore, storeDir } from './fixtures.js'

test('open({ dir }) creates the "events" topic with one partition; close() releases the dir', async (t) => {
  const { dir, defer } = storeDir(t)
  const store = await EventStore.open({ dir })
  let closed = false
  defer(async () => {
    if (!closed) await store.close()
  })
  const r = await store.appendToStream('order-1', { type: 'OrderPlaced', data: { total: 42 } })
  assert.equal(r.success, true, 'the append succeeds')
  const locked = await Broker.open({ dir }).then(
    async (b) => {
      await b.close()
      return 'opened'
    },
    (err: { code?: string }) => err?.code,
  )
  assert.equal(locked, 'LOCKED', 'while the store is open its broker holds the dir')
  await withDeadline(store.close(), 5000, 'store.close()')
  closed = true

  // The store owned its broker: closing it released the writer's lock, so the dir opens again.
  const broker = await withDeadline(Broker.open({ dir }), 5000, 'Broker.open on the dir after store.close()')
  defer(() => broker.close())
  assert.ok(broker.hasTopic('events'), 'the default topic is "events"')
  const d = broker.describeTopic('events')
  assert.equal(d.partitions.length, 1, 'the default topic has one partition')
  assert.deepEqual(endOffsets(broker), [1], 'the one event is in the log')
})

test('open({ broker }): close() leaves the broker open and usable', async (t) => {
  const defer = closer(t)
  const broker = await Broker.open()
  defer(() => broker.close())
  const store = await EventStore.open({ broker })
  await store.appendToStream('a', [{ type: 'T', data: 1 }])
  await withDeadline(store.close(), 5000, 'store.close()')

  assert.ok(broker.hasTopic('events'), 'the broker still answers after store.close()')
  await broker.createTopic('other')
  const [meta] = await broker.producer().send('other', { value: 'x' })
  assert.equal(meta!.offset, 0, 'the broker still takes writes after store.close()')

  // A second store on the same broker sees what the first one wrote.
  const again = await EventStore.open({ broker })
  defer(() => again.close())
  const events = await collect(again.readStream('a'))
  assert.deepEqual(events.map((e) => e.data), [1], 'a new store on the same broker reads the stream')
})

test('open options: topic and partitions name and size the topic it creates', async (t) => {
  const { broker, store } = await memoryStore(t, { topic: 'ledger', partitions: 3 })
  assert.ok(broker.hasTopic('ledger'), 'the topic is named by the option')
  assert.ok(!broker.hasTopic('events'), 'no default topic is created besides it')
  assert.equal(broker.describeTopic('ledger').partitions.length, 3, 'the topic has the partitions asked for')

  const partitions = new Set<number>()
  for (let i = 0; i < 30; i++) {
    const r = await store.appendToStream(`s-${i}`, [{ type: 'T', data: { i } }, { type: 'T', data: { i, n: 2 } }])
    partitions.add(r.position.partition)
    const read = await collect(store.readStream(`s-${i}`))
    assert.deepEqual(read.map((e) => e.revision), [0, 1], `stream s-${i} reads back both events`)
    assert.ok(read.every((e) => e.position.partition === r.position.partition), `all events of s-${i} are on one partition`)
    assert.ok(read[0]!.position.offset < read[1]!.position.offset, `s-${i}'s events are in order on the partition`)
  }
  assert.ok(partitions.size > 1, `30 streams spread over more than one of 3 partitions (got ${[...partitions]})`)
  assert.equal(endOffsets(broker, 'ledger').reduce((a, b) => a + b, 0), 60, 'all 60 events are in the ledger topic')
})

test('two stores on one broker with different topics are independent', async (t) => {
  const defer = closer(t)
  const broker = await Broker.open()
  defer(() => broker.close())
  const a = await EventStore.open({ broker }, { topic: 'a-events' })
  defer(() => a.close())
  const b = await EventStore.open({ broker }, { topic: 'b-events' })
  defer(() => b.close())
  await a.appendToStream('s', { type: 'T', data: 'from a' })
  assert.equal(await b.getStreamRevision('s'), null, 'a stream written through one topic is not in the other')
  const r = await b.appendToStream('s', { type: 'T', data: 'from b' }, { expectedRevision: 'no_stream' })
  assert.equal(r.nextExpectedRevision, 0, 'the other store starts the stream at revision 0')
  assert.deepEqual((await collect(a.readStream('s'))).map((e) => e.data), ['from a'], 'store a reads its own event')
  assert.deepEqual((await collect(b.readStream('s'))).map((e) => e.data), ['from b'], 'store b reads its own event')
})
