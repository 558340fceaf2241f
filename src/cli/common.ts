// What every `kafkalite` command shares: the --dir and --json options, opening the data dir for
// reading (read-only, beside a running writer) or writing (takes the lock), argument parsers that
// turn bad input into usage errors (exit 2), and output: buffered stdout, tables, JSON.
import { existsSync } from 'node:fs'
import * as path from 'node:path'
import { InvalidArgumentError, Option } from 'commander'
import { Broker } from '../index.js'

export const DEFAULT_DIR = './kafkalite-data'

export interface DirOptions {
  dir: string
}

export interface JsonOptions {
  json?: boolean
}

export function dirOption(): Option {
  return new Option('--dir <path>', 'data directory').env('KAFKALITE_DIR').default(DEFAULT_DIR)
}

export function jsonOption(): Option {
  return new Option('--json', 'print JSON for scripts instead of a table')
}

/**
 * How a command opens the data dir. 'read' never writes and never takes the lock, so it works
 * beside a running writer; 'write' takes the lock; both refuse a dir that does not exist. Only
 * 'create' (topics create) makes a new data dir.
 */
export type OpenMode = 'read' | 'write' | 'create'

export async function openBroker(dir: string, mode: OpenMode): Promise<Broker> {
  if (mode !== 'create' && !existsSync(path.join(dir, '__cluster_metadata'))) {
    throw new Error(`no kafkalite data dir at ${path.resolve(dir)} (set --dir or KAFKALITE_DIR; topics create makes one)`)
  }
  return Broker.open({ dir, readOnly: mode === 'read' })
}

/** Runs `fn` on an open broker and closes it afterwards, whatever happens. */
export async function withBroker<T>(dir: string, mode: OpenMode, fn: (broker: Broker) => Promise<T> | T): Promise<T> {
  const broker = await openBroker(dir, mode)
  try {
    return await fn(broker)
  } finally {
    await broker.close()
  }
}

/** An argument parser for integers in [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer, got '${value}'`)
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got ${value}`)
    return n
  }
}

/** A point in time as epoch ms: an integer (epoch ms) or an ISO 8601 date-time. */
export function parseTime(value: string): number {
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v)
  const ms = Date.parse(v)
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`expected epoch milliseconds or an ISO 8601 time, got '${value}'`)
  return ms
}

/** Collects repeated `--config k=v` options into an object. */
export function collectPairs(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const i = value.indexOf('=')
  if (i <= 0) throw new InvalidArgumentError(`expected name=value, got '${value}'`)
  return { ...previous, [value.slice(0, i).trim()]: value.slice(i + 1) }
}

/** Collects repeated options into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/** Collects repeated or comma-separated partition numbers. */
export function collectPartitions(value: string, previous: number[] = []): number[] {
  const parse = intArg(0, 0x7fffffff)
  return [...previous, ...value.split(',').map((s) => parse(s))]
}

export type Encoding = 'utf8' | 'base64' | 'hex'
export const ENCODINGS: readonly Encoding[] = ['utf8', 'base64', 'hex']

/**
 * Buffered writes to a stream (stdout): lines are joined into chunks of ~64 KiB, the stream's
 * back-pressure is respected, and a closed pipe (`| head`) ends output quietly: `closed` turns
 * true and the command stops.
 */
export class Output {
  private pending = ''
  closed = false
  private drained: Promise<void> | null = null

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {
    // Other stream errors are main()'s (program.ts).
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.closed = true
    })
  }

  /** Appends text; call `ready()` now and then to flush and wait for a slow reader. */
  write(text: string): void {
    this.pending += text
  }

  /** Appends bytes as they are (raw output). */
  writeBytes(bytes: Buffer): void {
    this.flushNow()
    if (this.closed) return
    if (!this.stream.write(bytes)) this.waitForDrain()
  }

  /** Whether the caller should await ready(): 64 KiB pending, or the stream is full. */
  get full(): boolean {
    return this.pending.length >= 65_536 || this.drained !== null
  }

  /** Flushes when 64 KiB are pending; resolves when the stream can take more. */
  async ready(): Promise<void> {
    if (this.pending.length >= 65_536) this.flushNow()
    if (this.drained) await this.drained
  }

  private flushNow(): void {
    if (this.pending.length === 0 || this.closed) {
      this.pending = ''
      return
    }
    const ok = this.stream.write(this.pending)
    this.pending = ''
    if (!ok) this.waitForDrain()
  }

  private waitForDrain(): void {
    if (!this.drained) {
      this.drained = new Promise<void>((resolve) => {
        const done = (): void => {
          this.stream.off('drain', done)
          this.stream.off('error', done)
          this.drained = null
          resolve()
        }
        this.stream.on('drain', done)
        this.stream.on('error', done)
      })
    }
  }

  /** Writes everything pending and waits until the stream took it. */
  async flush(): Promise<void> {
    this.flushNow()
    if (this.drained) await this.drained
  }
}

/** A plain-text table: a header row, columns padded, numbers right-aligned. */
export function table(headers: string[], rows: Array<Array<string | number | null>>): string {
  const cells = rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)))
  const numeric = headers.map((_, i) => rows.some((r) => typeof r[i] === 'number') && rows.every((r) => typeof r[i] === 'number' || r[i] === null))
  const line = (r: string[]): string =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(headers), ...cells.map(line)].join('\n') + '\n'
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = -1
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`
}

/** Whether a progress bar goes to stderr: forced by --progress/--no-progress, else when stderr is a terminal. */
export function wantProgress(flag: boolean | undefined): boolean {
  return flag ?? process.stderr.isTTY === true
}
