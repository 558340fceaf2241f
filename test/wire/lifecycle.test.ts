// The wire listener's request lifecycle, over raw sockets: what a connection may start and when
// (maxInFlightRequests, a client that stops reading its responses, a commit followed by a fetch in
// the same write), how requests end (a long poll whose client goes away, a JoinGroup waiting for a
// rebalance when the broker closes, listen() racing close()), and two answers Kafka defines exactly
// (a transactional batch for a partition outside the producer's transaction, KIP-890; the Fetch
// size budget, KIP-74).
//
// Clients are test/fixtures/wire-client.ts; every wait has a deadline and every socket, server and
// broker is closed in t.after.
import assert from 'node:assert/strict'
import { Server } from 'node:net'
import type { TestContext } from 'node:test'
import { Broker, ClosedError, encodeRecordBatch, type Partition, type WireServer } from '../../src/index.js'
import { test, waitFor, withDeadline } from '../fixtures/helpers.js'
import { API, WireClient, WireClosedError, Writer, type WireResponse, fetchBody, parseFetch, parseProduce, produceBody, requestFrame, servedBroker } from '../fixtures/wire-client.js'

const INVALID_TXN_STATE = 48
const NOT_COORDINATOR = 16
const API_OFFSET_COMMIT = 8
const API_OFFSET_FETCH = 9
const API_JOIN_GROUP = 11
const API_INIT_PRODUCER_ID = 22
const API_ADD_PARTITIONS_TO_TXN = 24
const API_END_TXN = 26


/**
 * Counts the partition's append subscriptions (one per waiting long poll) through its public
 * onAppend: `active` now and the most at once. The wrapper is removed after the test.
 */
function watchLongPolls(t: TestContext, partition: Partition): { readonly active: number; readonly max: number } {
  const stats = { active: 0, max: 0 }
  const original = partition.onAppend
  const wrapped = function (this: Partition, fn: () => void): () => void {
    const off = original.call(this, fn)
    stats.active++
    stats.max = Math.max(stats.max, stats.active)
    let on = true
    return () => {
      if (on) {
        on = false
        stats.active--
      }
      return off()
    }
  }
  Object.defineProperty(partition, 'onAppend', { value: wrapped, configurable: true, writable: true })
  t.after(() => void delete (partition as unknown as { onAppend?: unknown }).onAppend)
  return stats
}

const fetchAt = (topic: string, offset: number, maxWaitMs: number, minBytes: number, maxBytes?: number): Writer =>
  fetchBody(11, { maxWaitMs, minBytes, topics: [{ name: topic, partitions: [{ index: 0, offset, maxBytes }] }] })

test('a transactional Produce for a partition not added with AddPartitionsToTxn is refused (INVALID_TXN_STATE) and stores nothing', async (t) => {
  const { broker, connect } = await servedBroker(t)
  await broker.createTopic('t', { partitions: 1 })
  const p = broker.topic('t').partition(0)
  const c = await connect()

  const init = await c.request(API_INIT_PRODUCER_ID, 1, new Writer().nullableString('tx-1').int32(60_000))
  init.body.int32()
  assert.equal(init.body.int16(), 0, 'InitProducerId succeeds')
  const producerId = init.body.int64()
  const epoch = init.body.int16()
  const batch = encodeRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v'), timestamp: Date.now() }], {
    producerId, producerEpoch: epoch, baseSequence: 0, transactional: true,
  })
  const produce = (): Writer => produceBody(-1, [{ name: 't', partitions: [{ index: 0, records: batch }] }], { transactionalId: 'tx-1' })

  // No AddPartitionsToTxn: the batch would open a transaction no marker ever ends (KIP-890).
  const refused = parseProduce(7, (await c.request(API.Produce, 7, produce())).body).topics[0]!.partitions[0]!
  assert.equal(refused.error, INVALID_TXN_STATE, `the batch is refused with INVALID_TXN_STATE, got error ${refused.error} (base offset ${refused.baseOffset})`)
  assert.equal(p.highWatermark, 0, `nothing is stored: high watermark ${p.highWatermark}`)
  assert.equal(p.lastStableOffset, p.highWatermark, `the last stable offset (${p.lastStableOffset}) stays at the high watermark (${p.highWatermark})`)

  // The same batch once its partition is in the transaction is written, and commits: the refusal was about the transaction only.
  const add = await c.request(API_ADD_PARTITIONS_TO_TXN, 1, new Writer().string('tx-1').int64(producerId).int16(epoch).array([0], (w) => w.string('t').array([0], (w, i) => w.int32(i))))
  add.body.int32()
  const addErrors = add.body.array((r) => (r.string(), r.array((r) => (r.int32(), r.int16()))))
  assert.deepEqual(addErrors, [[0]], 'AddPartitionsToTxn adds t-0')
  const accepted = parseProduce(7, (await c.request(API.Produce, 7, produce())).body).topics[0]!.partitions[0]!
  assert.equal(accepted.error, 0, `after AddPartitionsToTxn the batch is written, got error ${accepted.error}`)
  assert.equal(accepted.baseOffset, 0, 'the accepted batch gets offset 0: the refused one took none')
  const end = await c.request(API_END_TXN, 1, new Writer().string('tx-1').int64(producerId).int16(epoch).bool(true))
  end.body.int32()
  assert.equal(end.body.int16(), 0, 'EndTxn commits')
  await waitFor(() => p.lastStableOffset === p.highWatermark && p.highWatermark === 2, 2000, 'the commit marker is written (HW 2) and the LSO reaches the HW')
})

