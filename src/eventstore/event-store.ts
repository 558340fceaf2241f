// `EventStore`: event streams on a kafkalite topic. A stream's events live on the partition of its id
// (murmur2), so one stream is totally ordered; a position is { partition, offset }. Appends are
// serialized per store: the expectation check and the append are one step, and all events of one
// append go out in one batch (atomic). Each partition has a stream index (stream → offset of each
// revision) kept in memory, checkpointed under `<dir>/__eventstore/<topic>/` at close, and caught up
// from the log on open, so reading a stream reads only its own records.
import * as path from 'node:path'
import { Broker, InvalidConfigError, InvalidRecordError, partitionForKey, type Producer, type ProducerMessage, type Topic } from '../index.js'
import { StreamDeletedError, StreamNotFoundError, type ExpectedRevision } from './errors.js'
import { committedRecords, RecordReader } from './partition-log.js'
import { DELETED, eventRecord, markerRecord, normalizeEvent, parseStored, TOMBSTONE, toRecordedEvent, type EventData, type Position, type RecordedEvent } from './record-format.js'
import { idHash, type PartitionIndex } from './stream-index.js'
import { loadIndex, saveIndexes } from './index-files.js'
import { eventBytes, takeGroup, writeAppendGroup, type AppendHost, type PendingAppend } from './append-group.js'
import { checkExpectation, checkExpected, checkStreamId } from './expectations.js'
import { CheckpointStore } from './checkpoint-store.js'
import { GroupSubscription } from './group-subscription.js'
import { filterOf, startOffsets, streamStartOffset, Subscription, type Checkpoint, type SubscriptionFilter } from './subscription.js'

/** Largest append (bytes of data and metadata), as EventStoreDB's default maximum append size. */
export const APPEND_BYTES_MAX = 1024 * 1024 - 64 * 1024

/** An open kafkalite `Broker` (typed by its shape, so that a Broker from any copy of the package fits). */
export interface BrokerLike {
  hasTopic(name: string): boolean
  createTopic(name: string, options?: object): Promise<unknown>
  producer(options?: object): unknown
  close(): Promise<void>
}

export interface EventStoreOptions {
  /** The topic holding the streams (default 'events'; created when missing). */
  topic?: string
  /** Partitions of a new topic (default 1: one global order). */
  partitions?: number
}

export interface AppendOptions {
  expectedRevision?: ExpectedRevision
  /** The same, under KurrentDB's name. */
  streamState?: ExpectedRevision
}

export interface AppendResult {
  success: true
  /** The revision of the stream's last event: the expectation of the next append. */
  nextExpectedRevision: number
  /** Where the last event of this append is stored. */
  position: Position
}

export interface ReadStreamOptions {
  fromRevision?: 'start' | 'end' | number | bigint
  direction?: 'forwards' | 'backwards'
  maxCount?: number
}

export interface ReadAllOptions {
  fromPosition?: 'start' | 'end' | Position
  direction?: 'forwards' | 'backwards'
  maxCount?: number
}

export class EventStore {
  private queue: Promise<unknown> = Promise.resolve()
  /** Appends waiting for the next group (see drainAppends). */
  private appends: PendingAppend[] = []
  private draining = false
  private drained: Promise<void> = Promise.resolve()
  private closing = false
  private txProducer: Producer | null = null
  private readonly reader = new RecordReader()
  private closed = false

  private constructor(
    private readonly broker: Broker,
    private readonly ownsBroker: boolean,
    private readonly topic: Topic,
    private readonly producer: Producer,
    private readonly indexes: PartitionIndex[],
    private readonly checkpointDir: string | null,
    /** Projection checkpoints: load(name), save(name, subscription.checkpoint()), reset(name). */
    readonly checkpoints: CheckpointStore,
  ) {}

