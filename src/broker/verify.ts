// `broker.verify()`: a full, read-only scan of every log the broker holds (the metadata log, every
// partition of every topic, internal ones too), with progress reports. It changes nothing: repairing
// is for `Broker.open({ dir, recover: 'truncate' })`, and only when asked.
import { verifyLog, type BatchProblem } from '../storage/verify.js'
import type { Log } from '../storage/log.js'

export interface VerifyOptions {
  /** Decode every record too (decompressing compressed batches), not just check each batch's CRC. */
  deep?: boolean
  /** Called as the scan goes (about once per MiB and once per log). */
  onProgress?: (progress: VerifyProgress) => void
}

export interface VerifyProgress {
  /** The log being scanned: `topic-partition`, or `__cluster_metadata-0`. */
  log: string
  file: string
  bytesChecked: number
  /** Bytes in every log when the scan started. */
  bytesTotal: number
  problems: number
}

export interface VerifyProblem extends BatchProblem {
  log: string
}

export interface VerifyReport {
  ok: boolean
  logs: number
  segments: number
  batches: number
  records: number
  bytes: number
  problems: VerifyProblem[]
  durationMs: number
}

/** Scans `logs` one after another; `emit` gets the same progress as `options.onProgress`. */
export async function verifyLogs(
  logs: ReadonlyArray<{ key: string; log: Log }>,
  options: VerifyOptions,
  emit: (p: VerifyProgress) => void,
): Promise<VerifyReport> {
  const started = performance.now()
  const report: VerifyReport = { ok: true, logs: 0, segments: 0, batches: 0, records: 0, bytes: 0, problems: [], durationMs: 0 }
  let bytesTotal = 0
  for (const { log } of logs) bytesTotal += log.sizeInBytes
  let bytesChecked = 0
  for (const { key, log } of logs) {
    if (log.failure) {
      report.problems.push({ log: key, file: log.dir, position: 0, reason: `log failed: ${log.failure.message}` })
      continue
    }
    report.logs++
    const progress = (file: string): void => {
      const p: VerifyProgress = { log: key, file, bytesChecked, bytesTotal, problems: report.problems.length }
      options.onProgress?.(p)
      emit(p)
    }
    const r = await verifyLog(log, {
      deep: options.deep,
      onBytes: (n, file) => {
        bytesChecked += n
        progress(file)
      },
    })
    report.segments += r.segments
    report.batches += r.batches
    report.records += r.records
    report.bytes += r.bytes
    for (const p of r.problems) report.problems.push({ log: key, ...p })
  }
  report.ok = report.problems.length === 0
  report.durationMs = performance.now() - started
  return report
}
