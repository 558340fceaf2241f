// The decoder fuzzer's machinery, used inside the fuzz worker: the seed, a seeded generator, byte
// mutators, and the Probe that runs one decoder call under watch. A call passes when it returns, or
// throws an error its boundary allows; it fails when it throws anything else, takes longer than
// CALL_MS_MAX, allocates Buffers beyond its bound, or returns more items than its input can hold.
// A call that never returns is caught from outside: the Probe marks each call's start in shared
// memory and the runner (runner.ts) terminates the worker when one runs past its watchdog limit.
import { mulberry32 } from '../fixtures/random.js'

/** Total fuzzing time of test/fuzz/decoders.test.ts, shared by every target. */
export const FUZZ_MS = Number(process.env.KAFKALITE_FUZZ_MS ?? 10_000)
/** A single decoder call slower than this is a failure ("never hang"). */
export const CALL_MS_MAX = 1000
/** A call still running after this long is a hang: the runner kills the worker. */
export const WATCHDOG_MS = 5000
/** Bytes of a failing input shown in the report (hex). */
export const SHOWN_BYTES_MAX = 512

/** The run's seed: KAFKALITE_SEED to replay one, else a fresh one (printed by the runner). */
export function runSeed(): number {
  const env = process.env.KAFKALITE_SEED
  if (env !== undefined && env !== '') return Number(env) >>> 0
  return (Date.now() ^ Math.floor(Math.random() * 0x1_0000_0000)) >>> 0
}

/** One case's seed from the run's seed, the target's name and the case number (replayable). */
export function caseSeed(seed: number, target: string, iter: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ iter
  for (let i = 0; i < target.length; i++) h = Math.imul(h ^ target.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
  return (h ^ (h >>> 15)) >>> 0
}

export class Rng {
  private readonly next: () => number
  constructor(seed: number) {
    this.next = mulberry32(seed)
  }
  float(): number {
    return this.next()
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) b[i] = this.int(256)
    return b
  }
  /** A length biased to small values, up to `max`. */
  length(max: number): number {
    return this.chance(0.7) ? this.int(Math.min(max, 64) + 1) : this.int(max + 1)
  }
}

// ----------------------------------------------------------------------------------- mutators

/** int32 values that break length, count and offset fields, relative to a buffer of `len` bytes. */
export function extremeInt32s(len: number): number[] {
  return [0, 1, -1, -2, 0x7fffffff, -0x80000000, 0x3fffffff, len, len + 1, len - 1, len - 12, len - 11, 49, 48, 61, 60]
    .map((n) => n | 0)
}

const EXTREME_INT16 = [0, 1, -1, 0x7fff, -0x8000, 0xff, 256]

function setInt(b: Buffer, at: number, bytes: 2 | 4 | 8, n: number): void {
  if (at < 0 || at + bytes > b.length) return
  if (bytes === 2) b.writeInt16BE(n << 16 >> 16, at)
  else if (bytes === 4) b.writeInt32BE(n | 0, at)
  else {
    b.writeInt32BE(n < 0 ? -1 : Math.floor(n / 0x1_0000_0000) | 0, at)
    b.writeUInt32BE(n >>> 0, at + 4)
  }
}

/** One random edit of a copy of `b`: flips, overwrites, cuts, insertions, extreme integers. */
export function mutateOnce(src: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(src)
  const at = b.length > 0 ? rng.int(b.length) : 0
  switch (rng.int(11)) {
    case 0:
      if (b.length > 0) b[at] ^= 1 << rng.int(8)
      return b
    case 1:
      if (b.length > 0) b[at] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)])
      return b
    case 2: {
      const n = Math.min(b.length - at, rng.range(1, 16))
      for (let i = 0; i < n; i++) b[at + i] = rng.int(256)
      return b
    }
    case 3:
      return b.subarray(0, rng.int(b.length + 1))
    case 4:
      return Buffer.concat([b, rng.bytes(rng.length(256))])
    case 5:
      return Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 16)), b.subarray(at)])
    case 6:
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.range(1, 16)))])
    case 7:
      setInt(b, at, 4, rng.pick(extremeInt32s(b.length)))
      return b
    case 8:
      setInt(b, at, 2, rng.pick(EXTREME_INT16))
      return b
    case 9:
      setInt(b, at, 8, rng.pick([0, -1, 2 ** 53, 2 ** 53 - 1, 2 ** 62, -(2 ** 62)]))
      return b
    default: {
      // a slice of the buffer repeated elsewhere (plausible structure in the wrong place)
      const from = rng.int(b.length + 1)
      const piece = b.subarray(from, from + rng.range(1, 64))
      b = Buffer.concat([b.subarray(0, at), piece, b.subarray(at)])
      return b
    }
  }
}

