// Persistence of a partition's producer state, as Kafka's `<offset>.snapshot` files: written at a
// clean close (after the log is flushed), read at open, and followed by a replay of the batch headers
// after the snapshot's offset. A snapshot that fails its checks, or that runs ahead of the log (a
// crash cut the tail it had seen), is ignored and the whole log is replayed.
import createDebug from 'debug'
import * as path from 'node:path'
import { CorruptionError } from '../errors.js'
import { writeFileAtomic } from '../storage/checkpoint.js'
import { decodeControlRecordType } from '../storage/control-batch.js'
import { offsetFileName, parseSegmentFileName } from '../storage/file-names.js'
import type { Log } from '../storage/log.js'
import { LOG_OVERHEAD, decodeRecords, readBatchHeader } from '../storage/record-batch.js'
import { ProducerState } from './producer-state.js'

const debug = createDebug('kafkalite:producer-state')
const SNAPSHOT_SUFFIX = '.snapshot'
const READ_BYTES = 1024 * 1024

function snapshotOffsets(log: Log): number[] {
  const io = log.fileIO
  if (!io.exists(log.dir)) return []
  return io
    .readdir(log.dir)
    .map((n) => parseSegmentFileName(n, SNAPSHOT_SUFFIX))
    .filter((o): o is number => o !== null)
    .sort((a, b) => a - b)
}

/** The producer state of `log`: its newest usable snapshot plus the batches after it. */
export function loadProducerState(log: Log): ProducerState {
  let state = new ProducerState()
  for (const offset of snapshotOffsets(log).reverse()) {
    if (offset > log.nextOffset) continue
    const file = path.join(log.dir, offsetFileName(offset, SNAPSHOT_SUFFIX))
    try {
      const s = ProducerState.fromSnapshot(log.fileIO.readFile(file), file)
      if (s.appliedTo === offset) {
        state = s
        break
      }
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err
      debug('ignoring %s: %s', file, err.message)
    }
  }
  replayProducerState(log, state, Math.max(state.appliedTo, log.logStartOffset))
  state.pruneBelow(log.logStartOffset)
  return state
}

/** Applies the producer batches of `log` from `from` to its end to `state`. */
export function replayProducerState(log: Log, state: ProducerState, from: number): void {
  let offset = from
  while (offset < log.nextOffset) {
    const { bytes } = log.read(offset, READ_BYTES)
    if (bytes.length === 0) break
    for (let pos = 0; pos < bytes.length; ) {
      const h = readBatchHeader(bytes, pos)
      const last = h.baseOffset + h.lastOffsetDelta
      if (h.producerId >= 0) {
        const marker = h.isControl ? decodeControlRecordType(decodeRecords(bytes, pos)[0]!) : undefined
        state.apply(h, h.baseOffset, last, marker)
      }
      offset = last + 1
      pos += LOG_OVERHEAD + h.batchLength
    }
  }
  state.appliedTo = log.nextOffset
}

/**
 * Writes `<nextOffset>.snapshot` and keeps the one before it (a crash may cut the log below the
 * newest, which is then ignored); older ones go.
 */
export async function writeProducerSnapshot(log: Log, state: ProducerState): Promise<void> {
  const io = log.fileIO
  state.appliedTo = log.nextOffset
  const bytes = state.toSnapshot()
  const old = snapshotOffsets(log).filter((o) => o !== state.appliedTo)
  await writeFileAtomic(io, path.join(log.dir, offsetFileName(state.appliedTo, SNAPSHOT_SUFFIX)), bytes)
  for (const o of old.slice(0, -1)) io.unlink(path.join(log.dir, offsetFileName(o, SNAPSHOT_SUFFIX)))
}
