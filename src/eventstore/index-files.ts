// The stream indexes' checkpoint files: `<dir>/__eventstore/<topic>/<partition>.index`, written
// whole (temp file, fsync, rename) and read back at open; one that is missing or fails its checks is
// rebuilt from the log instead.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import * as path from 'node:path'
import createDebug from 'debug'
import { PartitionIndex } from './stream-index.js'

const debug = createDebug('kafkalite:eventstore')

export function loadIndex(dir: string | null, p: number): PartitionIndex {
  const file = dir ? path.join(dir, `${p}.index`) : null
  if (!file || !existsSync(file)) return new PartitionIndex()
  try {
    return PartitionIndex.decode(readFileSync(file), file)
  } catch (err) {
    debug('stream index %s is not usable (%s): rebuilding it from the log', file, (err as Error).message)
    return new PartitionIndex()
  }
}

/** Writes every partition's index checkpoint. */
export function saveIndexes(dir: string, indexes: readonly PartitionIndex[]): void {
  mkdirSync(dir, { recursive: true })
  indexes.forEach((index, p) => {
    const file = path.join(dir, `${p}.index`)
    const tmp = `${file}.tmp`
    writeFileSync(tmp, index.encode())
    const fd = openSync(tmp, 'r')
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, file)
  })
}
