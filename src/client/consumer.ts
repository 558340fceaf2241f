// Consumer without a group: reads every partition of the subscribed topics (or the ones assigned),
// in bounded fetches, and waits for appends when it has caught up (no polling timer). Messages are
// delivered by `run({ eachMessage | eachBatch })` or by `for await (const m of consumer)`.
import { EventEmitter } from 'node:events'
import createDebug from 'debug'
import {
  ClosedError,
  InvalidConfigError,
  InvalidPartitionError,
  KafkaliteError,
  OffsetOutOfRangeError,
} from '../errors.js'
import type { BrokerCore } from '../broker/broker-core.js'
import type { Partition } from '../broker/partition.js'
import { decodeFetch, type DeliveredMessage } from './fetch-decode.js'
import { resolveCodec, type CodecSpec, type ResolvedCodec } from './serde.js'

const debug = createDebug('kafkalite:consumer')

export type AutoOffsetReset = 'earliest' | 'latest' | 'none'

export interface RetryOptions {
  /** Attempts after the first one before the consumer gives up (default 5). */
  retries?: number
  /** First backoff in ms (default 100), multiplied by `multiplier` (default 2) up to `maxRetryTime`. */
  initialRetryTime?: number
  maxRetryTime?: number
  multiplier?: number
}

export interface ConsumerOptions {
  /** Start at the log start offset instead of the end (default false). */
  fromBeginning?: boolean
  /** What to do when the position falls outside the log (e.g. after retention): default 'earliest'. */
  autoOffsetReset?: AutoOffsetReset
  /** Upper bound of bytes per fetch over all partitions (default 10 MiB; at least one batch). */
  maxBytes?: number
  /** Upper bound of bytes per partition and fetch (default 1 MiB; at least one batch). */
  maxBytesPerPartition?: number
  keyCodec?: CodecSpec
  valueCodec?: CodecSpec
  retry?: RetryOptions
}

export type Message = DeliveredMessage<any, any>

export interface Batch {
  topic: string
  partition: number
  highWatermark: number
  messages: Message[]
}

export interface RunOptions {
  eachMessage?: (message: Message) => Promise<void> | void
  eachBatch?: (batch: Batch) => Promise<void> | void
}

export interface TopicPartitionOffset {
  topic: string
  partition: number
  offset?: number
}

export interface CrashEvent {
  error: unknown
  topic?: string
  partition?: number
  offset?: number
}

interface Assigned {
  topic: string
  partition: Partition
  /** Next offset to fetch. */
  position: number
  /** Next offset after the last message handed to the application. */
  delivered: number
  paused: boolean
  /** Bumped by seek and pause: fetched messages of an older epoch are dropped. */
  epoch: number
}

interface Chunk {
  a: Assigned
  epoch: number
  messages: Message[]
  nextOffset: number
  highWatermark: number
}

export class Consumer extends EventEmitter {
  private readonly assigned = new Map<string, Assigned>()
  private readonly fromBeginning: boolean
  private readonly autoOffsetReset: AutoOffsetReset
  private readonly maxBytes: number
  private readonly maxBytesPerPartition: number
  private readonly keyCodec: ResolvedCodec
  private readonly valueCodec: ResolvedCodec
  private readonly retry: Required<RetryOptions>
  private closed = false
  private running = false
  private loop: Promise<void> | null = null
  private wake: (() => void) | null = null
  private keepAlive: NodeJS.Timeout | null = null
  private sleepers = new Set<() => void>()
  private rr = 0

