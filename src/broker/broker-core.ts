// The storage side of a Broker: the data dir and its lock, the metadata log, topics and their
// partitions, checkpoints, background work and clean shutdown. BrokerAdmin (broker-admin.ts) adds
// topic administration, and the public `Broker` (src/broker.ts) the client factories on top, so this
// layer never imports the client layer.
import { EventEmitter } from 'node:events'
import * as path from 'node:path'
import createDebug from 'debug'
import { ClosedError, InvalidConfigError, KafkaliteError, UnknownTopicError } from '../errors.js'
import { writeFileAtomic } from '../storage/checkpoint.js'
import type { CleanResult } from '../storage/cleaner.js'
import { CLEAN_SHUTDOWN_FILE, METADATA_DIR, partitionDirName } from '../storage/file-names.js'
import { Log, type RecoveryReport } from '../storage/log.js'
import { storageError, type FileIO } from '../util/file-io.js'
import { resolveBrokerOptions, type BrokerOptions } from './broker-options.js'
import { Checkpoints } from './checkpoints.js'
import { Compaction } from './compaction.js'
import { lockDir, type DirLock } from './lock.js'
import { MetadataLog, type TopicRecord } from './metadata.js'
import { removeOrphanDirs } from './orphans.js'
import { Partition } from './partition.js'
import { enforcePartitionRetention } from './retention.js'
import { Timers } from './timers.js'
import { Topic } from './topic.js'
import { resolveTopicConfig, type TopicConfig } from './topic-config.js'
import { verifyLogs, type VerifyOptions, type VerifyReport } from './verify.js'

export type { BrokerOptions }

const debug = createDebug('kafkalite:broker')
const PRODUCER_ID_BLOCK = 1000


export interface CreateTopicOptions extends Partial<TopicConfig> {
  /** Number of partitions (default 1). */
  partitions?: number
}

export interface BrokerHealth {
  ok: boolean
  errors: Array<{ time: number; message: string; code: string }>
}

export interface TopicState {
  record: TopicRecord
  /** Effective config; Logs hold this object, so alterTopicConfig updates it in place. */
  config: TopicConfig
  topic: Topic
  partitions: Partition[]
}

export interface OpenContext {
  clean: boolean
  recoveryPoints: Map<string, number>
  startOffsets: Map<string, number>
}

/** A read-only open retries a partition whose files the writer removed meanwhile this often. */
const OPEN_ATTEMPTS_MAX = 5

export const NEW_TOPIC: OpenContext = { clean: true, recoveryPoints: new Map(), startOffsets: new Map() }

const METADATA_KEY = `${METADATA_DIR}-0`

export class BrokerCore extends EventEmitter {
  readonly dir: string
  readonly readOnly: boolean
  /** What recovery at open found and cut, per log (empty after a clean close). */
  readonly recovery: RecoveryReport[] = []
  protected readonly io: FileIO
  /** The broker's clock (epoch ms): record timestamps, retention and timeouts. */
  readonly now: () => number
  protected readonly topicDefaults: TopicConfig
  protected readonly topicStates = new Map<string, TopicState>()
  protected meta!: MetadataLog
  private lock: DirLock | null = null
  private readonly timers = new Timers()
  private adminChain: Promise<unknown> = Promise.resolve()
  private closing: Promise<void> | null = null
  private logsClosed = false
  private readonly healthErrors: BrokerHealth['errors'] = []
  /** Closed by close(): producers, consumers and other clients of this broker. */
  protected readonly clients = new Set<{ close(): Promise<void> }>()
  private readonly checkpoints: Checkpoints

  protected constructor(options: BrokerOptions) {
    super()
    const o = resolveBrokerOptions(options)
    this.io = o.io
    this.dir = o.dir
    this.readOnly = o.readOnly
    this.now = o.now
    this.topicDefaults = o.topicDefaults
    this.checkpointIntervalMs = o.checkpointIntervalMs
    this.retentionIntervalMs = o.retentionIntervalMs
    this.cleanerIntervalMs = o.cleanerIntervalMs
    this.recoverMode = o.recover
    this.tailIntervalMs = o.tailIntervalMs
    this.compaction = new Compaction(this.io, this.dir)
    this.checkpoints = new Checkpoints(this.io, this.dir, () => this.allLogs())
  }

  private readonly checkpointIntervalMs: number
  private readonly retentionIntervalMs: number
  private retentionRun: Promise<number> | null = null
  private readonly cleanerIntervalMs: number
  private readonly recoverMode: 'fail' | 'truncate'
  private readonly tailIntervalMs: number
  private producerIdNext = 0
  private producerIdEnd = 0
  protected readonly compaction: Compaction
  private cleanerRun: Promise<CleanResult[]> | null = null

