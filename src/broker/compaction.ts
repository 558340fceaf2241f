// The broker's side of log compaction: which partitions to clean, from where (the cleaner offset
// checkpoint, as Kafka's `cleaner-offset-checkpoint`), and recording where the next pass starts.
// The cleaning itself (storage/cleaner.ts) works in bounded chunks and yields between them.
import * as path from 'node:path'
import createDebug from 'debug'
import { CorruptionError } from '../errors.js'
import { readCheckpoint, writeCheckpoint } from '../storage/checkpoint.js'
import { cleanLog, type CleanResult } from '../storage/cleaner.js'
import { partitionDirName } from '../storage/file-names.js'
import type { FileIO } from '../util/file-io.js'
import type { Partition } from './partition.js'
import type { TopicConfig } from './topic-config.js'

const debug = createDebug('kafkalite:cleaner')
export const CLEANER_CHECKPOINT_FILE = 'cleaner-offset-checkpoint'

export class Compaction {
  private firstDirty: Map<string, number>
  private readonly abort = new AbortController()

  constructor(
    private readonly io: FileIO,
    private readonly dir: string,
  ) {
    const file = path.join(dir, CLEANER_CHECKPOINT_FILE)
    try {
      this.firstDirty = readCheckpoint(io, file)
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err
      // Without it, the next pass cleans from the log start: slower, never wrong.
      debug('ignoring %s: %s', file, err.message)
      this.firstDirty = new Map()
    }
  }

  /** Cleans every compacted partition whose dirty ratio reaches its topic's minCleanableDirtyRatio. */
  async run(topics: Array<{ partitions: readonly Partition[]; config: Readonly<TopicConfig> }>, now: number): Promise<CleanResult[]> {
    const results: CleanResult[] = []
    let changed = false
    for (const { partitions, config } of topics) {
      if (config.cleanupPolicy === 'delete') continue
      for (const p of partitions) {
        if (this.abort.signal.aborted || p.isClosed) continue
        const key = partitionDirName(p.topic, p.index)
        const from = Math.max(this.firstDirty.get(key) ?? p.logStartOffset, p.logStartOffset)
        const r = await cleanLog(p.log, {
          deleteRetentionMs: config.deleteRetentionMs,
          now,
          firstDirtyOffset: from,
          minCleanableDirtyRatio: config.minCleanableDirtyRatio,
          signal: this.abort.signal,
          // Never at or past an open transaction; aborted records go, markers stay (as Kafka).
          firstUncleanableOffset: p.lastStableOffset,
          abortedTransactions: p.producers.abortedBetween(0, Number.MAX_SAFE_INTEGER),
          producerLastOffsets: p.producers.lastOffsets(),
        })
        if (r.nextDirtyOffset !== from) {
          this.firstDirty.set(key, r.nextDirtyOffset)
          changed = true
        }
        if (r.segmentsCleaned > 0) debug('cleaned %s: %d segments, %d records removed', key, r.segmentsCleaned, r.recordsRemoved)
        results.push(r)
      }
    }
    if (changed) await this.writeCheckpoint()
    return results
  }

  private async writeCheckpoint(): Promise<void> {
    const entries = [...this.firstDirty].map(([k, offset]) => {
      const i = k.lastIndexOf('-')
      return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)), offset }
    })
    await writeCheckpoint(this.io, path.join(this.dir, CLEANER_CHECKPOINT_FILE), entries)
  }

  /**
   * Forgets a deleted topic's partitions, on disk too: a topic created again under the name must
   * not inherit where the old one's cleaning had got to.
   */
  async forget(topic: string, partitions: number): Promise<void> {
    let changed = false
    for (let i = 0; i < partitions; i++) changed = this.firstDirty.delete(partitionDirName(topic, i)) || changed
    if (changed) await this.writeCheckpoint()
  }

  /** Forgets entries of topics that no longer exist (a crash between a deletion and its checkpoint). */
  async forgetMissing(exists: (topic: string, partition: number) => boolean): Promise<void> {
    let changed = false
    for (const k of [...this.firstDirty.keys()]) {
      const i = k.lastIndexOf('-')
      if (!exists(k.slice(0, i), Number(k.slice(i + 1)))) changed = this.firstDirty.delete(k) || changed
    }
    if (changed) await this.writeCheckpoint()
  }

  /** Stops a pass in progress at its next chunk. */
  stop(): void {
    this.abort.abort()
  }
}
