// Producer: validates and encodes messages into one RecordBatch per partition (and per `batchBytes`),
// appends them, and resolves per `acks`. Every message of a send is checked before any is written.
// With lingerMs > 0, records of concurrent sends to a partition are collected into shared batches.
import createDebug from 'debug'
import { ClosedError, InvalidConfigError, InvalidPartitionError, InvalidRecordError, RecordTooLargeError } from '../errors.js'
import type { BrokerCore } from '../broker/broker-core.js'
import type { Acks, AppendInfo, Partition } from '../broker/partition.js'
import type { Topic } from '../broker/topic.js'
import type { TransactionCoordinator } from '../broker/txn-coordinator.js'
import { seqAdd } from '../broker/producer-state.js'
import { shouldYield, yieldToEventLoop } from '../util/event-loop.js'
import { EncodeArena, encodeRecordBatch, isCompression, type Compression, type RecordInput } from '../storage/record-batch.js'
import { compressedBound } from '../storage/compression.js'
import { intOption } from './options.js'
import { partitionForKey } from './partitioner.js'
import { encodeHeaders, resolveCodec, type CodecSpec, type MessageHeaders, type ResolvedCodec } from './serde.js'
import { TransactionalSession, type Transaction } from './transaction.js'
import {
  type Slot, newSlot, fillSlot, splitBySize, checkBatchSize, recordSize, BATCH_OVERHEAD_BYTES,
} from './producer-batches.js'

const debug = createDebug('kafkalite:producer')

export type { HeaderValue, MessageHeaders } from './serde.js'

export interface Message<K = unknown, V = unknown> {
  key?: K | null
  value: V | null
  headers?: MessageHeaders
  /** Target partition; otherwise the partitioner chooses. */
  partition?: number
  /** CreateTime in epoch ms (default: now). */
  timestamp?: number
}

export interface RecordMetadata {
  topic: string
  partition: number
  offset: number
  timestamp: number
}

export interface PartitionerArgs {
  topic: string
  partitionCount: number
  key: Buffer | null
  message: Message
}
export type Partitioner = (args: PartitionerArgs) => number

export interface ProducerOptions {
  /** 'all' (default): fdatasync'd, group-committed; 'leader': written; 'none': queued. */
  acks?: Acks
  /** Wait up to this long to gather records of several sends into one batch (default 0). */
  lingerMs?: number
  /** Largest batch the producer builds (default 1 MiB; capped by the topic's maxMessageBytes). */
  batchBytes?: number
  /** 'none' (default), 'gzip', 'snappy' (xerial-framed, as Kafka's Java producer) or 'lz4' (LZ4 frame); no zstd. */
  compression?: Compression
  /** 'murmur2' (default, Kafka's and KafkaJS's DefaultPartitioner), 'roundrobin', or a function. */
  partitioner?: 'murmur2' | 'roundrobin' | Partitioner
  /** Back-pressure: sends wait while more bytes than this are unacknowledged (default 64 MiB). */
  maxInFlightBytes?: number
  keyCodec?: CodecSpec
  valueCodec?: CodecSpec
  /**
   * Default true with acks 'all' (as Kafka 3): the producer gets a producer id from the broker and numbers its batches
   * per partition, so the broker refuses a gap and answers a retried batch with its first offsets.
   */
  idempotent?: boolean
  /** Makes the producer transactional: it sends only inside `producer.transaction()` (acks 'all'). */
  transactionalId?: string
  /** An open transaction older than this is aborted by the broker (default 60 s). */
  transactionTimeoutMs?: number
}



interface Prepared {
  topic: Topic
  records: RecordInput[]
  partitions: number[]
  /** Each record's estimated bytes (recordSize). */
  sizes: number[]
  /** Estimated bytes of the records (upper bound), counted against maxInFlightBytes. */
  bytes: number
  maxBatch: number
}

interface Pending {
  partition: Partition
  records: RecordInput[]
  bytes: number
  /** Which send slot (and index in it) each record fills. */
  owners: Array<{ slot: Slot; index: number }>
}

