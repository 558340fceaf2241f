// Consumers under isolation 'read_committed' (the default) and 'read_uncommitted', over transactions
// written by hand as raw batches: transactional data batches with a producer id, then a commit or
// abort marker (a control batch) in each partition the transaction wrote to. read_committed delivers
// plain records and committed transactions, stops at the last stable offset while a transaction is
// open and goes on when its marker arrives; read_uncommitted delivers every data record; neither
// delivers a marker, and both move their position past every batch. Ends with a model test.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Broker, InvalidConfigError, encodeRecordBatch, type Consumer, type Message } from '../../src/index.js'
import { encodeControlBatch } from '../../src/storage/control-batch.js'
import { test, waitFor, withDeadline } from '../fixtures/helpers.js'

type Isolation = 'read_committed' | 'read_uncommitted'
type Mode = 'for await' | 'run'

/** A transactional producer by hand: its data batches and markers as raw RecordBatch v2 bytes. */
class HandProducer {
  /** Next sequence number per partition (epoch 0 throughout). */
  private readonly sequences = new Map<number, number>()

  private constructor(
    private readonly broker: Broker,
    private readonly topic: string,
    readonly producerId: number,
  ) {}

  static async create(broker: Broker, topic: string): Promise<HandProducer> {
    return new HandProducer(broker, topic, await broker.allocateProducerId())
  }

  /** One transactional batch of `values`; resolves to its base offset. */
  async send(partition: number, ...values: string[]): Promise<number> {
    const baseSequence = this.sequences.get(partition) ?? 0
    const records = values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: Date.now() }))
    const bytes = encodeRecordBatch(records, { producerId: this.producerId, producerEpoch: 0, baseSequence, transactional: true })
    this.sequences.set(partition, baseSequence + values.length)
    return (await this.broker.topic(this.topic).partition(partition).appendBatch(bytes)).baseOffset
  }

  /** The transaction's commit or abort marker in `partition`; resolves to its offset. */
  async end(partition: number, commit: boolean): Promise<number> {
    const marker = encodeControlBatch({ commit, producerId: this.producerId, producerEpoch: 0, coordinatorEpoch: 0, timestamp: Date.now() })
    // Markers are the transaction coordinator's to write: appended as it does, not via appendBatch.
    const p = this.broker.topic(this.topic).partition(partition)
    const { baseOffset } = p.append([marker])
    await p.flush()
    return baseOffset
  }
}

/** A batch without a producer id (as a non-idempotent producer writes); resolves to its base offset. */
async function plain(broker: Broker, topic: string, partition: number, ...values: string[]): Promise<number> {
  const bytes = encodeRecordBatch(values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: Date.now() })))
  return (await broker.topic(topic).partition(partition).appendBatch(bytes)).baseOffset
}

const text = (m: Message): string => (m.value as Buffer).toString()
/** What was delivered, as `offset:value` (with the partition in front when asked). */
const shown = (got: Message[], withPartition = false): string[] => got.map((m) => `${withPartition ? `${m.partition}:` : ''}${m.offset}:${text(m)}`)

/** Starts delivering into `got`, through the iterator or run(); the consumer's close() ends it. */
async function collect(consumer: Consumer, mode: Mode): Promise<{ got: Message[]; done: Promise<void> }> {
  const got: Message[] = []
  if (mode === 'run') {
    await consumer.run({ eachMessage: (m) => void got.push(m) })
    return { got, done: Promise.resolve() }
  }
  const done = (async () => {
    for await (const m of consumer) got.push(m)
  })()
  return { got, done }
}

/** A consumer of every partition of `topic` from the beginning, delivering into `got`. */
async function reader(broker: Broker, topic: string, isolation: Isolation, mode: Mode, options: { maxBytesPerPartition?: number; fromBeginning?: boolean } = {}) {
  const consumer = broker.consumer({ fromBeginning: true, isolation, ...options })
  await consumer.subscribe(topic)
  return { consumer, ...(await collect(consumer, mode)) }
}

