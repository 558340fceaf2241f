// The metadata log (KRaft-style): topics, partition counts and config overrides as records in a
// small log of its own under `<dir>/__cluster_metadata/`, replayed at open. Each record is one
// RecordBatch whose value is msgpack; every append is fsync'd before it counts.
//
// Record values (msgpack maps), format version 1:
//   { t: 'version', version }                                           first record of every log
//   { t: 'topic', name, id, partitions, config, createdMs }             a topic was created
//   { t: 'deleteTopic', name, id }                                      ... deleted
//   { t: 'partitions', name, partitions }                               ... given more partitions
//   { t: 'config', name, config }                                       ... given new config overrides
//   { t: 'producerIds', next }                         producer ids below `next` are handed out
// Replay checks every record as the admin calls check their input (topic name, partition count
// that only grows, config values) and raises CorruptionError for anything else, so a damaged log
// never opens as topics the broker cannot serve; it advances by whole batches, so one without
// records cannot stall it.
import * as path from 'node:path'
import { pack, unpack } from 'msgpackr'
import { CorruptionError, UnsupportedVersionError } from '../errors.js'
import type { FileIO } from '../util/file-io.js'
import { METADATA_DIR } from '../storage/file-names.js'
import { Log } from '../storage/log.js'
import {
  LOG_OVERHEAD, decodeRecords, encodeRecordBatch, readBatchHeader, type BatchHeader, type DecodedRecord,
} from '../storage/record-batch.js'
import { resolveTopicConfig, validatePartitionCount, validateTopicName, type TopicConfig } from './topic-config.js'

export const METADATA_VERSION = 1
const READ_BYTES = 1024 * 1024

export interface TopicRecord {
  t: 'topic'
  name: string
  id: string
  partitions: number
  /** Only the configs set explicitly; the rest follow the defaults. */
  config: Partial<TopicConfig>
  createdMs: number
}
export type MetadataRecord =
  | { t: 'version'; version: number }
  | TopicRecord
  | { t: 'deleteTopic'; name: string; id: string }
  | { t: 'partitions'; name: string; partitions: number }
  | { t: 'config'; name: string; config: Partial<TopicConfig> }
  | { t: 'producerIds'; next: number }

export interface MetadataState {
  version: number
  topics: Map<string, TopicRecord>
  /** Producer ids below this were handed out (in blocks); the next block starts here. */
  nextProducerId: number
}

export class MetadataLog {
  private constructor(
    readonly log: Log,
    private readonly now: () => number,
  ) {}

  static async open(
    io: FileIO,
    dataDir: string,
    opts: { clean: boolean; recoveryPoint: number; readOnly: boolean; now: () => number },
  ): Promise<{ meta: MetadataLog; state: MetadataState }> {
    const log = await Log.open(io, path.join(dataDir, METADATA_DIR), {
      config: { segmentBytes: 64 * 1024 * 1024, segmentMs: Number.MAX_SAFE_INTEGER, indexIntervalBytes: 4096 },
      recoveryPoint: opts.recoveryPoint,
      logStartOffset: 0,
      clean: opts.clean,
      readOnly: opts.readOnly,
      now: opts.now,
    })
    const meta = new MetadataLog(log, opts.now)
    let state: MetadataState
    try {
      state = meta.replay()
    } catch (err) {
      log.abandon()
      throw err
    }
    if (log.nextOffset === 0 && !opts.readOnly) {
      await meta.append({ t: 'version', version: METADATA_VERSION })
      state.version = METADATA_VERSION
    }
    return { meta, state }
  }

  /** The state the whole log describes (at open, and again when a read-only broker sees it grow). */
  replay(): MetadataState {
    const state: MetadataState = { version: 0, topics: new Map(), nextProducerId: 0 }
    let offset = this.log.logStartOffset
    while (offset < this.log.nextOffset) {
      const { bytes, file, position } = this.log.read(offset, READ_BYTES)
      if (bytes.length === 0) break
      const next = replayBatches(state, bytes, file, position)
      // Log.read starts at the batch holding `offset`, so a batch always moves it on; if not, stop
      // rather than read the same bytes forever.
      if (next <= offset) throw new CorruptionError(`metadata log does not advance past offset ${offset}`, file, position)
      offset = next
    }
    return state
  }

  /** Appends one record and fsyncs it. */
  async append(rec: MetadataRecord): Promise<void> {
    const batch = encodeRecordBatch([{ key: null, value: pack(rec), timestamp: this.now() }])
    this.log.append([batch])
    await this.log.flush()
  }

