// appendToStream: revisions from 0, the result's shape and position, every expected revision
// ('any', 'no_stream', 'stream_exists', a number or bigint, also as `streamState`), the
// WrongExpectedVersionError's fields, idempotent retries by event id, jsonEvent/binaryEvent, and
// bad input refused before anything is written.
import assert from 'node:assert/strict'
import { KafkaliteError } from '../../src/index.js'
import { WrongExpectedVersionError, binaryEvent, jsonEvent, type EventData, type ExpectedRevision } from '../../src/eventstore/index.js'
import { test } from '../fixtures/helpers.js'
import { assertCode, barrier, collect, endOffsets, failure, memoryStore, plain, rejection, uuid } from './fixtures.js'

test('the first event is revision 0, a batch takes consecutive revisions, the result names the last one', async (t) => {
  const { store } = await memoryStore(t)
  const one = await store.appendToStream('order-1', { type: 'OrderPlaced', data: { total: 42 } })
  assert.deepEqual(Object.keys(one).sort(), ['nextExpectedRevision', 'position', 'success'], 'result fields')
  assert.equal(one.success, true, 'success is true')
  assert.equal(one.nextExpectedRevision, 0, 'the first event of a stream is revision 0')
  assert.equal(typeof one.nextExpectedRevision, 'number', 'nextExpectedRevision is a number')
  assert.deepEqual(Object.keys(one.position).sort(), ['offset', 'partition'], 'position fields')
  assert.equal(one.position.partition, 0, 'one partition: partition 0')

  const three = await store.appendToStream('order-1', [
    { type: 'ItemAdded', data: { sku: 'a' } },
    { type: 'ItemAdded', data: { sku: 'b' } },
    { type: 'OrderPaid', data: { paid: true } },
  ])
  assert.equal(three.nextExpectedRevision, 3, 'three more events: revisions 1..3')
  const events = await collect(store.readStream('order-1'))
  assert.deepEqual(events.map((e) => e.revision), [0, 1, 2, 3], 'revisions 0..3 with no gap')
  assert.deepEqual(events.map((e) => e.type), ['OrderPlaced', 'ItemAdded', 'ItemAdded', 'OrderPaid'], 'types in append order')
  assert.deepEqual(events[0]!.position, one.position, 'position of a one-event append is where the event is')
  assert.deepEqual(events[3]!.position, three.position, 'position of a batch is where its last event is')
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i]!.position.offset > events[i - 1]!.position.offset, `revision ${i} is stored after revision ${i - 1}`)
  }

  const other = await store.appendToStream('order-2', [{ type: 'OrderPlaced', data: {} }])
  assert.equal(other.nextExpectedRevision, 0, 'each stream has its own revisions')
  assert.ok(other.position.offset > three.position.offset, 'positions follow the global append order')
})

/** Appends one event with `options`, returning the result or the error. */
async function tryAppend(store: Awaited<ReturnType<typeof memoryStore>>['store'], streamId: string, options: Record<string, unknown>) {
  try {
    return await store.appendToStream(streamId, { type: 'T', data: { options: String(Object.values(options)[0]) } }, options)
  } catch (err) {
    return err
  }
}

