// readStream (fromRevision, direction, maxCount; a missing stream), the fields of a recorded event,
// JSON and binary round trips, getStreamRevision, and readAll over every stream in position order.
import assert from 'node:assert/strict'
import { KafkaliteError } from '../../src/index.js'
import { StreamNotFoundError, type RecordedEvent } from '../../src/eventstore/index.js'
import { test } from '../fixtures/helpers.js'
import { collect, memoryStore, plain } from './fixtures.js'

test('a recorded event has every field: streamId, revision, position, type, data, metadata, id, isJson, created', async (t) => {
  const { store } = await memoryStore(t)
  const before = Date.now()
  const r = await store.appendToStream('cart-7', { type: 'ItemAdded', data: { sku: 'x' }, metadata: { user: 'u1' }, id: '5f1a4b2c-0000-4000-8000-000000000001' })
  const after = Date.now()
  const [e] = await collect(store.readStream('cart-7'))
  assert.deepEqual(
    Object.keys(e!).sort(),
    ['created', 'data', 'id', 'isJson', 'metadata', 'position', 'revision', 'streamId', 'type'],
    'the fields of a recorded event',
  )
  assert.equal(e!.streamId, 'cart-7', 'streamId')
  assert.equal(e!.revision, 0, 'revision')
  assert.deepEqual(e!.position, r.position, 'position is where the append put it')
  assert.equal(e!.type, 'ItemAdded', 'type')
  assert.deepEqual(e!.data, { sku: 'x' }, 'data')
  assert.deepEqual(e!.metadata, { user: 'u1' }, 'metadata')
  assert.equal(e!.id, '5f1a4b2c-0000-4000-8000-000000000001', 'id')
  assert.equal(e!.isJson, true, 'isJson')
  assert.ok(e!.created instanceof Date, 'created is a Date')
  assert.ok(e!.created.getTime() >= before - 1 && e!.created.getTime() <= after + 1, `created is the append time (${e!.created.toISOString()})`)
})

test('JSON data and metadata of every JSON kind round-trip; binary data comes back as a Buffer', async (t) => {
  const { store } = await memoryStore(t)
  const values: unknown[] = [
    { nested: { deep: [1, 2, { x: null }] }, s: 'ünïcødé ✓ 😀', n: -1.5e-7, b: false },
    [1, 'a', null, [], {}],
    'just a string',
    12345678901,
    0,
    true,
    null,
    {},
    [],
    '',
  ]
  await store.appendToStream('json', values.map((data, i) => ({ type: 'J', data, metadata: i % 2 ? { i, tags: ['a'] } : undefined })))
  const json = await collect(store.readStream('json'))
  assert.equal(json.length, values.length, 'every JSON event is read')
  json.forEach((e, i) => {
    assert.deepEqual(e.data, values[i], `JSON value ${i} round-trips`)
    assert.equal(e.isJson, true, `JSON event ${i} isJson`)
    if (i % 2) assert.deepEqual(e.metadata, { i, tags: ['a'] }, `metadata of event ${i} round-trips`)
    else assert.equal(e.metadata ?? null, null, `event ${i} without metadata reads null`)
  })

  const blobs = [Buffer.from([0, 1, 2, 3, 254, 255]), new Uint8Array([9, 8, 7]), Buffer.from('{"looks":"like json"}'), Buffer.alloc(3000, 0xab)]
  await store.appendToStream('bin', blobs.map((data) => ({ type: 'B', data })))
  const bin = await collect(store.readStream('bin'))
  bin.forEach((e, i) => {
    assert.equal(e.isJson, false, `binary event ${i} is not JSON`)
    assert.ok(Buffer.isBuffer(e.data), `binary event ${i} data is a Buffer`)
    assert.ok((e.data as Buffer).equals(Buffer.from(blobs[i]!)), `binary event ${i} data round-trips`)
  })
})

