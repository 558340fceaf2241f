// KafkaJS's consumer on kafkalite's group consumer. `run()` resolves once the member joined and got
// its assignment. Offsets are tracked as KafkaJS does: a message is resolved once its handler
// returned (eachMessage, or eachBatch with eachBatchAutoResolve) or by `resolveOffset`; resolved
// offsets are committed after each batch (autoCommit), at autoCommitInterval/Threshold within a
// batch, before partitions are revoked, and at stop. A handler that throws: what was resolved is
// committed, the partition is sought back to the first unresolved message and retried with
// KafkaJS's backoff; after `retry.retries` the consumer emits CRASH and, when restartOnFailure
// allows (the default), goes on retrying, else stops. Called by user code through kafka.consumer().
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Batch as CoreBatch, Broker, Consumer as CoreConsumer, JoinInfo } from '../index.js'
import { KafkaJSNonRetriableError, protocolError, toKafkaJSError } from './errors.js'
import { Instrumentation } from './instrumentation.js'
import { Connection } from './connection.js'
import { Commits } from './commits.js'
import { tpKey, type OffsetTracker } from './offset-tracker.js'
import { PauseState } from './pause-state.js'
import { HandlerRetries, retryOptions } from './retry.js'
import type { ClientContext } from './kafka.js'
import { assignersOf } from './assigners.js'
import { batchInfo, checkTopicPartitions, groupJoinPayload, toBatch } from './payloads.js'
import { CONSUMER_EVENTS as EVENTS } from './events.js'
import type {
  Batch,
  ConsumerConfig,
  ConsumerEvents,
  ConsumerRunConfig,
  ConsumerSubscribeTopic,
  ConsumerSubscribeTopics,
  GroupDescription,
  Logger,
  Offsets,
  RemoveInstrumentationEventListener,
  TopicPartitionOffset,
  TopicPartitionOffsetAndMetadata,
  TopicPartitions,
} from './types.js'
import { describeGroupOf } from './describe-group.js'




/** Which consumer's handler is running (stop() from inside a handler must not wait for it). */
const handlerScope = new AsyncLocalStorage<Consumer>()

export class Consumer {
  readonly events: ConsumerEvents = EVENTS
  private readonly instrumentation = new Instrumentation(EVENTS)
  private readonly connection: Connection
  private subscriptions: Array<{ topics: Array<string | RegExp>; fromBeginning: boolean }> = []
  private core: CoreConsumer | null = null
  private running = false
  private readonly commits: Commits
  private get offsets(): OffsetTracker {
    return this.commits.offsets
  }
  /** Partitions sought since their batch started (the batch in hand is stale). */
  private sought = new Set<string>()
  private pendingSeeks: TopicPartitionOffset[] = []
  private readonly retries: HandlerRetries
  /** HEARTBEAT events every heartbeatInterval while running (the group session itself is kafkalite's). */
  private heartbeats: NodeJS.Timeout | null = null
  private runConfig: Required<Pick<ConsumerRunConfig, 'autoCommit' | 'eachBatchAutoResolve'>> & ConsumerRunConfig = { autoCommit: true, eachBatchAutoResolve: true }

  /** @internal use kafka.consumer() */
  constructor(
    private readonly context: ClientContext,
    private readonly config: ConsumerConfig,
  ) {
    this.connection = new Connection(context)
    this.retries = new HandlerRetries(retryOptions(context.retry, config.retry))
    this.commits = new Commits({
      core: () => this.core,
      inHand: (key) => this.inFlight.has(key) || this.current !== null,
      committed: (payload) => this.instrumentation.emit(EVENTS.COMMIT_OFFSETS, payload),
      groupId: config.groupId,
    })
  }

  async connect(): Promise<void> {
    await this.open()
    this.instrumentation.emit(EVENTS.CONNECT, null)
  }

  async disconnect(): Promise<void> {
    await this.stop()
    if (!(await this.connection.close())) return
    this.instrumentation.emit(EVENTS.DISCONNECT, null)
  }