async function stop(r: { consumer: Consumer; done: Promise<void> }): Promise<void> {
  await r.consumer.close()
  await withDeadline(r.done, 5000, 'iteration ends at close')
}

const MODES: Mode[] = ['for await', 'run']

for (const mode of MODES) {
  test(`${mode}: committed data reaches both isolations, aborted data only read_uncommitted; markers are never delivered and positions pass them`, async (t) => {
    const broker = await Broker.open()
    t.after(() => broker.close())
    await broker.createTopic('tx')
    const a = await HandProducer.create(broker, 'tx')
    const b = await HandProducer.create(broker, 'tx')
    assert.equal(await a.send(0, 'a1', 'a2'), 0)
    assert.equal(await a.end(0, true), 2)
    assert.equal(await b.send(0, 'b1'), 3)
    assert.equal(await b.end(0, false), 4)
    assert.equal(await plain(broker, 'tx', 0, 'p1'), 5)
    const rc = await reader(broker, 'tx', 'read_committed', mode)
    const ru = await reader(broker, 'tx', 'read_uncommitted', mode)
    await waitFor(() => rc.consumer.position('tx', 0) === 6 && ru.consumer.position('tx', 0) === 6, 5000, 'both positions at the end')
    assert.deepEqual(shown(rc.got), ['0:a1', '1:a2', '5:p1'])
    assert.deepEqual(shown(ru.got), ['0:a1', '1:a2', '3:b1', '5:p1'])
    // A commit marker after the position is passed as well.
    await plain(broker, 'tx', 0, 'p2')
    await waitFor(() => rc.got.length === 4 && ru.got.length === 5, 5000, 'the next plain record')
    await stop(rc)
    await stop(ru)
  })

  test(`${mode}: read_committed waits at an open transaction and goes on when its commit marker arrives`, async (t) => {
    const broker = await Broker.open()
    t.after(() => broker.close())
    await broker.createTopic('open')
    const p = broker.topic('open').partition(0)
    const a = await HandProducer.create(broker, 'open')
    await plain(broker, 'open', 0, 'p0')
    await a.send(0, 'a1')
    await plain(broker, 'open', 0, 'p2')
    const rc = await reader(broker, 'open', 'read_committed', mode)
    const ru = await reader(broker, 'open', 'read_uncommitted', mode)
    await waitFor(() => ru.got.length === 3, 5000, 'read_uncommitted reads the open transaction')
    await waitFor(() => rc.consumer.position('open', 0) === 1, 5000, 'read_committed at the last stable offset')
    assert.equal(p.lastStableOffset, 1)
    assert.equal(p.highWatermark, 3)
    await a.send(0, 'a3')
    await waitFor(() => ru.got.length === 4, 5000, 'read_uncommitted reads on')
    // While read_uncommitted took two more appends, read_committed stayed at the last stable offset.
    assert.deepEqual(shown(rc.got), ['0:p0'])
    assert.equal(rc.consumer.position('open', 0), 1)
    assert.equal(await a.end(0, true), 4)
    assert.equal(p.lastStableOffset, 5)
    await waitFor(() => rc.consumer.position('open', 0) === 5, 5000, 'read_committed past the commit marker')
    assert.deepEqual(shown(rc.got), ['0:p0', '1:a1', '2:p2', '3:a3'])
    await stop(rc)
    await stop(ru)
  })

  test(`${mode}: read_committed waits at an open transaction, then skips it when it aborts`, async (t) => {
    const broker = await Broker.open()
    t.after(() => broker.close())
    await broker.createTopic('abort')
    const a = await HandProducer.create(broker, 'abort')
    await a.send(0, 'a1')
    await plain(broker, 'abort', 0, 'p1')
    const rc = await reader(broker, 'abort', 'read_committed', mode)
    const ru = await reader(broker, 'abort', 'read_uncommitted', mode)
    await waitFor(() => ru.got.length === 2, 5000, 'read_uncommitted reads the open transaction')
    assert.equal(rc.got.length, 0)
    assert.equal(rc.consumer.position('abort', 0), 0)
    assert.equal(await a.end(0, false), 2)
    await waitFor(() => rc.consumer.position('abort', 0) === 3 && ru.consumer.position('abort', 0) === 3, 5000, 'past the abort marker')
    assert.deepEqual(shown(rc.got), ['1:p1'])
    assert.deepEqual(shown(ru.got), ['0:a1', '1:p1'])
    await stop(rc)
    await stop(ru)
  })
}