  /** Opens the store on a data dir or an open Broker; creates its topic when missing. */
  static async open(target: { dir: string } | { broker: BrokerLike }, options: EventStoreOptions = {}): Promise<EventStore> {
    const name = options.topic ?? 'events'
    const owns = !('broker' in target)
    const broker = 'broker' in target ? (target.broker as Broker) : await Broker.open({ dir: target.dir })
    try {
      const topic = broker.hasTopic(name)
        ? broker.topic(name)
        : await broker.createTopic(name, { partitions: options.partitions ?? 1, retentionMs: -1, cleanupPolicy: 'delete' })
      const dir = broker.inMemory ? null : path.join(broker.dir, '__eventstore', name)
      const indexes = Array.from({ length: topic.partitions }, (_, p) => loadIndex(dir, p))
      const checkpoints = await CheckpointStore.open(broker, topic)
      // A stream's partition comes from its id and the partition count: the count must not change.
      await checkpoints.checkPartitionCount()
      broker.fixPartitionCount(name, 'it holds an event store, whose streams would move to other partitions')
      const store = new EventStore(broker, owns, topic, broker.producer({ acks: 'all' }), indexes, dir, checkpoints)
      for (let p = 0; p < indexes.length; p++) store.catchUp(p)
      return store
    } catch (err) {
      if (owns) await broker.close()
      throw err
    }
  }

  /** The partition of a stream: murmur2 of its id, as Kafka's default partitioner. */
  partitionOf(streamId: string): number {
    return partitionForKey(Buffer.from(streamId), this.indexes.length)
  }

  /**
   * Appends events to a stream if `expectedRevision` holds ('any' by default). The check and the
   * append are one step; all events go out in one batch. Events whose ids are all stored in the
   * stream already (a retry) are not written again: the first append's result is returned.
   */
  async appendToStream(streamId: string, events: EventData | EventData[], options: AppendOptions = {}): Promise<AppendResult> {
    const expected = options.expectedRevision ?? options.streamState ?? 'any'
    const list = (Array.isArray(events) ? events : [events]).map(normalizeEvent)
    checkStreamId(streamId)
    checkExpected(expected)
    if (list.length === 0) throw new InvalidRecordError('appendToStream needs at least one event')
    const bytes = list.reduce((n, e) => n + eventBytes(e), 0)
    if (bytes > APPEND_BYTES_MAX) throw new InvalidRecordError(`append of ${bytes} bytes is above the maximum of ${APPEND_BYTES_MAX}`)
    if (this.closing) throw new InvalidConfigError('the event store is closed')
    return new Promise<AppendResult>((resolve, reject) => {
      this.appends.push({ streamId, expected, events: list, bytes, resolve, reject })
      this.drainAppends()
    })
  }

  /** Appends waiting while a group is written go out as the next group (append-group.ts). */
  private drainAppends(): void {
    if (this.draining || this.appends.length === 0) return
    this.draining = true
    this.drained = this.serialized(() => this.appendGroup())
      .catch(() => undefined)
      .finally(() => {
        this.draining = false
        this.drainAppends()
      })
  }

  private async appendGroup(): Promise<void> {
    await writeAppendGroup(this.appendHost, takeGroup(this.appends, APPEND_BYTES_MAX))
  }

  /** What a write group needs of the store. */
  private readonly appendHost: AppendHost = {
    partitionOf: (streamId) => this.partitionOf(streamId),
    catchUp: (p) => this.catchUp(p),
    findRetry: (p, streamId, ids) => this.findRetry(p, streamId, ids),
    send: (records) => this.producer.send(this.topic.name, records),
  }

