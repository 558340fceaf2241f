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
import * as path from 'node:path'
import { pack, unpack } from 'msgpackr'
import { CorruptionError, UnsupportedVersionError } from '../errors.js'
import type { FileIO } from '../util/file-io.js'
import { METADATA_DIR } from '../storage/file-names.js'
import { Log } from '../storage/log.js'
import { LOG_OVERHEAD, decodeRecords, encodeRecordBatch } from '../storage/record-batch.js'
import type { TopicConfig } from './topic-config.js'

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

export interface MetadataState {
  version: number
  topics: Map<string, TopicRecord>
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
    const state: MetadataState = { version: 0, topics: new Map() }
    let offset = this.log.logStartOffset
    while (offset < this.log.nextOffset) {
      const { bytes, file, position } = this.log.read(offset, READ_BYTES)
      if (bytes.length === 0) break
      let pos = 0
      while (pos < bytes.length) {
        for (const r of decodeRecords(bytes, pos)) {
          let rec: MetadataRecord
          try {
            rec = unpack(r.value ?? Buffer.alloc(0)) as MetadataRecord
          } catch (err) {
            throw new CorruptionError('undecodable metadata record', file, position + pos, { cause: err })
          }
          apply(state, rec, file, position + pos)
          offset = r.offset + 1
        }
        pos += LOG_OVERHEAD + bytes.readInt32BE(pos + 8)
      }
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

function apply(state: MetadataState, rec: MetadataRecord, file: string, position: number): void {
  if (!rec || typeof rec !== 'object' || typeof (rec as { t?: unknown }).t !== 'string') {
    throw new CorruptionError('malformed metadata record', file, position)
  }
  switch (rec.t) {
    case 'version':
      if (rec.version > METADATA_VERSION) {
        throw new UnsupportedVersionError(
          `metadata format version ${rec.version} is newer than this kafkalite supports (${METADATA_VERSION}); upgrade kafkalite`,
        )
      }
      state.version = rec.version
      return
    case 'topic':
      state.topics.set(rec.name, rec)
      return
    case 'deleteTopic':
      state.topics.delete(rec.name)
      return
    case 'partitions':
    case 'config': {
      const topic = state.topics.get(rec.name)
      if (!topic) throw new CorruptionError(`metadata record for unknown topic ${rec.name}`, file, position)
      if (rec.t === 'partitions') topic.partitions = rec.partitions
      else topic.config = rec.config
      return
    }
    default:
      throw new CorruptionError(`unknown metadata record type '${(rec as { t: string }).t}'`, file, position)
  }
}