  /** @internal use broker.consumer() */
  constructor(
    private readonly broker: BrokerCore,
    options: ConsumerOptions = {},
    private readonly onClose: () => void = () => {},
  ) {
    super()
    const o = options ?? {}
    this.fromBeginning = !!o.fromBeginning
    this.autoOffsetReset = o.autoOffsetReset ?? 'earliest'
    if (!['earliest', 'latest', 'none'].includes(this.autoOffsetReset)) {
      throw new InvalidConfigError(`autoOffsetReset must be 'earliest', 'latest' or 'none'`)
    }
    this.maxBytes = positiveInt(o.maxBytes ?? 10 * 1024 * 1024, 'maxBytes')
    this.maxBytesPerPartition = positiveInt(o.maxBytesPerPartition ?? 1024 * 1024, 'maxBytesPerPartition')
    this.keyCodec = resolveCodec(o.keyCodec, 'key')
    this.valueCodec = resolveCodec(o.valueCodec, 'value')
    const r = o.retry ?? {}
    this.retry = {
      retries: nonNegativeInt(r.retries ?? 5, 'retry.retries'),
      initialRetryTime: nonNegativeInt(r.initialRetryTime ?? 100, 'retry.initialRetryTime'),
      maxRetryTime: nonNegativeInt(r.maxRetryTime ?? 30_000, 'retry.maxRetryTime'),
      multiplier: r.multiplier ?? 2,
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('consumer is closed')
  }

  /** Reads every partition of these topics (a RegExp matches the topics that exist now). */
  async subscribe(topics: string | string[] | RegExp | { topics: Array<string | RegExp>; fromBeginning?: boolean }): Promise<void> {
    this.assertOpen()
    let list: Array<string | RegExp>
    let fromBeginning = this.fromBeginning
    if (typeof topics === 'string' || topics instanceof RegExp) list = [topics]
    else if (Array.isArray(topics)) list = topics
    else if (topics && typeof topics === 'object' && Array.isArray(topics.topics)) {
      list = topics.topics
      if (topics.fromBeginning !== undefined) fromBeginning = topics.fromBeginning
    } else throw new InvalidConfigError('subscribe takes a topic, an array of topics, a RegExp or { topics }')
    const names = new Set<string>()
    for (const t of list) {
      if (t instanceof RegExp) {
        for (const topic of this.broker.topics()) if (t.test(topic.name)) names.add(topic.name)
      } else names.add(this.broker.topic(t).name)
    }
    const add: Array<{ topic: string; partition: number; offset?: number }> = []
    for (const name of names) {
      const topic = this.broker.topic(name)
      for (let p = 0; p < topic.partitions; p++) {
        if (!this.assigned.has(key(name, p))) add.push({ topic: name, partition: p })
      }
    }
    this.addAssignments(add, fromBeginning)
  }

  /** Reads exactly these partitions, from `offset` when given (else per fromBeginning). */
  assign(partitions: TopicPartitionOffset[]): void {
    this.assertOpen()
    if (!Array.isArray(partitions)) throw new InvalidConfigError('assign takes an array of { topic, partition, offset? }')
    this.assigned.clear()
    this.addAssignments(partitions, this.fromBeginning)
  }

  private addAssignments(list: TopicPartitionOffset[], fromBeginning: boolean): void {
    const resolved = list.map((tp) => {
      const partition = this.broker.topic(tp.topic).partition(tp.partition)
      const offset = tp.offset ?? (fromBeginning ? partition.logStartOffset : partition.highWatermark)
      checkOffset(partition, offset)
      return { topic: tp.topic, partition, offset }
    })
    for (const r of resolved) {
      this.assigned.set(key(r.topic, r.partition.index), {
        topic: r.topic,
        partition: r.partition,
        position: r.offset,
        delivered: r.offset,
        paused: false,
        epoch: 0,
      })
    }
    this.wake?.()
  }

  /** The partitions this consumer reads. */
  assignment(): Array<{ topic: string; partition: number }> {
    return [...this.assigned.values()].map((a) => ({ topic: a.topic, partition: a.partition.index }))
  }

  /** Next offset the application will see from this partition. */
  position(topic: string, partition: number): number {
    return this.get(topic, partition).delivered
  }

  private get(topic: string, partition: number): Assigned {
    const a = this.assigned.get(key(topic, partition))
    if (!a) throw new InvalidPartitionError(`${topic}-${partition} is not assigned to this consumer`)
    return a
  }

  /** Moves the position of an assigned partition to an offset, or to the first offset at or after a timestamp. */
  seek(target: { topic: string; partition: number; offset: number } | { topic: string; partition: number; timestamp: number }): void {
    this.assertOpen()
    const a = this.get(target.topic, target.partition)
    let offset: number
    if ('timestamp' in target && target.timestamp !== undefined) {
      if (typeof target.timestamp !== 'number' || !Number.isFinite(target.timestamp)) {
        throw new InvalidConfigError('seek timestamp must be a number (epoch ms)')
      }
      offset = a.partition.offsetForTimestamp(target.timestamp) ?? a.partition.highWatermark
    } else {
      offset = (target as { offset: number }).offset
      checkOffset(a.partition, offset)
    }
    a.position = offset
    a.delivered = offset
    a.epoch++
    this.wake?.()
  }

  /** Stops fetching these partitions (all of a topic's when `partitions` is omitted) until resume(). */
  pause(list: Array<{ topic: string; partitions?: number[] }>): void {
    for (const a of this.select(list)) {
      if (a.paused) continue
      a.paused = true
      a.position = a.delivered
      a.epoch++
    }
  }

  resume(list: Array<{ topic: string; partitions?: number[] }>): void {
    for (const a of this.select(list)) a.paused = false
    this.wake?.()
  }

  paused(): Array<{ topic: string; partitions: number[] }> {
    const out = new Map<string, number[]>()
    for (const a of this.assigned.values()) {
      if (!a.paused) continue
      if (!out.has(a.topic)) out.set(a.topic, [])
      out.get(a.topic)!.push(a.partition.index)
    }
    return [...out].map(([topic, partitions]) => ({ topic, partitions }))
  }

  private select(list: Array<{ topic: string; partitions?: number[] }>): Assigned[] {
    if (!Array.isArray(list)) throw new InvalidConfigError('expected an array of { topic, partitions? }')
    const out: Assigned[] = []
    for (const { topic, partitions } of list) {
      for (const a of this.assigned.values()) {
        if (a.topic === topic && (!partitions || partitions.includes(a.partition.index))) out.push(a)
      }
    }
    return out
  }

  /** One bounded fetch over the assigned partitions, round-robin; empty when nothing is available. */
  private fetchOnce(): Chunk[] {
    const list = [...this.assigned.values()]
    const out: Chunk[] = []
    let budget = this.maxBytes
    const start = this.rr++
    for (let k = 0; k < list.length && budget > 0; k++) {
      const a = list[(start + k) % list.length]!
      const p = a.partition
      if (a.paused || p.isClosed) continue
      if (a.position < p.logStartOffset || a.position > p.highWatermark) this.resetOutOfRange(a)
      if (a.position >= p.highWatermark) continue
      const r = p.readBatches({ offset: a.position, maxBytes: Math.min(this.maxBytesPerPartition, budget) })
      if (r.bytes.length === 0) {
        a.position = r.highWatermark
        continue
      }
      const dec = decodeFetch(a.topic, p.index, r.bytes, a.position, this.keyCodec, this.valueCodec)
      a.position = dec.nextOffset
      budget -= r.bytes.length
      out.push({ a, epoch: a.epoch, messages: dec.messages, nextOffset: dec.nextOffset, highWatermark: r.highWatermark })
    }
    return out
  }

  private resetOutOfRange(a: Assigned): void {
    const p = a.partition
    if (this.autoOffsetReset === 'none') {
      throw new OffsetOutOfRangeError(
        `offset ${a.position} of ${a.topic}-${p.index} is out of range [${p.logStartOffset}, ${p.highWatermark}] and autoOffsetReset is 'none'`,
      )
    }
    const to = this.autoOffsetReset === 'earliest' ? p.logStartOffset : p.highWatermark
    debug('%s-%d: offset %d out of range, reset to %d', a.topic, p.index, a.position, to)
    a.position = to
    a.delivered = to
    a.epoch++
  }

  /** The next fetched chunks; waits for appends when caught up. Null once closed. */
  private async nextChunks(): Promise<Chunk[] | null> {
    for (;;) {
      if (this.closed) return null
      const chunks = this.fetchOnce()
      if (chunks.length > 0) return chunks
      await new Promise<void>((resolve) => {
        const unsubs: Array<() => void> = []
        const done = (): void => {
          for (const u of unsubs) u()
          if (this.wake === done) this.wake = null
          resolve()
        }
        this.wake = done
        for (const a of this.assigned.values()) unsubs.push(a.partition.onAppend(done))
      })
    }
  }

  private isCurrent(c: Chunk): boolean {
    return !this.closed && c.a.epoch === c.epoch && this.assigned.get(key(c.a.topic, c.a.partition.index)) === c.a
  }

  /**
   * Starts delivering messages to `eachMessage` (one at a time) or `eachBatch`. Resolves once the
   * consumer is running; processing goes on until close(). A handler that throws is retried with
   * backoff; after `retry.retries` failures the consumer stops and emits 'crash'.
   */
  async run(options: RunOptions): Promise<void> {
    this.assertOpen()
    const { eachMessage, eachBatch } = options ?? {}
    if (!eachMessage === !eachBatch) throw new InvalidConfigError('run needs exactly one of eachMessage or eachBatch')
    if (this.running) throw new InvalidConfigError('consumer is already running')
    this.running = true
    this.holdProcess()
    this.loop = this.runLoop(options).finally(() => {
      this.running = false
      this.releaseProcess()
    })
  }

  private async runLoop({ eachMessage, eachBatch }: RunOptions): Promise<void> {
    try {
      for (;;) {
        const chunks = await this.nextChunks()
        if (!chunks) return
        for (const c of chunks) {
          if (!this.isCurrent(c)) continue
          if (eachBatch) {
            const batch: Batch = { topic: c.a.topic, partition: c.a.partition.index, highWatermark: c.highWatermark, messages: c.messages }
            const ok = await this.withRetry(() => eachBatch(batch), c.messages[0])
            if (!ok) return
            if (this.isCurrent(c)) c.a.delivered = c.nextOffset
            continue
          }
          for (const m of c.messages) {
            if (!this.isCurrent(c)) break
            const ok = await this.withRetry(() => eachMessage!(m), m)
            if (!ok) return
            if (this.isCurrent(c)) c.a.delivered = m.offset + 1
          }
          if (this.isCurrent(c)) c.a.delivered = c.nextOffset
        }
      }
    } catch (err) {
      this.crash({ error: err })
    }
  }

  /** Runs a handler with retries; false when the consumer must stop (crashed or closed). */
  private async withRetry(fn: () => Promise<void> | void, m: Message | undefined): Promise<boolean> {
    let delay = this.retry.initialRetryTime
    for (let attempt = 0; ; attempt++) {
      try {
        await fn()
        return true
      } catch (error) {
        const fatal = error instanceof KafkaliteError && !error.retriable
        if (fatal || attempt >= this.retry.retries) {
          this.crash({ error, topic: m?.topic, partition: m?.partition, offset: m?.offset })
          return false
        }
        debug('handler failed (attempt %d), retrying in %d ms: %s', attempt + 1, delay, (error as Error)?.message)
        await this.sleep(delay)
        if (this.closed) return false
        delay = Math.min(this.retry.maxRetryTime, delay * this.retry.multiplier)
      }
    }
  }

  private crash(event: CrashEvent): void {
    debug('consumer crashed: %s', (event.error as Error)?.message)
    this.emit('crash', event)
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t)
        this.sleepers.delete(done)
        resolve()
      }
      const t = setTimeout(done, ms)
      this.sleepers.add(done)
    })
  }

  /** A running consumer keeps the process alive until close(). */
  private holdProcess(): void {
    this.keepAlive ??= setInterval(() => {}, 0x7fffffff)
  }

  private releaseProcess(): void {
    if (this.running || this.iterating > 0) return
    if (this.keepAlive) clearInterval(this.keepAlive)
    this.keepAlive = null
  }

  private iterating = 0

  /** Messages one by one; waits at the end of the log; ends when the consumer closes. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Message, void, undefined> {
    this.assertOpen()
    this.iterating++
    this.holdProcess()
    try {
      for (;;) {
        const chunks = await this.nextChunks()
        if (!chunks) return
        for (const c of chunks) {
          for (const m of c.messages) {
            if (!this.isCurrent(c)) break
            c.a.delivered = m.offset + 1
            yield m
          }
          if (this.isCurrent(c)) c.a.delivered = c.nextOffset
        }
      }
    } finally {
      // Fetched but undelivered messages are read again by the next loop.
      for (const a of this.assigned.values()) {
        if (a.position !== a.delivered) {
          a.position = a.delivered
          a.epoch++
        }
      }
      this.iterating--
      this.releaseProcess()
    }
  }

  /** Stops fetching, waits for the handler in flight, and releases the process. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.wake?.()
    for (const s of [...this.sleepers]) s()
    await this.loop
    this.running = false
    this.releaseProcess()
    if (this.keepAlive) clearInterval(this.keepAlive)
    this.keepAlive = null
    this.onClose()
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

function checkOffset(p: Partition, offset: number): void {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < p.logStartOffset || offset > p.highWatermark) {
    throw new OffsetOutOfRangeError(
      `offset ${String(offset)} is out of range [${p.logStartOffset}, ${p.highWatermark}] for ${p.topic}-${p.index}`,
    )
  }
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InvalidConfigError(`${name} must be a positive integer`)
  return v
}

function nonNegativeInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new InvalidConfigError(`${name} must be an integer ≥ 0`)
  return v
}
