// The Kafka wire listener (src/wire/) over raw sockets, checked byte for byte against the Kafka
// protocol: ApiVersions v0-v3 (v3 flexible, response header without tagged fields) and the error-35
// answer to newer versions; Metadata's "all topics" / "no topics" encodings and auto-creation;
// responses in request order under pipelining; frames that close their connection only (oversized,
// negative size, truncated, unknown API key, unsupported version) and leave the data alone, with
// Kafka's one-request-at-a-time semantics around them (requests before a bad frame are answered,
// requests after it have no effect); the smallest valid request (10 bytes); maxConnections; Fetch
// long-polls (woken by an append, empty after max_wait, ended by close(), never for a partition in
// error); Produce with acks 0 / 1 / -1, a corrupt batch (acks=0: the connection closes, as Kafka
// tells such a producer), and writes to internal topics (refused).
//
// Clients are test/fixtures/wire-client.ts; every wait has a deadline and every socket, server and
// broker is closed in t.after.
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { Broker, encodeRecordBatch, type Partition, type WireServer } from '../../src/index.js'
import { deferred, tempDir, test, waitFor, withDeadline } from '../fixtures/helpers.js'
import {
  API, WireClient, WireClosedError, Writer, apiVersionsBody, fetchBody, metadataBody, parseApiVersions, parseFetch,
  parseMetadata, parseProduce, produceBody, requestFrame, apiVersionsResponseFrame, servedApiVersions, type MetadataResponse,
  servedBroker, type ServedBroker,
} from '../fixtures/wire-client.js'

const UNSUPPORTED_VERSION = 35
const CORRUPT_MESSAGE = 2
const UNKNOWN_TOPIC_OR_PARTITION = 3
const T0 = 1_700_000_000_000


const served = servedApiVersions
const expectedApiVersionsFrame = apiVersionsResponseFrame

const hex = (b: Buffer): string => b.toString('hex')

/** Every stored byte of every partition of every topic (internal ones too), and the topic list. */
function snapshot(broker: Broker): { topics: string[]; logs: Map<string, Buffer> } {
  const logs = new Map<string, Buffer>()
  const topics = broker.topics({ internal: true })
  for (const t of topics) {
    for (let i = 0; i < t.partitions; i++) logs.set(`${t.name}-${i}`, partitionBytes(t.partition(i)))
  }
  return { topics: topics.map((t) => `${t.name}/${t.partitions}`), logs }
}

/** The partition's batches from its log start to its high watermark, as stored. */
function partitionBytes(p: Partition): Buffer {
  const out: Buffer[] = []
  let offset = p.logStartOffset
  while (offset < p.highWatermark) {
    const { bytes } = p.readBatches({ offset, maxBytes: 64 * 1024 * 1024 })
    assert.ok(bytes.length > 0, `partition ${p.topic}-${p.index} reads nothing at ${offset} below its high watermark ${p.highWatermark}`)
    out.push(bytes)
    for (let pos = 0; pos < bytes.length; pos += 12 + bytes.readInt32BE(pos + 8)) {
      offset = Number(bytes.readBigInt64BE(pos)) + bytes.readInt32BE(pos + 23) + 1
    }
  }
  return Buffer.concat(out)
}

function assertUnchanged(before: ReturnType<typeof snapshot>, after: ReturnType<typeof snapshot>, what: string): void {
  assert.deepEqual(after.topics, before.topics, `${what}: the topics are unchanged`)
  for (const [key, bytes] of before.logs) {
    const now = after.logs.get(key)
    assert.ok(now !== undefined && now.equals(bytes), `${what}: partition ${key} holds the same ${bytes.length} bytes (now ${now?.length ?? 'gone'})`)
  }
}

function batchOf(values: string[], options: { producerId?: number; baseSequence?: number } = {}): Buffer {
  return encodeRecordBatch(values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v), timestamp: T0 + i })), options)
}

/** The stored batch equals the one sent but for the baseOffset the broker assigned. */
function assertStoredAs(stored: Buffer, sent: Buffer, baseOffset: number, what: string): void {
  assert.equal(stored.length, sent.length, `${what}: stored batch length`)
  assert.equal(Number(stored.readBigInt64BE(0)), baseOffset, `${what}: stored baseOffset`)
  assert.ok(stored.subarray(8).equals(sent.subarray(8)), `${what}: the stored batch is the one sent, byte for byte after its baseOffset`)
}

/** A client still answers ApiVersions v0 exactly and Metadata v1 (all topics) consistently with the broker. */
async function assertServes(env: ServedBroker, c: WireClient, what: string): Promise<void> {
  const av = await c.request(API.ApiVersions, 0, apiVersionsBody(0))
  assert.equal(hex(av.frame), hex(expectedApiVersionsFrame(0, av.correlationId)), `${what}: ApiVersions v0 bytes`)
  const md = parseMetadata(1, (await c.request(API.Metadata, 1, metadataBody(1, null))).body)
  assert.deepEqual(md.topics.map((t) => t.name).sort(), env.broker.topics({ internal: true }).map((t) => t.name).sort(), `${what}: Metadata lists every topic`)
}

// ------------------------------------------------------------------------------------ ApiVersions