  /**
   * One atomic append across several streams, each with its own expectation: every expectation is
   * checked first and nothing is written unless all hold. Streams on one partition go out in one
   * batch; across partitions, in one transaction (read_committed readers see all or nothing).
   */
  async appendToStreams(appends: Array<{ streamId: string; events: EventData | EventData[] } & AppendOptions>): Promise<AppendResult[]> {
    if (!Array.isArray(appends) || appends.length === 0) throw new InvalidRecordError('appendToStreams takes a non-empty array of { streamId, events }')
    const prepared = appends.map((a) => {
      checkStreamId(a?.streamId)
      const expected = a.expectedRevision ?? a.streamState ?? 'any'
      checkExpected(expected)
      const events = (Array.isArray(a.events) ? a.events : [a.events]).map(normalizeEvent)
      if (events.length === 0) throw new InvalidRecordError(`stream ${a.streamId}: no events to append`)
      return { streamId: a.streamId, expected, events }
    })
    if (new Set(prepared.map((a) => a.streamId)).size !== prepared.length) throw new InvalidRecordError('appendToStreams takes each stream once')
    if (this.closing) throw new InvalidConfigError('the event store is closed')
    return this.serialized(async () => {
      const records: ProducerMessage[] = []
      const results: Array<{ p: number; last: number; count: number }> = []
      for (const a of prepared) {
        const p = this.partitionOf(a.streamId)
        const index = this.catchUp(p)
        if (index.streams.get(a.streamId)?.tombstoned) throw new StreamDeletedError(a.streamId)
        const last = index.lastRevision(a.streamId)
        checkExpectation(a.streamId, a.expected, index.visible(a.streamId) ? last : null)
        a.events.forEach((e, i) => records.push(eventRecord(a.streamId, last + 1 + i, e, p)))
        results.push({ p, last, count: a.events.length })
      }
      const partitions = new Set(results.map((r) => r.p))
      let metas
      if (partitions.size === 1) metas = await this.producer.send(this.topic.name, records)
      else {
        this.txProducer ??= this.broker.producer({ transactionalId: `kafkalite-eventstore-${this.topic.name}` })
        const tx = await this.txProducer.transaction()
        try {
          metas = await tx.send(this.topic.name, records)
          await tx.commit()
        } catch (err) {
          if (tx.isActive()) await tx.abort().catch(() => undefined)
          throw err
        }
      }
      for (const p of partitions) this.catchUp(p)
      let i = 0
      return results.map((r) => {
        i += r.count
        return { success: true as const, nextExpectedRevision: r.last + r.count, position: { partition: r.p, offset: metas[i - 1]!.offset } }
      })
    })
  }

  /** Loads a stream and folds its events: the state and the revision to expect when appending. */
  async aggregateStream<State, E extends RecordedEvent = RecordedEvent>(
    streamId: string,
    options: { evolve: (state: State, event: E) => State; initialState: () => State },
  ): Promise<{ state: State; revision: number | null }> {
    let state = options.initialState()
    let revision: number | null = null
    try {
      for await (const e of this.readStream(streamId)) {
        state = options.evolve(state, e as E)
        revision = e.revision
      }
    } catch (err) {
      if (!(err instanceof StreamNotFoundError)) throw err
    }
    return { state, revision }
  }

  /** The stream's last revision, or null when it has no events to read (never written, deleted). */
  getStreamRevision(streamId: string): number | null {
    checkStreamId(streamId)
    const index = this.catchUp(this.partitionOf(streamId))
    return index.visible(streamId) ? index.lastRevision(streamId) : null
  }

  /** A stream's events; StreamNotFoundError / StreamDeletedError when iterated. */
  async *readStream(streamId: string, options: ReadStreamOptions = {}): AsyncGenerator<RecordedEvent> {
    checkStreamId(streamId)
    const p = this.partitionOf(streamId)
    const index = this.catchUp(p)
    const s = index.streams.get(streamId)
    if (s?.tombstoned) throw new StreamDeletedError(streamId)
    if (!s || !index.visible(streamId)) throw new StreamNotFoundError(streamId)
    const backwards = options.direction === 'backwards'
    const last = s.offsets.length - 1
    const from = options.fromRevision ?? 'start'
    let rev = from === 'start' ? (backwards ? last : s.truncateBefore) : from === 'end' ? (backwards ? last : last + 1) : Number(from)
    if (!backwards) rev = Math.max(rev, s.truncateBefore) // deleted revisions are not read
    else rev = Math.min(rev, last)
    let left = options.maxCount ?? Number.MAX_SAFE_INTEGER
    const partition = this.topic.partition(p)
    while (left > 0 && rev >= s.truncateBefore && rev <= last) {
      const r = this.reader.at(partition, s.offsets[rev]!)
      if (!r) throw new StreamNotFoundError(streamId)
      yield toRecordedEvent(r, p)
      left--
      rev += backwards ? -1 : 1
    }
  }