/** 1..4 random edits. */
export function mutate(b: Buffer, rng: Rng): Buffer {
  const rounds = rng.chance(0.6) ? 1 : rng.range(2, 4)
  for (let i = 0; i < rounds; i++) b = mutateOnce(b, rng)
  return b
}

// -------------------------------------------------------------------------- allocation spy

type AllocFn = (size: number, ...rest: unknown[]) => Buffer
let spying = false
let spiedBytes = 0
let spyInstalled = false

/**
 * Counts the bytes requested from Buffer.alloc / allocUnsafe / allocUnsafeSlow while a probed call
 * runs (Buffer.concat and zlib's sync functions allocate through these too).
 */
export function installAllocSpy(): void {
  if (spyInstalled) return
  spyInstalled = true
  const B = Buffer as unknown as Record<string, AllocFn>
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow']) {
    const original = B[name]!
    B[name] = function (this: unknown, size: number, ...rest: unknown[]) {
      if (spying && typeof size === 'number') spiedBytes += size
      return original.call(this, size, ...rest)
    } as AllocFn
  }
}

// --------------------------------------------------------------------------------- the probe

export interface Failure {
  target: string
  /** Normalised message: digits replaced, so one defect is reported once. */
  signature: string
  message: string
  /** Where to find it again: phase and case number under the run's seed. */
  at: string
  input: string
  inputBytes: number
  count: number
}

/** What a call may do: the errors its boundary allows, and its bounds. */
export interface CallSpec<T> {
  /** True for an error the boundary allows. */
  allowed: (err: unknown) => boolean
  /** Bytes the output may be derived from (e.g. the decompressed size); default the input's length. */
  bytesIn?: number
  /** Buffer bytes the call may allocate; default 4 × bytesIn + 64 KiB. */
  allocBytesMax?: number
  /** Values (array slots, object fields, strings) the result may hold; default 4 × bytesIn + 64. */
  itemsMax?: number
  /** Checks a returned value; throws (any error) when it is wrong. */
  check?: (value: T) => void
}

/** The shared-memory layout the runner watches (see runner.ts). */
export const WATCH_SLOTS = { startedAt: 0, watchdogMs: 1, labelBytes: 2, inputBytes: 3 } as const
export const WATCH_LABEL_MAX = 256
export const WATCH_INPUT_MAX = 4096
export const WATCH_BYTES = 32 + WATCH_LABEL_MAX + WATCH_INPUT_MAX
const ENCODER = new TextEncoder()

export class Probe {
  readonly failures = new Map<string, Failure>()
  /** Known defects outside this change, seen and counted but not failed (see targets-files.ts). */
  readonly known = new Map<string, number>()
  calls = 0
  /** Phase and case number of the current case (for reports and the watchdog). */
  at = ''
  private readonly slots: Float64Array | null
  private readonly label: Uint8Array | null
  private readonly input: Uint8Array | null
  watchdogMs = WATCHDOG_MS

  constructor(readonly target: string, shared: SharedArrayBuffer | null) {
    this.slots = shared ? new Float64Array(shared, 0, 4) : null
    this.label = shared ? new Uint8Array(shared, 32, WATCH_LABEL_MAX) : null
    this.input = shared ? new Uint8Array(shared, 32 + WATCH_LABEL_MAX, WATCH_INPUT_MAX) : null
  }

  private begin(what: string, input: Buffer): void {
    const s = this.slots
    if (!s) return
    const enc = ENCODER.encodeInto(`${this.at} ${what}`, this.label!)
    s[WATCH_SLOTS.labelBytes] = enc.written
    const n = Math.min(input.length, WATCH_INPUT_MAX)
    this.input!.set(input.subarray(0, n))
    s[WATCH_SLOTS.inputBytes] = n
    s[WATCH_SLOTS.watchdogMs] = this.watchdogMs
    s[WATCH_SLOTS.startedAt] = Date.now()
  }

  private end(): void {
    if (this.slots) this.slots[WATCH_SLOTS.startedAt] = 0
  }

  /** Counts a known defect instead of failing on it. */
  noteKnown(what: string): void {
    this.known.set(what, (this.known.get(what) ?? 0) + 1)
  }