test('ApiVersions v0, v1 and v2: every served API in the classic layout (v1+ adds throttle_time_ms)', async (t) => {
  const env = await servedBroker(t)
  const c = await env.connect()
  for (const version of [0, 1, 2]) {
    const r = await c.request(API.ApiVersions, version, apiVersionsBody(version))
    assert.equal(hex(r.frame), hex(expectedApiVersionsFrame(version, r.correlationId)), `ApiVersions v${version} response bytes`)
    const parsed = parseApiVersions(version, r.body)
    assert.equal(parsed.error, 0, `v${version} error code`)
  }
  const apis = new Map(served().map((a) => [a.apiKey, a]))
  assert.deepEqual(apis.get(18), { apiKey: 18, minVersion: 0, maxVersion: 3 }, 'ApiVersions is served v0-v3')
  assert.equal(apis.get(0)?.minVersion, 0, 'Produce is listed from v0 (KAFKA-18659: librdkafka compresses only then)')
  for (const [key, max] of [[0, 7], [1, 11], [3, 6]] as const) {
    assert.ok((apis.get(key)?.maxVersion ?? -1) >= max, `API ${key} is served up to at least v${max} (the versions these tests speak)`)
  }
})

test('ApiVersions v3: compact arrays and tagged fields in the body, none in the response header', async (t) => {
  const env = await servedBroker(t)
  const c = await env.connect()
  const r = await c.request(API.ApiVersions, 3, apiVersionsBody(3))
  assert.equal(hex(r.frame), hex(expectedApiVersionsFrame(3, r.correlationId)), 'ApiVersions v3 response bytes')
  const parsed = parseApiVersions(3, r.body)
  assert.deepEqual(parsed, { error: 0, apis: served(), throttleMs: 0 }, 'v3 parsed')
  // The bytes right after the correlation id are the error code (00 00) and the compact array
  // length (N+1), not a tagged-field count: response header v0.
  assert.equal(r.frame.readInt16BE(4), 0, 'error_code right after the correlation id')
  assert.equal(r.frame[6], served().length + 1, 'compact array length (N+1) right after the error code')

  // Unknown tagged fields, in the request header (v2) and at the end of the body, are skipped.
  const header = new Writer().int16(API.ApiVersions).int16(3).int32(77).nullableString('tagged')
  header.uvarint(1).uvarint(9).uvarint(3).raw(Buffer.from('abc'))
  const body = new Writer().compactString('sw').compactString('1').uvarint(2).uvarint(0).uvarint(1).raw(Buffer.from([7])).uvarint(100).uvarint(0)
  const frame = Buffer.concat([...header.finish(), ...body.finish()])
  const sized = Buffer.concat([Buffer.alloc(4), frame])
  sized.writeInt32BE(frame.length, 0)
  c.writeRaw(sized)
  c.expectResponse()
  const tagged = await c.next()
  assert.equal(hex(tagged.frame), hex(expectedApiVersionsFrame(3, 77)), 'ApiVersions v3 with unknown tagged fields: same answer')
})

test('ApiVersions v4 and newer: error 35 in the v0 layout with the served versions; the connection stays usable', async (t) => {
  const env = await servedBroker(t)
  const c = await env.connect()
  for (const version of [4, 5, 127, 0x7fff]) {
    // A newer client sends a v3-style body with header v2; the broker cannot know the layout and answers v0.
    const r = await c.request(API.ApiVersions, version, apiVersionsBody(3), { flexibleHeader: true })
    const parsed = parseApiVersions(0, r.body) // throws when bytes are left: no throttle_time_ms, no tagged fields
    assert.equal(parsed.error, UNSUPPORTED_VERSION, `v${version}: UNSUPPORTED_VERSION`)
    assert.equal(parsed.throttleMs, null, `v${version}: v0 layout`)
    assert.ok(parsed.apis.some((a) => a.apiKey === 18 && a.minVersion === 0 && a.maxVersion === 3), `v${version}: the list names ApiVersions v0-v3 so the client can retry`)
    for (const a of parsed.apis) assert.ok(served().some((s) => s.apiKey === a.apiKey && s.minVersion === a.minVersion && s.maxVersion === a.maxVersion), `v${version}: listed API ${a.apiKey} is served as listed`)
    // librdkafka retries with v0 on the same connection.
    const retry = await c.request(API.ApiVersions, 0, apiVersionsBody(0))
    assert.equal(hex(retry.frame), hex(expectedApiVersionsFrame(0, retry.correlationId)), `after v${version}: ApiVersions v0 answered on the same connection`)
  }
  assert.equal(c.closed, false, 'the connection is still open')
})

// --------------------------------------------------------------------------------------- Metadata

function normalized(md: MetadataResponse): MetadataResponse {
  return { ...md, topics: [...md.topics].sort((a, b) => (a.name < b.name ? -1 : 1)) }
}

function expectedTopics(env: ServedBroker, version: number, names: string[]): MetadataResponse['topics'] {
  return names.sort().map((name) => ({
    error: 0,
    name,
    internal: version >= 1 ? name.startsWith('__') : null,
    partitions: Array.from({ length: env.broker.topic(name).partitions }, (_, index) => ({
      error: 0, index, leader: 0, replicas: [0], isr: [0], offline: version >= 5 ? [] : null,
    })),
  }))
}