for (const key of ['expectedRevision', 'streamState'] as const) {
  test(`${key}: 'any', 'no_stream', 'stream_exists' and exact revisions (number and bigint)`, async (t) => {
    const { broker, store } = await memoryStore(t)
    const ok = async (stream: string, exp: ExpectedRevision, rev: number, what: string) => {
      const r = await tryAppend(store, stream, { [key]: exp })
      assert.ok(!(r instanceof Error), `${what}: succeeds (got ${(r as Error)?.message})`)
      assert.equal((r as { nextExpectedRevision: number }).nextExpectedRevision, rev, `${what}: writes revision ${rev}`)
    }
    const wrong = async (stream: string, exp: ExpectedRevision, actual: number | 'no_stream', what: string) => {
      const before = endOffsets(broker)
      const revBefore = await store.getStreamRevision(stream)
      const err = await tryAppend(store, stream, { [key]: exp })
      assert.ok(err instanceof WrongExpectedVersionError, `${what}: WrongExpectedVersionError (got ${String((err as Error)?.message ?? JSON.stringify(err))})`)
      assert.ok(err instanceof KafkaliteError, `${what}: is a KafkaliteError`)
      assert.equal(err.code, 'WRONG_EXPECTED_VERSION', `${what}: code`)
      assert.equal(err.type, 'wrong-expected-version', `${what}: type`)
      assert.equal(err.streamId, stream, `${what}: streamId`)
      assert.equal(err.expectedRevision, exp, `${what}: expectedRevision is the expectation given`)
      assert.equal(err.actualRevision, actual, `${what}: actualRevision`)
      assert.deepEqual(endOffsets(broker), before, `${what}: nothing is written`)
      assert.equal(await store.getStreamRevision(stream), revBefore, `${what}: the stream is unchanged`)
    }

    // A new stream.
    await wrong('s1', 'stream_exists', 'no_stream', "'stream_exists' on a new stream")
    await wrong('s1', 0, 'no_stream', 'revision 0 on a new stream')
    await wrong('s1', 0n, 'no_stream', 'revision 0n on a new stream')
    await ok('s1', 'no_stream', 0, "'no_stream' on a new stream")
    // It exists now, at revision 0.
    await wrong('s1', 'no_stream', 0, "'no_stream' on an existing stream")
    await wrong('s1', 1, 0, 'revision 1 when the stream is at 0')
    await ok('s1', 'stream_exists', 1, "'stream_exists' on an existing stream")
    await ok('s1', 1, 2, 'revision 1 (number) when the stream is at 1')
    await ok('s1', 2n, 3, 'revision 2n (bigint) when the stream is at 2')
    await wrong('s1', 2, 3, 'a stale revision')
    await wrong('s1', 2n, 3, 'a stale bigint revision')
    await wrong('s1', 7, 3, 'a revision ahead of the stream')
    await ok('s1', 'any', 4, "'any' on an existing stream")
    await ok('s2', 'any', 0, "'any' on a new stream")
    const deflt = await store.appendToStream('s2', { type: 'T', data: null })
    assert.equal(deflt.nextExpectedRevision, 1, "no expectation is 'any'")
    assert.deepEqual((await collect(store.readStream('s1'))).map((e) => e.revision), [0, 1, 2, 3, 4], 's1 holds exactly the appends that succeeded')
  })
}

test('a batch is all or nothing: a wrong expectation writes none of its events', async (t) => {
  const { broker, store } = await memoryStore(t)
  await store.appendToStream('s', [{ type: 'A', data: 1 }])
  const before = endOffsets(broker)
  const err = await failure('batch with a wrong expectation', () =>
    store.appendToStream('s', [1, 2, 3].map((i) => ({ type: 'B', data: i })), { expectedRevision: 'no_stream' }),
  )
  assert.ok(err instanceof WrongExpectedVersionError, `WrongExpectedVersionError (got ${err?.message})`)
  assert.equal(err.actualRevision, 0, 'actualRevision is the last revision')
  assert.deepEqual(endOffsets(broker), before, 'nothing is written')
  assert.deepEqual((await collect(store.readStream('s'))).map((e) => e.type), ['A'], 'the stream holds only its first event')
})

test('a retry (event ids already in the stream) resolves with the first result and writes nothing, whatever the expectation', async (t) => {
  const { broker, store } = await memoryStore(t)
  const batch: EventData[] = [
    { type: 'A', data: { n: 1 }, id: uuid(1) },
    { type: 'B', data: { n: 2 }, id: uuid(2) },
  ]
  const first = await store.appendToStream('s', batch, { expectedRevision: 'no_stream' })
  const single = jsonEvent({ type: 'C', data: { n: 3 } })
  const second = await store.appendToStream('s', single, { expectedRevision: 1 })
  await store.appendToStream('other', { type: 'X', data: 0 })
  const later = await store.appendToStream('s', { type: 'D', data: { n: 4 } })
  assert.equal(later.nextExpectedRevision, 3, 's is at revision 3')
  const before = endOffsets(broker)
  const stream = (await collect(store.readStream('s'))).map(plain)

  const expectations: Array<ExpectedRevision | undefined> = [undefined, 'any', 'no_stream', 'stream_exists', 0, 1, 3, 99, 1n]
  for (const exp of expectations) {
    const options = exp === undefined ? {} : { expectedRevision: exp }
    const what = `retry with expectation ${String(exp)}`
    const again = await store.appendToStream('s', batch.map((e) => ({ ...e })), options).catch((err: Error) => err)
    assert.deepEqual(again, first, `${what}: resolves with the first result`)
    const again2 = await store.appendToStream('s', { ...single }, options).catch((err: Error) => err)
    assert.deepEqual(again2, second, `${what} of a one-event append: resolves with its first result`)
  }
  const viaStreamState = await store.appendToStream('s', batch, { streamState: 'no_stream' }).catch((err: Error) => err)
  assert.deepEqual(viaStreamState, first, "retry with streamState 'no_stream': resolves with the first result")
  assert.deepEqual(endOffsets(broker), before, 'retries write nothing')
  assert.deepEqual((await collect(store.readStream('s'))).map(plain), stream, 'the stream is unchanged by retries')
  assert.equal(await store.getStreamRevision('s'), 3, 'the stream is still at revision 3')
})