for (const maxBytesPerPartition of [1, 1024 * 1024]) {
  test(`interleaved transactions of two producers with idempotent and plain records between them (maxBytesPerPartition ${maxBytesPerPartition})`, async (t) => {
    const broker = await Broker.open()
    t.after(() => broker.close())
    await broker.createTopic('mix')
    const a = await HandProducer.create(broker, 'mix')
    const b = await HandProducer.create(broker, 'mix')
    const idempotent = broker.producer()
    const x = async (v: string): Promise<number> => (await idempotent.send('mix', { value: v, partition: 0 }))[0]!.offset
    // A tailing read_committed consumer sees each step as it becomes stable.
    const live = await reader(broker, 'mix', 'read_committed', 'for await', { maxBytesPerPartition })
    assert.equal(await a.send(0, 'a1'), 0)
    assert.equal(await b.send(0, 'b1'), 1)
    assert.equal(await x('x1'), 2)
    assert.equal(await a.send(0, 'a2', 'a3'), 3)
    assert.equal(await b.send(0, 'b2'), 5)
    assert.equal(await b.end(0, false), 6)
    assert.equal(await x('x2'), 7)
    assert.equal(broker.topic('mix').partition(0).lastStableOffset, 0)
    assert.equal(live.got.length, 0)
    assert.equal(await a.end(0, true), 8)
    await waitFor(() => live.consumer.position('mix', 0) === 9, 5000, 'the stable part after A commits')
    assert.deepEqual(shown(live.got), ['0:a1', '2:x1', '3:a2', '4:a3', '7:x2'])
    assert.equal(await b.send(0, 'b3'), 9)
    assert.equal(await b.end(0, true), 10)
    assert.equal(await plain(broker, 'mix', 0, 'y'), 11)
    const committed = ['0:a1', '2:x1', '3:a2', '4:a3', '7:x2', '9:b3', '11:y']
    await waitFor(() => live.got.length === committed.length, 5000, 'the rest')
    assert.deepEqual(shown(live.got), committed)
    for (const isolation of ['read_committed', 'read_uncommitted'] as const) {
      const r = await reader(broker, 'mix', isolation, 'run', { maxBytesPerPartition })
      await waitFor(() => r.consumer.position('mix', 0) === 12, 5000, `${isolation} at the end`)
      assert.deepEqual(shown(r.got), isolation === 'read_committed' ? committed : ['0:a1', '1:b1', '2:x1', '3:a2', '4:a3', '5:b2', '7:x2', '9:b3', '11:y'])
      await stop(r)
    }
    await stop(live)
  })
}

test('eachBatch: a fetch of only aborted data and markers hands out no batch, yet the position moves to the end', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('empty')
  const a = await HandProducer.create(broker, 'empty')
  await a.send(0, 'a1', 'a2')
  await a.end(0, false)
  await a.send(0, 'a3')
  await a.end(0, true)
  await a.send(0, 'a4')
  await a.end(0, false)
  const consumer = broker.consumer({ fromBeginning: true, maxBytesPerPartition: 1 })
  await consumer.subscribe('empty')
  const batches: string[][] = []
  await consumer.run({ eachBatch: (b) => void batches.push(b.messages.map((m) => `${m.offset}:${text(m)}`)) })
  await waitFor(() => consumer.position('empty', 0) === 7, 5000, 'position at the end')
  assert.deepEqual(batches, [['3:a3']])
  await plain(broker, 'empty', 0, 'p')
  await waitFor(() => batches.length === 2, 5000, 'the plain record')
  assert.deepEqual(batches[1], ['7:p'])
  await consumer.close()
})