test('Metadata v0: an empty topic list means every topic; the v0 layout byte for byte', async (t) => {
  const env = await servedBroker(t)
  await env.broker.createTopic('alpha', { partitions: 3 })
  await env.broker.createTopic('beta')
  const c = await env.connect()
  const all = env.broker.topics({ internal: true }).map((x) => x.name)
  const md = parseMetadata(0, (await c.request(API.Metadata, 0, metadataBody(0, []))).body)
  assert.deepEqual(normalized(md), {
    throttleMs: null, brokers: [{ nodeId: 0, host: '127.0.0.1', port: env.server.port, rack: undefined }],
    clusterId: undefined, controllerId: null, topics: expectedTopics(env, 0, all),
  }, 'v0 with [] lists every topic')
  // One named topic, compared byte for byte.
  const one = await c.request(API.Metadata, 0, metadataBody(0, ['beta']))
  const want = new Writer().int32(one.correlationId)
    .array([0], (w) => w.int32(0).string('127.0.0.1').int32(env.server.port))
    .array(['beta'], (w, name) => w.int16(0).string(name).array([0], (w, i) => w.int16(0).int32(i).int32(0).array([0], (w, n) => w.int32(n)).array([0], (w, n) => w.int32(n))))
  assert.equal(hex(one.frame), hex(Buffer.concat(want.finish())), 'v0 response bytes for one topic')
})

test('Metadata v1-v6: null means every topic, an empty array means none', async (t) => {
  const env = await servedBroker(t)
  await env.broker.createTopic('alpha', { partitions: 2 })
  await env.broker.createTopic('beta')
  const c = await env.connect()
  const all = env.broker.topics({ internal: true }).map((x) => x.name)
  for (let v = 1; v <= 6; v++) {
    const md = normalized(parseMetadata(v, (await c.request(API.Metadata, v, metadataBody(v, null))).body))
    assert.deepEqual(md.brokers, [{ nodeId: 0, host: '127.0.0.1', port: env.server.port, rack: null }], `v${v}: the one broker`)
    assert.equal(md.controllerId, 0, `v${v}: controller`)
    assert.equal(md.throttleMs, v >= 3 ? 0 : null, `v${v}: throttle_time_ms from v3`)
    if (v >= 2) assert.ok(typeof md.clusterId === 'string' && md.clusterId.length > 0, `v${v}: a cluster id`)
    else assert.equal(md.clusterId, undefined, 'v1 has no cluster id')
    assert.deepEqual(md.topics, expectedTopics(env, v, all), `v${v}: null lists every topic`)

    const none = parseMetadata(v, (await c.request(API.Metadata, v, metadataBody(v, [], true))).body)
    assert.deepEqual(none.topics, [], `v${v}: an empty array lists no topic`)
    assert.equal(none.brokers.length, 1, `v${v}: brokers are still listed for []`)
  }
  assert.deepEqual(env.broker.topics({ internal: true }).map((x) => x.name), all, 'no topic was created')
})

test('Metadata auto-creation: v4 allow_auto_topic_creation false does not create, true does, v0-v3 do', async (t) => {
  const env = await servedBroker(t)
  const c = await env.connect()
  const no = parseMetadata(4, (await c.request(API.Metadata, 4, metadataBody(4, ['not-created'], false))).body)
  assert.deepEqual(no.topics, [{ error: UNKNOWN_TOPIC_OR_PARTITION, name: 'not-created', internal: false, partitions: [] }], 'false: UNKNOWN_TOPIC_OR_PARTITION')
  assert.equal(env.broker.hasTopic('not-created'), false, 'false: the topic does not exist')

  const yes = parseMetadata(4, (await c.request(API.Metadata, 4, metadataBody(4, ['created-v4'], true))).body)
  assert.equal(env.broker.hasTopic('created-v4'), true, 'true: the topic exists')
  assert.equal(yes.topics.length, 1, 'true: one topic answered')
  assert.ok(yes.topics[0]!.error === 0 || yes.topics[0]!.error === 5, `true: no error or LEADER_NOT_AVAILABLE (got ${yes.topics[0]!.error})`)
  if (yes.topics[0]!.error === 0) assert.deepEqual(yes.topics, expectedTopics(env, 4, ['created-v4']), 'true: the new topic described')

  for (const v of [0, 1, 3]) {
    await c.request(API.Metadata, v, metadataBody(v, [`created-v${v}`]))
    assert.equal(env.broker.hasTopic(`created-v${v}`), true, `v${v} (auto-creation implied) creates the topic`)
  }
})

test('Metadata with listener option autoCreateTopics: false never creates a topic', async (t) => {
  const env = await servedBroker(t, { autoCreateTopics: false })
  const c = await env.connect()
  for (const [v, allow] of [[0, true], [1, true], [4, true], [6, true], [4, false]] as const) {
    const name = `never-v${v}-${allow}`
    const md = parseMetadata(v, (await c.request(API.Metadata, v, metadataBody(v, [name], allow))).body)
    assert.deepEqual(md.topics.map((x) => [x.name, x.error, x.partitions.length]), [[name, UNKNOWN_TOPIC_OR_PARTITION, 0]], `v${v} allow=${allow}: UNKNOWN_TOPIC_OR_PARTITION`)
    assert.equal(env.broker.hasTopic(name), false, `v${v} allow=${allow}: not created`)
  }
})

// ------------------------------------------------------------------------------------- pipelining