  /**
   * Runs the log cleaner now (also every cleanerBackoffMs): each partition of a compacted topic
   * whose dirty ratio reaches minCleanableDirtyRatio is cleaned, in chunks that yield to the event loop.
   */
  runCleaner(): Promise<CleanResult[]> {
    this.assertWritable()
    this.cleanerRun ??= this.admin(() =>
      this.compaction.run([...this.topicStates.values()], this.now()),
    ).finally(() => (this.cleanerRun = null))
    return this.cleanerRun
  }

  /**
   * Applies every topic's retention now (also run every retentionCheckIntervalMs): deletes expired
   * and surplus segments, rolls active segments older than segmentMs. Resolves to the number of
   * segments deleted.
   */
  enforceRetention(): Promise<number> {
    this.assertWritable()
    this.retentionRun ??= this.admin(async () => {
      let deleted = 0
      const now = this.now()
      for (const state of this.topicStates.values()) {
        for (const p of state.partitions) deleted += await enforcePartitionRetention(p, state.config, now)
      }
      if (deleted > 0) await this.checkpointRecoveryPoints()
      return deleted
    }).finally(() => (this.retentionRun = null))
    return this.retentionRun
  }

  /** True when the broker keeps its data in memory (no `dir`). */
  get inMemory(): boolean {
    return this.io.inMemory
  }

  protected async start(): Promise<void> {
    const io = this.io
    if (!this.readOnly) io.mkdirp(this.dir)
    else if (!io.exists(this.dir)) throw new InvalidConfigError(`data dir ${this.dir} does not exist`)
    if (!io.inMemory && !this.readOnly) {
      this.lock = await lockDir(this.dir, (err) => this.backgroundError('lock', err))
    }
    try {
      await this.load()
    } catch (err) {
      this.abandonLogs()
      await this.lock?.release()
      this.lock = null
      throw err
    }
    if (this.readOnly) this.timers.every(this.tailIntervalMs, () => this.closing || this.followWriter(), (e) => this.backgroundError('tail', e))
    else {
      this.timers.every(this.checkpointIntervalMs, () => this.checkpointRecoveryPoints(), (e) => this.backgroundError('checkpoint', e))
      this.timers.every(this.retentionIntervalMs, () => this.closing || this.enforceRetention(), (e) => this.backgroundError('retention', e))
      this.timers.every(this.cleanerIntervalMs, () => this.closing || this.runCleaner(), (e) => this.backgroundError('cleaner', e))
    }
  }

  private async load(): Promise<void> {
    const io = this.io
    const marker = path.join(this.dir, CLEAN_SHUTDOWN_FILE)
    // recover: 'truncate' trusts nothing: every log is scanned from its start and cut at its first bad batch.
    const truncate = this.recoverMode === 'truncate'
    const clean = io.exists(marker) && !truncate
    const recoveryPoints = truncate ? new Map<string, number>() : this.checkpoints.recoveryPoints()
    const startOffsets = this.checkpoints.logStartOffsets()
    if (io.exists(marker) && !this.readOnly) {
      // From here on the files may change, so the next open must not trust them blindly.
      io.unlink(marker)
      await io.syncDir(this.dir)
    }
    debug('opening %s (%s shutdown)', this.dir, clean ? 'clean' : 'unclean')
    const { meta, state } = await MetadataLog.open(io, this.dir, {
      clean,
      recoveryPoint: recoveryPoints.get(METADATA_KEY) ?? 0,
      readOnly: this.readOnly,
      now: this.now,
    })
    this.meta = meta
    this.producerIdNext = this.producerIdEnd = state.nextProducerId
    if (meta.log.recovery) this.recovery.push(meta.log.recovery)
    if (!this.readOnly) await removeOrphanDirs(io, this.dir, (t) => state.topics.get(t)?.partitions ?? 0)
    for (const record of state.topics.values()) {
      await this.openTopic(record, { clean, recoveryPoints, startOffsets })
    }
    if (!this.readOnly && !clean) {
      // Rewritten at once: entries of topics deleted just before a crash go (a topic created again
      // under the name must not inherit them), and log starts clamped to a log that recovery cut
      // stop pointing past its end.
      await this.checkpoints.write()
      await this.compaction.forgetMissing((t, p) => p < (this.topicStates.get(t)?.partitions.length ?? 0))
    }
  }

  protected async openTopic(record: TopicRecord, ctx: OpenContext): Promise<Topic> {
    const state: TopicState = { record, config: resolveTopicConfig(record.config, this.topicDefaults), topic: null!, partitions: [] }
    try {
      for (let i = 0; i < record.partitions; i++) state.partitions.push(await this.openPartition(state, i, ctx))
    } catch (err) {
      for (const p of state.partitions) p.abandon()
      throw err
    }
    state.topic = new Topic(record.name, record.id, state.partitions, () => state.config, () => state.record.config)
    this.topicStates.set(record.name, state)
    return state.topic
  }