  fail(what: string, input: Buffer, message: string): void {
    const signature = `${what}: ${message.split('\n')[0]!.replace(/-?\d+/g, 'N').slice(0, 160)}`
    const seen = this.failures.get(signature)
    if (seen) {
      seen.count++
      return
    }
    this.failures.set(signature, {
      target: this.target, signature, message: message.slice(0, 2000), at: this.at,
      input: input.subarray(0, SHOWN_BYTES_MAX).toString('hex'), inputBytes: input.length, count: 1,
    })
  }

  /** Runs `fn` (one decoder call on `input`) and records what went wrong, if anything. */
  call<T>(what: string, input: Buffer, fn: () => T, spec: CallSpec<T>): { ok: true; value: T } | { ok: false; error: unknown } {
    this.calls++
    this.begin(what, input)
    spiedBytes = 0
    spying = true
    const t0 = performance.now()
    let result: { ok: true; value: T } | { ok: false; error: unknown }
    try {
      result = { ok: true, value: fn() }
    } catch (error) {
      result = { ok: false, error }
    } finally {
      spying = false
      this.end()
    }
    this.judge(what, input, performance.now() - t0, result, spec)
    return result
  }

  /** As `call`, for a decoder that returns a promise (e.g. a log replayed at open). */
  async callAsync<T>(what: string, input: Buffer, fn: () => Promise<T>, spec: CallSpec<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    this.calls++
    this.begin(what, input)
    const t0 = performance.now()
    let result: { ok: true; value: T } | { ok: false; error: unknown }
    try {
      result = { ok: true, value: await fn() }
    } catch (error) {
      result = { ok: false, error }
    } finally {
      this.end()
    }
    // Not spied: an async call's allocations include the file layer's own copies and whatever else
    // runs meanwhile. The worker's heap limit bounds them instead (runner.ts).
    this.judge(what, input, performance.now() - t0, result, { ...spec, allocBytesMax: Infinity })
    return result
  }

  private judge<T>(what: string, input: Buffer, ms: number, result: { ok: true; value: T } | { ok: false; error: unknown }, spec: CallSpec<T>): void {
    const bytesIn = spec.bytesIn ?? input.length
    if (ms > CALL_MS_MAX) this.fail(what, input, `call took ${Math.round(ms)} ms (limit ${CALL_MS_MAX} ms)`)
    const allocMax = spec.allocBytesMax ?? 4 * bytesIn + 64 * 1024
    if (allocMax !== Infinity && spiedBytes > allocMax) this.fail(what, input, `allocated ${spiedBytes} Buffer bytes for ${bytesIn} input bytes (bound ${allocMax})`)
    if (!result.ok) {
      if (!spec.allowed(result.error)) this.fail(what, input, `threw ${describe(result.error)}`)
      return
    }
    const itemsMax = spec.itemsMax ?? 4 * bytesIn + 64
    const items = countItems(result.value, itemsMax)
    if (items > itemsMax) this.fail(what, input, `returned more than ${itemsMax} items for ${bytesIn} input bytes`)
    if (spec.check) {
      try {
        spec.check(result.value)
      } catch (err) {
        this.fail(what, input, `returned a wrong value: ${(err as Error).message}`)
      }
    }
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return `${err.name}${code ? ` [${String(code)}]` : ''}: ${err.message}\n${err.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`
  }
  return `a non-Error: ${String(err)}`
}

/**
 * Values held by `v`: array slots, object fields and string characters / 8, each Buffer as one
 * item (decoded Buffers are views of the input). Stops counting once above `limit`.
 */
export function countItems(v: unknown, limit: number): number {
  const seen = new Set<object>()
  let n = 0
  const walk = (x: unknown): void => {
    if (n > limit) return
    n++
    if (typeof x === 'string') {
      n += x.length >> 3
      return
    }
    if (x === null || typeof x !== 'object' || seen.has(x)) return
    seen.add(x)
    if (ArrayBuffer.isView(x)) return
    if (x instanceof Map) {
      for (const [k, val] of x) {
        walk(k)
        walk(val)
      }
      return
    }
    if (Array.isArray(x)) {
      n += x.length
      for (const item of x) walk(item)
      return
    }
    for (const key of Object.keys(x)) walk((x as Record<string, unknown>)[key])
  }
  walk(v)
  return n
}

/** Throws with `message` unless `cond`. For `check` functions. */
export function expect(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message)
}
