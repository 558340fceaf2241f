// Consumer: without a group it reads every partition of the subscribed topics (or the ones
// assigned); with a `groupId` it shares them with the group's other members (GroupSession). Fetches
// are bounded, and a consumer that has caught up waits for appends (no polling timer). Messages are
// delivered by `run({ eachMessage | eachBatch })` or by `for await (const m of consumer)`. Under
// isolation 'read_committed' (the default) reads stop at the last stable offset and aborted
// transactions are skipped (fetch-decode.ts); options and shapes are in consumer-options.ts.
import { AsyncLocalStorage } from 'node:async_hooks'
import { EventEmitter } from 'node:events'
import createDebug from 'debug'
import { ClosedError, InvalidConfigError, InvalidPartitionError, KafkaliteError } from '../errors.js'
import type { BrokerCore } from '../broker/broker-core.js'
import type { Isolation, Partition } from '../broker/partition.js'
import {
  fetchLimits, type Batch, type ConsumerOptions, type CrashEvent, type Message, type RunOptions, type TopicPartitionOffset,
} from './consumer-options.js'
import { checkOffset, endOffset, fetchChunks, type AutoOffsetReset, type Chunk, type FetchLimits, type FetchPosition } from './fetch-decode.js'
import { retryOptions, type RetryOptions } from './options.js'
import type { GroupCoordinator } from './group/coordinator.js'
import type { OffsetCommit } from './group/offset-store.js'
import { GroupSession } from './group/session.js'
import { MessageIterator } from './message-iterator.js'
import { shouldYield, yieldToEventLoop } from '../util/event-loop.js'

const debug = createDebug('kafkalite:consumer')

/** Set while a consumer's run loop (and so its handlers) runs: close() from a handler must not wait for itself. */
const runScope = new AsyncLocalStorage<Consumer>()

export type { AutoOffsetReset, Batch, ConsumerOptions, CrashEvent, Message, MessageIterator, RetryOptions, RunOptions, TopicPartitionOffset }

/** The assigned partitions by topic and partition; `version` moves on every change. */
class Assignment extends Map<string, FetchPosition> {
  version = 0
  override set(k: string, v: FetchPosition): this {
    this.version++
    return super.set(k, v)
  }
  override delete(k: string): boolean {
    this.version++
    return super.delete(k)
  }
  override clear(): void {
    this.version++
    super.clear()
  }
}

export class Consumer extends EventEmitter {
  private readonly assignedMap = new Assignment()
  readonly assigned: Map<string, FetchPosition> = this.assignedMap
  readonly fromBeginning: boolean
  private readonly group: GroupSession | null
  private readonly limits: FetchLimits
  private readonly retry: Required<RetryOptions>
  private closed = false
  private running = false
  private loop: Promise<void> | null = null
  private wakeFn: (() => void) | null = null
  private keepAlive: NodeJS.Timeout | null = null
  private sleepers = new Set<() => void>()
  private rr = 0
  private iterating = 0

  /** @internal use broker.consumer() */
  constructor(
    private readonly broker: BrokerCore,
    options: ConsumerOptions = {},
    private readonly onClose: () => void = () => {},
    coordinator?: GroupCoordinator,
  ) {
    super()
    const o = options ?? {}
    this.fromBeginning = !!o.fromBeginning
    this.limits = fetchLimits(o)
    this.retry = retryOptions(o.retry ?? {})
    this.group = null
    if (o.groupId !== undefined) {
      if (!coordinator) throw new InvalidConfigError('consumer groups need a broker with a group coordinator')
      this.group = new GroupSession(broker, coordinator, this, { ...o, groupId: o.groupId })
    }
  }

  /** 'read_committed' (default) or 'read_uncommitted'. */
  get isolation(): Isolation {
    return this.limits.isolation
  }