  async subscribe(subscription: ConsumerSubscribeTopics | ConsumerSubscribeTopic): Promise<void> {
    if (this.running) throw new KafkaJSNonRetriableError('Cannot subscribe to topic while consumer is running')
    const s = subscription as Partial<ConsumerSubscribeTopics & ConsumerSubscribeTopic>
    const topics = s?.topics ?? (s?.topic !== undefined ? [s.topic] : null)
    if (!Array.isArray(topics) || topics.length === 0) throw new KafkaJSNonRetriableError('Missing required argument "topics"')
    for (const t of topics) {
      if (typeof t !== 'string' && !(t instanceof RegExp)) throw new KafkaJSNonRetriableError(`Invalid topic ${String(t)}, the topic name has to be a String or a RegExp`)
    }
    const broker = await this.open()
    if (!(this.config.allowAutoTopicCreation ?? true)) {
      const missing = topics.find((t) => typeof t === 'string' && !broker.hasTopic(t))
      if (missing !== undefined) throw protocolError('UNKNOWN_TOPIC_OR_PARTITION', `This server does not host this topic-partition: ${String(missing)}`)
    } else {
      for (const t of topics) {
        if (typeof t === 'string' && !broker.hasTopic(t)) {
          await broker.createTopic(t).catch((err: { code?: string }) => {
            if (err?.code !== 'TOPIC_EXISTS') throw toKafkaJSError(err, { topic: t })
          })
        }
      }
    }
    this.subscriptions.push({ topics, fromBeginning: !!s.fromBeginning })
  }

  /** Starts consuming; resolves once the member joined its group and holds its first assignment. */
  async run(config: ConsumerRunConfig = {}): Promise<void> {
    if (this.running || this.starting) {
      // KafkaJS warns and carries on.
      this.context.logger.warn('consumer#run was called, but the consumer is already running', { groupId: this.config.groupId })
      return
    }
    if (!config.eachMessage === !config.eachBatch) throw new KafkaJSNonRetriableError('Consumer requires eachMessage or eachBatch')
    if (this.subscriptions.length === 0) throw new KafkaJSNonRetriableError('Consumer requires at least one subscription: call subscribe() before run()')
    this.runConfig = { ...config, autoCommit: config.autoCommit ?? true, eachBatchAutoResolve: config.eachBatchAutoResolve ?? true }
    const starting = this.start()
    this.starting = starting
    try {
      await starting
    } finally {
      if (this.starting === starting) this.starting = null
    }
  }

  /** run() until the member holds its first assignment (stop() waits for it). */
  private starting: Promise<void> | null = null
  private stopping: Promise<void> | null = null

  private async start(): Promise<void> {
    const broker = await this.open()
    const c = this.config
    const anyFromBeginning = this.subscriptions.some((s) => s.fromBeginning)
    const core = broker.consumer({
      groupId: c.groupId,
      clientId: this.context.clientId,
      // New partitions start at the end; those of topics subscribed fromBeginning are sought to
      // the start in onAssigned (KafkaJS decides per subscription).
      fromBeginning: false,
      autoOffsetReset: anyFromBeginning ? 'earliest' : 'latest',
      isolation: c.readUncommitted ? 'read_uncommitted' : 'read_committed',
      autoCommit: false,
      sessionTimeoutMs: c.sessionTimeout,
      rebalanceTimeoutMs: c.rebalanceTimeout,
      heartbeatIntervalMs: c.heartbeatInterval,
      maxBytes: c.maxBytes,
      maxBytesPerPartition: c.maxBytesPerPartition,
      partitionAssigners: assignersOf(c, broker, this.context.logger),
      retry: { retries: 0 },
      onPartitionsRevoked: (tps) => this.onRevoked(tps),
      onPartitionsAssigned: (tps) => this.onAssigned(tps),
    })
    this.core = core
    this.running = true
    this.heartbeats = setInterval(() => this.tick(), c.heartbeatInterval ?? 3000)
    this.heartbeats.unref()
    core.on('crash', (e: { error: unknown }) => this.crashed(e.error))
    core.on('group.join', (j: JoinInfo) => this.instrumentation.emit(EVENTS.GROUP_JOIN, groupJoinPayload(j)))
    try {
      await core.subscribe({ topics: this.subscriptions.flatMap((s) => s.topics) })
      await core.run({ eachBatch: (b) => this.processBatch(b) })
    } catch (err) {
      this.running = false
      this.core = null
      this.stopHeartbeats()
      await core.close().catch(() => undefined)
      throw toKafkaJSError(err)
    }
  }