export class Producer {
  private readonly acks: Acks
  private readonly lingerMs: number
  private readonly batchBytes: number
  private readonly compression: Compression
  private readonly partitioner: Partitioner
  private readonly maxInFlightBytes: number
  private readonly keyCodec: ResolvedCodec
  private readonly valueCodec: ResolvedCodec
  private inFlightBytes = 0
  /** Sends waiting for room under maxInFlightBytes, first come first served. */
  private admitQueue: Array<{ bytes: number; admit: () => void }> = []
  private pending = new Map<Partition, Pending>()
  private lingerTimer: NodeJS.Timeout | null = null
  /** Output memory of the batches being encoded; reused from one append to the next. */
  private readonly arena = new EncodeArena()
  /** While a flush() waits, lingering records go out at once. */
  private flushing = 0
  /** Every send from its start (including those waiting for room) until it settles. */
  private inFlight = new Set<Promise<unknown>>()
  private closed = false
  private roundRobin = 0
  private readonly idempotent: boolean
  private producerId = -1
  private epoch = 0
  private readonly session: TransactionalSession | null = null
  private producerIdReady: Promise<number> | null = null
  /** Next sequence number per partition (idempotent producers). */
  private sequences = new Map<Partition, number>()

  /** @internal use broker.producer() */
  constructor(
    private readonly broker: BrokerCore,
    options: ProducerOptions = {},
    private readonly onClose: () => void = () => {},
    transactions?: TransactionCoordinator,
  ) {
    const o = options ?? {}
    this.acks = o.acks ?? 'all'
    if (!['all', 'leader', 'none'].includes(this.acks)) throw new InvalidConfigError(`acks must be 'all', 'leader' or 'none'`)
    this.lingerMs = intOption(o.lingerMs ?? 0, 'lingerMs', 0)
    this.batchBytes = intOption(o.batchBytes ?? 1024 * 1024, 'batchBytes', 1)
    this.maxInFlightBytes = intOption(o.maxInFlightBytes ?? 64 * 1024 * 1024, 'maxInFlightBytes', 1)
    this.compression = o.compression ?? 'none'
    if (!isCompression(this.compression)) throw new InvalidConfigError(`compression must be 'none', 'gzip', 'snappy' or 'lz4'`)
    this.partitioner = resolvePartitioner(o.partitioner, () => this.roundRobin++)
    this.keyCodec = resolveCodec(o.keyCodec, 'key')
    this.valueCodec = resolveCodec(o.valueCodec, 'value')
    this.idempotent = o.idempotent ?? this.acks === 'all'
    if (typeof this.idempotent !== 'boolean') throw new InvalidConfigError('idempotent must be a boolean')
    if (o.transactionalId !== undefined) {
      if (typeof o.transactionalId !== 'string' || o.transactionalId === '') throw new InvalidConfigError('transactionalId must be a non-empty string')
      if (this.acks !== 'all' || !this.idempotent) throw new InvalidConfigError("a transactional producer needs acks 'all' and idempotence")
      if (!transactions) throw new InvalidConfigError('this broker has no transaction coordinator')
      const transactionalId = o.transactionalId
      this.session = new TransactionalSession(
        {
          transactionalId,
          sendInTransaction: (topic, messages, join) => this.sendWith(topic, messages, join),
          flush: () => this.flush(),
          useProducerId: (producerId, epoch) => {
            this.producerId = producerId
            this.epoch = epoch
            this.sequences.clear()
          },
        },
        transactions,
        intOption(o.transactionTimeoutMs ?? 60_000, 'transactionTimeoutMs', 1),
      )
    } else if (this.idempotent) {
      // Asked for at once, so that a send followed by broker.close() still gets its id.
      this.requestProducerId().catch(() => {})
    }
  }

  /** Begins a transaction (transactional producers only); the first call fences older producers with the same id. */
  transaction(): Promise<Transaction> {
    if (this.closed) return Promise.reject(new ClosedError('producer is closed'))
    if (!this.session) return Promise.reject(new InvalidConfigError('transaction() needs a producer created with a transactionalId'))
    return this.session.begin()
  }