  /** Wakes the fetch loop (new assignment, seek, resume, rebalance, close). */
  wake(): void {
    this.wakeFn?.()
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
        // search() ignores the g and y flags and lastIndex, so every matching topic is found.
        for (const topic of this.broker.topics()) if (topic.name.search(t) !== -1) names.add(topic.name)
      } else names.add(this.broker.topic(t).name)
    }
    if (this.group) {
      this.group.subscribe(list)
      return
    }
    const add: TopicPartitionOffset[] = []
    for (const name of names) {
      const topic = this.broker.topic(name)
      for (let p = 0; p < topic.partitions; p++) {
        if (!this.assigned.has(key(name, p))) add.push({ topic: name, partition: p })
      }
    }
    this.addAssignments(this.resolve(add, fromBeginning))
  }

  /** Reads exactly these partitions, from `offset` when given (else per fromBeginning). */
  assign(partitions: TopicPartitionOffset[]): void {
    this.assertOpen()
    if (!Array.isArray(partitions)) throw new InvalidConfigError('assign takes an array of { topic, partition, offset? }')
    if (this.group) throw new InvalidConfigError('a group consumer gets its partitions from the group: use subscribe()')
    const resolved = this.resolve(partitions, this.fromBeginning)
    this.assigned.clear()
    this.addAssignments(resolved)
  }

  /** Checks every entry (topic, partition, offset in range) before the assignment changes. */
  private resolve(list: TopicPartitionOffset[], fromBeginning: boolean): Array<{ topic: string; partition: Partition; offset: number }> {
    return list.map((tp) => {
      if (tp === null || typeof tp !== 'object') throw new InvalidConfigError('expected { topic, partition, offset? }')
      const partition = this.broker.topic(tp.topic).partition(tp.partition)
      const offset = tp.offset ?? (fromBeginning ? partition.logStartOffset : endOffset(partition, this.limits.isolation))
      checkOffset(partition, offset)
      return { topic: tp.topic, partition, offset }
    })
  }

  private addAssignments(resolved: Array<{ topic: string; partition: Partition; offset: number }>): void {
    for (const { topic, partition, offset } of resolved) {
      const a: FetchPosition = { topic, partition, position: offset, delivered: offset, paused: false, rewind: false, epoch: 0 }
      this.assigned.set(key(topic, partition.index), a)
    }
    this.wakeFn?.()
  }

  /** Commits the offsets processed so far on this member's partitions (group consumers). */
  async commit(): Promise<void> {
    this.assertOpen()
    if (!this.group) throw new InvalidConfigError('commit() needs a consumer with a groupId')
    await this.group.commit()
  }

  /**
   * The member's place in its group, `{ memberId, generationId }`, for `tx.sendOffsets({
   * consumerGroupMetadata })`: offsets from a generation that has since rebalanced are refused (KIP-447).
   */
  groupMetadata(): { memberId: string; generationId: number } | null {
    if (!this.group) return null
    return { memberId: this.group.membership.memberId, generationId: this.group.membership.generationId }
  }

  /** Commits explicit offsets (each the next offset to read) for this member's generation. */
  async commitOffsets(offsets: OffsetCommit[]): Promise<void> {
    this.assertOpen()
    if (!this.group) throw new InvalidConfigError('commitOffsets() needs a consumer with a groupId')
    if (!Array.isArray(offsets)) throw new InvalidConfigError('commitOffsets takes an array of { topic, partition, offset }')
    await this.group.commitOffsets(offsets)
  }

  /**
   * Keeps the group session alive from inside a long handler: sends a heartbeat when one is due
   * (a member that stops heartbeating for sessionTimeoutMs is removed from its group).
   */
  heartbeat(): void {
    this.group?.heartbeatIfDue()
  }

  /** The partitions this consumer reads. */
  assignment(): Array<{ topic: string; partition: number }> {
    return [...this.assigned.values()].map((a) => ({ topic: a.topic, partition: a.partition.index }))
  }

  /** Next offset the application will see from this partition. */
  position(topic: string, partition: number): number {
    return this.get(topic, partition).delivered
  }

  private get(topic: string, partition: number): FetchPosition {
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
      offset = a.partition.offsetForTimestamp(target.timestamp) ?? endOffset(a.partition, this.limits.isolation)
    } else {
      offset = (target as { offset: number }).offset
      checkOffset(a.partition, offset)
    }
    a.position = offset
    a.delivered = offset
    a.rewind = false
    a.epoch++
    this.wakeFn?.()
  }

  /**
   * Stops fetching these partitions (all of a topic's when `partitions` is omitted) until resume().
   * Called from a handler, the message in hand counts as delivered unless the handler throws.
   */
  pause(list: Array<{ topic: string; partitions?: number[] }>): void {
    for (const a of this.select(list)) {
      a.paused = true
      a.rewind = true
    }
  }

  resume(list: Array<{ topic: string; partitions?: number[] }>): void {
    for (const a of this.select(list)) a.paused = false
    this.wakeFn?.()
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

  private select(list: Array<{ topic: string; partitions?: number[] }>): FetchPosition[] {
    if (!Array.isArray(list)) throw new InvalidConfigError('expected an array of { topic, partitions? }')
    const out: FetchPosition[] = []
    for (const { topic, partitions } of list) {
      for (const a of this.assigned.values()) {
        if (a.topic === topic && (!partitions || partitions.includes(a.partition.index))) out.push(a)
      }
    }
    return out
  }

  /** The next fetched chunks; waits for appends when caught up. Null once closed. */
  private async nextChunks(): Promise<Chunk[] | null> {
    for (;;) {
      while (shouldYield()) await yieldToEventLoop()
      if (this.closed) return null
      if (this.group) {
        await this.group.maintain()
        if (this.closed) return null
      }
      const list = [...this.assigned.values()]
      const chunks = fetchChunks(list, this.rr++, this.limits)
      if (chunks.length > 0) return chunks
      await new Promise<void>((resolve) => {
        const unsubs: Array<() => void> = []
        let timer: NodeJS.Timeout | undefined
        const done = (): void => {
          for (const u of unsubs) u()
          if (timer) clearTimeout(timer)
          if (this.wakeFn === done) this.wakeFn = null
          resolve()
        }
        this.wakeFn = done
        for (const a of this.assigned.values()) unsubs.push(a.partition.onAppend(done))
        // A group member keeps heartbeating while it waits.
        if (this.group) timer = setTimeout(done, this.group.heartbeatIntervalMs)
      })
    }
  }

  /** The chunk's partition is still assigned and was not sought since the fetch. */
  private isCurrent(c: Chunk): boolean {
    return !this.closed && this.stillAssigned(c)
  }

  /** The chunk's partition is still assigned and unmoved: a handler that finished counts, even during close(). */
  private stillAssigned(c: Chunk): boolean {
    if (c.a.epoch !== c.epoch) return false
    const version = this.assignedMap.version
    if (c.checked === version) return true
    if (this.assigned.get(key(c.a.topic, c.a.partition.index)) !== c.a) return false
    c.checked = version
    return true
  }

  private deliverable(c: Chunk): boolean {
    return this.isCurrent(c) && !c.a.paused && (!this.group || this.group.owns(c.a.topic, c.a.partition.index))
  }

  /**
   * Starts delivering messages to `eachMessage` (one at a time) or `eachBatch`. Resolves once the
   * consumer is running, before the first delivery; processing goes on until close(). A handler that
   * throws is retried with backoff; after `retry.retries` retries the consumer stops and emits 'crash'.
   */
  async run(options: RunOptions): Promise<void> {
    this.assertOpen()
    const { eachMessage, eachBatch } = options ?? {}
    if (!eachMessage === !eachBatch) throw new InvalidConfigError('run needs exactly one of eachMessage or eachBatch')
    if (this.running) throw new InvalidConfigError('consumer is already running')
    this.running = true
    this.holdProcess()
    // A group consumer is running once it has joined and holds its first assignment.
    if (this.group) {
      try {
        await this.group.maintain()
      } catch (err) {
        this.running = false
        this.releaseProcess()
        throw err
      }
    }
    this.loop = runScope.run(this, () => this.runLoop(options)).finally(() => {
      this.running = false
      this.releaseProcess()
    })
  }

  private async runLoop({ eachMessage, eachBatch }: RunOptions): Promise<void> {
    // Let run()'s caller go on first: delivery starts on a later turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve))
    try {
      for (;;) {
        const chunks = await this.nextChunks()
        if (!chunks) return
        for (const c of chunks) {
          if (!this.deliverable(c)) continue
          if (eachBatch) {
            const messages = c.records.all() as Message[]
            if (messages.length === 0) {
              // Only control batches (or records before the position): nothing to hand out, move on.
              c.a.delivered = c.records.nextOffset
              continue
            }
            const batch: Batch = { topic: c.a.topic, partition: c.a.partition.index, highWatermark: c.highWatermark, messages }
            const r = await this.withRetry(c, () => eachBatch(batch), messages[0])
            if (r === 'stop') return
            if (r === 'done' && this.stillAssigned(c)) c.a.delivered = c.records.nextOffset
            continue
          }
          let complete = true
          for (const m of c.records as Iterable<Message>) {
            let r: 'done' | 'later' | 'stop' = 'later'
            if (this.deliverable(c)) {
              try {
                await eachMessage!(m)
                r = 'done'
              } catch (error) {
                r = await this.retryFailed(c, error, () => eachMessage!(m), m)
              }
            }
            if (r === 'stop') return
            if (r === 'later') {
              complete = false
              break
            }
            if (this.stillAssigned(c)) c.a.delivered = m.offset + 1
          }
          if (complete && this.isCurrent(c)) c.a.delivered = c.records.nextOffset
        }
      }
    } catch (err) {
      this.crash({ error: err })
    }
  }

  /**
   * Runs a handler with retries. 'done' on success; 'later' when it failed after its partition was
   * paused, sought or revoked (the message is fetched again from there, nothing is retried now);
   * 'stop' when the consumer closed or crashed.
   */
  private async withRetry(c: Chunk, fn: () => Promise<void> | void, m: Message | undefined): Promise<'done' | 'later' | 'stop'> {
    try {
      await fn()
      return 'done'
    } catch (error) {
      return this.retryFailed(c, error, fn, m)
    }
  }

  /** Retries `fn` after its first attempt failed with `error`, with backoff (see withRetry). */
  private async retryFailed(c: Chunk, error: unknown, fn: () => Promise<void> | void, m: Message | undefined): Promise<'done' | 'later' | 'stop'> {
    let delay = this.retry.initialRetryTime
    for (let attempt = 0; ; attempt++) {
      if (this.closed) return 'stop'
      if (!this.deliverable(c)) return 'later'
      const fatal = error instanceof KafkaliteError && !error.retriable
      if (fatal || attempt >= this.retry.retries) {
        this.crash({ error, topic: m?.topic, partition: m?.partition, offset: m?.offset })
        return 'stop'
      }
      debug('handler failed (attempt %d), retrying in %d ms: %s', attempt + 1, delay, (error as Error)?.message)
      await this.sleep(delay)
      if (this.closed) return 'stop'
      if (!this.deliverable(c)) return 'later'
      delay = Math.min(this.retry.maxRetryTime, delay * this.retry.multiplier)
      try {
        await fn()
        return 'done'
      } catch (err) {
        error = err
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
    if (!this.closed && (this.running || this.iterating > 0)) return
    if (this.keepAlive) clearInterval(this.keepAlive)
    this.keepAlive = null
  }

  /** Messages one by one; waits at the end of the log; ends when the consumer closes. */
  [Symbol.asyncIterator](): MessageIterator {
    return new MessageIterator({
      nextChunks: () => this.nextChunks(),
      deliverable: (c) => this.deliverable(c),
      isCurrent: (c) => this.isCurrent(c),
      start: () => {
        this.assertOpen()
        this.iterating++
        this.holdProcess()
      },
      finish: () => {
        // Fetched but undelivered messages are read again by the next loop.
        for (const a of this.assigned.values()) a.rewind = true
        this.iterating--
        this.releaseProcess()
      },
    })
  }

  /**
   * Stops fetching, waits for the handler in flight, and releases the process. Called from inside a
   * handler it does not wait for that handler (which is waiting for it): delivery stops after it.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.wakeFn?.()
    for (const s of [...this.sleepers]) s()
    if (runScope.getStore() !== this) await this.loop
    await this.group?.leave()
    this.running = false
    if (this.keepAlive) clearInterval(this.keepAlive)
    this.keepAlive = null
    this.onClose()
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}