test("without fromBeginning, read_committed starts at the last stable offset and read_uncommitted at the high watermark", async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('late')
  const a = await HandProducer.create(broker, 'late')
  await a.send(0, 'a1')
  await plain(broker, 'late', 0, 'p1')
  const rc = await reader(broker, 'late', 'read_committed', 'for await', { fromBeginning: false })
  const ru = await reader(broker, 'late', 'read_uncommitted', 'for await', { fromBeginning: false })
  assert.equal(rc.consumer.position('late', 0), 0)
  assert.equal(ru.consumer.position('late', 0), 2)
  await a.end(0, true)
  await waitFor(() => rc.consumer.position('late', 0) === 3 && ru.consumer.position('late', 0) === 3, 5000, 'past the marker')
  assert.deepEqual(shown(rc.got), ['0:a1', '1:p1'])
  assert.deepEqual(shown(ru.got), [])
  await plain(broker, 'late', 0, 'p3')
  await waitFor(() => rc.got.length === 3 && ru.got.length === 1, 5000, 'the next record')
  await stop(rc)
  await stop(ru)
})

test("isolation defaults to 'read_committed'; anything else is an InvalidConfigError", async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('iso')
  for (const bad of ['serializable', 1, 'READ_COMMITTED']) {
    assert.throws(() => broker.consumer({ isolation: bad as never }), InvalidConfigError)
  }
  const a = await HandProducer.create(broker, 'iso')
  await a.send(0, 'a1')
  await a.end(0, false)
  await plain(broker, 'iso', 0, 'p')
  assert.equal(broker.consumer({ isolation: 'read_uncommitted' }).isolation, 'read_uncommitted')
  const consumer = broker.consumer({ fromBeginning: true })
  assert.equal(consumer.isolation, 'read_committed')
  await consumer.subscribe('iso')
  const { got, done } = await collect(consumer, 'for await')
  await waitFor(() => consumer.position('iso', 0) === 3, 5000, 'position at the end')
  assert.deepEqual(shown(got), ['2:p'])
  await stop({ consumer, done })
})

test("group lag: to the high watermark by default, to the last stable offset with { isolation: 'read_committed' }", async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('lag')
  const a = await HandProducer.create(broker, 'lag')
  await plain(broker, 'lag', 0, 'p0', 'p1')
  await a.send(0, 'a2', 'a3')
  await broker.group('admin').resetOffsets({ topic: 'lag', to: { offset: 1 } })
  const row = (group: string, isolation?: Isolation) => {
    const rows = broker.group(group).lag(isolation ? { isolation } : undefined)
    assert.equal(rows.length, 1)
    return { committed: rows[0]!.committed, end: rows[0]!.end, lag: rows[0]!.lag }
  }
  assert.deepEqual(row('admin'), { committed: 1, end: 4, lag: 3 })
  assert.deepEqual(row('admin', 'read_uncommitted'), { committed: 1, end: 4, lag: 3 })
  assert.deepEqual(row('admin', 'read_committed'), { committed: 1, end: 2, lag: 1 })
  assert.throws(() => broker.group('admin').lag({ isolation: 'bad' as never }), InvalidConfigError)

  // A read_committed member commits up to the last stable offset: no lag for it, the open transaction for the other.
  const member = broker.consumer({ groupId: 'g', fromBeginning: true })
  await member.subscribe('lag')
  const got: Message[] = []
  await member.run({ eachMessage: (m) => void got.push(m) })
  await waitFor(() => member.position('lag', 0) === 2, 5000, 'member at the last stable offset')
  await member.commit()
  assert.deepEqual(row('g', 'read_committed'), { committed: 2, end: 2, lag: 0 })
  assert.deepEqual(row('g'), { committed: 2, end: 4, lag: 2 })
  // The commit marker moves the last stable offset past the transaction and its marker.
  await a.end(0, true)
  assert.deepEqual(row('g', 'read_committed'), { committed: 2, end: 5, lag: 3 })
  await waitFor(() => member.position('lag', 0) === 5, 5000, 'member past the marker')
  await member.close()
  assert.deepEqual(shown(got), ['0:p0', '1:p1', '2:a2', '3:a3'])
  assert.deepEqual(row('g', 'read_committed'), { committed: 5, end: 5, lag: 0 })
  assert.deepEqual(row('g'), { committed: 5, end: 5, lag: 0 })
})