test('pipelined requests are answered in request order (a long-polling Fetch holds back the ApiVersions after it)', async (t) => {
  const env = await servedBroker(t)
  await env.broker.createTopic('quiet')
  const c = await env.connect()
  const sent = performance.now()
  const fetchId = c.send(API.Fetch, 4, fetchBody(4, { maxWaitMs: 300, minBytes: 1, topics: [{ name: 'quiet', partitions: [{ index: 0, offset: 0 }] }] }))
  const avId = c.send(API.ApiVersions, 0, apiVersionsBody(0))
  const first = await c.next()
  const second = await c.next()
  assert.equal(first.correlationId, fetchId, 'the Fetch is answered first')
  assert.equal(second.correlationId, avId, 'the ApiVersions after it comes second')
  assert.ok(first.at - sent >= 250, `the Fetch waited out its max_wait (${Math.round(first.at - sent)} ms)`)
  parseFetch(4, first.body)
  assert.equal(hex(second.frame), hex(expectedApiVersionsFrame(0, avId)), 'the ApiVersions response is intact')

  // Many requests of different APIs in one write: answered one for one, in order.
  const ids: Array<[number, number, number]> = []
  const frames: Buffer[] = []
  for (let i = 0; i < 30; i++) {
    const kind = i % 3
    const id = 1000 + i
    if (kind === 0) frames.push(requestFrame(API.ApiVersions, i % 3, id, apiVersionsBody(0)))
    else if (kind === 1) frames.push(requestFrame(API.Metadata, 1, id, metadataBody(1, ['quiet'])))
    else frames.push(requestFrame(API.Fetch, 11, id, fetchBody(11, { maxWaitMs: i === 2 ? 100 : 0, minBytes: i === 2 ? 1 : 0, topics: [{ name: 'quiet', partitions: [{ index: 0, offset: 0 }] }] })))
    ids.push([id, kind, i % 3])
  }
  c.writeRaw(Buffer.concat(frames))
  for (const [id, kind] of ids) {
    c.expectResponse()
    const r = await c.next()
    assert.equal(r.correlationId, id, `response ${id} in order`)
    if (kind === 0) parseApiVersions(0, r.body)
    else if (kind === 1) parseMetadata(1, r.body)
    else parseFetch(11, r.body)
  }
})

// ------------------------------------------------------------------------ frames that close a connection

interface BadFrame {
  name: string
  bytes: (env: ServedBroker) => Buffer
  /** The server can only tell once the body is parsed (the request header is fine). */
  bodyError?: boolean
}

const MAX_REQUEST_BYTES = 1024

function sized(payload: Buffer, size = payload.length): Buffer {
  const b = Buffer.alloc(4 + payload.length)
  b.writeInt32BE(size, 0)
  payload.copy(b, 4)
  return b
}

const BAD_FRAMES: BadFrame[] = [
  { name: 'a frame over maxRequestBytes (only its size sent)', bytes: () => sized(Buffer.alloc(0), MAX_REQUEST_BYTES + 1) },
  { name: 'a frame over maxRequestBytes (whole)', bytes: () => requestFrame(API.Metadata, 1, 5, metadataBody(1, ['x'.repeat(MAX_REQUEST_BYTES)])) },
  { name: 'a negative size (-1)', bytes: () => sized(Buffer.alloc(16), -1) },
  { name: 'a negative size (-2^31)', bytes: () => sized(Buffer.alloc(16), -0x80000000) },
  { name: 'a size too small for a request header (3)', bytes: () => sized(Buffer.from([0, 18, 0])) },
  { name: 'a truncated request header (client id longer than the frame)', bytes: () => sized(new Writer().int16(18).int16(0).int32(9).int16(50).raw(Buffer.from('abc')).finish()[0]!) },
  { name: 'a truncated body (Metadata v1 announcing 5 topics, holding 1)', bytes: () => requestFrame(API.Metadata, 1, 9, new Writer().int32(5).string('alpha')), bodyError: true },
  { name: 'a truncated body (Produce records length past the frame)', bytes: () => requestFrame(API.Produce, 3, 9, new Writer().nullableString(null).int16(1).int32(1000).int32(1).string('alpha').int32(1).int32(0).int32(1000).raw(Buffer.alloc(10))), bodyError: true },
  { name: 'an empty body where one is required (Fetch v4)', bytes: () => requestFrame(API.Fetch, 4, 9, Buffer.alloc(0)), bodyError: true },
  { name: 'an unknown API key (999)', bytes: () => requestFrame(999, 0, 9, Buffer.alloc(8)) },
  { name: 'an unknown API key (-1)', bytes: () => requestFrame(-1, 0, 9, Buffer.alloc(8)) },
  { name: 'an inter-broker API key not served (LeaderAndIsr, 4)', bytes: () => requestFrame(4, 0, 9, Buffer.alloc(8)) },
  { name: 'an unsupported version (Metadata v7)', bytes: () => requestFrame(API.Metadata, 7, 9, metadataBody(6, null)) },
  { name: 'an unsupported version (Metadata v32767)', bytes: () => requestFrame(API.Metadata, 0x7fff, 9, metadataBody(6, null)) },
  { name: 'an unsupported version (Fetch v3, below the minimum)', bytes: () => requestFrame(API.Fetch, 3, 9, fetchBody(4, { maxWaitMs: 0, minBytes: 0, topics: [] })) },
  { name: 'an unsupported version (ListOffsets v0, below the minimum)', bytes: () => requestFrame(API.ListOffsets, 0, 9, new Writer().int32(-1).array([], () => undefined)) },
  { name: 'an unsupported version (Fetch -1)', bytes: () => requestFrame(API.Fetch, -1, 9, fetchBody(4, { maxWaitMs: 0, minBytes: 0, topics: [] })) },
]

async function badFrameEnv(t: TestContext): Promise<{ env: ServedBroker; bystander: WireClient; produce: (acks: number) => Buffer }> {
  const env = await servedBroker(t, { maxRequestBytes: MAX_REQUEST_BYTES })
  await env.broker.createTopic('alpha', { partitions: 2 })
  await env.broker.topic('alpha').partition(0).appendBatch(batchOf(['a', 'b', 'c']))
  await env.broker.topic('alpha').partition(1).appendBatch(batchOf(['d']))
  const bystander = await env.connect()
  await assertServes(env, bystander, 'before')
  const produce = (acks: number): Buffer => requestFrame(API.Produce, 3, 4242, produceBody(acks, [{ name: 'alpha', partitions: [{ index: 0, records: batchOf(['pipelined']) }] }]))
  return { env, bystander, produce }
}