  private requestProducerId(): Promise<number> {
    this.producerIdReady ??= this.broker.allocateProducerId().then(
      (id) => (this.producerId = id),
      (err: unknown) => {
        this.producerIdReady = null
        throw err
      },
    )
    return this.producerIdReady
  }

  /** The batch fields that make a batch idempotent, for the next batch of `records` records to `partition`. */
  private idempotence(partition: Partition, sequences: Map<Partition, number>): { producerId?: number; producerEpoch?: number; baseSequence?: number; transactional?: boolean } {
    if (this.producerId < 0) return {}
    return {
      producerId: this.producerId,
      producerEpoch: this.epoch,
      baseSequence: sequences.get(partition) ?? this.sequences.get(partition) ?? 0,
      transactional: this.session !== null,
    }
  }

  /**
   * Sends one message or several to `topic`. Resolves to one RecordMetadata per message, in input
   * order, once they are durable per `acks`. Nothing is written when any message is invalid.
   */
  async send<K = unknown, V = unknown>(topic: string, messages: Message<K, V> | Array<Message<K, V>>): Promise<RecordMetadata[]> {
    if (this.session) throw new InvalidConfigError('a transactional producer sends inside a transaction: producer.transaction()')
    return this.sendWith(topic, messages as Message | Message[])
  }

  private async sendWith(topic: string, messages: Message | Message[], join?: (partitions: number[]) => Promise<void>): Promise<RecordMetadata[]> {
    if (this.closed) throw new ClosedError('producer is closed')
    const t = this.broker.topic(topic)
    const list = Array.isArray(messages) ? messages : [messages]
    if (list.length === 0) return []
    while (shouldYield()) await yieldToEventLoop()
    const prepared = this.prepare(t, list as Message[], this.broker.now())
    if (join) await join([...new Set(prepared.partitions)])
    const p = this.dispatch(prepared)
    this.inFlight.add(p)
    const slot = await p.finally(() => this.inFlight.delete(p))
    return list.map((_, i) => ({ topic, partition: prepared.partitions[i]!, offset: slot.offsets[i]!, timestamp: slot.timestamps[i]! }))
  }

  /** Waits for room under maxInFlightBytes, then appends (or lingers) and holds the room until acked. */
  private async dispatch(prep: Prepared): Promise<Slot> {
    await this.admit(prep.bytes)
    try {
      if (this.idempotent && this.producerId < 0) await this.requestProducerId()
      return await (this.lingerMs > 0 ? this.enqueue(prep) : this.appendNow(prep))
    } finally {
      this.inFlightBytes -= prep.bytes
      this.admitWaiting()
    }
  }

  /** Back-pressure: a send goes when its bytes fit (or nothing is in flight) and nobody waits before it. */
  private admit(bytes: number): Promise<void> {
    if (this.admitQueue.length === 0 && this.fits(bytes)) {
      this.inFlightBytes += bytes
      return Promise.resolve()
    }
    return new Promise((admit) => this.admitQueue.push({ bytes, admit }))
  }

  private fits(bytes: number): boolean {
    return this.inFlightBytes === 0 || this.inFlightBytes + bytes <= this.maxInFlightBytes
  }

  /** Admits queued sends in order, reserving their bytes at once so they cannot overshoot together. */
  private admitWaiting(): void {
    while (this.admitQueue.length > 0 && this.fits(this.admitQueue[0]!.bytes)) {
      const next = this.admitQueue.shift()!
      this.inFlightBytes += next.bytes
      next.admit()
    }
  }