  /** Stops consuming (committing what was resolved) and leaves the group; run() may be called again. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop().finally(() => {
      this.stopping = null
    })
    return this.stopping
  }

  private async doStop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined)
    const core = this.core
    if (!core) return
    this.running = false
    this.stopHeartbeats()
    this.retries.wakeAll()
    // The handler in flight finishes (and its message is resolved) before the commit, as in
    // KafkaJS; called from inside a handler, stop() cannot wait for that handler (it waits for it).
    if (handlerScope.getStore() !== this) {
      await this.current?.catch(() => undefined)
      await this.settle()
    }
    if (this.runConfig.autoCommit) await this.commitResolved().catch((err) => this.context.logger.error('commit at stop failed', { error: err?.message }))
    this.core = null
    await core.close()
    this.offsets.clear()
    this.pauses.clear()
    this.instrumentation.emit(EVENTS.STOP, null)
  }

  async commitOffsets(topicPartitions: TopicPartitionOffsetAndMetadata[]): Promise<void> {
    if (!this.core) throw new KafkaJSNonRetriableError('Consumer group was not initialized, consumer#run must be called first')
    if (!Array.isArray(topicPartitions)) throw new KafkaJSNonRetriableError('Invalid offsets: expected an array of { topic, partition, offset }')
    const offsets = topicPartitions.map(({ topic, partition, offset, metadata }) => {
      const n = Number(offset)
      if (Number.isSafeInteger(n) && n < 0) throw new KafkaJSNonRetriableError('Offset must not be a negative number')
      if (typeof topic !== 'string' || !Number.isInteger(partition) || !Number.isSafeInteger(n)) {
        throw new KafkaJSNonRetriableError(`Invalid offset to commit: ${JSON.stringify({ topic, partition, offset })}`)
      }
      return { topic, partition, offset: n, metadata: metadata ?? null }
    })
    await this.commit(offsets)
  }

  seek({ topic, partition, offset }: TopicPartitionOffset): void {
    if (typeof topic !== 'string' || topic === '' || !Number.isInteger(partition)) throw new KafkaJSNonRetriableError('Invalid topic or partition for seek')
    const n = Number(offset)
    if (!Number.isSafeInteger(n) || n < -2) throw new KafkaJSNonRetriableError(`Offset must not be a negative number, got ${String(offset)}`)
    const core = this.core
    if (!core) throw new KafkaJSNonRetriableError('Consumer group was not initialized, consumer#run must be called first')
    if (!core.assignment().some((a) => a.topic === topic && a.partition === partition)) {
      this.pendingSeeks.push({ topic, partition, offset: String(n) })
      return
    }
    this.applySeek(core, topic, partition, n)
  }

  pause(topics: Array<{ topic: string; partitions?: number[] }>): void {
    if (!this.core) throw new KafkaJSNonRetriableError('Consumer group was not initialized, consumer#run must be called first')
    this.core.pause(checkTopicPartitions(topics))
    this.pauses.mark(topics, true, (t) => this.allPartitions(t))
  }

  resume(topics: Array<{ topic: string; partitions?: number[] }>): void {
    if (!this.core) throw new KafkaJSNonRetriableError('Consumer group was not initialized, consumer#run must be called first')
    const list = checkTopicPartitions(topics)
    this.pauses.mark(list, false, (t) => this.allPartitions(t))
    // Partitions handled in the background resume when their batch is done.
    this.core.resume(list.map(({ topic, partitions }) => ({ topic, partitions: (partitions ?? this.allPartitions(topic)).filter((p) => !this.inFlight.has(tpKey(topic, p))) })))
  }

  private allPartitions(topic: string): number[] {
    return this.broker?.hasTopic(topic) ? Array.from({ length: this.broker.topic(topic).partitions }, (_, i) => i) : []
  }

  paused(): TopicPartitions[] {
    return this.pauses.list()
  }

  /** What the application paused (kafkalite's consumer also pauses partitions handled in the background). */
  private readonly pauses = new PauseState()

