// A stream's partition comes from its id and the partition count, so the store's topic must keep
// its count: createPartitions is refused while the store is open, and a store whose topic gained
// partitions while it was closed refuses to open.
import assert from 'node:assert/strict'
import { Broker } from '../../src/index.js'
import { EventStore } from '../../src/eventstore/index.js'
import { tempDir, test } from '../fixtures/helpers.js'

test('createPartitions on an open event store topic is refused and changes nothing', async (t) => {
  const broker = await Broker.open({ dir: tempDir(t) })
  t.after(() => broker.close())
  const store = await EventStore.open({ broker }, { partitions: 2 })
  await store.appendToStream('a', { type: 'A', data: 1 })
  await assert.rejects(broker.createPartitions('events', 3), (e: { code?: string }) => e.code === 'INVALID_CONFIG', 'refused with InvalidConfigError')
  assert.equal(broker.topic('events').partitions, 2, 'the topic keeps 2 partitions')
  await store.close()
})

test('a store whose topic gained partitions while closed refuses to open; one with its count opens', async (t) => {
  const dir = tempDir(t)
  const store = await EventStore.open({ dir })
  await store.appendToStream('a', { type: 'A', data: 1 })
  await store.close()
  const broker = await Broker.open({ dir })
  await broker.createPartitions('events', 2)
  await broker.close()
  await assert.rejects(EventStore.open({ dir }), (e: { code?: string; message?: string }) => e.code === 'INVALID_CONFIG' && /streams would have moved/.test(e.message ?? ''), 'refused, naming why')
  const other = await EventStore.open({ dir }, { topic: 'orders', partitions: 2 })
  assert.equal(other.getStreamRevision('x'), null, 'another topic with its own count opens')
  await other.close()
})