  private prepare(topic: Topic, list: Message[], now: number): Prepared {
    const maxBatch = Math.min(this.batchBytes, topic.config.maxMessageBytes)
    const records: RecordInput[] = new Array(list.length)
    const partitions: number[] = new Array(list.length)
    const sizes: number[] = new Array(list.length)
    let bytes = 0
    const sticky = { p: -1 }
    for (let i = 0; i < list.length; i++) {
      const m = list[i]
      if (m === null || typeof m !== 'object') throw new InvalidRecordError(`message ${i} must be an object with a value`)
      if (!('value' in m)) throw new InvalidRecordError(`message ${i} has no value (use null for a tombstone)`)
      const key = this.keyCodec.encode(m.key, 'key')
      if (key === null && topic.config.cleanupPolicy !== 'delete') {
        throw new InvalidRecordError(`message ${i} has no key: topic ${topic.name} is compacted (cleanupPolicy ${topic.config.cleanupPolicy})`)
      }
      const value = this.valueCodec.encode(m.value, 'value')
      const headers = encodeHeaders(m.headers, i)
      const timestamp = m.timestamp ?? now
      if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
        throw new InvalidRecordError(`message ${i} has an invalid timestamp ${String(m.timestamp)}`)
      }
      partitions[i] = this.pickPartition(topic, m, key, sticky)
      const r: RecordInput = { key, value, headers, timestamp }
      records[i] = r
      const size = recordSize(r)
      sizes[i] = size
      if (this.batchBound(size) > maxBatch) {
        throw new RecordTooLargeError(
          `message ${i} needs up to ${this.batchBound(size)} bytes as a record batch, over the limit ${maxBatch} (maxMessageBytes ${topic.config.maxMessageBytes} of topic ${topic.name}, batchBytes ${this.batchBytes})`,
        )
      }
      bytes += size
    }
    return { topic, records, partitions, sizes, bytes, maxBatch }
  }

  private pickPartition(topic: Topic, m: Message, key: Buffer | null, sticky: { p: number }): number {
    const count = topic.partitions
    if (m.partition !== undefined && m.partition !== null) {
      if (!Number.isInteger(m.partition) || m.partition < 0 || m.partition >= count) {
        throw new InvalidPartitionError(`partition ${m.partition} does not exist in topic ${topic.name} (it has ${count})`)
      }
      return m.partition
    }
    // One partition: the default partitioner's hash could only say 0.
    if (count === 1 && this.partitioner === murmur2Partitioner) return 0
    if (key === null && this.partitioner === murmur2Partitioner) {
      // Key-less records of one send stick to one partition; the next send moves on.
      if (sticky.p < 0) sticky.p = this.roundRobin++ % count
      return sticky.p
    }
    const p = this.partitioner({ topic: topic.name, partitionCount: count, key, message: m })
    if (!Number.isInteger(p) || p < 0 || p >= count) {
      throw new InvalidPartitionError(`partitioner returned ${p} for topic ${topic.name} with ${count} partitions`)
    }
    return p
  }

  /** lingerMs = 0: encode and append this send's records at once. */
  private async appendNow(prep: Prepared): Promise<Slot> {
    const { records, partitions, sizes, topic, maxBatch } = prep
    const slot = newSlot(records.length)
    const byPartition = new Map<number, number[]>()
    for (let i = 0; i < records.length; i++) {
      let idx = byPartition.get(partitions[i]!)
      if (!idx) byPartition.set(partitions[i]!, (idx = []))
      idx.push(i)
    }
    // Encode everything first: an encoding failure must leave nothing written. The batches are
    // written before this turn of the event loop ends, so they can share the producer's arena.
    this.arena.reset()
    const work: Array<{ partition: Partition; batches: Buffer[]; groups: number[][] }> = []
    const seqs = new Map<Partition, number>()
    for (const [p, idx] of byPartition) {
      const partition = topic.partition(p)
      const groups = splitBySize(idx, (i) => sizes[i]!, (bytes) => this.batchBound(bytes) <= maxBatch)
      const batches = groups.map((g) => {
        const b = encodeRecordBatch(g.map((i) => records[i]!), { compression: this.compression, ...this.idempotence(partition, seqs) }, this.arena)
        if (this.producerId >= 0) seqs.set(partition, seqAdd(seqs.get(partition) ?? this.sequences.get(partition) ?? 0, g.length))
        return b
      })
      for (const b of batches) checkBatchSize(b, topic)
      work.push({ partition, batches, groups })
    }
    const flushes: Promise<void>[] = []
    for (const w of work) {
      const info = w.partition.append(w.batches)
      if (seqs.has(w.partition)) this.sequences.set(w.partition, seqs.get(w.partition)!)
      fillSlot(slot, info, w.groups, (i) => records[i]!.timestamp, w.batches)
      if (this.acks === 'all') flushes.push(w.partition.flush())
    }
    if (flushes.length > 0) await Promise.all(flushes)
    return slot
  }

  /** lingerMs > 0: add to the partitions' pending batches; they go out on the timer or when full. */
  private enqueue(prep: Prepared): Promise<Slot> {
    const { records, partitions, sizes, topic, maxBatch } = prep
    return new Promise<Slot>((resolve, reject) => {
      const slot = newSlot(records.length)
      slot.resolve = () => resolve(slot)
      slot.reject = reject
      for (let i = 0; i < records.length; i++) {
        const partition = topic.partition(partitions[i]!)
        const size = sizes[i]!
        let pend = this.pending.get(partition)
        if (pend && this.batchBound(pend.bytes + size) > maxBatch) {
          this.sendPending(pend)
          pend = undefined
        }
        if (!pend) {
          pend = { partition, records: [], bytes: 0, owners: [] }
          this.pending.set(partition, pend)
        }
        pend.records.push(records[i]!)
        pend.owners.push({ slot, index: i })
        pend.bytes += size
      }
      if (this.flushing > 0) this.flushPending()
      else if (!this.lingerTimer && this.pending.size > 0) {
        this.lingerTimer = setTimeout(() => this.flushPending(), this.lingerMs)
      }
    })
  }

  private flushPending(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer)
    this.lingerTimer = null
    for (const pend of [...this.pending.values()]) this.sendPending(pend)
  }

  private sendPending(pend: Pending): void {
    this.pending.delete(pend.partition)
    const fail = (err: unknown): void => {
      for (const o of pend.owners) o.slot.reject(err)
    }
    let info: AppendInfo
    let batch: Buffer
    try {
      this.arena.reset()
      batch = encodeRecordBatch(pend.records, { compression: this.compression, ...this.idempotence(pend.partition, new Map()) }, this.arena)
      info = pend.partition.append([batch])
      if (this.producerId >= 0) this.sequences.set(pend.partition, seqAdd(this.sequences.get(pend.partition) ?? 0, pend.records.length))
    } catch (err) {
      fail(err)
      return
    }
    const done = (): void => {
      pend.owners.forEach((o, j) => {
        o.slot.offsets[o.index] = info.baseOffset + j
        o.slot.timestamps[o.index] = info.logAppendTime >= 0 ? info.logAppendTime : pend.records[j]!.timestamp
        if (--o.slot.remaining === 0) o.slot.resolve()
      })
    }
    if (this.acks === 'all') pend.partition.flush().then(done, fail)
    else done()
  }

  /** Upper bound of the encoded size of a batch whose records take `recordBytes` (see recordSize). */
  private batchBound(recordBytes: number): number {
    return BATCH_OVERHEAD_BYTES + compressedBound(this.compression, recordBytes)
  }

  /** Sends every lingering record now and waits for every send in flight (also those waiting for room). */
  async flush(): Promise<void> {
    this.flushing++
    try {
      while (this.inFlight.size > 0) {
        this.flushPending()
        await Promise.allSettled([...this.inFlight])
      }
    } finally {
      this.flushing--
    }
  }

  /** Refuses new sends at once, then waits for the ones already made. */
  async close(): Promise<void> {
    if (this.closed) return
    // An open transaction is aborted, so read_committed readers do not wait for its timeout.
    await this.session?.open?.abort().catch(() => undefined)
    this.closed = true
    await this.flush()
    this.onClose()
    debug('producer closed')
  }
}

const murmur2Partitioner: Partitioner = ({ key, partitionCount }) => partitionForKey(key!, partitionCount)

function resolvePartitioner(p: ProducerOptions['partitioner'], next: () => number): Partitioner {
  if (p === undefined || p === 'murmur2') return murmur2Partitioner
  if (p === 'roundrobin') return ({ partitionCount }) => next() % partitionCount
  if (typeof p === 'function') return p
  throw new InvalidConfigError(`partitioner must be 'murmur2', 'roundrobin' or a function`)
}