test('a bad frame closes its own connection only: oversized, negative size, truncated, unknown API key, unsupported version', async (t) => {
  const { env, bystander } = await badFrameEnv(t)
  for (const bad of BAD_FRAMES) {
    await t.test(bad.name, async () => {
      const before = snapshot(env.broker)
      const victim = await env.connect()
      await waitFor(() => env.server.connectionCount === 2, 2000, 'the server sees the victim connection')
      victim.writeRaw(bad.bytes(env))
      await victim.waitClosed(3000)
      assert.equal(victim.queued, 0, `${bad.name}: no response before the close`)
      await waitFor(() => env.server.connectionCount === 1, 2000, `${bad.name}: the server forgets the closed connection`)
      assert.equal(bystander.closed, false, `${bad.name}: the other connection is still open`)
      await assertServes(env, bystander, `${bad.name}: the other connection`)
      assertUnchanged(before, snapshot(env.broker), bad.name)
      const fresh = await env.connect()
      await assertServes(env, fresh, `${bad.name}: a new connection`)
      await fresh.close()
    })
  }
})

test('a frame of exactly maxRequestBytes is served', async (t) => {
  const env = await servedBroker(t, { maxRequestBytes: MAX_REQUEST_BYTES })
  const c = await env.connect()
  const names = [0, 1, 2, 3].map((i) => `${i}`.padEnd(248, 'x'))
  const frame = requestFrame(API.Metadata, 4, 7, metadataBody(4, names, false))
  assert.equal(frame.length - 4, MAX_REQUEST_BYTES, 'the frame is maxRequestBytes long')
  c.writeRaw(frame)
  c.expectResponse()
  const md = parseMetadata(4, (await c.next()).body)
  assert.deepEqual(md.topics.map((x) => x.error), [3, 3, 3, 3], 'each unknown topic answered')
})

test('the smallest valid requests (10 bytes: ApiVersions v0 / ListGroups v0 with a null or empty client id) are served', async (t) => {
  const env = await servedBroker(t)
  const c = await env.connect()
  for (const clientId of [null, '']) {
    const frame = requestFrame(API.ApiVersions, 0, 11, Buffer.alloc(0), { clientId })
    assert.equal(frame.length - 4, 10, 'a 10-byte request')
    c.writeRaw(frame)
    c.expectResponse()
    const r = await c.next(3000)
    assert.equal(hex(r.frame), hex(expectedApiVersionsFrame(0, 11)), `ApiVersions v0 with client id ${JSON.stringify(clientId)}`)
  }
  const lg = await c.request(16, 0, Buffer.alloc(0), { clientId: null })
  assert.deepEqual([lg.body.int16(), lg.body.int32(), lg.body.remaining], [0, 0, 0], 'ListGroups v0: no error, no group')
})

test('a request pipelined after a bad frame in the same write is not executed (Kafka reads one request at a time)', async (t) => {
  const { env, bystander, produce } = await badFrameEnv(t)
  for (const bad of BAD_FRAMES) {
    await t.test(bad.name, async () => {
      const before = snapshot(env.broker)
      const victim = await env.connect()
      victim.writeRaw(Buffer.concat([bad.bytes(env), produce(1)]))
      await victim.waitClosed(3000)
      assert.equal(victim.queued, 0, `${bad.name}: no response`)
      await assertServes(env, bystander, `${bad.name}: the other connection`)
      assertUnchanged(before, snapshot(env.broker), `${bad.name}, then a Produce in the same write`)
    })
  }
})

test('requests before a bad frame in the same write are answered before the connection closes', async (t) => {
  const { env, produce } = await badFrameEnv(t)
  for (const bad of BAD_FRAMES) {
    await t.test(bad.name, async () => {
      const victim = await env.connect()
      const hw = env.broker.topic('alpha').partition(0).highWatermark
      victim.writeRaw(Buffer.concat([requestFrame(API.ApiVersions, 0, 1, apiVersionsBody(0)), produce(1), bad.bytes(env)]))
      victim.expectResponse()
      victim.expectResponse()
      const answered: number[] = []
      try {
        const av = await victim.next(3000)
        answered.push(av.correlationId)
        assert.equal(hex(av.frame), hex(expectedApiVersionsFrame(0, 1)), `${bad.name}: the ApiVersions before it is answered`)
        const p = await victim.next(3000)
        answered.push(p.correlationId)
        const parsed = parseProduce(3, p.body)
        assert.deepEqual(parsed.topics[0]!.partitions.map((x) => [x.error, x.baseOffset]), [[0, hw]], `${bad.name}: the Produce before it is acknowledged`)
      } catch (err) {
        if (!(err instanceof WireClosedError)) throw err
      }
      await victim.waitClosed(3000)
      const stored = env.broker.topic('alpha').partition(0).highWatermark > hw
      assert.ok(answered.length === 2, `${bad.name}: ApiVersions and Produce sent before the bad frame are answered before the close (answered: [${answered.join(', ')}]; the Produce was ${stored ? '' : 'not '}stored)`)
    })
  }
})

// ----------------------------------------------------------------------------------- maxConnections

