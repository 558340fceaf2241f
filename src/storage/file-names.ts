// Kafka's file names: `<topic>-<partition>/` directories holding `<20-digit base offset>.log`,
// `.index` and `.timeindex`, zero-padded so that `ls` sorts segments by offset.

export const LOG_SUFFIX = '.log'
export const INDEX_SUFFIX = '.index'
export const TIME_INDEX_SUFFIX = '.timeindex'
/** Written at a clean close and removed at open: its presence means every index is valid. */
export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown'
export const RECOVERY_POINT_FILE = 'recovery-point-offset-checkpoint'
export const LOG_START_OFFSET_FILE = 'log-start-offset-checkpoint'
export const METADATA_DIR = '__cluster_metadata'

export function offsetFileName(offset: number, suffix: string): string {
  return String(offset).padStart(20, '0') + suffix
}

/** Base offset of a segment file name such as `00000000000000000042.log`, or null. */
export function parseSegmentFileName(name: string, suffix = LOG_SUFFIX): number | null {
  if (!name.endsWith(suffix)) return null
  const digits = name.slice(0, -suffix.length)
  if (!/^\d{20}$/.test(digits)) return null
  const n = Number(digits)
  return Number.isSafeInteger(n) ? n : null
}

export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`
}

/** Splits `orders-3` into topic and partition (the topic may itself contain '-'). */
export function parsePartitionDirName(name: string): { topic: string; partition: number } | null {
  const i = name.lastIndexOf('-')
  if (i <= 0) return null
  const p = name.slice(i + 1)
  if (!/^\d+$/.test(p)) return null
  return { topic: name.slice(0, i), partition: Number(p) }
}