test('event ids stored in another stream do not make an append a retry', async (t) => {
  const { store } = await memoryStore(t)
  const e = { type: 'A', data: 1, id: uuid(7) }
  await store.appendToStream('one', [e, { type: 'B', data: 2 }])
  const r = await store.appendToStream('two', e, { expectedRevision: 'no_stream' })
  assert.equal(r.nextExpectedRevision, 0, "the id is new to stream 'two': its event is written as revision 0")
  const read = await collect(store.readStream('two'))
  assert.deepEqual(read.map((x) => [x.revision, x.id, x.data]), [[0, uuid(7), 1]], "stream 'two' holds the event")
})

test('jsonEvent and binaryEvent: ids, content types and data as read back', async (t) => {
  const { store } = await memoryStore(t)
  const j = jsonEvent({ type: 'Json', data: { a: [1, 'two', null] }, metadata: { by: 'me' } })
  assert.equal(typeof j.id, 'string', 'jsonEvent gives an id')
  assert.match(j.id!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a UUID')
  assert.notEqual(jsonEvent({ type: 'Json', data: 1 }).id, j.id, 'each jsonEvent gets a fresh id')
  assert.equal(jsonEvent({ type: 'Json', data: 1, id: uuid(5) }).id, uuid(5), 'jsonEvent keeps a given id')
  const b = binaryEvent({ type: 'Bin', data: new Uint8Array([0, 1, 2, 255]), metadata: Buffer.from('meta') })
  assert.equal(typeof b.id, 'string', 'binaryEvent gives an id')
  const plainNoId = { type: 'Plain', data: 'text' }
  await store.appendToStream('s', [j, b, plainNoId, { type: 'Plain', data: 'text' }])

  const [rj, rb, rp1, rp2] = await collect(store.readStream('s'))
  assert.deepEqual([rj!.id, rj!.type, rj!.isJson, rj!.data, rj!.metadata], [j.id, 'Json', true, { a: [1, 'two', null] }, { by: 'me' }], 'the JSON event round-trips')
  assert.equal(rb!.id, b.id, 'the binary event keeps its id')
  assert.equal(rb!.isJson, false, 'a binary event is not JSON')
  assert.ok(Buffer.isBuffer(rb!.data), 'binary data comes back as a Buffer')
  assert.deepEqual([...(rb!.data as Buffer)], [0, 1, 2, 255], 'binary data round-trips')
  assert.ok(Buffer.isBuffer(rb!.metadata), 'binary metadata comes back as a Buffer')
  assert.equal((rb!.metadata as Buffer).toString(), 'meta', 'binary metadata round-trips')
  assert.equal(typeof rp1!.id, 'string', 'an event without an id gets one')
  assert.ok(rp1!.id.length > 0, 'the id given is not empty')
  assert.notEqual(rp1!.id, rp2!.id, 'two events without ids get different ids')
  assert.equal(rp1!.isJson, true, 'plain data is JSON')
  assert.equal(rp1!.data, 'text', 'a JSON string round-trips')
  assert.equal(rp1!.metadata ?? null, null, 'no metadata reads back as null')
})

test('bad input is refused with a KafkaliteError and writes nothing', async (t) => {
  const { broker, store } = await memoryStore(t)
  await store.appendToStream('s', { type: 'T', data: 0 })
  const before = endOffsets(broker)
  const good = { type: 'Good', data: 1 }
  const cases: Array<[string, () => unknown, string[]]> = [
    ['an empty stream id', () => store.appendToStream('', good), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ["a type starting with '$'", () => store.appendToStream('s', { type: '$system', data: 1 }), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['an empty type', () => store.appendToStream('s', { type: '', data: 1 }), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['undefined data', () => store.appendToStream('s', { type: 'T', data: undefined }), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['no data field', () => store.appendToStream('s', { type: 'T' } as EventData), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['an empty array of events', () => store.appendToStream('s', []), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['null events', () => store.appendToStream('s', null as unknown as EventData), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['a number as events', () => store.appendToStream('s', 42 as unknown as EventData), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['a string as events', () => store.appendToStream('s', 'event' as unknown as EventData), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['a batch with one bad event after a good one', () => store.appendToStream('s', [good, { type: '$bad', data: 1 }]), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['a batch with undefined data after a good one', () => store.appendToStream('s', [good, { type: 'T', data: undefined }]), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['a negative expected revision', () => store.appendToStream('s', good, { expectedRevision: -1 }), ['INVALID_RECORD', 'INVALID_CONFIG']],
    ['an unknown expected revision', () => store.appendToStream('s', good, { expectedRevision: 'latest' as ExpectedRevision }), ['INVALID_RECORD', 'INVALID_CONFIG']],
  ]
  for (const [what, call, codes] of cases) {
    const err = await failure(what, call)
    assertCode(err, codes, what)
    await barrier(store)
    assert.deepEqual(endOffsets(broker), before, `${what}: nothing is written`)
  }
  assert.deepEqual((await collect(store.readStream('s'))).map((e) => e.data), [0], 'the stream is unchanged')
})

test('bad input is a rejected promise, not a synchronous throw', async (t) => {
  const { store } = await memoryStore(t)
  const calls: Array<[string, () => unknown]> = [
    ['an empty stream id', () => store.appendToStream('', { type: 'T', data: 1 })],
    ["a type starting with '$'", () => store.appendToStream('s', { type: '$x', data: 1 })],
    ['undefined data', () => store.appendToStream('s', { type: 'T', data: undefined })],
    ['an empty array of events', () => store.appendToStream('s', [])],
  ]
  for (const [what, call] of calls) assertCode(await rejection(what, call), ['INVALID_RECORD', 'INVALID_CONFIG'], what)
})

test('an event whose data or metadata cannot be encoded is refused with a KafkaliteError, and no event of its batch is written', async (t) => {
  const { broker, store } = await memoryStore(t)
  const circular: Record<string, unknown> = { a: 1 }
  circular.self = circular
  const good = { type: 'Good', data: 1 }
  const cases: Array<[string, EventData]> = [
    ['a function as data', { type: 'T', data: () => 1 }],
    ['a symbol as data', { type: 'T', data: Symbol('x') }],
    ['a bigint as data', { type: 'T', data: 10n }],
    ['a circular object as data', { type: 'T', data: circular }],
    ['a function as metadata', { type: 'T', data: 1, metadata: () => 1 }],
    ['JSON metadata on a binary event', { ...binaryEvent({ type: 'B', data: Buffer.from('x') }), metadata: { not: 'bytes' } }],
  ]
  // Every case is tried on its own stream and every problem listed, so that none hides another.
  const problems: string[] = []
  for (const [i, [what, bad]] of cases.entries()) {
    for (const [shape, events] of [
      ['alone', [bad]],
      ['after a good event', [good, bad]],
    ] as const) {
      const label = `${what} (${shape})`
      const stream = `case-${i}-${shape.length}`
      await store.appendToStream(stream, { type: 'T', data: 0 })
      const before = endOffsets(broker)
      const err = await failure(label, () => store.appendToStream(stream, [...events]))
      const code = (err as { code?: string })?.code
      if (!(err instanceof KafkaliteError) || !['INVALID_RECORD', 'INVALID_CONFIG'].includes(code!)) {
        problems.push(`${label}: rejected with ${(err as Error)?.name} (code ${code}), not a KafkaliteError INVALID_RECORD/INVALID_CONFIG`)
      }
      await barrier(store)
      const written = endOffsets(broker)[0]! - before[0]!
      if (written !== 0) problems.push(`${label}: ${written} record(s) written although the append was refused`)
      const rev = await store.getStreamRevision(stream)
      if (rev !== 0) problems.push(`${label}: the stream moved to revision ${rev}`)
    }
  }
  assert.deepEqual(problems, [], 'an append with an event that cannot be encoded is refused as bad input and writes nothing')
})