  async describeGroup(): Promise<GroupDescription> {
    const broker = await this.open()
    return describeGroupOf(broker, this.config.groupId)
  }

  logger(): Logger {
    return this.context.logger
  }

  on(eventName: string, listener: (event: any) => void): RemoveInstrumentationEventListener<string> {
    return this.instrumentation.on(eventName, listener)
  }

  private stopHeartbeats(): void {
    if (this.heartbeats) clearInterval(this.heartbeats)
    this.heartbeats = null
  }

  private open(): Promise<Broker> {
    return this.connection.open()
  }

  private get broker(): Broker | null {
    return this.connection.broker
  }

  private applySeek(core: CoreConsumer, topic: string, partition: number, offset: number): void {
    const p = this.broker!.topic(topic)
    const target = offset === -2 ? p.earliestOffset(partition) : offset === -1 ? p.latestOffset(partition) : offset
    try {
      core.seek({ topic, partition, offset: target })
    } catch (err) {
      // KafkaJS resets an out-of-range seek to the default offset: earliest when subscribed fromBeginning.
      if ((err as { code?: string })?.code !== 'OFFSET_OUT_OF_RANGE') throw toKafkaJSError(err, { topic, partition })
      core.seek({ topic, partition, offset: this.fromBeginning(topic) ? p.earliestOffset(partition) : p.latestOffset(partition) })
    }
    this.sought.add(tpKey(topic, partition))
    this.offsets.forgetResolved(tpKey(topic, partition))
  }

  /** Whether `topic` was subscribed with fromBeginning (by name or by a RegExp). */
  private fromBeginning(topic: string): boolean {
    return this.subscriptions.some((s) => s.fromBeginning && s.topics.some((t) => (typeof t === 'string' ? t === topic : topic.search(t) !== -1)))
  }

  private async onAssigned(tps: Array<{ topic: string; partitions: number[] }>): Promise<void> {
    const core = this.core
    if (!core) return
    const committed = new Map(this.broker!.group(this.config.groupId).lag().map((l) => [tpKey(l.topic, l.partition), l.committed]))
    for (const { topic, partitions } of tps) {
      for (const p of partitions) {
        const key = tpKey(topic, p)
        // A partition (re)gained starts from the group's committed offset: nothing of before counts.
        this.offsets.forget(key)
        if ((committed.get(key) ?? null) === null && this.fromBeginning(topic)) core.seek({ topic, partition: p, offset: this.broker!.topic(topic).earliestOffset(p) })
        if (this.pauses.inherit(topic, p)) core.pause([{ topic, partitions: [p] }])
      }
    }
    const seeks = this.pendingSeeks
    this.pendingSeeks = []
    for (const s of seeks) {
      if (tps.some((t) => t.topic === s.topic && t.partitions.includes(s.partition))) this.applySeek(core, s.topic, s.partition, Number(s.offset))
      else this.pendingSeeks.push(s)
    }
  }

  private async onRevoked(tps: Array<{ topic: string; partitions: number[] }>): Promise<void> {
    const meta = this.core?.groupMetadata()
    this.instrumentation.emit(EVENTS.REBALANCING, { groupId: this.config.groupId, memberId: meta?.memberId ?? '' })
    await this.settle(tps)
    if (this.runConfig.autoCommit) await this.commitResolved(tps).catch(() => undefined)
    for (const { topic, partitions } of tps) for (const p of partitions) this.offsets.forgetResolved(tpKey(topic, p))
  }