  protected async openPartition(state: TopicState, i: number, ctx: OpenContext): Promise<Partition> {
    const key = partitionDirName(state.record.name, i)
    const open = (): Promise<Log> =>
      Log.open(this.io, path.join(this.dir, key), {
        config: state.config,
        recoveryPoint: ctx.recoveryPoints.get(key) ?? 0,
        logStartOffset: ctx.startOffsets.get(key) ?? 0,
        clean: ctx.clean,
        readOnly: this.readOnly,
        now: this.now,
      })
    let log: Log
    for (let attempt = 1; ; attempt++) {
      try {
        log = await open()
        break
      } catch (err) {
        // A read-only open races the writer: a segment listed a moment ago may have been deleted
        // by retention or swapped by the cleaner since. List again.
        const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }
        if (!this.readOnly || attempt >= OPEN_ATTEMPTS_MAX || (e.code !== 'ENOENT' && e.cause?.code !== 'ENOENT')) throw err
      }
    }
    if (log.recovery) this.recovery.push(log.recovery)
    const p = new Partition(state.record.name, i, log, () => state.config, this.now)
    try {
      p.loadProducerState()
    } catch (err) {
      log.abandon()
      throw err
    }
    return p
  }

  /**
   * Read-only brokers, every tailIntervalMs: follow the writer in another process. New metadata
   * records open, grow, reconfigure or drop topics; each partition takes in new batches, rolled,
   * expired and compacted segments, and the log start offsets the writer checkpointed.
   */
  private followWriter(): Promise<void> {
    return this.admin(async () => {
      if (this.logsClosed) return
      if (this.meta.log.refresh()) {
        const state = this.meta.replay()
        for (const [name, s] of this.topicStates) {
          if (state.topics.get(name)?.id === s.record.id) continue
          this.topicStates.delete(name)
          for (const p of s.partitions) p.abandon()
          this.emit('topicDeleted', name)
        }
        const ctx: OpenContext = { clean: false, recoveryPoints: new Map(), startOffsets: this.checkpoints.logStartOffsets() }
        for (const record of state.topics.values()) {
          const s = this.topicStates.get(record.name)
          if (!s) {
            await this.openTopic(record, ctx)
            continue
          }
          s.record = record
          Object.assign(s.config, resolveTopicConfig(record.config, this.topicDefaults))
          for (let i = s.partitions.length; i < record.partitions; i++) s.partitions.push(await this.openPartition(s, i, ctx))
        }
      }
      const starts = this.checkpoints.logStartOffsets()
      for (const s of this.topicStates.values()) {
        for (const p of s.partitions) {
          p.refresh()
          const start = starts.get(partitionDirName(p.topic, p.index))
          if (start !== undefined && start > p.log.logStartOffset) p.log.logStartOffset = Math.min(start, p.log.nextOffset)
        }
      }
    })
  }

  /**
   * A producer id never handed out before, for an idempotent or transactional producer. Ids are
   * reserved in blocks recorded (fsync'd) in the metadata log, so a reopen never hands one out twice.
   */
  allocateProducerId(): Promise<number> {
    this.assertWritable()
    if (this.producerIdNext < this.producerIdEnd) return Promise.resolve(this.producerIdNext++)
    return this.admin(async () => {
      if (this.producerIdNext >= this.producerIdEnd) {
        await this.meta.append({ t: 'producerIds', next: this.producerIdEnd + PRODUCER_ID_BLOCK })
        this.producerIdEnd += PRODUCER_ID_BLOCK
      }
      return this.producerIdNext++
    })
  }

  protected assertOpen(): void {
    if (this.closing) throw new ClosedError('broker is closed')
  }

  /** Topics stay readable while close() shuts the clients down (they commit and flush on the way). */
  private assertLogsOpen(): void {
    if (this.logsClosed) throw new ClosedError('broker is closed')
  }

  protected assertWritable(): void {
    this.assertOpen()
    if (this.readOnly) throw new InvalidConfigError('broker was opened read-only')
  }

  /**
   * Runs admin operations one at a time, so checks and metadata writes do not interleave. A failure
   * of the file layer reaches the caller as a StorageError naming the file.
   */
  protected admin<T>(fn: () => Promise<T>): Promise<T> {
    const typed = (): Promise<T> =>
      fn().catch((err: unknown) => {
        const e = err as NodeJS.ErrnoException
        throw e instanceof KafkaliteError || typeof e?.code !== 'string' ? err : storageError(e.syscall ?? 'file operation', e.path ?? this.dir, err)
      })
    const run = this.adminChain.then(typed, typed)
    this.adminChain = run.catch(() => undefined)
    return run
  }

  /** The topic with this name, or UnknownTopicError. */
  topic(name: string): Topic {
    this.assertLogsOpen()
    const state = this.topicStates.get(name)
    if (!state) {
      if (typeof name !== 'string') throw new UnknownTopicError(`topic must be a string, got ${typeof name}`)
      throw new UnknownTopicError(`unknown topic ${name}`)
    }
    return state.topic
  }

  hasTopic(name: string): boolean {
    return this.topicStates.has(name)
  }

  /** Every topic, by name. */
  /** Every topic, by name; internal ones (`__consumer_offsets`) only with `{ internal: true }`, as Kafka lists them. */
  topics(options: { internal?: boolean } = {}): Topic[] {
    this.assertLogsOpen()
    return [...this.topicStates.values()]
      .map((s) => s.topic)
      .filter((t) => options?.internal || !t.name.startsWith('__'))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  health(): BrokerHealth {
    const partitionErrors = [...this.topicStates.values()].flatMap((s) =>
      s.topic.partitionList
        .filter((p) => p.log.failure)
        .map((p) => ({ time: this.now(), message: p.log.failure!.message, code: p.log.failure!.code })),
    )
    const errors = [...this.healthErrors, ...partitionErrors]
    return { ok: errors.length === 0, errors }
  }

  /** Reports a failure of background work: kept for health() and emitted as 'error' when listened to. */
  protected backgroundError(area: string, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err))
    debug('background %s failure: %s', area, e.message)
    this.healthErrors.push({ time: this.now(), message: `${area}: ${e.message}`, code: (e as { code?: string }).code ?? 'ERROR' })
    if (this.healthErrors.length > 100) this.healthErrors.shift()
    if (this.listenerCount('error') > 0) this.emit('error', e)
  }

  /**
   * Reads back every batch of every log (metadata, every partition, internal topics too) and checks
   * it, changing nothing. Progress goes to `options.onProgress` and the 'verifyProgress' event.
   */
  verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    this.assertLogsOpen()
    return verifyLogs(this.allLogs(), options, (p) => this.emit('verifyProgress', p))
  }

  private allLogs(): Array<{ key: string; log: Log }> {
    const out = [{ key: METADATA_KEY, log: this.meta.log }]
    for (const s of this.topicStates.values()) {
      for (const p of s.topic.partitionList) out.push({ key: partitionDirName(p.topic, p.index), log: p.log })
    }
    return out
  }

  /** Writes the recovery points and log start offsets (skipped when nothing changed). */
  protected checkpointRecoveryPoints(): Promise<void> {
    return this.readOnly ? Promise.resolve() : this.checkpoints.write()
  }

  /**
   * Closes every client, flushes every log, checkpoints and writes the clean-shutdown marker, then
   * releases the lock. Safe to call more than once.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose()
    return this.closing
  }

  private async doClose(): Promise<void> {
    this.timers.stop()
    this.compaction.stop()
    await Promise.allSettled([...this.clients].map((c) => c.close()))
    await this.adminChain
    this.logsClosed = true
    let failed = false
    for (const { log } of this.allLogs()) if (log.failure) failed = true
    const closes = [...this.topicStates.values()].flatMap((s) => s.topic.partitionList.map((p) => p.close()))
    const results = await Promise.allSettled([...closes, this.meta.close()])
    for (const r of results) if (r.status === 'rejected') failed = true
    if (!this.readOnly && !failed) {
      await this.checkpoints.write(true)
      await writeFileAtomic(this.io, path.join(this.dir, CLEAN_SHUTDOWN_FILE), Buffer.alloc(0))
    }
    await this.lock?.release()
    this.lock = null
    this.removeAllListeners()
    debug('closed %s%s', this.dir, failed ? ' (unclean: a log had failed)' : '')
  }

  /** Closes every open log without flushing (after a failed open, or a simulated crash). */
  private abandonLogs(): void {
    for (const s of this.topicStates.values()) for (const p of s.topic.partitionList) p.abandon()
    this.meta?.log.abandon()
  }

  /**
   * Stops without flushing, checkpointing or writing the clean-shutdown marker, as if the process
   * had died (for crash tests over the in-memory file layer; combine with MemoryFileIO.crash()).
   */
  async simulateCrash(): Promise<void> {
    this.timers.stop()
    this.compaction.stop()
    this.closing ??= Promise.resolve()
    this.logsClosed = true
    this.abandonLogs()
    await this.lock?.release()
    this.lock = null
  }
}
