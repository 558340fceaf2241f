// The data dir's offset checkpoints: each log's recovery point (how far it is known fsync'd) and
// log start offset, written atomically (temp, fsync, rename) one writer at a time, and read at open.
// A corrupt checkpoint is ignored: it only speeds recovery up, and logs are then scanned from the start.
import * as path from 'node:path'
import createDebug from 'debug'
import { CorruptionError } from '../errors.js'
import { readCheckpoint, writeCheckpoint, type CheckpointEntry } from '../storage/checkpoint.js'
import { LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE } from '../storage/file-names.js'
import type { Log } from '../storage/log.js'
import type { FileIO } from '../util/file-io.js'

const debug = createDebug('kafkalite:broker')

/** A log and its checkpoint key, `<topic>-<partition>`. */
export interface KeyedLog {
  key: string
  log: Log
}

export class Checkpoints {
  private chain: Promise<void> = Promise.resolve()
  private last = ''

  constructor(
    private readonly io: FileIO,
    private readonly dir: string,
    private readonly logs: () => KeyedLog[],
  ) {}

  recoveryPoints(): Map<string, number> {
    return this.read(RECOVERY_POINT_FILE)
  }

  logStartOffsets(): Map<string, number> {
    return this.read(LOG_START_OFFSET_FILE)
  }

  private read(name: string): Map<string, number> {
    const file = path.join(this.dir, name)
    try {
      return readCheckpoint(this.io, file)
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err
      debug('ignoring %s: %s', file, err.message)
      return new Map()
    }
  }

  private entries(pick: (log: Log) => number): CheckpointEntry[] {
    return this.logs().map(({ key, log }) => {
      const i = key.lastIndexOf('-')
      return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)), offset: pick(log) }
    })
  }

  /**
   * Writes recovery points and log start offsets (skipped when nothing changed). `closed`: every
   * log has just been flushed to its end, so the end is the recovery point.
   */
  write(closed = false): Promise<void> {
    const run = this.chain.then(async () => {
      const rp = this.entries((l) => (closed ? l.nextOffset : l.recoveryPoint))
      const ls = this.entries((l) => l.logStartOffset)
      const sig = JSON.stringify([rp, ls])
      if (sig === this.last) return
      await writeCheckpoint(this.io, path.join(this.dir, RECOVERY_POINT_FILE), rp)
      await writeCheckpoint(this.io, path.join(this.dir, LOG_START_OFFSET_FILE), ls)
      this.last = sig
    })
    this.chain = run.catch(() => undefined)
    return run
  }
}
