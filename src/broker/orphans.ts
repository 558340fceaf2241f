// What a crash during a topic deletion can leave in the data dir: `*-delete` directories, and
// partition directories of topics (or partitions) the metadata log no longer has. Removed at open.
// Only `<topic>-<n>` names directly inside the data dir that hold nothing but segment files are
// touched: never a folder kafkalite did not make.
import * as path from 'node:path'
import createDebug from 'debug'
import { parsePartitionDirName } from '../storage/file-names.js'
import type { FileIO } from '../util/file-io.js'

const debug = createDebug('kafkalite:broker')
const SEGMENT_FILE = /^\d{20}\.(log|index|timeindex|snapshot)(\.(cleaned|swap|tmp))?$/

/** Removes orphaned partition directories; `partitionCount(topic)` is 0 for unknown topics. */
export async function removeOrphanDirs(io: FileIO, dir: string, partitionCount: (topic: string) => number): Promise<number> {
  let removed = 0
  for (const name of io.readdir(dir)) {
    const full = path.join(dir, name)
    if (!io.isDirectory(full)) continue
    const tp = parsePartitionDirName(name)
    const orphan = name.endsWith('-delete') || (tp !== null && !(tp.partition < partitionCount(tp.topic)))
    if (!orphan || !io.readdir(full).every((f) => SEGMENT_FILE.test(f))) continue
    debug('removing %s, left by an interrupted topic deletion', full)
    io.rmrf(full)
    removed++
  }
  if (removed > 0) await io.syncDir(dir)
  return removed
}