// ------------------------------------------------------------------------------------------ model

const RUNS = Number(process.env.KAFKALITE_MODEL_RUNS ?? 200)
const PRODUCERS = 3
const PARTITIONS = 2

type Cmd =
  | { t: 'send'; producer: number; partition: number; n: number }
  | { t: 'end'; producer: number; commit: boolean }
  | { t: 'plain'; partition: number; n: number }

interface ModelRecord {
  partition: number
  offset: number
  value: string
  status: 'plain' | 'open' | 'committed' | 'aborted'
}

/** Offsets as the log assigns them, each record's fate, and each producer's open transaction. */
class Model {
  readonly next = Array.from({ length: PARTITIONS }, () => 0)
  readonly records: ModelRecord[] = []
  /** Per producer: the first offset of its open transaction in each partition, and its records. */
  readonly open = new Map<number, { first: Map<number, number>; records: ModelRecord[] }>()
  private count = 0

  append(partition: number, n: number, status: ModelRecord['status']): ModelRecord[] {
    const out = Array.from({ length: n }, (_, i) => ({ partition, offset: this.next[partition]! + i, value: `v${this.count++}`, status }))
    this.next[partition]! += n
    this.records.push(...out)
    return out
  }

  /** A marker takes one offset and holds no data record. */
  marker(partition: number): number {
    return this.next[partition]!++
  }

  /** The first offset of the earliest open transaction in `partition`, else the high watermark. */
  lastStableOffset(partition: number): number {
    let lso = this.next[partition]!
    for (const t of this.open.values()) lso = Math.min(lso, t.first.get(partition) ?? lso)
    return lso
  }

  /** What a consumer of `isolation` has delivered once at its end, as `partition:offset:value`. */
  expected(isolation: Isolation): string[] {
    return this.records
      .filter((r) => isolation === 'read_uncommitted' || ((r.status === 'plain' || r.status === 'committed') && r.offset < this.lastStableOffset(r.partition)))
      .sort((x, y) => x.partition - y.partition || x.offset - y.offset)
      .map((r) => `${r.partition}:${r.offset}:${r.value}`)
  }
}

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('send' as const), producer: fc.nat(PRODUCERS - 1), partition: fc.nat(PARTITIONS - 1), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('end' as const), producer: fc.nat(PRODUCERS - 1), commit: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('plain' as const), partition: fc.nat(PARTITIONS - 1), n: fc.integer({ min: 1, max: 3 }) }) },
)

/** Applies one command to the broker and to the model. */
async function apply(broker: Broker, producers: HandProducer[], model: Model, cmd: Cmd): Promise<void> {
  if (cmd.t === 'plain') {
    const recs = model.append(cmd.partition, cmd.n, 'plain')
    assert.equal(await plain(broker, 'm', cmd.partition, ...recs.map((r) => r.value)), recs[0]!.offset)
  } else if (cmd.t === 'send') {
    let txn = model.open.get(cmd.producer)
    if (!txn) model.open.set(cmd.producer, (txn = { first: new Map(), records: [] }))
    if (!txn.first.has(cmd.partition)) txn.first.set(cmd.partition, model.next[cmd.partition]!)
    const recs = model.append(cmd.partition, cmd.n, 'open')
    txn.records.push(...recs)
    assert.equal(await producers[cmd.producer]!.send(cmd.partition, ...recs.map((r) => r.value)), recs[0]!.offset)
  } else {
    const txn = model.open.get(cmd.producer)
    if (!txn) return
    model.open.delete(cmd.producer)
    for (const r of txn.records) r.status = cmd.commit ? 'committed' : 'aborted'
    // A marker in every partition the transaction wrote to, as the coordinator writes them.
    for (const partition of [...txn.first.keys()].sort()) {
      assert.equal(await producers[cmd.producer]!.end(partition, cmd.commit), model.marker(partition))
    }
  }
}

