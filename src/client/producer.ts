// Producer: validates and encodes messages into one RecordBatch per partition (and per `batchBytes`),
// appends them, and resolves per `acks`. Every message of a send is checked before any is written.
// With lingerMs > 0, records of concurrent sends to a partition are collected into shared batches.
import createDebug from 'debug'
import {
  ClosedError,
  InvalidConfigError,
  InvalidPartitionError,
  InvalidRecordError,
  RecordTooLargeError,
} from '../errors.js'
import type { BrokerCore } from '../broker/broker-core.js'
import type { Acks, AppendInfo, Partition } from '../broker/partition.js'
import type { Topic } from '../broker/topic.js'
import {
  encodeRecordBatch,
  type Compression,
  type RecordHeader,
  type RecordInput,
} from '../storage/record-batch.js'
import { partitionForKey } from './partitioner.js'
import { resolveCodec, toBytes, type CodecSpec, type ResolvedCodec } from './serde.js'

const debug = createDebug('kafkalite:producer')

export type HeaderValue = Buffer | Uint8Array | string | null | undefined
export type MessageHeaders = Record<string, HeaderValue | HeaderValue[]>

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
  compression?: Compression
  /** 'murmur2' (default, Kafka's and KafkaJS's DefaultPartitioner), 'roundrobin', or a function. */
  partitioner?: 'murmur2' | 'roundrobin' | Partitioner
  /** Back-pressure: sends wait while more bytes than this are unacknowledged (default 64 MiB). */
  maxInFlightBytes?: number
  keyCodec?: CodecSpec
  valueCodec?: CodecSpec
}

const RECORD_OVERHEAD_BYTES = 32
const BATCH_OVERHEAD_BYTES = 61

interface Slot {
  offsets: number[]
  timestamps: number[]
  remaining: number
  resolve: () => void
  reject: (err: unknown) => void
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
  private drainWaiters: Array<() => void> = []
  private pending = new Map<Partition, Pending>()
  private lingerTimer: NodeJS.Timeout | null = null
  private inFlight = new Set<Promise<unknown>>()
  private closed = false
  private roundRobin = 0

  /** @internal use broker.producer() */
  constructor(
    private readonly broker: BrokerCore,
    options: ProducerOptions = {},
  ) {
    const o = options ?? {}
    this.acks = o.acks ?? 'all'
    if (!['all', 'leader', 'none'].includes(this.acks)) throw new InvalidConfigError(`acks must be 'all', 'leader' or 'none'`)
    this.lingerMs = checkInt(o.lingerMs ?? 0, 'lingerMs', 0)
    this.batchBytes = checkInt(o.batchBytes ?? 1024 * 1024, 'batchBytes', 1)
    this.maxInFlightBytes = checkInt(o.maxInFlightBytes ?? 64 * 1024 * 1024, 'maxInFlightBytes', 1)
    this.compression = o.compression ?? 'none'
    if (this.compression !== 'none' && this.compression !== 'gzip') throw new InvalidConfigError(`compression must be 'none' or 'gzip'`)
    this.partitioner = resolvePartitioner(o.partitioner, () => this.roundRobin++)
    this.keyCodec = resolveCodec(o.keyCodec, 'key')
    this.valueCodec = resolveCodec(o.valueCodec, 'value')
  }

  /**
   * Sends one message or several to `topic`. Resolves to one RecordMetadata per message, in input
   * order, once they are durable per `acks`. Nothing is written when any message is invalid.
   */
  async send<K = unknown, V = unknown>(topic: string, messages: Message<K, V> | Array<Message<K, V>>): Promise<RecordMetadata[]> {
    if (this.closed) throw new ClosedError('producer is closed')
    const t = this.broker.topic(topic)
    const list = Array.isArray(messages) ? messages : [messages]
    if (list.length === 0) return []
    const now = Date.now()
    const prepared = this.prepare(t, list as Message[], now)
    if (this.inFlightBytes > 0 && this.inFlightBytes + prepared.bytes > this.maxInFlightBytes) await this.drained(prepared.bytes)
    if (this.closed) throw new ClosedError('producer is closed')
    this.inFlightBytes += prepared.bytes
    const p = (this.lingerMs > 0 ? this.enqueue(prepared) : this.appendNow(prepared)).finally(() => {
      this.inFlightBytes -= prepared.bytes
      this.inFlight.delete(p)
      this.wakeDrainWaiters()
    })
    this.inFlight.add(p)
    const slot = await p
    return list.map((_, i) => ({ topic, partition: prepared.partitions[i]!, offset: slot.offsets[i]!, timestamp: slot.timestamps[i]! }))
  }