test('maxInFlightRequests bounds the requests a connection runs at once: pipelined long polls run two at a time', async (t) => {
  const { broker, connect } = await servedBroker(t, { maxInFlightRequests: 2 })
  await broker.createTopic('t', { partitions: 1 })
  const polls = watchLongPolls(t, broker.topic('t').partition(0))
  const c = await connect()
  const N = 6
  const frames: Buffer[] = []
  for (let id = 1; id <= N; id++) {
    frames.push(requestFrame(API.Fetch, 11, id, fetchAt('t', 0, 100, 1)))
    c.expectResponse()
  }
  c.writeRaw(Buffer.concat(frames)) // all in one write: the server has every frame at once
  for (let id = 1; id <= N; id++) {
    const r = await c.next(3000)
    assert.equal(r.correlationId, id, `responses come in request order (got ${r.correlationId}, expected ${id})`)
    const part = parseFetch(11, r.body).topics[0]!.partitions[0]!
    assert.equal(part.records?.length ?? 0, 0, 'an empty long poll answers no records')
  }
  assert.ok(polls.max <= 2, `at most maxInFlightRequests (2) long polls wait at once, saw ${polls.max} of ${N}`)
  assert.ok(polls.max === 2, `two long polls do wait together (the limit is not 1), saw ${polls.max}`)
  assert.equal(polls.active, 0, 'no long poll is left waiting')
})