test('maxConnections: a connection beyond the limit is closed, the others keep working', async (t) => {
  const env = await servedBroker(t, { maxConnections: 2 })
  const a = await env.connect()
  const b = await env.connect()
  await assertServes(env, a, 'first connection')
  await assertServes(env, b, 'second connection')
  assert.equal(env.server.connectionCount, 2, 'two connections')
  const extra = await env.connect().catch((err: Error) => err)
  if (extra instanceof WireClient) {
    extra.send(API.ApiVersions, 0, apiVersionsBody(0))
    await extra.waitClosed(3000)
    assert.equal(extra.queued, 0, 'the connection beyond the limit got no response')
  }
  assert.equal(env.server.connectionCount, 2, 'still two connections')
  await assertServes(env, a, 'first connection after the refusal')
  await assertServes(env, b, 'second connection after the refusal')
  await a.close()
  await waitFor(() => env.server.connectionCount === 1, 2000, 'the server forgets a closed connection')
  const c = await env.connect()
  await assertServes(env, c, 'a new connection once one closed')
})

// ----------------------------------------------------------------------------------- Fetch long poll

/** Resolves when a Fetch long poll subscribes to the partition's appends. */
function watchSubscription(p: Partition): Promise<void> {
  const subscribed = deferred()
  const original = p.onAppend.bind(p)
  p.onAppend = (fn) => {
    subscribed.resolve()
    return original(fn)
  }
  return subscribed.promise
}

test('Fetch long poll: an in-process append wakes it well before max_wait, with the appended batch', async (t) => {
  const env = await servedBroker(t, {}, { disk: true })
  await env.broker.createTopic('events')
  const p = env.broker.topic('events').partition(0)
  await p.appendBatch(batchOf(['old']))
  const c = await env.connect()
  for (const v of [4, 11]) {
    const offset = p.highWatermark
    const waiting = watchSubscription(p)
    const sent = performance.now()
    const id = c.send(API.Fetch, v, fetchBody(v, { maxWaitMs: 10_000, minBytes: 1, topics: [{ name: 'events', partitions: [{ index: 0, offset }] }] }))
    await withDeadline(waiting, 3000, `v${v}: the Fetch waits for an append`)
    const batch = batchOf([`new-v${v}`, 'more'])
    const info = await p.appendBatch(Buffer.from(batch))
    const r = await c.next(5000)
    const ms = r.at - sent
    assert.equal(r.correlationId, id, `v${v}: the Fetch response`)
    assert.ok(ms < 2000, `v${v}: answered ${Math.round(ms)} ms after the request, well before max_wait 10000 ms`)
    const f = parseFetch(v, r.body)
    const part = f.topics[0]!.partitions[0]!
    assert.equal(part.error, 0, `v${v}: no error`)
    assert.equal(part.highWatermark, info.lastOffset + 1, `v${v}: high watermark`)
    assert.ok(part.records !== null && part.records.length > 0, `v${v}: records returned`)
    assertStoredAs(part.records!, batch, info.baseOffset, `v${v}: fetched batch`)
    if (v >= 7) assert.deepEqual([f.error, f.sessionId], [0, 0], 'v11: no fetch session')
  }
})

test('Fetch long poll: nothing arrives, so after max_wait it returns empty records (length 0, not null)', async (t) => {
  const env = await servedBroker(t)
  await env.broker.createTopic('quiet')
  const c = await env.connect()
  for (const v of [4, 7, 11]) {
    const sent = performance.now()
    const r = await c.request(API.Fetch, v, fetchBody(v, { maxWaitMs: 200, minBytes: 1, topics: [{ name: 'quiet', partitions: [{ index: 0, offset: 0 }] }] }))
    const ms = r.at - sent
    assert.ok(ms >= 180, `v${v}: waited ${Math.round(ms)} ms for max_wait 200 ms`)
    assert.ok(ms < 3000, `v${v}: returned ${Math.round(ms)} ms after, soon after max_wait`)
    const f = parseFetch(v, r.body)
    const part = f.topics[0]!.partitions[0]!
    assert.deepEqual([part.error, part.highWatermark, part.lastStableOffset], [0, 0, 0], `v${v}: partition header`)
    assert.ok(part.records !== null, `v${v}: records is not null`)
    assert.equal(part.records!.length, 0, `v${v}: records is empty`)
    assert.equal(part.aborted, null, `v${v}: no aborted transactions for read_uncommitted`)
  }
})

test('Fetch: a partition in error (unknown topic or partition, offset out of range) is answered at once, not after max_wait', async (t) => {
  const env = await servedBroker(t)
  await env.broker.createTopic('quiet')
  const c = await env.connect()
  for (const [name, index, offset, error] of [['nope', 0, 0, UNKNOWN_TOPIC_OR_PARTITION], ['quiet', 5, 0, UNKNOWN_TOPIC_OR_PARTITION], ['quiet', 0, 100, 1]] as const) {
    const sent = performance.now()
    const r = await c.request(API.Fetch, 11, fetchBody(11, { maxWaitMs: 3000, minBytes: 1, topics: [{ name, partitions: [{ index, offset }] }] }))
    const ms = r.at - sent
    const part = parseFetch(11, r.body).topics[0]!.partitions[0]!
    assert.equal(part.error, error, `${name}-${index}@${offset}: error ${error}`)
    assert.equal(part.records?.length, 0, `${name}-${index}@${offset}: empty records`)
    // Kafka's ReplicaManager.fetchMessages responds immediately when reading a partition failed.
    assert.ok(ms < 1000, `${name}-${index}@${offset}: answered after ${Math.round(ms)} ms; Kafka does not long-poll a partition in error (max_wait 3000 ms)`)
  }
})

