// Property test of the event store against a plain in-memory model: fast-check generates random
// sequences over 3 stream ids of appendToStream (random expectations given as expectedRevision or
// streamState, as numbers or bigints; JSON, binary and jsonEvent events), retries of earlier batches
// (same event ids), deleteStream, tombstoneStream, readStream (every direction, start, end, a
// revision, maxCount) and getStreamRevision, and reopens of the store (also of its broker) with its
// index checkpoints kept, deleted or corrupted. Every result, error and read is compared with the
// model; a refused call must not write; the end state (and readAll) is checked after every run.
//
// Where the brief leaves an outcome open the model accepts each reading (and follows the store):
// expecting the old last revision of a soft-deleted stream, deleting or tombstoning a stream with
// nothing visible, getStreamRevision of a tombstoned stream (null or StreamDeletedError). Retries
// are only generated for batches appended since the stream's last soft delete.
//
// KAFKALITE_MODEL_RUNS sets the number of sequences (default 200), KAFKALITE_SEED fixes the seed,
// KAFKALITE_MODEL_PATH (with the seed) replays a counterexample, KAFKALITE_MODEL_TRACE=1 prints each
// command, KAFKALITE_ES_MODEL_CONCURRENT_RETRIES=0 leaves retries out of concurrent commands.
import assert from 'node:assert/strict'
import { readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { Broker } from '../../src/index.js'
import {
  EventStore,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  binaryEvent,
  jsonEvent,
  type EventData,
  type ExpectedRevision,
  type Position,
  type RecordedEvent,
} from '../../src/eventstore/index.js'
import { test } from '../fixtures/helpers.js'
import { checkpointFiles, collect, endOffsets, storeDir, uuid } from './fixtures.js'

const RUNS = Number(process.env.KAFKALITE_MODEL_RUNS ?? 200)
const SEED = process.env.KAFKALITE_SEED !== undefined ? Number(process.env.KAFKALITE_SEED) : (Date.now() ^ (Math.random() * 0x1_0000_0000)) | 0
const PATH = process.env.KAFKALITE_MODEL_PATH
const TRACE = process.env.KAFKALITE_MODEL_TRACE === '1'
const TIMEOUT_MS = Math.max(20_000, Number(process.env.KAFKALITE_TEST_TIMEOUT ?? 0) || 0, RUNS * 150)
/**
 * Retries among concurrent appends (of a stored batch, or of another append of the same command).
 * KAFKALITE_ES_MODEL_CONCURRENT_RETRIES=0 leaves them out, to look past that defect while it is open.
 */
const CONCURRENT_RETRIES = process.env.KAFKALITE_ES_MODEL_CONCURRENT_RETRIES !== '0'
const STREAMS = ['alpha', 'beta', 'gamma']
const TOPIC = 'events'

// ------------------------------------------------------------------------------------------ commands

type Exp = 'default' | 'any' | 'no_stream' | 'stream_exists' | 'current' | { off: number }
type ExpForm = { key: 'expectedRevision' | 'streamState'; big: boolean }
type Cmd =
  | ({ t: 'append'; s: number; n: number; kind: 'json' | 'binary' | 'helper'; exp: Exp } & ExpForm)
  | ({ t: 'retry'; s: number; pick: number; exp: Exp } & ExpForm)
  | { t: 'delete'; s: number; exp: Exp; big: boolean }
  | { t: 'tombstone'; s: number; exp: Exp; big: boolean }
  | { t: 'read'; s: number; backwards: boolean; from: 'start' | 'end' | number; maxCount: number | null }
  | { t: 'rev'; s: number }
  | { t: 'reopen'; broker: boolean; checkpoint: 'keep' | 'delete' | 'corrupt' }
  | { t: 'concurrent'; ops: Sub[] }

/** One of the appends of a 'concurrent' command: new events, a retry of a stored batch, or a duplicate of another op. */
type Sub =
  | ({ t: 'append'; s: number; n: number; kind: 'json' | 'binary' | 'helper'; exp: Exp } & ExpForm)
  | ({ t: 'retry'; s: number; pick: number; exp: Exp } & ExpForm)
  | ({ t: 'dup'; of: number; exp: Exp } & ExpForm)

const stream = fc.nat(STREAMS.length - 1)
const exp: fc.Arbitrary<Exp> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<Exp>('default', 'any') },
  { weight: 2, arbitrary: fc.constant<Exp>('no_stream') },
  { weight: 2, arbitrary: fc.constant<Exp>('stream_exists') },
  { weight: 5, arbitrary: fc.constant<Exp>('current') },
  { weight: 2, arbitrary: fc.record({ off: fc.constantFrom(-2, -1, 1, 2) }) },
)
const form = { key: fc.constantFrom('expectedRevision' as const, 'streamState' as const), big: fc.boolean() }
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ t: fc.constant('append' as const), s: stream, n: fc.integer({ min: 1, max: 3 }), kind: fc.constantFrom('json' as const, 'binary' as const, 'helper' as const), exp, ...form }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('retry' as const), s: stream, pick: fc.nat(20), exp, ...form }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), s: stream, exp, big: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('tombstone' as const), s: stream, exp, big: fc.boolean() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('read' as const),
      s: stream,
      backwards: fc.boolean(),
      from: fc.oneof(fc.constantFrom('start' as const, 'end' as const), fc.nat(40)),
      maxCount: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('rev' as const), s: stream }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('concurrent' as const),
      ops: fc.array(
        fc.oneof(
          { weight: 4, arbitrary: fc.record({ t: fc.constant('append' as const), s: stream, n: fc.integer({ min: 1, max: 2 }), kind: fc.constantFrom('json' as const, 'binary' as const), exp, ...form }) },
          { weight: CONCURRENT_RETRIES ? 2 : 0, arbitrary: fc.record({ t: fc.constant('retry' as const), s: stream, pick: fc.nat(20), exp, ...form }) },
          { weight: CONCURRENT_RETRIES ? 1 : 0, arbitrary: fc.record({ t: fc.constant('dup' as const), of: fc.nat(3), exp, ...form }) },
        ),
        { minLength: 2, maxLength: 4 },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), broker: fc.constantFrom(false, false, true), checkpoint: fc.constantFrom('keep' as const, 'delete' as const, 'corrupt' as const) }) },
)

