// Retention: whole segments deleted by age (their largest timestamp older than retentionMs) and by
// size (the oldest while the partition stays above retentionBytes without them), and the active
// segment rolled when it is older than segmentMs, so a quiet topic still expires. Runs on the
// broker's unref'd timer and from `broker.enforceRetention()`.
import type { Partition } from './partition.js'
import type { TopicConfig } from './topic-config.js'

/** Applies the topic's retention to one partition; returns the number of segments deleted. */
export async function enforcePartitionRetention(p: Partition, cfg: Readonly<TopicConfig>, now: number): Promise<number> {
  const log = p.log
  let deleted = 0
  if (cfg.cleanupPolicy !== 'compact') {
    if (cfg.retentionMs >= 0) {
      const cutoff = now - cfg.retentionMs
      deleted += await log.deleteOldSegments((s) => s.maxTimestamp >= 0 && s.maxTimestamp < cutoff)
    }
    if (cfg.retentionBytes >= 0) {
      let excess = log.sizeInBytes - cfg.retentionBytes
      deleted += await log.deleteOldSegments((s) => {
        if (excess - s.size < 0) return false
        excess -= s.size
        return true
      }, false)
    }
  }
  log.maybeRollByTime()
  return deleted
}