  /**
   * Called by kafkalite's consumer with each batch. With partitionsConsumedConcurrently > 1, the
   * batch is handled in the background (up to that many partitions at once) while its partition is
   * paused in kafkalite's consumer, so that batches of one partition still come one at a time.
   */
  private async processBatch(b: CoreBatch): Promise<void> {
    const limit = Math.max(1, Math.floor(this.runConfig.partitionsConsumedConcurrently ?? 1))
    if (limit === 1) {
      const p = handlerScope.run(this, () => this.handleBatch(b))
      this.current = p
      try {
        return await p
      } finally {
        if (this.current === p) this.current = null
      }
    }
    while (this.inFlight.size >= limit) await Promise.race(this.inFlight.values())
    const core = this.core
    if (!core || !this.running) return
    const key = tpKey(b.topic, b.partition)
    core.pause([{ topic: b.topic, partitions: [b.partition] }])
    const task = handlerScope.run(this, () => this.handleBatch(b)).finally(() => {
      this.inFlight.delete(key)
      if (this.core === core && this.running && !this.pauses.has(b.topic, b.partition)) core.resume([{ topic: b.topic, partitions: [b.partition] }])
    })
    this.inFlight.set(key, task)
  }

  /** The batch being handled in the foreground (stop() waits for it before committing). */
  private current: Promise<void> | null = null

  /** Batches being handled in the background, by partition. */
  private inFlight = new Map<string, Promise<void>>()

  /** Waits for the background batches (of these partitions, or all). */
  private async settle(only?: Array<{ topic: string; partitions: number[] }>): Promise<void> {
    const keys = only ? only.flatMap((t) => t.partitions.map((p) => tpKey(t.topic, p))) : [...this.inFlight.keys()]
    await Promise.all(keys.map((k) => this.inFlight.get(k)).filter(Boolean))
  }

  private async handleBatch(b: CoreBatch): Promise<void> {
    const core = this.core
    if (!core || !this.running) return
    const key = tpKey(b.topic, b.partition)
    this.sought.delete(key)
    const batch = toBatch(b)
    const info = batchInfo(batch)
    const started = Date.now()
    this.instrumentation.emit(EVENTS.START_BATCH_PROCESS, info)
    try {
      if (this.runConfig.eachMessage) await this.eachMessage(batch)
      else await this.eachBatch(batch)
      this.retries.succeeded(key)
    } catch (err) {
      if (this.runConfig.autoCommit) await this.commitResolved().catch(() => undefined)
      await this.retryLater(b, key, err)
      return
    }
    this.instrumentation.emit(EVENTS.END_BATCH_PROCESS, { ...info, duration: Date.now() - started })
    // What was not resolved (eachBatch without auto-resolve, a pause) is fetched again.
    const next = this.offsets.next(key)
    const end = b.messages[b.messages.length - 1]!.offset + 1
    this.offsets.handOut(key, end)
    if (!this.sought.has(key) && this.running && (next === undefined || next < end)) this.rewind(core, b, next)
    // A failed commit (a rebalance under way) is retried with the next batch or at revoke.
    if (this.runConfig.autoCommit) await this.commitResolved().catch((err) => this.context.logger.warn('commit failed', { error: err?.message }))
  }

  private async eachMessage(batch: Batch): Promise<void> {
    const { topic, partition } = batch
    const key = tpKey(topic, partition)
    const pause = (): (() => void) => this.pausePartition(topic, partition)
    for (const message of batch.messages) {
      if (!this.running || this.sought.has(key)) break
      await this.runConfig.eachMessage!({ topic, partition, message, heartbeat: () => this.heartbeat(), pause })
      // A handler that sought its partition moved it: the message in hand does not count.
      if (this.sought.has(key)) break
      this.resolve(topic, partition, Number(message.offset))
      this.core?.heartbeat()
      if (this.runConfig.autoCommit) await this.commitIfNecessary()
      if (this.pauses.has(topic, partition)) break
    }
  }