  /** Every event of every stream in position order (partition by partition). */
  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    const backwards = options.direction === 'backwards'
    let left = options.maxCount ?? Number.MAX_SAFE_INTEGER
    const from = options.fromPosition ?? (backwards ? 'end' : 'start')
    const events: RecordedEvent[] = []
    for (let p = 0; p < this.indexes.length && left > 0; p++) {
      if (typeof from === 'object' && (backwards ? p > from.partition : p < from.partition)) continue
      const start = typeof from === 'object' && p === from.partition && !backwards ? from.offset : 0
      for (const r of committedRecords(this.topic.partition(p), start)) {
        const s = parseStored(r.key, r.headers)
        if (!s || s.type === DELETED || s.type === TOMBSTONE) continue
        if (typeof from === 'object' && backwards && p === from.partition && r.offset > from.offset) break
        if (from === 'end' && !backwards) break
        if (backwards) events.push(toRecordedEvent(r, p))
        else {
          yield toRecordedEvent(r, p)
          if (--left === 0) return
        }
      }
    }
    if (!backwards) return
    for (let i = events.length - 1; i >= 0 && left > 0; i--, left--) yield events[i]!
  }

  /**
   * Every event (matching `filter`) from `fromPosition` on, then live ones: returned at once, as an
   * async iterable with 'caughtUp' / 'fellBehind' events. A Position starts after that event; a
   * Checkpoint (from `subscription.checkpoint()` or the checkpoint store) resumes a projection.
   */
  subscribeToAll(options?: { fromPosition?: 'start' | 'end' | Position | Checkpoint; filter?: SubscriptionFilter }): Subscription
  /**
   * A projection shared by the consumer group `group`: each member reads some partitions from the
   * group's committed offsets (from the start for a new group); see GroupSubscription.
   */
  subscribeToAll(options: { group: string; filter?: SubscriptionFilter }): GroupSubscription
  subscribeToAll(options: { fromPosition?: 'start' | 'end' | Position | Checkpoint; filter?: SubscriptionFilter; group?: string } = {}): Subscription | GroupSubscription {
    if (options.group !== undefined) {
      const consumer = this.broker.consumer({ groupId: options.group, fromBeginning: true })
      void consumer.subscribe(this.topic.name)
      return this.track(new GroupSubscription(consumer, filterOf(options.filter)))
    }
    const partitions = this.indexes.map((_, p) => this.topic.partition(p))
    return this.track(new Subscription({ partitions, start: startOffsets(partitions, options.fromPosition ?? 'start'), accept: filterOf(options.filter) }))
  }

  /** A stream's events after `fromRevision` ('start': all of them), then live ones. */
  subscribeToStream(streamId: string, options: { fromRevision?: 'start' | 'end' | number | bigint } = {}): Subscription {
    checkStreamId(streamId)
    const p = this.partitionOf(streamId)
    const index = this.catchUp(p)
    const partition = this.topic.partition(p)
    const from = options.fromRevision ?? 'start'
    const after = typeof from === 'string' ? -1 : Number(from)
    const start = [streamStartOffset(partition, index.streams.get(streamId), from)]
    return this.track(new Subscription({ partitions: [partition], ids: [p], start, accept: (id, _type, revision) => id === streamId && revision > after }))
  }

  /** Soft delete: reads raise StreamNotFoundError; a later append continues after the old revisions. */
  deleteStream(streamId: string, options: { expectedRevision?: ExpectedRevision } = {}): Promise<{ position: Position }> {
    return this.mark(streamId, DELETED, options.expectedRevision ?? 'any')
  }

  /** Hard delete: the stream can never be read or written again. */
  tombstoneStream(streamId: string, options: { expectedRevision?: ExpectedRevision } = {}): Promise<{ position: Position }> {
    return this.mark(streamId, TOMBSTONE, options.expectedRevision ?? 'any')
  }

  /** Checkpoints the indexes and closes what the store opened. */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    // Appends accepted before close() are written (or fail) first.
    while (this.draining) await this.drained
    for (const sub of [...this.subscriptions]) await sub.unsubscribe()
    this.closed = true
    await this.queue.catch(() => undefined)
    await this.producer.close()
    await this.txProducer?.close()
    await this.checkpoints.close()
    this.checkpointIndexes()
    if (this.ownsBroker) await this.broker.close()
  }

  /** Writes every index checkpoint (write temp, fsync, rename). */
  checkpointIndexes(): void {
    if (this.checkpointDir) saveIndexes(this.checkpointDir, this.indexes)
  }

  private async mark(streamId: string, kind: typeof DELETED | typeof TOMBSTONE, expected: ExpectedRevision): Promise<{ position: Position }> {
    checkStreamId(streamId)
    checkExpected(expected)
    if (this.closing) throw new InvalidConfigError('the event store is closed')
    return this.serialized(async () => {
      const p = this.partitionOf(streamId)
      const index = this.catchUp(p)
      if (index.streams.get(streamId)?.tombstoned) throw new StreamDeletedError(streamId)
      const visible = index.visible(streamId)
      if (!visible && kind === DELETED) throw new StreamNotFoundError(streamId)
      checkExpectation(streamId, expected, visible ? index.lastRevision(streamId) : null)
      const [meta] = await this.producer.send(this.topic.name, [markerRecord(streamId, kind, index.lastRevision(streamId) + 1, p)])
      this.catchUp(p)
      return { position: { partition: p, offset: meta!.offset } }
    })
  }

  /** Applies the partition's records the index has not seen (appends land here too). */
  private catchUp(p: number): PartitionIndex {
    const index = this.indexes[p]!
    const partition = this.topic.partition(p)
    if (index.upTo >= partition.lastStableOffset) return index
    for (const r of committedRecords(partition, index.upTo)) {
      const s = parseStored(r.key, r.headers)
      if (s) index.apply(r.offset, s)
      index.upTo = r.offset + 1
    }
    index.upTo = Math.max(index.upTo, partition.lastStableOffset)
    return index
  }

  /** The result of an earlier append with these event ids, if the stream holds them all in a row. */
  private findRetry(p: number, streamId: string, ids: string[]): AppendResult | null {
    const index = this.indexes[p]!
    if (!ids.every((id) => index.ids.has(idHash(id)))) return null
    const s = index.streams.get(streamId)
    if (!s) return null
    const partition = this.topic.partition(p)
    // Stored ids may be anywhere in the stream; look from its end back for the first one.
    for (let rev = s.offsets.length - ids.length; rev >= 0; rev--) {
      const first = this.reader.at(partition, s.offsets[rev]!)
      if (!first || parseStored(first.key, first.headers)?.id !== ids[0]) continue
      for (let i = 1; i < ids.length; i++) {
        const r = this.reader.at(partition, s.offsets[rev + i]!)
        if (!r || parseStored(r.key, r.headers)?.id !== ids[i]) return null
      }
      const lastRev = rev + ids.length - 1
      return { success: true, nextExpectedRevision: lastRev, position: { partition: p, offset: s.offsets[lastRev]! } }
    }
    return null
  }

  /** Subscriptions end when the store closes. */
  private readonly subscriptions = new Set<Subscription | GroupSubscription>()

  private track<S extends Subscription | GroupSubscription>(sub: S): S {
    if (this.closing) throw new InvalidConfigError('the event store is closed')
    this.subscriptions.add(sub)
    sub.onEnd = () => this.subscriptions.delete(sub)
    return sub
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new InvalidConfigError('the event store is closed'))
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return run
  }
}