test('server.close() ends a pending long poll promptly and still sends its response before closing the socket', async (t) => {
  const env = await servedBroker(t, { closeTimeoutMs: 20_000 })
  await env.broker.createTopic('quiet')
  const p = env.broker.topic('quiet').partition(0)
  const c = await env.connect()
  const waiting = watchSubscription(p)
  const id = c.send(API.Fetch, 11, fetchBody(11, { maxWaitMs: 30_000, minBytes: 1, topics: [{ name: 'quiet', partitions: [{ index: 0, offset: 0 }] }] }))
  await withDeadline(waiting, 3000, 'the Fetch waits for an append')
  const started = performance.now()
  const closing = env.server.close()
  const r = await c.next(5000)
  assert.equal(r.correlationId, id, 'the pending Fetch is answered')
  const part = parseFetch(11, r.body).topics[0]!.partitions[0]!
  assert.equal(part.error, 0, 'no error')
  assert.equal(part.records?.length, 0, 'empty records')
  await c.waitClosed(3000)
  await withDeadline(closing, 3000, 'server.close()')
  const ms = performance.now() - started
  assert.ok(ms < 2000, `close() took ${Math.round(ms)} ms with a 30 s long poll pending (closeTimeoutMs 20 s)`)
  // The socket's 'close' event may come a tick after the server's: poll briefly.
  await waitFor(() => env.server.connectionCount === 0, 1000, 'no connection left after close()')
  const late = await WireClient.connect(env.server.port).catch((err: Error) => err)
  if (late instanceof WireClient) {
    t.after(() => late.close())
    await late.waitClosed(3000)
  }
  assert.ok(!(late instanceof WireClient) || late.closed, 'no new connection after close()')
})

// ---------------------------------------------------------------------------------------- Produce

test('Produce acks=0 gets no response: the next response read is the next request\'s', async (t) => {
  const env = await servedBroker(t)
  await env.broker.createTopic('fire')
  const p = env.broker.topic('fire').partition(0)
  const c = await env.connect()
  const batch = batchOf(['one', 'two'])
  for (const v of [3, 7]) {
    const hw = p.highWatermark
    c.send(API.Produce, v, produceBody(0, [{ name: 'fire', partitions: [{ index: 0, records: Buffer.from(batch) }] }]), { noResponse: true })
    const av = await c.request(API.ApiVersions, 0, apiVersionsBody(0))
    assert.equal(hex(av.frame), hex(expectedApiVersionsFrame(0, av.correlationId)), `v${v}: the next response is the ApiVersions one`)
    assert.equal(p.highWatermark, hw + 2, `v${v}: the records are stored`)
    assertStoredAs(p.readBatches({ offset: hw }).bytes, batch, hw, `v${v}: acks=0 batch`)
  }
  assert.equal(c.queued, 0, 'nothing else arrived')
})

test('Produce acks=1 and acks=-1 answer with base offsets (v3-v7 layouts) and store the batches as sent', async (t) => {
  const env = await servedBroker(t, {}, { disk: true })
  await env.broker.createTopic('orders', { partitions: 2 })
  const c = await env.connect()
  for (const v of [3, 4, 5, 6, 7]) {
    for (const acks of [1, -1]) {
      const p0 = env.broker.topic('orders').partition(0)
      const p1 = env.broker.topic('orders').partition(1)
      const base0 = p0.highWatermark
      const base1 = p1.highWatermark
      const a = batchOf([`v${v}`, `acks${acks}`, 'x'])
      const b1 = batchOf(['first'])
      const b2 = batchOf(['second', 'third'])
      const r = await c.request(API.Produce, v, produceBody(acks, [{ name: 'orders', partitions: [
        { index: 0, records: Buffer.from(a) },
        { index: 1, records: Buffer.concat([b1, b2]) }, // two batches in one records field
      ] }]))
      const parsed = parseProduce(v, r.body)
      const logStart = v >= 5 ? 0 : null
      assert.deepEqual(parsed, {
        topics: [{ name: 'orders', partitions: [
          { index: 0, error: 0, baseOffset: base0, logAppendTime: -1, logStartOffset: logStart },
          { index: 1, error: 0, baseOffset: base1, logAppendTime: -1, logStartOffset: logStart },
        ] }],
        throttleMs: 0,
      }, `v${v} acks=${acks}: response`)
      assert.equal(p0.highWatermark, base0 + 3, `v${v} acks=${acks}: partition 0 high watermark`)
      assert.equal(p1.highWatermark, base1 + 3, `v${v} acks=${acks}: partition 1 high watermark`)
      assertStoredAs(p0.readBatches({ offset: base0 }).bytes, a, base0, `v${v} acks=${acks} partition 0`)
      const stored1 = p1.readBatches({ offset: base1 }).bytes
      assertStoredAs(stored1.subarray(0, b1.length), b1, base1, `v${v} acks=${acks} partition 1, first batch`)
      assertStoredAs(stored1.subarray(b1.length), b2, base1 + 1, `v${v} acks=${acks} partition 1, second batch`)
    }
  }
  const report = await env.broker.verify()
  assert.ok(report.ok, `verify: ${JSON.stringify(report.problems)}`)
})

