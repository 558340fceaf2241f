// Broker.open() options: what they mean, their defaults, and their validation (InvalidConfigError
// before anything touches the disk).
import * as path from 'node:path'
import { InvalidConfigError } from '../errors.js'
import { MemoryFileIO, nodeFileIO, type FileIO } from '../util/file-io.js'
import { DEFAULT_TOPIC_CONFIG, resolveTopicConfig, type TopicConfig } from './topic-config.js'

export interface BrokerOptions {
  /** Data directory (created when missing). Without it the broker lives in memory. */
  dir?: string
  /** Open without taking the writer's lock; nothing is written, recovery truncates nothing. */
  readOnly?: boolean
  /** Defaults for topics created by this broker (each topic can still override them). */
  topicDefaults?: Partial<TopicConfig>
  /** How often retention runs (default 5 minutes); `broker.enforceRetention()` runs it at once. */
  retentionCheckIntervalMs?: number
  /** How often the log cleaner looks for compacted partitions to clean (default 15 s). */
  cleanerBackoffMs?: number
  /** How often recovery points are checkpointed (default 60 s, as Kafka). */
  recoveryPointCheckpointIntervalMs?: number
  /** Clock in epoch ms (tests inject one). */
  clock?: () => number
  /**
   * What to do about an invalid batch *below* a log's recovery point (data that was fsync'd, so not a
   * torn write): 'fail' (default) rejects the open with CorruptionError naming file and position;
   * 'truncate' scans every log from its start and cuts each at its first invalid batch, dropping
   * what follows (reported in `broker.recovery`). Torn tails above the recovery point are always cut.
   */
  recover?: 'fail' | 'truncate'
  /** A read-only broker polls the files for the writer's appends this often (default 100 ms). */
  tailIntervalMs?: number
  /** File layer (advanced: an in-memory layer shared between opens, or one injecting faults). */
  fileIO?: FileIO
}

let memoryDirs = 0

function intervalMs(v: number | undefined, fallback: number, name: string): number {
  const n = v ?? fallback
  if (!Number.isInteger(n) || n <= 0) throw new InvalidConfigError(`${name} must be a positive integer`)
  return n
}

export function resolveBrokerOptions(options: BrokerOptions) {
  let io: FileIO
  let dir: string
  if (options.fileIO) {
    io = options.fileIO
    dir = path.resolve(options.dir ?? '/kafkalite-memory')
  } else if (options.dir !== undefined) {
    if (typeof options.dir !== 'string' || options.dir.length === 0) throw new InvalidConfigError('dir must be a non-empty string')
    io = nodeFileIO
    dir = path.resolve(options.dir)
  } else {
    io = new MemoryFileIO()
    dir = `/kafkalite-memory-${++memoryDirs}`
  }
  const recover = options.recover ?? 'fail'
  if (recover !== 'fail' && recover !== 'truncate') throw new InvalidConfigError(`recover must be 'fail' or 'truncate', got ${String(recover)}`)
  if (recover === 'truncate' && options.readOnly) throw new InvalidConfigError("recover: 'truncate' cannot be combined with readOnly")
  return {
    io,
    recover,
    tailIntervalMs: intervalMs(options.tailIntervalMs, 100, 'tailIntervalMs'),
    dir,
    readOnly: !!options.readOnly,
    now: options.clock ?? Date.now,
    topicDefaults: resolveTopicConfig(options.topicDefaults ?? {}, DEFAULT_TOPIC_CONFIG) as TopicConfig,
    checkpointIntervalMs: intervalMs(options.recoveryPointCheckpointIntervalMs, 60_000, 'recoveryPointCheckpointIntervalMs'),
    retentionIntervalMs: intervalMs(options.retentionCheckIntervalMs, 5 * 60_000, 'retentionCheckIntervalMs'),
    cleanerIntervalMs: intervalMs(options.cleanerBackoffMs, 15_000, 'cleanerBackoffMs'),
  }
}
