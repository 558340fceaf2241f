// Close and reopen on the same dir: every stream, revision and readAll reads back the same, appends
// continue, expectations and retries still hold; and an index checkpoint that is corrupted, deleted
// or stale is rebuilt (or caught up) from the log with the same reads.
import assert from 'node:assert/strict'
import { copyFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { EventStore, WrongExpectedVersionError, binaryEvent, type EventData } from '../../src/eventstore/index.js'
import { test } from '../fixtures/helpers.js'
import { checkpointFiles, collect, failure, openOn, plain, readPlain, storeDir, uuid } from './fixtures.js'

const STREAMS = ['order-1', 'order-2', 'cart-1', 'soft', 'hard', 'never']

/** Fills a store with JSON and binary events, a soft delete with a reuse, and a tombstone; returns the retryable batches. */
async function fill(store: EventStore): Promise<Array<{ stream: string; events: EventData[]; result: unknown }>> {
  const batches: Array<{ stream: string; events: EventData[]; result: unknown }> = []
  let n = 0
  const append = async (stream: string, count: number) => {
    const events = Array.from({ length: count }, (_, i) =>
      n % 3 === 2
        ? binaryEvent({ type: 'Blob', data: Buffer.from([n, i, 255]), metadata: Buffer.from(`m${n}`), id: uuid(++n) })
        : { type: `Type${n % 4}`, data: { n, i, text: 'é✓' }, metadata: n % 2 ? { corr: n } : undefined, id: uuid(++n) },
    )
    batches.push({ stream, events, result: await store.appendToStream(stream, events) })
  }
  for (let i = 0; i < 8; i++) await append(['order-1', 'order-2', 'cart-1'][i % 3]!, 1 + (i % 3))
  await append('soft', 3)
  await store.deleteStream('soft')
  batches.pop() // Retrying a batch from before a soft delete is left unspecified.
  await append('soft', 2)
  await append('hard', 2)
  await store.tombstoneStream('hard')
  batches.pop() // A tombstoned stream refuses retries too (tested in delete.test.ts).
  await append('order-1', 1)
  return batches
}

/** What a store shows: every stream read (or its error code), every revision, and readAll. */
async function snapshot(store: EventStore) {
  const streams: Record<string, unknown> = {}
  for (const s of STREAMS) {
    streams[s] = {
      forwards: await readPlain(store, s),
      backwards: await readPlain(store, s, { fromRevision: 'end', direction: 'backwards' }),
      revision: await Promise.resolve()
        .then(() => store.getStreamRevision(s))
        .catch((e: { code?: string }) => e?.code ?? e),
    }
  }
  const all = (await collect(store.readAll())).map(plain)
  return { streams, all }
}

/** Checks that a reopened store continues: appends, expectations and retries of earlier batches. */
async function continues(store: EventStore, batches: Awaited<ReturnType<typeof fill>>, what: string): Promise<void> {
  for (const b of batches) {
    const again = await store.appendToStream(b.stream, b.events, { expectedRevision: 'no_stream' }).catch((e: Error) => e)
    assert.deepEqual(again, b.result, `${what}: a retry of a batch of ${b.stream} resolves with its first result`)
  }
  const last = await store.getStreamRevision('order-1')
  assert.equal(typeof last, 'number', `${what}: order-1 has a revision`)
  const err = await failure(`${what}: a stale expectation`, () => store.appendToStream('order-1', { type: 'T', data: 1 }, { expectedRevision: last! - 1 }))
  assert.ok(err instanceof WrongExpectedVersionError, `${what}: a stale expectation is refused (got ${err?.message})`)
  assert.equal(err.actualRevision, last, `${what}: actualRevision`)
  const r = await store.appendToStream('order-1', { type: 'T', data: 'after' }, { expectedRevision: last! })
  assert.equal(r.nextExpectedRevision, last! + 1, `${what}: the next append takes the next revision`)
  const tail = await collect(store.readStream('order-1', { fromRevision: 'end', direction: 'backwards', maxCount: 1 }))
  assert.deepEqual(tail.map((e) => [e.revision, e.data]), [[last! + 1, 'after']], `${what}: the new event reads back`)
  assert.equal(await readPlain(store, 'hard'), 'STREAM_DELETED', `${what}: the tombstone holds`)
}

test('close and reopen: every stream reads back the same, and the store continues where it was', async (t) => {
  const { dir, defer } = storeDir(t)
  const first = await openOn(defer, dir)
  const batches = await fill(first.store)
  const before = await snapshot(first.store)
  await first.close()

  const { store: second } = await openOn(defer, dir)
  assert.deepEqual(await snapshot(second), before, 'the reopened store reads the same streams, revisions and readAll')
  await continues(second, batches, 'after reopen')
})

test('the store keeps its index checkpoints under __eventstore in the data dir', async (t) => {
  const { dir, defer } = storeDir(t)
  const { store, close } = await openOn(defer, dir, { partitions: 3 })
  await fill(store)
  await close()
  const files = checkpointFiles(dir)
  assert.ok(files.length > 0, `a clean close leaves .index checkpoint files under __eventstore (found ${files.length})`)
})

const corruptions: Array<[string, (file: string) => void]> = [
  ['deleted', (f) => rmSync(f)],
  ['emptied', (f) => truncateSync(f, 0)],
  ['truncated to half', (f) => truncateSync(f, Math.floor(readFileSync(f).length / 2))],
  ['a byte flipped in the middle', (f) => {
    const b = readFileSync(f)
    b[Math.floor(b.length / 2)] ^= 0x5a
    writeFileSync(f, b)
  }],
  ['the last byte flipped', (f) => {
    const b = readFileSync(f)
    b[b.length - 1] ^= 0x01
    writeFileSync(f, b)
  }],
  ['garbage', (f) => writeFileSync(f, Buffer.from('this is not a stream index checkpoint at all'))],
  ['the header destroyed', (f) => {
    const b = readFileSync(f)
    b.fill(0, 0, Math.min(16, b.length))
    writeFileSync(f, b)
  }],
]

for (const partitions of [1, 3]) {
  test(`a corrupted or deleted index checkpoint is rebuilt from the log (${partitions} partition${partitions > 1 ? 's' : ''})`, async (t) => {
    const { dir, defer } = storeDir(t)
    const first = await openOn(defer, dir, { partitions })
    const batches = await fill(first.store)
    const before = await snapshot(first.store)
    await first.close()
    const files = checkpointFiles(dir)
    assert.ok(files.length > 0, 'there are checkpoint files to corrupt')
    const pristine = files.map((f) => readFileSync(f))

    for (const [what, corrupt] of corruptions) {
      files.forEach((f, i) => writeFileSync(f, pristine[i]!))
      for (const f of files) corrupt(f)
      const { store, close } = await openOn(defer, dir, { partitions }).catch((e: Error) => assert.fail(`checkpoint ${what}: the store does not open (${e.message})`))
      try {
        assert.deepEqual(await snapshot(store), before, `checkpoint ${what}: the rebuilt index gives the same reads`)
        for (const b of batches) {
          const again = await store.appendToStream(b.stream, b.events, { expectedRevision: 'no_stream' }).catch((e: Error) => e)
          assert.deepEqual(again, b.result, `checkpoint ${what}: a retry of a batch of ${b.stream} resolves with its first result`)
        }
        assert.deepEqual(await snapshot(store), before, `checkpoint ${what}: retries wrote nothing`)
        const err = await failure(`checkpoint ${what}: stale expectation`, () => store.appendToStream('cart-1', { type: 'T', data: 0 }, { expectedRevision: 'no_stream' }))
        assert.ok(err instanceof WrongExpectedVersionError, `checkpoint ${what}: expectations hold after the rebuild (got ${err?.message})`)
      } finally {
        await close()
      }
    }

    // The last reopen wrote fresh checkpoints: one more reopen reads them and continues.
    const { store: last } = await openOn(defer, dir, { partitions })
    assert.deepEqual(await snapshot(last), before, 'the checkpoints written after a rebuild give the same reads')
    await continues(last, batches, 'after a rebuild')
  })
}

test('a stale checkpoint (from an earlier close) is caught up from the log', async (t) => {
  const { dir, defer } = storeDir(t)
  const first = await openOn(defer, dir)
  await first.store.appendToStream('order-1', [{ type: 'A', data: 0, id: uuid(900) }])
  await first.store.appendToStream('soft', [{ type: 'A', data: 0 }])
  await first.close()
  const files = checkpointFiles(dir)
  assert.ok(files.length > 0, 'the first close leaves checkpoints')
  for (const f of files) copyFileSync(f, `${f}.saved`)

  const second = await openOn(defer, dir)
  const batches = await fill(second.store)
  const before = await snapshot(second.store)
  await second.close()
  for (const f of files) {
    copyFileSync(`${f}.saved`, f)
    rmSync(`${f}.saved`)
  }

  const { store: third } = await openOn(defer, dir)
  assert.deepEqual(await snapshot(third), before, 'an older checkpoint plus the log gives the same reads')
  await continues(third, batches, 'after a stale checkpoint')
})