// ------------------------------------------------------------------------------------------ model

type AppendResultLike = { success: true; nextExpectedRevision: number; position: Position }

/** Every order of 0..n-1. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]]
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]))
}

interface MEvent {
  streamId: string
  revision: number
  type: string
  id: string
  isJson: boolean
  /** JSON data, or bytes as hex. */
  data: unknown
  metadata: unknown
  /** Learnt from the append's result or the first read. */
  position: Position | null
}

interface MBatch {
  events: EventData[]
  result: unknown
  /** The stream's truncateBefore when it was appended: a retry is generated only while it holds. */
  epoch: number
}

interface MStream {
  events: MEvent[]
  truncateBefore: number
  tombstoned: boolean
  deleted: boolean
  batches: MBatch[]
}

class Model {
  readonly streams: Map<string, MStream>
  constructor(names: string[]) {
    this.streams = new Map(names.map((s) => [s, { events: [], truncateBefore: 0, tombstoned: false, deleted: false, batches: [] }]))
  }
  /** Every event appended, in append order. */
  readonly order: MEvent[] = []

  get(s: string): MStream {
    return this.streams.get(s)!
  }
  last(s: string): number {
    return this.get(s).events.length - 1
  }
  visible(s: string): boolean {
    const st = this.get(s)
    return !st.tombstoned && st.events.length > st.truncateBefore
  }
  /** Whether `expected` holds: 'ok', 'wrong', or 'either' where the brief leaves it open. */
  check(s: string, expected: ExpectedRevision | undefined): 'ok' | 'wrong' | 'either' {
    const visible = this.visible(s)
    if (expected === undefined || expected === 'any') return 'ok'
    if (expected === 'no_stream') return visible ? 'wrong' : 'ok'
    if (expected === 'stream_exists') return visible ? 'ok' : 'wrong'
    const n = Number(expected)
    if (visible) return n === this.last(s) ? 'ok' : 'wrong'
    // Soft-deleted: whether its old last revision still counts is open.
    return this.get(s).events.length > 0 && n === this.last(s) ? 'either' : 'wrong'
  }
  /** The actualRevision values a WrongExpectedVersionError may carry. */
  actual(s: string): Array<number | 'no_stream'> {
    if (this.visible(s)) return [this.last(s)]
    return this.get(s).events.length > 0 ? ['no_stream', this.last(s)] : ['no_stream']
  }
}