  close(): Promise<void> {
    return this.log.close()
  }
}

/**
 * Applies the records of the whole batches in `bytes` (as Log.read returns them, from `file` at
 * `position`) to `state`; returns the offset after the last batch (baseOffset + lastOffsetDelta + 1,
 * so a batch without records moves on too). Malformed batches and records raise CorruptionError, a
 * newer format version UnsupportedVersionError; only records the broker can act on reach `state`.
 */
export function replayBatches(state: MetadataState, bytes: Buffer, file: string, position: number): number {
  let next = 0
  for (let pos = 0; pos < bytes.length; ) {
    let h: BatchHeader
    let records: DecodedRecord[]
    try {
      h = readBatchHeader(bytes, pos)
      records = decodeRecords(bytes, pos)
    } catch (err) {
      throw new CorruptionError(`undecodable metadata batch: ${(err as Error).message}`, file, position + pos, { cause: err })
    }
    for (const r of records) {
      let rec: unknown
      try {
        rec = unpack(r.value ?? Buffer.alloc(0))
      } catch (err) {
        throw new CorruptionError('undecodable metadata record', file, position + pos, { cause: err })
      }
      apply(state, rec, file, position + pos)
    }
    next = h.baseOffset + h.lastOffsetDelta + 1
    pos += LOG_OVERHEAD + h.batchLength
  }
  return next
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && [Object.prototype, null].includes(Object.getPrototypeOf(v))

/** Checks a replayed record's fields as createTopic / createPartitions / setConfig check their input. */
function validate(rec: Record<string, unknown>, state: MetadataState): string | null {
  try {
    switch (rec.t) {
      case 'version':
        return Number.isSafeInteger(rec.version) && (rec.version as number) >= 1 ? null : `bad version ${String(rec.version)}`
      case 'topic':
        validateTopicName(rec.name)
        validatePartitionCount(rec.partitions)
        if (typeof rec.id !== 'string') return `topic ${rec.name} has id ${String(rec.id)}`
        if (!isPlainObject(rec.config)) return `topic ${rec.name} has config ${String(rec.config)}`
        resolveTopicConfig(rec.config)
        return null
      case 'deleteTopic':
        return typeof rec.name === 'string' ? null : `deleteTopic of ${String(rec.name)}`
      case 'partitions': {
        const topic = typeof rec.name === 'string' ? state.topics.get(rec.name) : undefined
        if (!topic) return `metadata record for unknown topic ${String(rec.name)}`
        validatePartitionCount(rec.partitions)
        // partitions are only ever added: fewer would orphan (and delete) the others' data
        return (rec.partitions as number) >= topic.partitions ? null : `topic ${topic.name} shrinks to ${String(rec.partitions)} partitions`
      }
      case 'config': {
        const topic = typeof rec.name === 'string' ? state.topics.get(rec.name) : undefined
        if (!topic) return `metadata record for unknown topic ${String(rec.name)}`
        if (!isPlainObject(rec.config)) return `topic ${topic.name} has config ${String(rec.config)}`
        resolveTopicConfig(rec.config)
        return null
      }
      case 'producerIds':
        return Number.isSafeInteger(rec.next) && (rec.next as number) > state.nextProducerId ? null : `producer id block ending at ${String(rec.next)}`
      default:
        return `unknown metadata record type '${String(rec.t)}'`
    }
  } catch (err) {
    return (err as Error).message
  }
}

function apply(state: MetadataState, value: unknown, file: string, position: number): void {
  if (!isPlainObject(value) || typeof value.t !== 'string') throw new CorruptionError('malformed metadata record', file, position)
  if (value.t === 'version' && typeof value.version === 'number' && value.version > METADATA_VERSION) {
    throw new UnsupportedVersionError(
      `metadata format version ${value.version} is newer than this kafkalite supports (${METADATA_VERSION}); upgrade kafkalite`,
    )
  }
  const bad = validate(value, state)
  if (bad) throw new CorruptionError(`malformed metadata record: ${bad}`, file, position)
  const rec = value as unknown as MetadataRecord
  switch (rec.t) {
    case 'version':
      state.version = rec.version
      return
    case 'topic':
      state.topics.set(rec.name, rec)
      return
    case 'deleteTopic':
      state.topics.delete(rec.name)
      return
    case 'partitions':
      state.topics.get(rec.name)!.partitions = rec.partitions
      return
    case 'config':
      state.topics.get(rec.name)!.config = rec.config
      return
    case 'producerIds':
      state.nextProducerId = rec.next
  }
}
