// Concurrent appends: the expectation check and the write are one step (exactly one of many
// appends expecting the same revision wins), and concurrent 'any' appends get gapless revisions.
import assert from 'node:assert/strict'
import { Broker } from '../../src/index.js'
import { EventStore, WrongExpectedVersionError } from '../../src/eventstore/index.js'
import { test, withDeadline } from '../fixtures/helpers.js'
import { collect, endOffsets, memoryStore, storeDir } from './fixtures.js'

test('50 concurrent appends expecting revision 0: exactly one wins, 49 get WrongExpectedVersionError', async (t) => {
  const { dir, defer } = storeDir(t)
  const broker = await Broker.open({ dir })
  defer(() => broker.close())
  const store = await EventStore.open({ broker })
  defer(() => store.close())
  await store.appendToStream('s', { type: 'Init', data: 0 })
  const results = await withDeadline(
    Promise.allSettled(Array.from({ length: 50 }, (_, i) => store.appendToStream('s', [{ type: 'Race', data: i }], { expectedRevision: 0 }))),
    10_000,
    '50 concurrent appends',
  )
  const won = results.filter((r) => r.status === 'fulfilled')
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  assert.equal(won.length, 1, 'exactly one append succeeds')
  assert.equal((won[0] as PromiseFulfilledResult<{ nextExpectedRevision: number }>).value.nextExpectedRevision, 1, 'the winner writes revision 1')
  assert.equal(lost.length, 49, '49 appends are refused')
  for (const r of lost) {
    assert.ok(r.reason instanceof WrongExpectedVersionError, `a loser gets WrongExpectedVersionError (got ${r.reason?.message})`)
    assert.equal(r.reason.actualRevision, 1, 'a loser sees the winner as the actual revision')
  }
  const events = await collect(store.readStream('s'))
  assert.deepEqual(events.map((e) => e.revision), [0, 1], 'the stream has revisions 0..1, no gap')
  assert.equal(events[1]!.type, 'Race', 'revision 1 is the winner')
  assert.deepEqual(endOffsets(broker), [2], 'the log holds two events: nothing from the losers')
  assert.equal(await store.getStreamRevision('s'), 1, 'the stream is at revision 1')
})

test("200 concurrent 'any' appends to one stream: revisions 0..199, no gaps, each event exactly once", async (t) => {
  const { dir, defer } = storeDir(t)
  const broker = await Broker.open({ dir })
  defer(() => broker.close())
  const store = await EventStore.open({ broker })
  defer(() => store.close())
  const results = await withDeadline(
    Promise.all(Array.from({ length: 200 }, (_, i) => store.appendToStream('s', { type: 'Any', data: { i } }))),
    15_000,
    '200 concurrent appends',
  )
  assert.deepEqual(
    results.map((r) => r.nextExpectedRevision).sort((a, b) => a - b),
    Array.from({ length: 200 }, (_, i) => i),
    'the 200 appends got revisions 0..199, each once',
  )
  const events = await collect(store.readStream('s'))
  assert.deepEqual(events.map((e) => e.revision), Array.from({ length: 200 }, (_, i) => i), 'the stream reads revisions 0..199 in order')
  assert.deepEqual(
    events.map((e) => (e.data as { i: number }).i).sort((a, b) => a - b),
    Array.from({ length: 200 }, (_, i) => i),
    'each appended event is stored exactly once',
  )
  results.forEach((r, i) => {
    const e = events[r.nextExpectedRevision]!
    assert.deepEqual(e.data, { i }, `append ${i}'s result names the revision holding its event`)
    assert.deepEqual(e.position, r.position, `append ${i}'s result names its event's position`)
  })
  assert.deepEqual(endOffsets(broker), [200], 'the log holds exactly 200 records')
})

test("concurrent 'no_stream' appends to 20 new streams: exactly one wins per stream", async (t) => {
  const { store } = await memoryStore(t, { partitions: 2 })
  const calls = Array.from({ length: 100 }, (_, i) => ({ stream: `s${i % 20}`, i }))
  const results = await withDeadline(
    Promise.allSettled(calls.map(({ stream, i }) => store.appendToStream(stream, { type: 'First', data: i }, { expectedRevision: 'no_stream' }))),
    10_000,
    '100 concurrent appends',
  )
  for (let s = 0; s < 20; s++) {
    const mine = results.filter((_, k) => calls[k]!.stream === `s${s}`)
    assert.equal(mine.filter((r) => r.status === 'fulfilled').length, 1, `stream s${s}: one 'no_stream' append wins`)
    for (const r of mine) {
      if (r.status === 'rejected') assert.ok(r.reason instanceof WrongExpectedVersionError, `stream s${s}: the others get WrongExpectedVersionError (got ${r.reason?.message})`)
    }
    const events = await collect(store.readStream(`s${s}`))
    assert.deepEqual(events.map((e) => e.revision), [0], `stream s${s} holds one event`)
  }
})