test('Produce: a batch with a bad CRC is refused with CORRUPT_MESSAGE and nothing is stored', async (t) => {
  const env = await servedBroker(t, {}, { disk: true })
  await env.broker.createTopic('orders', { partitions: 2 })
  await env.broker.topic('orders').partition(0).appendBatch(batchOf(['kept']))
  const c = await env.connect()
  const before = snapshot(env.broker)
  const good = batchOf(['good'])
  for (const [what, corrupt] of [
    ['a flipped value byte', (b: Buffer) => { b[b.length - 3] ^= 0x20 }],
    ['a flipped CRC byte', (b: Buffer) => { b[18] ^= 0x01 }],
    ['a flipped attributes byte', (b: Buffer) => { b[22] ^= 0x08 }],
  ] as const) {
    for (const acks of [1, -1]) {
      const bad = Buffer.from(good)
      corrupt(bad)
      const r = await c.request(API.Produce, 7, produceBody(acks, [{ name: 'orders', partitions: [{ index: 0, records: bad }] }]))
      const parsed = parseProduce(7, r.body)
      assert.deepEqual(parsed.topics[0]!.partitions.map((x) => [x.index, x.error, x.baseOffset]), [[0, CORRUPT_MESSAGE, -1]], `${what}, acks=${acks}: CORRUPT_MESSAGE`)
    }
  }
  // A corrupt batch after a good one in the same records field: the whole field is refused.
  const bad = Buffer.from(good)
  bad[bad.length - 1] ^= 0xff
  const r = await c.request(API.Produce, 7, produceBody(1, [{ name: 'orders', partitions: [{ index: 1, records: Buffer.concat([good, bad]) }] }]))
  assert.equal(parseProduce(7, r.body).topics[0]!.partitions[0]!.error, CORRUPT_MESSAGE, 'good + corrupt batch: CORRUPT_MESSAGE')
  assertUnchanged(before, snapshot(env.broker), 'after corrupt batches')
  await assertServes(env, c, 'after corrupt batches')
  const report = await env.broker.verify()
  assert.ok(report.ok, `verify: ${JSON.stringify(report.problems)}`)
})

test('Produce acks=0 with a corrupt batch: nothing stored, and the connection is closed (Kafka\'s only way to tell an acks=0 producer)', async (t) => {
  const env = await servedBroker(t)
  await env.broker.createTopic('fire')
  const c = await env.connect()
  const before = snapshot(env.broker)
  const bad = batchOf(['x'])
  bad[bad.length - 1] ^= 0xff
  c.send(API.Produce, 7, produceBody(0, [{ name: 'fire', partitions: [{ index: 0, records: bad }] }]), { noResponse: true })
  const avId = c.send(API.ApiVersions, 0, apiVersionsBody(0))
  let answered: number | null = null
  try {
    answered = (await c.next(3000)).correlationId
  } catch (err) {
    if (!(err instanceof WireClosedError)) throw err
  }
  assertUnchanged(before, snapshot(env.broker), 'corrupt acks=0 batch')
  assert.ok(c.closed, `the broker closes the connection after a failed acks=0 produce (instead it answered the next request, correlation id ${answered} of ${avId})`)
})

test('Produce to an internal topic (__consumer_offsets, __transaction_state) is refused with INVALID_TOPIC_EXCEPTION; the broker reopens', async (t) => {
  let broker: Broker | null = null
  let server: WireServer | null = null
  let c: WireClient | null = null
  t.after(async () => {
    await c?.close()
    await server?.close()
    await broker?.close()
  })
  const dir = tempDir(t, 'kafkalite-wire-internal-') // removed after the hook above has closed the broker
  broker = await Broker.open({ dir })
  await broker.createTopic('orders')
  server = await broker.listen({ port: 0 })
  c = await WireClient.connect(server.port)
  // Both internal topics come to exist the way clients make them: a group commit, a transactional producer.
  const commit = new Writer().string('g').int32(-1).string('').int64(-1).array(['orders'], (w, name) => w.string(name).array([0], (w, i) => w.int32(i).int64(0).nullableString(null)))
  const committed = await c.request(8, 2, commit)
  assert.deepEqual([committed.body.int32(), committed.body.string(), committed.body.int32(), committed.body.int32(), committed.body.int16()], [1, 'orders', 1, 0, 0], 'OffsetCommit v2 accepted')
  const init = await c.request(22, 0, new Writer().nullableString('tx').int32(60_000))
  assert.deepEqual([init.body.int32(), init.body.int16()], [0, 0], 'InitProducerId v0 for a transactional id accepted')
  const internal = ['__consumer_offsets', '__transaction_state'].filter((name) => broker!.hasTopic(name))
  assert.ok(internal.includes('__consumer_offsets'), `__consumer_offsets exists (topics: ${broker.topics({ internal: true }).map((x) => x.name).join(', ')})`)
  const before = snapshot(broker)
  // Gathered rather than asserted one by one, to show what an accepted write leads to.
  const problems: string[] = []
  for (const name of internal) {
    const r = await c.request(API.Produce, 7, produceBody(1, [{ name, partitions: [{ index: 0, records: batchOf(['not a commit']) }] }]))
    const part = parseProduce(7, r.body).topics[0]!.partitions[0]!
    if (part.error !== 17) problems.push(`${name}: answered error ${part.error} at base offset ${part.baseOffset}, not INVALID_TOPIC_EXCEPTION (17)`)
  }
  try {
    assertUnchanged(before, snapshot(broker), 'Produce to internal topics')
  } catch (err) {
    problems.push((err as Error).message)
  }
  await c.close()
  await server.close()
  server = null
  await broker.close()
  broker = null
  try {
    broker = await Broker.open({ dir })
    if (!broker.hasTopic('orders')) problems.push('the reopened broker lost topic orders')
  } catch (err) {
    problems.push(`the broker cannot be opened again: ${(err as Error).name}: ${(err as Error).message}`)
  }
  assert.deepEqual(problems, [], 'a client cannot write to internal topics (Kafka: INVALID_TOPIC_EXCEPTION) and the broker reopens')
})