test('a client that stops reading its responses does not grow the server memory: the connection pauses until it reads', async (t) => {
  const MAX_IN_FLIGHT = 4
  const { broker, server, connect } = await servedBroker(t, { maxInFlightRequests: MAX_IN_FLIGHT })
  await broker.createTopic('t', { partitions: 1 })
  const producer = broker.producer({ acks: 'leader', idempotent: false })
  await producer.send('t', [{ value: Buffer.alloc(1_000_000, 1) }])
  await producer.close()
  const c = await connect()
  // The server side of this connection: its socket's write queue is the memory a slow reader costs.
  const conns = (server as unknown as { connections: Set<{ socket: { writableLength: number } }> }).connections
  assert.equal(conns.size, 1, 'one connection on the server')
  const serverSocket = [...conns][0]!.socket

  c.socket.pause() // never read (until the end)
  const K = 40 // 40 responses of ~1 MB each
  const frames: Buffer[] = []
  for (let id = 1; id <= K; id++) {
    frames.push(requestFrame(API.Fetch, 11, id, fetchAt('t', 0, 0, 0, 2_000_000)))
    c.expectResponse()
  }
  const rss0 = process.memoryUsage().rss
  c.writeRaw(Buffer.concat(frames))
  // A bounded look at what the server holds (there is no event for "the server stopped"): the fixed
  // server stalls within a few responses; an unbounded one queues all 40 MB within a few ms.
  const QUEUE_LIMIT = 16 * 1024 * 1024
  const RSS_LIMIT = 64 * 1024 * 1024
  let maxQueued = 0
  let maxRss = 0
  const until = Date.now() + 400
  while (Date.now() < until) {
    maxQueued = Math.max(maxQueued, serverSocket.writableLength)
    maxRss = Math.max(maxRss, process.memoryUsage().rss - rss0)
    if (maxQueued > QUEUE_LIMIT || maxRss > RSS_LIMIT) break
    await new Promise((r) => setTimeout(r, 5))
  }
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`
  assert.ok(maxQueued <= QUEUE_LIMIT, `the server queues at most ~maxInFlightRequests responses for a client that does not read: ${mib(maxQueued)} queued (limit ${mib(QUEUE_LIMIT)})`)
  assert.ok(maxRss <= RSS_LIMIT, `server memory stays bounded: rss grew ${mib(maxRss)} (limit ${mib(RSS_LIMIT)})`)

  // Once the client reads, every request is answered, in order, with the whole batch.
  c.socket.resume()
  for (let id = 1; id <= K; id++) {
    const r = await c.next(5000)
    assert.equal(r.correlationId, id, `responses come in request order (got ${r.correlationId}, expected ${id})`)
    const part = parseFetch(11, r.body).topics[0]!.partitions[0]!
    assert.ok((part.records?.length ?? 0) > 1_000_000, `response ${id} carries the ~1 MB batch (${part.records?.length ?? 0} bytes)`)
  }
})

test('an OffsetFetch written together with an OffsetCommit sees the committed offset', async (t) => {
  const { broker, connect } = await servedBroker(t)
  await broker.createTopic('t', { partitions: 1 })
  const c = await connect()
  const commit = new Writer().string('g').int32(-1).string('').int64(-1)
    .array([0], (w) => w.string('t').array([0], (w) => w.int32(0).int64(42).nullableString(null)))
  const fetch = new Writer().string('g').array([0], (w) => w.string('t').array([0], (w) => w.int32(0)))
  c.writeRaw(Buffer.concat([requestFrame(API_OFFSET_COMMIT, 2, 1, commit), requestFrame(API_OFFSET_FETCH, 1, 2, fetch)]))
  c.expectResponse()
  c.expectResponse()

  const committed = await c.next()
  assert.equal(committed.correlationId, 1, 'the OffsetCommit is answered first')
  const commitErrors = committed.body.array((r) => (r.string(), r.array((r) => (r.int32(), r.int16()))))
  assert.deepEqual(commitErrors, [[0]], 'OffsetCommit succeeds')
  const fetched = await c.next()
  assert.equal(fetched.correlationId, 2, 'then the OffsetFetch')
  const offsets = fetched.body.array((r) => (r.string(), r.array((r) => {
    r.int32()
    const offset = r.int64()
    r.nullableString()
    return { offset, error: r.int16() }
  })))
  assert.deepEqual(offsets, [[{ offset: 42, error: 0 }]], `the OffsetFetch behind the commit sees offset 42, got ${JSON.stringify(offsets)}`)
})

test('broker.close() answers a JoinGroup waiting for a rebalance with NOT_COORDINATOR and resolves promptly', async (t) => {
  const { broker, server, connect } = await servedBroker(t)
  assert.equal(server.options.closeTimeoutMs, 5000, 'the default closeTimeoutMs')
  const join = (): Writer => new Writer().string('g').int32(30_000).int32(60_000).string('').string('consumer')
    .array([0], (w) => w.string('range').bytes(Buffer.alloc(0)))
  const a = await connect()
  const b = await connect()
  const ja = await a.request(API_JOIN_GROUP, 2, join())
  ja.body.int32()
  assert.equal(ja.body.int16(), 0, 'the first member joins')
  b.send(API_JOIN_GROUP, 2, join()) // waits: the first member must rejoin (rebalance timeout 60 s)
  await waitFor(() => broker.group('g').describe().state === 'PreparingRebalance', 2000, "the second member's join starts a rebalance")

  const t0 = performance.now()
  const closing = broker.close()
  const answer: Promise<WireResponse | Error> = b.next(4000).catch((err: Error) => err)
  await withDeadline(closing, 1500, 'broker.close() with a JoinGroup waiting (closeTimeoutMs 5000)')
  const elapsed = performance.now() - t0
  assert.ok(elapsed < 1500, `broker.close() resolves promptly, took ${elapsed.toFixed(0)} ms`)
  const r = await answer
  assert.ok(!(r instanceof Error), `the waiting member gets an answer before its connection closes, got ${r instanceof WireClosedError ? 'the connection closed' : String(r)}`)
  assert.equal(r.correlationId, 1, "the answer is to the waiting member's JoinGroup")
  r.body.int32()
  const error = r.body.int16()
  assert.equal(error, NOT_COORDINATOR, `the waiting JoinGroup is answered NOT_COORDINATOR, got error ${error}`)
})

test('broker.close() racing listen(): listen() rejects with ClosedError and leaves no listener', async (t) => {
  const broker = await Broker.open()
  const originalListen = Server.prototype.listen
  let raced: WireServer | null = null
  let closing: Promise<void> | null = null
  t.after(async () => {
    Server.prototype.listen = originalListen
    await raced?.close()
    await (closing ?? broker.close())
  })
  let port = 0
  // broker.close() starts the moment the listener binds (the next net.Server#listen, once).
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    Server.prototype.listen = originalListen
    this.once('listening', () => {
      const a = this.address()
      port = typeof a === 'object' && a ? a.port : 0
    })
    closing = broker.close()
    return (originalListen as (...a: unknown[]) => Server).apply(this, args)
  } as typeof Server.prototype.listen

  const outcome = await withDeadline(broker.listen({ port: 0 }).then((s) => ((raced = s), null), (err: unknown) => err), 3000, 'listen() racing close()')
  assert.ok(closing, 'broker.close() ran while the listener was binding')
  assert.ok(outcome instanceof ClosedError, `listen() rejects with ClosedError, got ${raced ? `a server listening on port ${(raced as WireServer).port}` : String(outcome)}`)
  await withDeadline(closing as Promise<void>, 3000, 'broker.close()')
  assert.ok(port > 0, 'the listener had bound a port')
  const connected = await WireClient.connect(port, '127.0.0.1', { ms: 2000 }).then(async (c) => (await c.close(), null), (err: unknown) => err)
  assert.ok(connected !== null, `no listener is left: port ${port} must refuse connections, yet a client connected`)
  assert.equal((connected as NodeJS.ErrnoException).code, 'ECONNREFUSED', `the port refuses connections, got ${String(connected)}`)
})

test('Fetch budget (KIP-74): only the first partition may exceed partition_max_bytes and max_bytes', async (t) => {
  const { broker, connect } = await servedBroker(t)
  await broker.createTopic('t', { partitions: 4 })
  const producer = broker.producer({ acks: 'leader', idempotent: false })
  for (let p = 0; p < 4; p++) await producer.send('t', { partition: p, value: Buffer.alloc(10_000, p) })
  await producer.close()
  const c = await connect()
  const r = await c.request(API.Fetch, 11, fetchBody(11, {
    maxWaitMs: 0, minBytes: 0, maxBytes: 12_000,
    topics: [{ name: 't', partitions: [0, 1, 2, 3].map((index) => ({ index, offset: 0, maxBytes: 1_000 })) }],
  }))
  const parts = parseFetch(11, r.body).topics[0]!.partitions
  assert.deepEqual(parts.map((p) => [p.index, p.error, p.highWatermark]), [[0, 0, 1], [1, 0, 1], [2, 0, 1], [3, 0, 1]], 'every partition answers, without error, its high watermark')
  const sizes = parts.map((p) => p.records?.length ?? 0)
  assert.ok(sizes[0]! > 10_000, `the first partition returns its whole ~10 KB batch over partition_max_bytes 1000, got ${sizes[0]} bytes`)
  assert.deepEqual(sizes.slice(1), [0, 0, 0], `the other partitions are empty (their batch does not fit), got record bytes ${JSON.stringify(sizes)}`)
})

test('a long poll whose client disconnects stops waiting at once', async (t) => {
  const { broker, server, connect } = await servedBroker(t)
  await broker.createTopic('t', { partitions: 1 })
  const polls = watchLongPolls(t, broker.topic('t').partition(0))
  const c = await connect()
  c.send(API.Fetch, 11, fetchAt('t', 0, 60_000, 1))
  await waitFor(() => polls.active === 1, 2000, 'the 60 s long poll waits on the partition')
  await c.close()
  await waitFor(() => server.connectionCount === 0, 2000, 'the server sees the connection closed')
  await waitFor(() => polls.active === 0, 500, 'the long poll of a closed connection stops waiting (no onAppend listener left)')
  assert.equal(polls.active, 0, 'no long poll is left on the partition')
})