  private async eachBatch(batch: Batch): Promise<void> {
    const { topic, partition } = batch
    const key = tpKey(topic, partition)
    await this.runConfig.eachBatch!({
      batch,
      resolveOffset: (offset: string) => this.resolve(topic, partition, Number(offset)),
      heartbeat: () => this.heartbeat(),
      pause: () => this.pausePartition(topic, partition),
      commitOffsetsIfNecessary: async (offsets?: Offsets) => {
        if (offsets) return this.commit(offsets.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: Number(p.offset) }))))
        if (this.runConfig.autoCommit) return this.commitIfNecessary()
      },
      uncommittedOffsets: () => this.offsets.uncommitted(),
      isRunning: () => this.running,
      isStale: () => this.sought.has(key),
    })
    if (this.runConfig.eachBatchAutoResolve && this.running && !this.sought.has(key)) {
      const last = batch.messages[batch.messages.length - 1]
      if (last) this.resolve(topic, partition, Number(last.offset))
    }
  }

  /** payload.pause(): pauses the partition in hand; the function it returns resumes it. */
  private pausePartition(topic: string, partition: number): () => void {
    this.pause([{ topic, partitions: [partition] }])
    return () => this.resume([{ topic, partitions: [partition] }])
  }

  private resolve(topic: string, partition: number, offset: number): void {
    this.offsets.resolve(topic, partition, offset)
  }

  private commitIfNecessary(): Promise<void> {
    return this.commits.ifDue(this.runConfig.autoCommitInterval, this.runConfig.autoCommitThreshold)
  }

  private commitResolved(only?: Array<{ topic: string; partitions: number[] }>): Promise<void> {
    return this.commits.resolved(only)
  }

  private commit(offsets: Array<{ topic: string; partition: number; offset: number; metadata?: string | null }>): Promise<void> {
    return this.commits.commit(offsets)
  }

  /**
   * Every heartbeatInterval: the HEARTBEAT event, and (autoCommit) what was resolved meanwhile. The
   * session itself is kept by kafkalite's consumer between fetches and by heartbeat() in handlers,
   * as KafkaJS's: a handler stuck past sessionTimeout loses its partitions.
   */
  private tick(): void {
    this.emitHeartbeat()
    if (this.runConfig.autoCommit && this.running && this.current === null && this.inFlight.size === 0) {
      this.commitResolved().catch((err) => this.context.logger.warn('commit failed', { error: err?.message }))
    }
  }

  /** payload.heartbeat(): keeps the group session alive from a long handler. */
  private async heartbeat(): Promise<void> {
    this.core?.heartbeat()
    this.emitHeartbeat()
  }

  private emitHeartbeat(): void {
    const meta = this.core?.groupMetadata()
    this.instrumentation.emit(EVENTS.HEARTBEAT, { groupId: this.config.groupId, memberId: meta?.memberId ?? '', groupGenerationId: meta?.generationId ?? -1 })
  }

  /** Seeks back to the first message not resolved, so that the next fetch delivers it again. */
  private rewind(core: CoreConsumer, b: CoreBatch, next: number | undefined): void {
    const from = next ?? b.messages[0]!.offset
    try {
      core.seek({ topic: b.topic, partition: b.partition, offset: from })
    } catch {
      // The partition was revoked meanwhile: its new owner starts from the committed offset.
    }
  }

  /** A failed handler: back off (KafkaJS's retry schedule), then deliver again from the first unresolved message. */
  private async retryLater(b: CoreBatch, key: string, err: unknown): Promise<void> {
    const error = err instanceof Error ? err : new Error(String(err))
    this.context.logger.error(`Error when calling ${this.runConfig.eachMessage ? 'eachMessage' : 'eachBatch'}`, { topic: b.topic, partition: b.partition, error: error.message })
    const next = await this.retries.failed(key, error, (e, restart) => this.instrumentation.emit(EVENTS.CRASH, { error: e, groupId: this.config.groupId, restart }))
    if (next === 'stop') return void this.stop()
    const core = this.core
    if (core && this.running && !this.sought.has(key)) this.rewind(core, b, this.offsets.next(key))
  }

  private crashed(err: unknown): void {
    this.instrumentation.emit(EVENTS.CRASH, { error: toKafkaJSError(err), groupId: this.config.groupId, restart: false })
    void this.stop()
  }
}