test('readStream: fromRevision, direction and maxCount', async (t) => {
  const { store } = await memoryStore(t)
  for (let i = 0; i < 10; i += 2) await store.appendToStream('s', [{ type: 'T', data: i }, { type: 'T', data: i + 1 }])
  await store.appendToStream('noise', { type: 'N', data: 'x' })
  const revs = async (options: Parameters<typeof store.readStream>[1]) => (await collect(store.readStream('s', options))).map((e) => e.revision)
  const all = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]

  assert.deepEqual(await revs(undefined), all, 'no options: forwards from the start')
  assert.deepEqual(await revs({}), all, 'empty options: forwards from the start')
  assert.deepEqual(await revs({ fromRevision: 'start' }), all, "forwards from 'start'")
  assert.deepEqual(await revs({ fromRevision: 'start', direction: 'forwards' }), all, "forwards from 'start', direction given")
  assert.deepEqual(await revs({ fromRevision: 4 }), [4, 5, 6, 7, 8, 9], 'forwards from revision 4 (inclusive)')
  assert.deepEqual(await revs({ fromRevision: 9 }), [9], 'forwards from the last revision')
  assert.deepEqual(await revs({ fromRevision: 10 }), [], 'forwards from past the end: nothing')
  assert.deepEqual(await revs({ fromRevision: 'end' }), [], "forwards from 'end': nothing")
  assert.deepEqual(await revs({ fromRevision: 'end', direction: 'backwards' }), [...all].reverse(), "backwards from 'end'")
  assert.deepEqual(await revs({ fromRevision: 6, direction: 'backwards' }), [6, 5, 4, 3, 2, 1, 0], 'backwards from revision 6 (inclusive)')
  assert.deepEqual(await revs({ fromRevision: 0, direction: 'backwards' }), [0], 'backwards from revision 0')
  assert.deepEqual(await revs({ maxCount: 3 }), [0, 1, 2], 'maxCount forwards')
  assert.deepEqual(await revs({ fromRevision: 5, maxCount: 2 }), [5, 6], 'maxCount from a revision')
  assert.deepEqual(await revs({ fromRevision: 'end', direction: 'backwards', maxCount: 4 }), [9, 8, 7, 6], 'maxCount backwards')
  assert.deepEqual(await revs({ fromRevision: 3, direction: 'backwards', maxCount: 10 }), [3, 2, 1, 0], 'maxCount above what there is')
  assert.deepEqual(await revs({ maxCount: 100 }), all, 'maxCount above the stream length')

  const data = (await collect(store.readStream('s'))).map((e) => e.data)
  assert.deepEqual(data, all, 'each revision holds the data appended for it')
})

test('readStream of a missing stream raises StreamNotFoundError when iterated', async (t) => {
  const { store } = await memoryStore(t)
  await store.appendToStream('exists', { type: 'T', data: 1 })
  for (const options of [undefined, { fromRevision: 'end' as const, direction: 'backwards' as const }, { fromRevision: 3 }, { maxCount: 1 }]) {
    const what = `readStream('missing', ${JSON.stringify(options)})`
    let iterable: AsyncIterable<RecordedEvent>
    try {
      iterable = store.readStream('missing', options)
    } catch (err) {
      assert.fail(`${what}: threw when called (${(err as Error).message}); the error belongs to the iteration`)
    }
    const err = await collect(iterable).then(
      (events) => assert.fail(`${what}: read ${events.length} events instead of raising`),
      (e: unknown) => e,
    )
    assert.ok(err instanceof StreamNotFoundError, `${what}: StreamNotFoundError (got ${(err as Error)?.message})`)
    assert.ok(err instanceof KafkaliteError, `${what}: a KafkaliteError`)
    assert.equal(err.code, 'STREAM_NOT_FOUND', `${what}: code`)
    assert.equal(err.type, 'stream-not-found', `${what}: type`)
    assert.equal(err.streamId, 'missing', `${what}: streamId`)
  }
})

test('getStreamRevision: null for a missing stream, then the last revision', async (t) => {
  const { store } = await memoryStore(t)
  assert.equal(await store.getStreamRevision('s'), null, 'a stream never written has no revision')
  await store.appendToStream('s', { type: 'T', data: 1 })
  assert.equal(await store.getStreamRevision('s'), 0, 'one event: revision 0')
  await store.appendToStream('s', [1, 2, 3].map((i) => ({ type: 'T', data: i })))
  assert.equal(await store.getStreamRevision('s'), 3, 'four events: revision 3')
  await store.appendToStream('t', { type: 'T', data: 1 })
  assert.equal(await store.getStreamRevision('s'), 3, "another stream's append does not move it")
  assert.equal(await store.getStreamRevision('t'), 0, 'the other stream has its own revision')
})

