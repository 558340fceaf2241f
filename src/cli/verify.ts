// `kafkalite verify`: a read-only scan of every log in the data dir (CRC of every batch, offsets in
// order, with --deep every record decoded) with a progress bar on a terminal. Prints each problem
// with its file and position and exits 1 when there is one. Nothing is repaired: that is
// `Broker.open({ dir, recover: 'truncate' })`, and only when asked.
import * as path from 'node:path'
import type { Command } from 'commander'
import { Broker, CorruptionError, type VerifyReport } from '../index.js'
import { dirOption, formatBytes, jsonOption, openBroker, printJson, wantProgress, type DirOptions, type JsonOptions } from './common.js'
import { Progress } from './progress.js'

export function verifyCommand(program: Command): void {
  program
    .command('verify')
    .description('check every batch of every log in the data dir; exit 1 on corruption')
    .option('--deep', 'decode every record too, not just check each batch')
    .option('--progress', 'show a progress bar even when stderr is not a terminal')
    .option('--no-progress', 'never show a progress bar')
    .addOption(jsonOption())
    .addOption(dirOption())
    .addHelpText('after', '\nExamples:\n  $ kafkalite verify\n  $ kafkalite verify --dir /var/lib/app/events --deep --json')
    .action(async (o: DirOptions & JsonOptions & { deep?: boolean; progress?: boolean }) => {
      let broker: Broker
      try {
        broker = await openBroker(o.dir, 'read')
      } catch (err) {
        // Corruption found while opening (below a log's recovery point) is a finding, not a crash.
        if (!(err instanceof CorruptionError)) throw err
        const reason = err.message.replace(/ \(file .*, position \d+\)$/, '')
        const problem = { log: path.basename(path.dirname(err.file)), file: err.file, position: err.position, reason: `${reason} (found while opening)` }
        report(o, { ok: false, logs: 0, segments: 0, batches: 0, records: 0, bytes: 0, durationMs: 0, problems: [problem] })
        return
      }
      try {
        let progress: Progress | null = null
        const r = await broker.verify({
          deep: o.deep,
          onProgress: (p) => {
            progress ??= new Progress(wantProgress(o.progress), p.bytesTotal, 'problems', 'bytes')
            progress.update(p.bytesChecked, p.problems)
          },
        })
        // The last progress report can come before a log's problems are counted: end on the report's count.
        const bar = progress as Progress | null
        bar?.update(r.bytes, r.problems.length)
        bar?.stop()
        report(o, r)
      } finally {
        await broker.close()
      }
    })
}

function report(o: JsonOptions, r: VerifyReport): void {
  if (!r.ok) {
    process.exitCode = 1
    process.stderr.write(`kafkalite: corruption found: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}, first in ${r.problems[0]?.file} position ${r.problems[0]?.position}\n`)
  }
  if (o.json) return printJson(r)
  for (const p of r.problems) process.stdout.write(`CORRUPT ${p.file} position ${p.position}: ${p.reason}\n`)
  process.stdout.write(
    `${r.ok ? 'ok' : `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`}: ${r.logs} logs, ${r.segments} segments, ` +
      `${r.batches} batches, ${r.records} records, ${formatBytes(r.bytes)} checked in ${Math.round(r.durationMs)} ms\n`,
  )
}