/** Waits until both consumers stand at their end of every partition, then compares with the model. */
async function check(model: Model, rc: { consumer: Consumer; got: Message[] }, ru: { consumer: Consumer; got: Message[] }): Promise<void> {
  const at = (c: Consumer, end: (p: number) => number): boolean => Array.from({ length: PARTITIONS }, (_, p) => c.position('m', p) === end(p)).every(Boolean)
  await waitFor(() => at(rc.consumer, (p) => model.lastStableOffset(p)) && at(ru.consumer, (p) => model.next[p]!), 10_000, 'consumers at their ends')
  const delivered = (got: Message[]) => shown(got, true).sort((x, y) => byPartitionOffset(x) - byPartitionOffset(y))
  // Each partition's records arrive in offset order.
  for (const got of [rc.got, ru.got]) {
    for (let p = 0; p < PARTITIONS; p++) {
      const offsets = got.filter((m) => m.partition === p).map((m) => m.offset)
      assert.deepEqual(offsets, [...offsets].sort((x, y) => x - y))
    }
  }
  assert.deepEqual(delivered(rc.got), model.expected('read_committed'), 'read_committed')
  assert.deepEqual(delivered(ru.got), model.expected('read_uncommitted'), 'read_uncommitted')
}

const byPartitionOffset = (s: string): number => {
  const [p, o] = s.split(':')
  return Number(p) * 1e9 + Number(o)
}

test(`model: random transactions of ${PRODUCERS} producers and plain records over ${PARTITIONS} partitions, read by read_committed and read_uncommitted consumers (${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(cmdArb, { minLength: 1, maxLength: 30 }),
      fc.boolean(),
      fc.constantFrom<Mode>('for await', 'run'),
      fc.constantFrom(1, 150, 1024 * 1024),
      fc.array(fc.boolean(), { minLength: PRODUCERS, maxLength: PRODUCERS }),
      async (cmds, live, rcMode, maxBytesPerPartition, finish) => {
        const broker = await Broker.open()
        try {
          await broker.createTopic('m', { partitions: PARTITIONS })
          const producers: HandProducer[] = []
          for (let i = 0; i < PRODUCERS; i++) producers.push(await HandProducer.create(broker, 'm'))
          const model = new Model()
          const ruMode: Mode = rcMode === 'run' ? 'for await' : 'run'
          const start = async () => ({
            rc: await reader(broker, 'm', 'read_committed', rcMode, { maxBytesPerPartition }),
            ru: await reader(broker, 'm', 'read_uncommitted', ruMode, { maxBytesPerPartition }),
          })
          // Live consumers tail the appends; the others start after them.
          const early = live ? await start() : null
          for (const cmd of cmds) await apply(broker, producers, model, cmd)
          const { rc, ru } = early ?? (await start())
          await check(model, rc, ru)
          // Ending the transactions still open lets read_committed read on to the end.
          for (let i = 0; i < PRODUCERS; i++) await apply(broker, producers, model, { t: 'end', producer: i, commit: finish[i]! })
          await check(model, rc, ru)
          await stop(rc)
          await stop(ru)
        } finally {
          await broker.close()
        }
      },
    ),
    { numRuns: RUNS },
  )
}, Math.max(60_000, RUNS * 300))