test('readAll: every event of every stream in global append order, with fromPosition, direction and maxCount', async (t) => {
  const { store } = await memoryStore(t)
  const order: Array<[string, number]> = []
  for (let i = 0; i < 12; i++) {
    const s = `s${i % 3}`
    const n = 1 + (i % 2)
    const r = await store.appendToStream(s, Array.from({ length: n }, (_, k) => ({ type: 'T', data: { i, k } })))
    for (let k = n - 1; k >= 0; k--) order.push([s, r.nextExpectedRevision - k])
  }
  const key = (e: RecordedEvent): [string, number] => [e.streamId, e.revision]
  const all = await collect(store.readAll())
  assert.deepEqual(all.map(key), order, 'readAll() reads every event once, in append order')
  assert.deepEqual((await collect(store.readAll({ fromPosition: 'start' }))).map(key), order, "fromPosition 'start'")
  assert.deepEqual((await collect(store.readAll({ fromPosition: 'start', direction: 'forwards' }))).map(key), order, "fromPosition 'start', forwards")
  for (let i = 1; i < all.length; i++) assert.ok(all[i]!.position.offset > all[i - 1]!.position.offset, `event ${i} comes after event ${i - 1}`)
  const byStream = await Promise.all(['s0', 's1', 's2'].map(async (s) => (await collect(store.readStream(s))).map(plain)))
  assert.deepEqual(
    ['s0', 's1', 's2'].map((s) => all.filter((e) => e.streamId === s).map(plain)),
    byStream,
    'readAll yields the same events as readStream of each stream',
  )

  assert.deepEqual((await collect(store.readAll({ fromPosition: 'end', direction: 'backwards' }))).map(key), [...order].reverse(), "backwards from 'end'")
  assert.deepEqual((await collect(store.readAll({ fromPosition: 'end' }))).map(key), [], "forwards from 'end': nothing")
  assert.deepEqual((await collect(store.readAll({ maxCount: 5 }))).map(key), order.slice(0, 5), 'maxCount forwards')
  assert.deepEqual((await collect(store.readAll({ fromPosition: 'end', direction: 'backwards', maxCount: 4 }))).map(key), [...order].reverse().slice(0, 4), 'maxCount backwards')

  const mid = all[7]!.position
  assert.deepEqual((await collect(store.readAll({ fromPosition: mid }))).map(key), order.slice(7), 'forwards from a position includes the event at it')
  assert.deepEqual((await collect(store.readAll({ fromPosition: mid, maxCount: 2 }))).map(key), order.slice(7, 9), 'forwards from a position with maxCount')
  const back = (await collect(store.readAll({ fromPosition: mid, direction: 'backwards' }))).map(key)
  // Whether the event at the position itself is included backwards is not specified: both are accepted.
  const inclusive = order.slice(0, 8).reverse()
  const exclusive = order.slice(0, 7).reverse()
  assert.ok(
    JSON.stringify(back) === JSON.stringify(inclusive) || JSON.stringify(back) === JSON.stringify(exclusive),
    `backwards from a position reads what is before it, newest first (got ${JSON.stringify(back)})`,
  )
})

test('readAll over several partitions reads every event exactly once, each partition in offset order', async (t) => {
  const { store } = await memoryStore(t, { partitions: 3 })
  const written = new Set<string>()
  for (let i = 0; i < 40; i++) {
    const s = `stream-${i % 8}`
    const r = await store.appendToStream(s, { type: 'T', data: i })
    written.add(`${s}@${r.nextExpectedRevision}`)
  }
  const all = await collect(store.readAll())
  assert.equal(all.length, 40, 'readAll reads 40 events')
  assert.deepEqual(new Set(all.map((e) => `${e.streamId}@${e.revision}`)), written, 'each event exactly once')
  const last = new Map<number, number>()
  for (const e of all) {
    assert.ok(e.position.offset > (last.get(e.position.partition) ?? -1), `partition ${e.position.partition}: offsets ascend`)
    last.set(e.position.partition, e.position.offset)
  }
  assert.ok(last.size > 1, 'the events are on more than one partition')
  const back = await collect(store.readAll({ fromPosition: 'end', direction: 'backwards' }))
  assert.deepEqual(back.map(plain), [...all].reverse().map(plain), 'backwards is forwards reversed')
  for (const s of new Set(all.map((e) => e.streamId))) {
    assert.deepEqual(
      all.filter((e) => e.streamId === s).map((e) => e.revision),
      Array.from({ length: 5 }, (_, i) => i),
      `readAll holds ${s}'s revisions in order`,
    )
  }
})
