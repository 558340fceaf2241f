// deleteStream (soft: not found, then reusable with revisions continuing after the old ones) and
// tombstoneStream (hard: StreamDeletedError for every read and append, for ever, also after a
// reopen), both with expected revisions, and neither touching other streams.
import assert from 'node:assert/strict'
import { KafkaliteError } from '../../src/index.js'
import { StreamDeletedError, StreamNotFoundError, WrongExpectedVersionError } from '../../src/eventstore/index.js'
import { test } from '../fixtures/helpers.js'
import { collect, endOffsets, failure, memoryStore, openOn, readPlain, storeDir, uuid } from './fixtures.js'

const ev = (data: unknown, id?: string) => ({ type: 'T', data, ...(id ? { id } : {}) })

test('deleteStream: reads raise StreamNotFoundError, the revision is null, and the id is reused with revisions after the old ones', async (t) => {
  const { store } = await memoryStore(t)
  await store.appendToStream('s', [ev('a'), ev('b'), ev('c')])
  await store.appendToStream('keep', [ev('k')])
  await store.deleteStream('s')

  const err = await failure('readStream of a deleted stream', () => collect(store.readStream('s')))
  assert.ok(err instanceof StreamNotFoundError, `StreamNotFoundError (got ${err?.message})`)
  assert.equal(err.code, 'STREAM_NOT_FOUND', 'code')
  assert.equal(err.streamId, 's', 'streamId')
  assert.equal(await store.getStreamRevision('s'), null, 'a deleted stream has no revision')
  assert.deepEqual((await collect(store.readStream('keep'))).map((e) => e.data), ['k'], 'other streams are untouched')

  const r = await store.appendToStream('s', [ev('d'), ev('e')], { expectedRevision: 'no_stream' })
  assert.equal(r.nextExpectedRevision, 4, "an append with 'no_stream' continues after the old revisions (3, 4)")
  assert.equal(await store.getStreamRevision('s'), 4, 'the revision is the new last one')
  const events = await collect(store.readStream('s'))
  assert.deepEqual(events.map((e) => [e.revision, e.data]), [[3, 'd'], [4, 'e']], 'only the new events are read')
  assert.deepEqual(
    (await collect(store.readStream('s', { fromRevision: 'end', direction: 'backwards' }))).map((e) => e.revision),
    [4, 3],
    'backwards from the end reads only the new events',
  )
  const next = await store.appendToStream('s', ev('f'), { expectedRevision: 4 })
  assert.equal(next.nextExpectedRevision, 5, 'exact expectations work on the reused stream')
})

test("deleteStream, then an append with 'any' continues the revisions too", async (t) => {
  const { store } = await memoryStore(t)
  await store.appendToStream('s', [ev(0), ev(1)])
  await store.deleteStream('s')
  const r = await store.appendToStream('s', ev(2))
  assert.equal(r.nextExpectedRevision, 2, "'any' continues after the old revisions")
  assert.deepEqual((await collect(store.readStream('s'))).map((e) => e.revision), [2], 'only revision 2 is read')
})

test('a soft-deleted stream is one with no events for expectations', async (t) => {
  const { broker, store } = await memoryStore(t)
  await store.appendToStream('s', [ev(0), ev(1)])
  await store.deleteStream('s')
  const before = endOffsets(broker)
  const err = await failure("'stream_exists' on a deleted stream", () => store.appendToStream('s', ev(9), { expectedRevision: 'stream_exists' }))
  assert.ok(err instanceof WrongExpectedVersionError, `WrongExpectedVersionError (got ${err?.message})`)
  assert.deepEqual(endOffsets(broker), before, 'nothing is written')
})

test('readStream from a revision below the soft delete reads the new events only', async (t) => {
  const { store } = await memoryStore(t)
  await store.appendToStream('s', [ev(0), ev(1), ev(2)])
  await store.deleteStream('s')
  await store.appendToStream('s', [ev(3), ev(4)])
  assert.deepEqual(
    (await collect(store.readStream('s', { fromRevision: 0 }))).map((e) => e.revision),
    [3, 4],
    'forwards from revision 0: the events with revision ≥ 0 that are not deleted',
  )
  assert.deepEqual(
    (await collect(store.readStream('s', { fromRevision: 1, maxCount: 1 }))).map((e) => e.revision),
    [3],
    'forwards from revision 1 with maxCount 1: the first event not deleted',
  )
  assert.deepEqual(
    (await collect(store.readStream('s', { fromRevision: 2, direction: 'backwards' }))).map((e) => e.revision),
    [],
    'backwards from a deleted revision: nothing at or below it is visible',
  )
})

