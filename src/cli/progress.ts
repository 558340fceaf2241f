// A progress bar on stderr (cli-progress) for long commands: bytes done of a total, a count and its
// rate, and the ETA. On a terminal it redraws in place; forced with --progress onto a pipe or file
// it prints a line every 2 s. A disabled bar costs nothing.
import cliProgress from 'cli-progress'
import { formatBytes } from './common.js'

export class Progress {
  private readonly bar: cliProgress.SingleBar | null
  private readonly startedMs = performance.now()
  private count = 0

  /**
   * `total` bytes to go through; `label` names the count shown beside them (records produced,
   * problems found); the rate is of that count, or of bytes when `rateOf` is 'bytes'.
   */
  constructor(
    enabled: boolean,
    private readonly total: number,
    label: string,
    private readonly rateOf: 'count' | 'bytes' = 'count',
  ) {
    const rate = rateOf === 'count' ? `{rate} ${label}/s` : '{rate}/s'
    this.bar = enabled
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `{bar} {percentage}% | {done} of {size} | {count} ${label} | ${rate} | ETA {eta_formatted}`,
            hideCursor: true,
            noTTYOutput: true,
            etaBuffer: 50,
            fps: 10,
          },
          cliProgress.Presets.shades_classic,
        )
      : null
    this.bar?.start(Math.max(total, 1), 0, this.payload(0))
  }

  /** Bytes done so far and the count (records, problems) so far. */
  update(bytesDone: number, count: number): void {
    this.count = count
    this.bar?.update(Math.min(bytesDone, this.total), this.payload(bytesDone))
  }

  stop(): void {
    if (!this.bar) return
    this.bar.update(Math.max(this.total, 1), this.payload(this.total))
    this.bar.stop()
  }

  private payload(bytesDone: number): Record<string, string> {
    const seconds = (performance.now() - this.startedMs) / 1000
    let rate = '0'
    if (seconds > 0) rate = this.rateOf === 'bytes' ? formatBytes(Math.round(bytesDone / seconds)) : Math.round(this.count / seconds).toLocaleString('en-US')
    return { done: formatBytes(bytesDone), size: formatBytes(this.total), count: this.count.toLocaleString('en-US'), rate }
  }
}