test('concurrent appends, reads and deletes on one stream keep it consistent', async (t) => {
  const { store } = await memoryStore(t)
  await store.appendToStream('s', [{ type: 'T', data: -1 }])
  const ops: Array<Promise<unknown>> = []
  for (let i = 0; i < 60; i++) {
    ops.push(store.appendToStream('s', { type: 'T', data: i }))
    if (i === 30) ops.push(store.deleteStream('s'))
    if (i % 10 === 0) {
      ops.push(
        collect(store.readStream('s')).then(
          (events) => {
            const revs = events.map((e) => e.revision)
            assert.ok(revs.length > 0, 'a read that does not raise returns events')
            assert.deepEqual(revs, Array.from({ length: revs.length }, (_, k) => revs[0]! + k), `a concurrent read sees consecutive revisions (${revs})`)
          },
          // Between the delete and the next append the stream is not found.
          (err: { code?: string }) => assert.equal(err?.code, 'STREAM_NOT_FOUND', `a concurrent read fails only with STREAM_NOT_FOUND (${String(err)})`),
        ),
      )
    }
  }
  await withDeadline(Promise.all(ops), 10_000, 'concurrent operations')
  const events = await collect(store.readStream('s'))
  const revs = events.map((e) => e.revision)
  assert.ok(revs.length > 0 && revs.length < 61, `some events are visible after the delete (${revs.length})`)
  assert.equal(revs[revs.length - 1], 60, 'the last revision is 60: 61 events appended in all')
  assert.deepEqual(revs, Array.from({ length: revs.length }, (_, k) => 61 - revs.length + k), 'the visible revisions are consecutive up to 60')
})

test('a retry sent together with another append to the same stream resolves with its first result and writes nothing', async (t) => {
  const { broker, store } = await memoryStore(t)
  const batch = [
    { type: 'A', data: 1, id: '00000000-0000-4000-8000-0000000000a1' },
    { type: 'A', data: 2, id: '00000000-0000-4000-8000-0000000000a2' },
  ]
  const first = await store.appendToStream('s', batch, { expectedRevision: 'no_stream' })
  const before = endOffsets(broker)
  const [other, retryAny, retryExact] = await withDeadline(
    Promise.allSettled([
      store.appendToStream('s', { type: 'B', data: 3 }),
      store.appendToStream('s', batch.map((e) => ({ ...e }))),
      store.appendToStream('s', batch.map((e) => ({ ...e })), { expectedRevision: 'no_stream' }),
    ]),
    5000,
    'concurrent append and retries',
  )
  assert.equal(other!.status, 'fulfilled', 'the new append succeeds')
  assert.deepEqual(retryAny!.status === 'fulfilled' ? retryAny!.value : String(retryAny!.reason), first, "the retry with 'any' resolves with the first result")
  assert.deepEqual(retryExact!.status === 'fulfilled' ? retryExact!.value : String(retryExact!.reason), first, "the retry with 'no_stream' resolves with the first result")
  assert.deepEqual(endOffsets(broker), [before[0]! + 1], 'only the new event is written')
  const events = await collect(store.readStream('s'))
  assert.deepEqual(events.map((e) => [e.revision, e.type]), [[0, 'A'], [1, 'A'], [2, 'B']], 'the stream holds the batch once and the new event')
})

test('concurrent duplicates of one new append (same event ids) store it once and resolve alike', async (t) => {
  const { broker, store } = await memoryStore(t)
  await store.appendToStream('s', { type: 'Init', data: 0 })
  const batch = [{ type: 'A', data: 1, id: '00000000-0000-4000-8000-0000000000b1' }]
  const results = await withDeadline(
    Promise.allSettled(Array.from({ length: 5 }, () => store.appendToStream('s', batch.map((e) => ({ ...e }))))),
    5000,
    'concurrent duplicates',
  )
  const values = results.map((r) => (r.status === 'fulfilled' ? r.value : `rejected: ${String(r.reason)}`))
  assert.ok(results.every((r) => r.status === 'fulfilled'), `every duplicate resolves (${JSON.stringify(values)})`)
  for (const v of values) assert.deepEqual(v, values[0], 'every duplicate resolves with the same result')
  const events = await collect(store.readStream('s'))
  assert.deepEqual(events.map((e) => [e.revision, e.id]), [[0, events[0]!.id], [1, batch[0]!.id]], 'the event is stored once')
  assert.deepEqual(endOffsets(broker), [2], 'the log holds two events')
})

test('concurrent appends with exact expectations to several streams: every result matches what is stored', async (t) => {
  const { store } = await memoryStore(t, { partitions: 2 })
  const streams = Array.from({ length: 6 }, (_, i) => `s${i}`)
  for (const s of streams) await store.appendToStream(s, { type: 'Init', data: -1 })
  const calls = streams.flatMap((s) => Array.from({ length: 8 }, (_, k) => ({ s, k })))
  const results = await withDeadline(
    Promise.allSettled(calls.map(({ s, k }) => store.appendToStream(s, [{ type: 'E', data: k }, { type: 'E', data: k }], { expectedRevision: 2 * k }))),
    10_000,
    'concurrent exact appends',
  )
  for (const s of streams) {
    const events = await collect(store.readStream(s))
    assert.deepEqual(events.map((e) => e.revision), Array.from({ length: events.length }, (_, i) => i), `${s}: revisions without gaps`)
    let wins = 0
    results.forEach((r, i) => {
      if (calls[i]!.s !== s) return
      if (r.status === 'rejected') {
        assert.ok(r.reason instanceof WrongExpectedVersionError, `${s}: a refused append gets WrongExpectedVersionError (got ${r.reason?.message})`)
        return
      }
      wins++
      const k = calls[i]!.k
      assert.equal(r.value.nextExpectedRevision, 2 * k + 2, `${s}: the append expecting ${2 * k} wrote revisions ${2 * k + 1}..${2 * k + 2}`)
      assert.deepEqual([events[2 * k + 1]!.data, events[2 * k + 2]!.data], [k, k], `${s}: revisions ${2 * k + 1}..${2 * k + 2} hold that append's events`)
      assert.deepEqual(events[2 * k + 2]!.position, r.value.position, `${s}: its position is its last event's`)
    })
    assert.equal(events.length, 1 + 2 * wins, `${s}: the stream holds exactly the events of the appends that succeeded`)
  }
})