test('deleteStream and tombstoneStream check expectedRevision', async (t) => {
  const { broker, store } = await memoryStore(t)
  await store.appendToStream('s', [ev(0), ev(1)])
  await store.appendToStream('h', [ev(0), ev(1)])
  for (const [what, call] of [
    ['deleteStream expecting 0', () => store.deleteStream('s', { expectedRevision: 0 })],
    ["deleteStream expecting 'no_stream'", () => store.deleteStream('s', { expectedRevision: 'no_stream' })],
    ['tombstoneStream expecting 5', () => store.tombstoneStream('h', { expectedRevision: 5 })],
    ["tombstoneStream expecting 'no_stream'", () => store.tombstoneStream('h', { expectedRevision: 'no_stream' })],
  ] as const) {
    const before = endOffsets(broker)
    const err = await failure(what, call)
    assert.ok(err instanceof WrongExpectedVersionError, `${what}: WrongExpectedVersionError (got ${err?.message})`)
    assert.equal(err.actualRevision, 1, `${what}: actualRevision`)
    assert.deepEqual(endOffsets(broker), before, `${what}: nothing is written`)
  }
  assert.equal(await store.getStreamRevision('s'), 1, 's is intact after refused deletes')
  assert.equal(await store.getStreamRevision('h'), 1, 'h is intact after refused tombstones')
  await store.deleteStream('s', { expectedRevision: 1 })
  assert.equal(await store.getStreamRevision('s'), null, 'deleteStream with the right revision deletes')
  await store.tombstoneStream('h', { expectedRevision: 1n })
  const err = await failure('read after tombstone', () => collect(store.readStream('h')))
  assert.ok(err instanceof StreamDeletedError, `tombstoneStream with the right revision (bigint) tombstones (got ${err?.message})`)
  await store.appendToStream('x', ev(0))
  await store.deleteStream('x', { expectedRevision: 'stream_exists' })
  assert.equal(await store.getStreamRevision('x'), null, "deleteStream with 'stream_exists' deletes an existing stream")
})

test('tombstoneStream: every later read and append raises StreamDeletedError and writes nothing', async (t) => {
  const { broker, store } = await memoryStore(t)
  await store.appendToStream('s', [ev(0, uuid(1)), ev(1, uuid(2))])
  await store.appendToStream('keep', ev('k'))
  await store.tombstoneStream('s')
  const before = endOffsets(broker)

  const attempts: Array<[string, () => unknown]> = [
    ['readStream', () => collect(store.readStream('s'))],
    ['readStream backwards', () => collect(store.readStream('s', { fromRevision: 'end', direction: 'backwards' }))],
    ['readStream from revision 1', () => collect(store.readStream('s', { fromRevision: 1 }))],
    ["append with 'any'", () => store.appendToStream('s', ev(2))],
    ["append with 'no_stream'", () => store.appendToStream('s', ev(2), { expectedRevision: 'no_stream' })],
    ['append with the last revision', () => store.appendToStream('s', ev(2), { expectedRevision: 1 })],
    ['a retry of the ids already stored', () => store.appendToStream('s', [ev(0, uuid(1)), ev(1, uuid(2))])],
    ['deleteStream', () => store.deleteStream('s')],
    ['tombstoneStream again', () => store.tombstoneStream('s')],
  ]
  for (const [what, call] of attempts) {
    const err = await failure(what, call)
    assert.ok(err instanceof StreamDeletedError, `${what}: StreamDeletedError (got ${err?.name}: ${err?.message})`)
    assert.ok(err instanceof KafkaliteError, `${what}: a KafkaliteError`)
    assert.equal(err.code, 'STREAM_DELETED', `${what}: code`)
    assert.equal(err.type, 'stream-deleted', `${what}: type`)
    assert.equal(err.streamId, 's', `${what}: streamId`)
    assert.deepEqual(endOffsets(broker), before, `${what}: nothing is written`)
  }
  const rev = await Promise.resolve()
    .then(() => store.getStreamRevision('s'))
    .catch((e: unknown) => e)
  assert.ok(rev === null || rev instanceof StreamDeletedError, `getStreamRevision of a tombstoned stream: null or StreamDeletedError (got ${String(rev)})`)
  assert.deepEqual((await collect(store.readStream('keep'))).map((e) => e.data), ['k'], 'other streams are untouched')
})

test('tombstones and soft deletes survive close and reopen', async (t) => {
  const { dir, defer } = storeDir(t)
  let { store, close } = await openOn(defer, dir)
  await store.appendToStream('hard', [ev(0), ev(1)])
  await store.appendToStream('soft', [ev(0), ev(1), ev(2)])
  await store.appendToStream('live', ev('x'))
  await store.tombstoneStream('hard')
  await store.deleteStream('soft')
  await close()

  ;({ store, close } = await openOn(defer, dir))
  assert.equal(await readPlain(store, 'hard'), 'STREAM_DELETED', 'the tombstoned stream still raises StreamDeletedError')
  const err = await failure('append to the tombstoned stream after reopen', () => store.appendToStream('hard', ev(2)))
  assert.ok(err instanceof StreamDeletedError, `append after reopen: StreamDeletedError (got ${err?.message})`)
  assert.equal(await readPlain(store, 'soft'), 'STREAM_NOT_FOUND', 'the soft-deleted stream is still not found')
  assert.equal(await store.getStreamRevision('soft'), null, 'the soft-deleted stream has no revision')
  const r = await store.appendToStream('soft', ev(3), { expectedRevision: 'no_stream' })
  assert.equal(r.nextExpectedRevision, 3, 'the soft-deleted stream continues at revision 3 after reopen')
  const live = await readPlain(store, 'live')
  await close()

  ;({ store, close } = await openOn(defer, dir))
  assert.deepEqual(((await readPlain(store, 'soft')) as Array<{ revision: number }>).map((e) => e.revision), [3], 'after another reopen only the new event is read')
  assert.equal(await readPlain(store, 'hard'), 'STREAM_DELETED', 'the tombstone holds after a second reopen')
  assert.deepEqual(await readPlain(store, 'live'), live, 'the untouched stream reads the same')
  await close()
})