  private prepare(topic: Topic, list: Message[], now: number) {
    const maxBatch = Math.min(this.batchBytes, topic.config.maxMessageBytes)
    const records: RecordInput[] = new Array(list.length)
    const partitions: number[] = new Array(list.length)
    let bytes = 0
    const sticky = { p: -1 }
    for (let i = 0; i < list.length; i++) {
      const m = list[i]
      if (m === null || typeof m !== 'object') throw new InvalidRecordError(`message ${i} must be an object with a value`)
      if (!('value' in m)) throw new InvalidRecordError(`message ${i} has no value (use null for a tombstone)`)
      const key = this.keyCodec.encode(m.key, 'key')
      const value = this.valueCodec.encode(m.value, 'value')
      const headers = normalizeHeaders(m.headers, i)
      const timestamp = m.timestamp ?? now
      if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
        throw new InvalidRecordError(`message ${i} has an invalid timestamp ${String(m.timestamp)}`)
      }
      partitions[i] = this.pickPartition(topic, m, key, sticky)
      const r: RecordInput = { key, value, headers, timestamp }
      records[i] = r
      const size = recordSize(r)
      if (size + BATCH_OVERHEAD_BYTES > maxBatch) {
        throw new RecordTooLargeError(
          `message ${i} of about ${size} bytes is larger than the batch limit ${maxBatch} (maxMessageBytes ${topic.config.maxMessageBytes} of topic ${topic.name})`,
        )
      }
      bytes += size
    }
    return { topic, records, partitions, bytes, maxBatch }
  }

  private pickPartition(topic: Topic, m: Message, key: Buffer | null, sticky: { p: number }): number {
    const count = topic.partitions
    if (m.partition !== undefined && m.partition !== null) {
      if (!Number.isInteger(m.partition) || m.partition < 0 || m.partition >= count) {
        throw new InvalidPartitionError(`partition ${m.partition} does not exist in topic ${topic.name} (it has ${count})`)
      }
      return m.partition
    }
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
  private async appendNow(prep: ReturnType<Producer['prepare']>): Promise<Slot> {
    const { records, partitions, topic, maxBatch } = prep
    const slot = newSlot(records.length)
    const byPartition = new Map<number, number[]>()
    for (let i = 0; i < records.length; i++) {
      let idx = byPartition.get(partitions[i]!)
      if (!idx) byPartition.set(partitions[i]!, (idx = []))
      idx.push(i)
    }
    // Encode everything first: an encoding failure must leave nothing written.
    const work: Array<{ partition: Partition; batches: Buffer[]; groups: number[][] }> = []
    for (const [p, idx] of byPartition) {
      const groups = splitBySize(idx, (i) => recordSize(records[i]!), maxBatch)
      const batches = groups.map((g) => encodeRecordBatch(g.map((i) => records[i]!), { compression: this.compression }))
      work.push({ partition: topic.partition(p), batches, groups })
    }
    const flushes: Promise<void>[] = []
    for (const w of work) {
      const info = w.partition.append(w.batches)
      fillSlot(slot, info, w.groups, (i) => records[i]!.timestamp, w.batches)
      if (this.acks === 'all') flushes.push(w.partition.flush())
    }
    if (flushes.length > 0) await Promise.all(flushes)
    return slot
  }

  /** lingerMs > 0: add to the partitions' pending batches; they go out on the timer or when full. */
  private enqueue(prep: ReturnType<Producer['prepare']>): Promise<Slot> {
    const { records, partitions, topic, maxBatch } = prep
    return new Promise<Slot>((resolve, reject) => {
      const slot = newSlot(records.length)
      slot.resolve = () => resolve(slot)
      slot.reject = reject
      for (let i = 0; i < records.length; i++) {
        const partition = topic.partition(partitions[i]!)
        const size = recordSize(records[i]!)
        let pend = this.pending.get(partition)
        if (pend && pend.bytes + size + BATCH_OVERHEAD_BYTES > maxBatch) {
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
      if (!this.lingerTimer && this.pending.size > 0) {
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
      batch = encodeRecordBatch(pend.records, { compression: this.compression })
      info = pend.partition.append([batch])
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

  private drained(bytes: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.closed || this.inFlightBytes === 0 || this.inFlightBytes + bytes <= this.maxInFlightBytes) resolve()
        else this.drainWaiters.push(check)
      }
      check()
    })
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w()
  }

  /** Sends every lingering record now and waits for all sends in flight. */
  async flush(): Promise<void> {
    this.flushPending()
    await Promise.allSettled([...this.inFlight])
  }

  /** Flushes, then refuses further sends. */
  async close(): Promise<void> {
    if (this.closed) return
    await this.flush()
    this.closed = true
    this.wakeDrainWaiters()
    debug('producer closed')
  }
}

function newSlot(n: number): Slot {
  return { offsets: new Array(n), timestamps: new Array(n), remaining: n, resolve: () => {}, reject: () => {} }
}

function fillSlot(slot: Slot, info: AppendInfo, groups: number[][], ts: (i: number) => number, batches: Buffer[]): void {
  let offset = info.baseOffset
  for (let g = 0; g < groups.length; g++) {
    for (const i of groups[g]!) {
      slot.offsets[i] = offset++
      slot.timestamps[i] = info.logAppendTime >= 0 ? info.logAppendTime : ts(i)
    }
  }
  if (offset - 1 !== info.lastOffset) {
    throw new InvalidRecordError(`assigned offsets ${info.baseOffset}..${info.lastOffset} do not match ${batches.length} batches`)
  }
}

/** Splits indexes into runs whose estimated batch size stays under `max`. */
function splitBySize(idx: number[], size: (i: number) => number, max: number): number[][] {
  const out: number[][] = []
  let cur: number[] = []
  let bytes = BATCH_OVERHEAD_BYTES
  for (const i of idx) {
    const s = size(i)
    if (cur.length > 0 && bytes + s > max) {
      out.push(cur)
      cur = []
      bytes = BATCH_OVERHEAD_BYTES
    }
    cur.push(i)
    bytes += s
  }
  if (cur.length > 0) out.push(cur)
  return out
}

/** Upper bound of a record's encoded size (varints at their widest). */
function recordSize(r: RecordInput): number {
  let n = RECORD_OVERHEAD_BYTES + (r.key?.length ?? 0) + (r.value?.length ?? 0)
  if (r.headers) for (const h of r.headers) n += 10 + Buffer.byteLength(h.key) + (h.value?.length ?? 0)
  return n
}

function normalizeHeaders(headers: MessageHeaders | undefined, i: number): RecordHeader[] | undefined {
  if (headers === undefined || headers === null) return undefined
  if (typeof headers !== 'object' || Array.isArray(headers)) throw new InvalidRecordError(`message ${i}: headers must be an object`)
  const out: RecordHeader[] = []
  for (const [key, v] of Object.entries(headers)) {
    if (v === undefined) continue
    for (const item of Array.isArray(v) ? v : [v]) out.push({ key, value: toBytes(item, `header '${key}'`) })
  }
  return out
}

function checkInt(v: unknown, name: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new InvalidConfigError(`${name} must be an integer ≥ ${min}`)
  return v
}

const murmur2Partitioner: Partitioner = ({ key, partitionCount }) => partitionForKey(key!, partitionCount)

function resolvePartitioner(p: ProducerOptions['partitioner'], next: () => number): Partitioner {
  if (p === undefined || p === 'murmur2') return murmur2Partitioner
  if (p === 'roundrobin') return ({ partitionCount }) => next() % partitionCount
  if (typeof p === 'function') return p
  throw new InvalidConfigError(`partitioner must be 'murmur2', 'roundrobin' or a function`)
}