// ------------------------------------------------------------------------------------------ runner

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}(${(e as { code?: string }).code}): ${e.message}` : JSON.stringify(e, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))
}

async function outcome<T>(p: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p() }
  } catch (error) {
    return { ok: false, error }
  }
}

/** How often each outcome was seen, over all runs (printed as a diagnostic). */
const coverage = new Map<string, number>()
function cover(what: string): void {
  coverage.set(what, (coverage.get(what) ?? 0) + 1)
}

/** The broker and store shared by the runs (each run has its own stream ids, event ids and log range). */
interface World {
  dir: string
  broker: Broker
  store: EventStore
}

class Runner {
  readonly model: Model
  /** This run's stream ids. */
  readonly names: string[]
  /** Where this run's records start in the log (readAll reads from here). */
  readonly start: Position
  private counter: number

  constructor(
    readonly world: World,
    run: number,
  ) {
    this.names = STREAMS.map((s) => `${s}-${run}`)
    this.model = new Model(this.names)
    this.counter = run * 100_000
    this.start = { partition: 0, offset: world.broker.topic(TOPIC).latestOffset(0) }
  }

  get store(): EventStore {
    return this.world.store
  }
  get broker(): Broker {
    return this.world.broker
  }
  get topic(): string {
    return TOPIC
  }

  private resolve(s: string, e: Exp, big: boolean): ExpectedRevision | undefined {
    let v: ExpectedRevision | undefined
    if (e === 'default') v = undefined
    else if (e === 'current') v = Math.max(0, this.model.last(s))
    else if (typeof e === 'object') v = Math.max(0, this.model.last(s) + e.off)
    else v = e
    return big && typeof v === 'number' ? BigInt(v) : v
  }

  private options(s: string, e: Exp, f: ExpForm): Record<string, ExpectedRevision> {
    const v = this.resolve(s, e, f.big)
    return v === undefined ? {} : { [f.key]: v }
  }

  private newEvents(s: string, n: number, kind: 'json' | 'binary' | 'helper'): { data: EventData[]; model: Omit<MEvent, 'revision' | 'position'>[] } {
    const data: EventData[] = []
    const model: Omit<MEvent, 'revision' | 'position'>[] = []
    for (let i = 0; i < n; i++) {
      const k = ++this.counter
      const id = uuid(k)
      const type = `Ev${k % 4}`
      if (kind === 'binary') {
        const bytes = Buffer.from([k & 0xff, (k >> 8) & 0xff, i, 0, 255])
        const meta = k % 2 ? Buffer.from(`meta-${k}`) : undefined
        data.push(binaryEvent({ type, data: bytes, metadata: meta, id }))
        model.push({ streamId: s, type, id, isJson: false, data: `hex:${bytes.toString('hex')}`, metadata: meta ? `hex:${meta.toString('hex')}` : null })
      } else {
        const payload = { k, s, list: Array.from({ length: k % 3 }, (_, j) => j), text: 'é'.repeat(k % 4) }
        const meta = k % 3 === 0 ? { causation: k } : undefined
        data.push(kind === 'helper' ? jsonEvent({ type, data: payload, metadata: meta, id }) : { type, data: payload, ...(meta ? { metadata: meta } : {}), id })
        model.push({ streamId: s, type, id, isJson: true, data: payload, metadata: meta ?? null })
      }
    }
    return { data, model }
  }

  /** Compares a read event with the model's; learns its position the first time. */
  private same(got: RecordedEvent, want: MEvent, what: string): void {
    const hex = (v: unknown) => (Buffer.isBuffer(v) ? `hex:${v.toString('hex')}` : v)
    assert.deepEqual(
      { streamId: got.streamId, revision: got.revision, type: got.type, id: got.id, isJson: got.isJson, data: hex(got.data), metadata: hex(got.metadata ?? null) },
      { streamId: want.streamId, revision: want.revision, type: want.type, id: want.id, isJson: want.isJson, data: want.data, metadata: want.metadata },
      `${what}: event ${want.streamId}@${want.revision} reads as appended`,
    )
    assert.ok(got.created instanceof Date && !Number.isNaN(got.created.getTime()), `${what}: created is a Date`)
    if (want.position) assert.deepEqual(got.position, want.position, `${what}: ${want.streamId}@${want.revision} keeps its position`)
    else want.position = { partition: got.position.partition, offset: got.position.offset }
  }

  private async expectRefused(what: string, call: () => Promise<unknown>, check: (err: unknown) => void): Promise<void> {
    cover(`${what.split(' ')[0]} refused`)
    const before = endOffsets(this.broker, this.topic)
    const r = await outcome(call)
    assert.ok(!r.ok, `${what}: expected an error, got ${r.ok ? describe(r.value) : ''}`)
    check(r.error)
    assert.deepEqual(endOffsets(this.broker, this.topic), before, `${what}: a refused call writes nothing`)
  }

  private wrongVersion(s: string, expected: ExpectedRevision | undefined, what: string) {
    return (err: unknown) => {
      assert.ok(err instanceof WrongExpectedVersionError, `${what}: WrongExpectedVersionError, got ${describe(err)}`)
      assert.equal(err.code, 'WRONG_EXPECTED_VERSION', `${what}: code`)
      assert.equal(err.streamId, s, `${what}: streamId`)
      assert.equal(err.expectedRevision, expected, `${what}: expectedRevision`)
      assert.ok(this.model.actual(s).includes(err.actualRevision), `${what}: actualRevision ${String(err.actualRevision)} is one of ${this.model.actual(s)}`)
    }
  }

  private deleted(s: string, what: string) {
    return (err: unknown) => {
      assert.ok(err instanceof StreamDeletedError, `${what}: StreamDeletedError, got ${describe(err)}`)
      assert.equal(err.code, 'STREAM_DELETED', `${what}: code`)
      assert.equal(err.streamId, s, `${what}: streamId`)
    }
  }

  async step(cmd: Cmd): Promise<void> {
    const m = this.model
    switch (cmd.t) {
      case 'append': {
        const s = this.names[cmd.s]!
        const st = m.get(s)
        const options = this.options(s, cmd.exp, cmd)
        const expected = options[cmd.key]
        const { data, model } = this.newEvents(s, cmd.n, cmd.kind)
        const what = `append ${cmd.n} to ${s} with ${describe(options)}`
        if (st.tombstoned) return this.expectRefused(what, () => this.store.appendToStream(s, data, options), this.deleted(s, what))
        const verdict = m.check(s, expected)
        if (verdict === 'wrong') return this.expectRefused(what, () => this.store.appendToStream(s, data, options), this.wrongVersion(s, expected, what))
        const before = endOffsets(this.broker, this.topic)
        const r = await outcome(() => this.store.appendToStream(s, data, options))
        cover(`append ${verdict} ${r.ok ? 'accepted' : 'refused'}${st.deleted ? ' (after a delete)' : ''}`)
        if (!r.ok) {
          assert.equal(verdict, 'either', `${what}: should succeed, got ${describe(r.error)}`)
          this.wrongVersion(s, expected, what)(r.error)
          assert.deepEqual(endOffsets(this.broker, this.topic), before, `${what}: a refused call writes nothing`)
          return
        }
        const first = m.last(s) + 1
        assert.deepEqual(
          { success: r.value.success, nextExpectedRevision: r.value.nextExpectedRevision },
          { success: true, nextExpectedRevision: first + cmd.n - 1 },
          `${what}: result`,
        )
        const prev = m.order.findLast((e) => e.position !== null)?.position
        assert.equal(r.value.position.partition, 0, `${what}: one partition`)
        if (prev) assert.ok(r.value.position.offset > prev.offset, `${what}: position ${r.value.position.offset} after the last known ${prev.offset}`)
        const events = model.map((e, i): MEvent => ({ ...e, revision: first + i, position: i === cmd.n - 1 ? { ...r.value.position } : null }))
        st.events.push(...events)
        m.order.push(...events)
        st.batches.push({ events: data, result: r.value, epoch: st.truncateBefore })
        return
      }
      case 'retry': {
        const s = this.names[cmd.s]!
        const st = m.get(s)
        const eligible = st.tombstoned ? st.batches : st.batches.filter((b) => b.epoch === st.truncateBefore)
        if (eligible.length === 0) return
        const batch = eligible[cmd.pick % eligible.length]!
        const options = this.options(s, cmd.exp, cmd)
        const what = `retry of ${batch.events.length} event(s) of ${s} (first ${batch.events[0]!.id}) with ${describe(options)}`
        const again = batch.events.map((e) => ({ ...e }))
        if (st.tombstoned) return this.expectRefused(what, () => this.store.appendToStream(s, again, options), this.deleted(s, what))
        const before = endOffsets(this.broker, this.topic)
        const r = await outcome(() => this.store.appendToStream(s, again, options))
        assert.ok(r.ok, `${what}: a retry resolves, got ${r.ok ? '' : describe(r.error)}`)
        assert.deepEqual(r.value, batch.result, `${what}: resolves with the first result`)
        cover(`retry accepted (${m.check(s, options[cmd.key])})`)
        assert.deepEqual(endOffsets(this.broker, this.topic), before, `${what}: a retry writes nothing`)
        return
      }
      case 'delete':
      case 'tombstone': {
        const s = this.names[cmd.s]!
        const st = m.get(s)
        const v = this.resolve(s, cmd.exp, cmd.big)
        const options = v === undefined ? {} : { expectedRevision: v }
        const call = () => (cmd.t === 'delete' ? this.store.deleteStream(s, options) : this.store.tombstoneStream(s, options))
        const what = `${cmd.t} ${s} with ${describe(options)}`
        if (st.tombstoned) return this.expectRefused(what, call, this.deleted(s, what))
        const verdict = m.check(s, v)
        if (m.visible(s)) {
          if (verdict === 'wrong') return this.expectRefused(what, call, this.wrongVersion(s, v, what))
          const r = await outcome(call)
          assert.ok(r.ok, `${what}: succeeds, got ${r.ok ? '' : describe(r.error)}`)
        } else {
          // Nothing visible: refusing (not found, wrong version) or accepting are both allowed,
          // but 'stream_exists' or a revision the stream never had must not be accepted.
          const before = endOffsets(this.broker, this.topic)
          const r = await outcome(call)
          cover(`${cmd.t} of nothing visible ${r.ok ? 'accepted' : `refused ${(r.error as { code?: string })?.code}`}`)
          if (!r.ok) {
            const code = (r.error as { code?: string })?.code
            assert.ok(
              r.error instanceof StreamNotFoundError || r.error instanceof WrongExpectedVersionError,
              `${what} of a stream with nothing visible: StreamNotFoundError or WrongExpectedVersionError, got ${describe(r.error)} (${code})`,
            )
            assert.deepEqual(endOffsets(this.broker, this.topic), before, `${what}: a refused call writes nothing`)
            return
          }
          assert.notEqual(verdict, 'wrong', `${what}: accepted an expectation that does not hold`)
        }
        if (cmd.t === 'delete') {
          st.truncateBefore = st.events.length
          st.deleted = true
        } else st.tombstoned = true
        return
      }
      case 'read': {
        const s = this.names[cmd.s]!
        const st = m.get(s)
        let from: 'start' | 'end' | number = cmd.from
        // Left open by the brief: backwards from 'start' (read as from 'end'), backwards from past the end.
        if (cmd.backwards && from === 'start') from = 'end'
        // A revision: forwards anywhere from 0 to past the end (below a soft delete too), backwards up to the last.
        if (typeof from === 'number') from = from % (Math.max(0, m.last(s)) + (cmd.backwards ? 1 : 3))
        const options = { fromRevision: from, direction: cmd.backwards ? ('backwards' as const) : ('forwards' as const), ...(cmd.maxCount !== null ? { maxCount: cmd.maxCount } : {}) }
        const what = `readStream ${s} ${JSON.stringify(options)}`
        const r = await outcome(() => collect(this.store.readStream(s, options)))
        if (st.tombstoned) return this.deleted(s, what)(r.ok ? r.value : r.error)
        if (!m.visible(s)) {
          assert.ok(!r.ok && r.error instanceof StreamNotFoundError, `${what}: StreamNotFoundError, got ${r.ok ? `${r.value.length} events` : describe(r.error)}`)
          assert.equal((r.error as StreamNotFoundError).code, 'STREAM_NOT_FOUND', `${what}: code`)
          return
        }
        assert.ok(r.ok, `${what}: reads, got ${r.ok ? '' : describe(r.error)}`)
        cover(`read ${r.value.length ? 'events' : 'nothing'}${st.truncateBefore > 0 ? ' after a delete' : ''}`)
        const visible = st.events.slice(st.truncateBefore)
        let want = cmd.backwards
          ? [...visible].reverse().filter((e) => from === 'end' || e.revision <= (from as number))
          : visible.filter((e) => from !== 'end' && (from === 'start' || e.revision >= (from as number)))
        if (cmd.maxCount !== null) want = want.slice(0, cmd.maxCount)
        assert.deepEqual(r.value.map((e) => e.revision), want.map((e) => e.revision), `${what}: revisions`)
        r.value.forEach((e, i) => this.same(e, want[i]!, what))
        for (let i = 1; i < r.value.length; i++) {
          const [a, b] = cmd.backwards ? [r.value[i]!, r.value[i - 1]!] : [r.value[i - 1]!, r.value[i]!]
          assert.ok(a.position.offset < b.position.offset, `${what}: positions follow revisions`)
        }
        return
      }
      case 'rev': {
        const s = this.names[cmd.s]!
        const r = await outcome(async () => this.store.getStreamRevision(s))
        const what = `getStreamRevision ${s}`
        if (m.get(s).tombstoned) {
          const v = r.ok ? r.value : r.error
          assert.ok(v === null || v instanceof StreamDeletedError, `${what} of a tombstoned stream: null or StreamDeletedError, got ${describe(v)}`)
          return
        }
        assert.ok(r.ok, `${what}: answers, got ${r.ok ? '' : describe(r.error)}`)
        assert.equal(r.value, m.visible(s) ? m.last(s) : null, what)
        return
      }
      case 'concurrent':
        return this.concurrent(cmd.ops)
      case 'reopen': {
        const w = this.world
        await w.store.close()
        if (cmd.broker) {
          await w.broker.close()
          w.broker = await Broker.open({ dir: w.dir })
        }
        const files = checkpointFiles(w.dir)
        if (cmd.checkpoint !== 'keep') assert.ok(files.length > 0, 'the store left index checkpoints to damage')
        for (const f of files) {
          if (cmd.checkpoint === 'delete') rmSync(f)
          else if (cmd.checkpoint === 'corrupt') {
            const b = readFileSync(f)
            if (b.length > 0) b[Math.floor(b.length / 2)] ^= 0x41
            writeFileSync(f, b)
          }
        }
        w.store = await EventStore.open({ broker: w.broker }, { topic: TOPIC })
        await this.verifyAll(`after reopen (${cmd.broker ? 'broker too' : 'store only'}, checkpoint ${cmd.checkpoint})`)
        return
      }
    }
  }

  /**
   * Runs appends concurrently and checks that the outcomes are those of some order of them run one
   * by one (linearizability): every result, error and the records written; then the model follows
   * that order.
   */
  private async concurrent(subs: Sub[]): Promise<void> {
    const m = this.model
    interface Prepared {
      s: string
      events: EventData[]
      model: Omit<MEvent, 'revision' | 'position'>[]
      options: Record<string, ExpectedRevision>
      expected: ExpectedRevision | undefined
      /** A stored batch this op retries. */
      retryOf: MBatch | null
      ids: string
    }
    const ops: Prepared[] = []
    for (const sub of subs) {
      if (sub.t === 'append') {
        const s = this.names[sub.s]!
        const { data, model } = this.newEvents(s, sub.n, sub.kind)
        const options = this.options(s, sub.exp, sub)
        ops.push({ s, events: data, model, options, expected: options[sub.key], retryOf: null, ids: data.map((e) => e.id).join() })
      } else if (sub.t === 'retry') {
        const s = this.names[sub.s]!
        const st = m.get(s)
        const eligible = st.tombstoned ? st.batches : st.batches.filter((b) => b.epoch === st.truncateBefore)
        if (eligible.length === 0) continue
        const batch = eligible[sub.pick % eligible.length]!
        const options = this.options(s, sub.exp, sub)
        ops.push({ s, events: batch.events.map((e) => ({ ...e })), model: [], options, expected: options[sub.key], retryOf: batch, ids: batch.events.map((e) => e.id).join() })
      } else {
        const orig = ops[sub.of % Math.max(1, ops.length)]
        if (!orig || orig.retryOf) continue
        const options = this.options(orig.s, sub.exp, sub)
        ops.push({ ...orig, events: orig.events.map((e) => ({ ...e })), options, expected: options[sub.key] })
      }
    }
    if (ops.length === 0) return
    cover(`concurrent ${ops.length}`)
    const before = endOffsets(this.broker, this.topic)[0]!
    const settled = await Promise.allSettled(ops.map((op) => this.store.appendToStream(op.s, op.events, op.options)))
    const written = endOffsets(this.broker, this.topic)[0]! - before
    const what = `concurrent ${ops.map((op) => `${op.retryOf ? 'retry' : 'append'} ${op.events.length} to ${op.s} with ${describe(op.options)} (ids ${op.ids})`).join(' | ')}`
    const seen = settled.map((r) => (r.status === 'fulfilled' ? describe(r.value) : describe(r.reason)))

    /** Whether running the ops one by one in `order` gives what was seen; the new appends in that order. */
    const tryOrder = (order: number[]): { fresh: number[] } | string => {
      const len = new Map([...m.streams].map(([s, st]) => [s, st.events.length]))
      const visible = new Map([...m.streams].map(([s]) => [s, m.visible(s)]))
      const stored = new Map<string, AppendResultLike>() // ids of appends stored by earlier ops in this order
      const fresh: number[] = []
      let lastOffset = -1
      let total = 0
      for (const i of order) {
        const op = ops[i]!
        const r = settled[i]!
        const st = m.get(op.s)
        const tag = `op ${i}`
        if (st.tombstoned) {
          if (!(r.status === 'rejected' && r.reason instanceof StreamDeletedError)) return `${tag}: a tombstoned stream must refuse`
          continue
        }
        const earlier = op.retryOf ? (op.retryOf.result as AppendResultLike) : stored.get(`${op.s}:${op.ids}`)
        if (earlier) {
          if (r.status !== 'fulfilled') return `${tag}: a retry must resolve`
          if (!isDeepStrictEqual(r.value, earlier)) return `${tag}: a retry must resolve with the first result`
          continue
        }
        const last = len.get(op.s)! - 1
        const vis = visible.get(op.s)!
        const e = op.expected
        const n = e === undefined || e === 'any' ? null : e === 'no_stream' || e === 'stream_exists' ? null : Number(e)
        const verdict =
          e === undefined || e === 'any'
            ? 'ok'
            : e === 'no_stream'
              ? vis ? 'wrong' : 'ok'
              : e === 'stream_exists'
                ? vis ? 'ok' : 'wrong'
                : vis
                  ? n === last ? 'ok' : 'wrong'
                  : last >= 0 && n === last ? 'either' : 'wrong'
        if (r.status === 'rejected') {
          if (verdict === 'ok') return `${tag}: should succeed`
          if (!(r.reason instanceof WrongExpectedVersionError)) return `${tag}: should be WrongExpectedVersionError`
          const actual = vis ? [last] : last >= 0 ? ['no_stream', last] : ['no_stream']
          if (!actual.includes(r.reason.actualRevision)) return `${tag}: actualRevision ${r.reason.actualRevision} is not one of ${actual}`
          continue
        }
        if (verdict === 'wrong') return `${tag}: should be refused`
        const v = r.value
        if (v.nextExpectedRevision !== last + op.events.length) return `${tag}: nextExpectedRevision ${v.nextExpectedRevision}, should be ${last + op.events.length}`
        if (v.position.offset <= lastOffset) return `${tag}: written before an op earlier in this order`
        lastOffset = v.position.offset
        len.set(op.s, last + 1 + op.events.length)
        visible.set(op.s, true)
        stored.set(`${op.s}:${op.ids}`, v)
        fresh.push(i)
        total += op.events.length
      }
      if (total !== written) return `${written} records written, this order writes ${total}`
      return { fresh }
    }

    const problems: string[] = []
    let found: { order: number[]; fresh: number[] } | null = null
    for (const order of permutations(ops.length)) {
      const r = tryOrder(order)
      if (typeof r === 'string') problems.push(`[${order}] ${r}`)
      else {
        found = { order, fresh: r.fresh }
        break
      }
    }
    assert.ok(found, `${what}: the outcomes ${JSON.stringify(seen)} are those of no order of the appends run one by one:\n  ${problems.join('\n  ')}`)
    for (const i of found.fresh) {
      const op = ops[i]!
      const v = (settled[i] as PromiseFulfilledResult<AppendResultLike>).value
      const st = m.get(op.s)
      const first = st.events.length
      const events = op.model.map((e, k): MEvent => ({ ...e, revision: first + k, position: k === op.model.length - 1 ? { ...v.position } : null }))
      st.events.push(...events)
      m.order.push(...events)
      st.batches.push({ events: op.events, result: v, epoch: st.truncateBefore })
    }
    // The fresh appends were written in this order (their positions ascend along it): m.order follows the log.
  }

  /** Reads every stream fully and its revision, and readAll, against the model. */
  async verifyAll(when: string): Promise<void> {
    for (let s = 0; s < STREAMS.length; s++) {
      await this.step({ t: 'read', s, backwards: false, from: 'start', maxCount: null })
      await this.step({ t: 'read', s, backwards: false, from: 0, maxCount: null })
      await this.step({ t: 'read', s, backwards: true, from: 'end', maxCount: null })
      await this.step({ t: 'rev', s })
    }
    const all = await collect(this.store.readAll({ fromPosition: this.start }))
    const ids = new Map(this.model.order.map((e) => [e.id, e]))
    for (const e of all) {
      const want = ids.get(e.id)
      assert.ok(want, `${when}: readAll yields only appended events (got ${e.streamId}@${e.revision} ${e.type})`)
      this.same(e, want, `${when}: readAll`)
    }
    const live = (e: { streamId: string }) => !this.model.get(e.streamId).deleted && !this.model.get(e.streamId).tombstoned
    assert.deepEqual(
      all.filter(live).map((e) => e.id),
      this.model.order.filter(live).map((e) => e.id),
      `${when}: readAll yields every event of the never-deleted streams, in append order`,
    )
  }
}

test(`event store model: ${RUNS} random sequences against an in-memory model`, async (t) => {
  const { dir, defer } = storeDir(t, 'kafkalite-es-model-')
  const broker = await Broker.open({ dir })
  const world: World = { dir, broker, store: await EventStore.open({ broker }, { topic: TOPIC }) }
  defer(async () => {
    try {
      await world.store.close()
    } finally {
      await world.broker.close()
    }
  })
  const replay = `seed ${SEED} (replay: KAFKALITE_SEED=${SEED}${PATH ? ` KAFKALITE_MODEL_PATH=${PATH}` : ''})`
  console.log(`event store model: ${RUNS} runs, ${replay}`)
  t.diagnostic(replay)
  let run = 0
  const counts = new Map<string, number>()
  await fc.assert(
    fc.asyncProperty(fc.array(cmdArb, { minLength: 1, maxLength: 40, size: 'medium' }), async (cmds) => {
      const runner = new Runner(world, ++run)
      if (TRACE) writeSync(2, `--- run ${run}: ${cmds.length} commands\n`)
      for (const [i, cmd] of cmds.entries()) {
        if (TRACE) writeSync(2, `${i} ${JSON.stringify(cmd)}\n`)
        counts.set(cmd.t, (counts.get(cmd.t) ?? 0) + 1)
        try {
          await runner.step(cmd)
        } catch (err) {
          throw new Error(`step ${i} ${JSON.stringify(cmd)}: ${(err as Error)?.message}`, { cause: err })
        }
      }
      await runner.verifyAll('at the end')
    }),
    { numRuns: RUNS, seed: SEED, path: PATH, interruptAfterTimeLimit: TIMEOUT_MS - 5_000, markInterruptAsFailure: true },
  )
  t.diagnostic(`commands: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`)
  t.diagnostic(`outcomes: ${[...coverage].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`)
}, TIMEOUT_MS)
