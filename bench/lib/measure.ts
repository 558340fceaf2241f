// Timing helpers shared by the benchmark's sections: best-of-N timing, event-loop delay, fsync
// counting, percentiles and the printed table.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { createRequire, syncBuiltinESMExports } from 'node:module'

/** Runs `fn` `repeat` times and returns the best rate in records per second. */
export async function bestRate(records: number, repeat: number, fn: (round: number) => void | Promise<void>): Promise<{ rate: number; ms: number }> {
  let best = Infinity
  for (let round = 0; round < repeat; round++) {
    const t0 = process.hrtime.bigint()
    await fn(round)
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (ms < best) best = ms
  }
  return { rate: (records / best) * 1000, ms: best }
}

/** Event-loop delay while `fn` runs, as a histogram (nanoseconds). */
export async function withLoopDelay<T>(fn: () => Promise<T>): Promise<{ result: T; p99Ms: number; maxMs: number }> {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  try {
    const result = await fn()
    return { result, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 }
  } finally {
    h.disable()
  }
}

/** Counts fsync and fdatasync calls of the whole process (kafkalite's included) while enabled. */
export class SyncCounter {
  count = 0
  private readonly fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs')
  private readonly saved = { fsync: this.fs.fsync, fdatasync: this.fs.fdatasync }

  enable(): void {
    const wrap = <F extends (...args: any[]) => void>(f: F): F =>
      ((...args: unknown[]) => {
        this.count++
        return f(...args)
      }) as F
    this.fs.fsync = wrap(this.saved.fsync)
    this.fs.fdatasync = wrap(this.saved.fdatasync)
    syncBuiltinESMExports()
  }

  disable(): void {
    this.fs.fsync = this.saved.fsync
    this.fs.fdatasync = this.saved.fdatasync
    syncBuiltinESMExports()
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function row(label: string, value: string, note = ''): void {
  console.log(`  ${label.padEnd(46)} ${value.padStart(16)}  ${note}`)
}
