// The crash loop's model of a data dir (see crash-loop.test.ts): what the child reported on its
// stdout (test/fixtures/crash-workload.ts lists the lines), applied as the lines arrive, and carried
// over the runs that reuse the dir. After each reopen the checks (crash-checks.ts) compare the dir
// with it and then reset it to what the dir holds, so records kept without an ack are expected too.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Broker } from '../../src/index.js'

export const PHASES = ['open', 'roll', 'retention', 'compaction', 'commit', 'create', 'delete', 'deleterecords'] as const
export type Phase = (typeof PHASES)[number]
/** The topics of (run, seq) records. */
export const PRODUCED = ['stream', 'retained'] as const

export interface Rec {
  run: number
  seq: number
}

export interface Churn {
  state: 'creating' | 'created' | 'deleting' | 'deleted' | 'gone'
  partitions: number
  /** Records per partition once filled (null while unknown). */
  counts: number[] | null
  /** Log start offsets reported after deleteRecords. */
  lso: number[]
  /** A deleteRecords began on this incarnation (its log start may have moved without a report). */
  cutting: boolean
  /** Compacted: key → its last update once filled (null while unknown or not compacted). */
  keys: Map<string, { offset: number; tomb: boolean }> | null
  compact: boolean
}

/** What a data dir must hold, carried over the runs that reuse it. */
export interface DirModel {
  dir: string
  runs: number
  /** topic → partition → offset → record, for 'stream' and 'retained'. */
  records: Map<string, Map<number, Map<number, Rec>>>
  /** 'compacted': key → its last acknowledged update. */
  keys: Map<string, { offset: number; tomb: boolean }>
  /** Keys of the last send to 'compacted' while unacknowledged, with a tombstone in it. */
  pendingTombs: Set<string>
  /** `group topic partition` → last committed offset reported. */
  commits: Map<string, number>
  churn: Map<string, Churn>
}

export interface Totals {
  acksChecked: number
  goneByRetention: number
  unackedKept: number
  keysChecked: number
  commitsChecked: number
  topicsChecked: number
  lost: number
  bytesCut: number
  killsDuring: Map<Phase | 'nothing', number>
  started: Map<Phase, number>
  retentionSegments: number
  segmentsCleaned: number
}

export function newTotals(): Totals {
  return {
    acksChecked: 0, goneByRetention: 0, unackedKept: 0, keysChecked: 0, commitsChecked: 0, topicsChecked: 0, lost: 0, bytesCut: 0,
    killsDuring: new Map(), started: new Map(), retentionSegments: 0, segmentsCleaned: 0,
  }
}

/** A child run: its stdout lines applied to the dir model as they arrive. */
export class Run {
  readonly inFlight = new Map<Phase, number>()
  acks = 0
  lastLines: string[] = []
  readonly ready: Promise<void>
  readonly opening: Promise<void>
  readonly closed: Promise<void>
  private rest = ''
  private onReady!: () => void
  private onOpening!: () => void

  constructor(
    readonly child: ChildProcess,
    private readonly model: DirModel,
    private readonly totals: Totals,
  ) {
    this.ready = new Promise((r) => (this.onReady = r))
    this.opening = new Promise((r) => (this.onOpening = r))
    this.closed = new Promise((r) => child.once('close', () => r()))
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (this.rest + d).split('\n')
      this.rest = lines.pop()!
      for (const line of lines) this.apply(line)
      // The last steps other than sends, for failure messages.
      this.lastLines = [...this.lastLines, ...lines.filter((l) => !/^(ack|kv|sending) /.test(l))].slice(-16)
    })
  }

  private churn(name: string): Churn {
    const c = this.model.churn.get(name)
    assert.ok(c, `child reported on unknown topic ${name}`)
    return c
  }

  private apply(line: string): void {
    const [word, ...f] = line.split(' ')
    const m = this.model
    switch (word) {
      case 'ready':
        return this.onReady()
      case 'phase':
      case 'done': {
        const phase = f[0] as Phase
        if (word === 'phase') {
          this.inFlight.set(phase, (this.inFlight.get(phase) ?? 0) + 1)
          this.totals.started.set(phase, (this.totals.started.get(phase) ?? 0) + 1)
          if (phase === 'open') this.onOpening()
          if (phase === 'deleterecords') this.churn(f[1]!.slice(0, f[1]!.lastIndexOf('-'))).cutting = true
        } else {
          this.inFlight.set(phase, this.inFlight.get(phase)! - 1)
          if (phase === 'retention') this.totals.retentionSegments += Number(f[2])
          if (phase === 'compaction') this.totals.segmentsCleaned += Number(f[2])
        }
        return
      }
      case 'ack': {
        const [topic, p, offset, run, seq] = [f[0]!, ...f.slice(1).map(Number)] as [string, number, number, number, number]
        m.records.get(topic)!.get(p)!.set(offset, { run, seq })
        this.acks++
        return
      }
      case 'sending':
        m.pendingTombs = new Set(f.slice(1).filter((kv) => kv.endsWith(':t')).map((kv) => kv.slice(0, -2)))
        return
      case 'kv':
        m.keys.set(f[3]!, { offset: Number(f[2]), tomb: f[4] === 't' })
        m.pendingTombs.clear()
        return
      case 'commit':
        m.commits.set(`${f[0]} ${f[1]} ${f[2]}`, Number(f[3]))
        return
      case 'creating': {
        const partitions = Number(f[1])
        m.churn.set(f[0]!, { state: 'creating', partitions, counts: null, lso: new Array<number>(partitions).fill(0), cutting: false, keys: null, compact: f[2] === 'compact' })
        return
      }
      case 'created': {
        const c = this.churn(f[0]!)
        c.state = 'created'
        c.counts = f[2]!.split(',').map(Number)
        if (c.compact) c.keys = new Map(f.slice(3).map((kv) => kv.split(':')).map(([k, o, v]) => [k!, { offset: Number(o), tomb: v === 't' }]))
        return
      }
      case 'lso':
        this.churn(f[0]!).lso[Number(f[1])] = Number(f[2])
        return
      case 'deleting':
        this.churn(f[0]!).state = 'deleting'
        return
      case 'deleted':
        this.churn(f[0]!).state = 'deleted'
        for (const k of [...m.commits.keys()]) if (k.split(' ')[1] === f[0]) m.commits.delete(k)
        return
    }
  }

  /** The phases under way when the child died. */
  phasesInFlight(): Phase[] {
    return PHASES.filter((p) => (this.inFlight.get(p) ?? 0) > 0)
  }
}

/** A fresh data dir with the three topics the workload writes to, configs drawn from `random`. */
export async function freshDir(random: () => number): Promise<DirModel> {
  const pick = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))
  const dir = mkdtempSync(join(tmpdir(), 'kafkalite-crash-'))
  const broker = await Broker.open({ dir })
  await broker.createTopic('stream', { partitions: 3, segmentBytes: pick(1024, 8192) })
  const byTime = random() < 0.5
  await broker.createTopic('retained', {
    partitions: 2,
    segmentBytes: pick(1024, 2048),
    retentionBytes: byTime && random() < 0.5 ? -1 : pick(3000, 12000),
    retentionMs: byTime ? pick(100, 1500) : -1,
  })
  await broker.createTopic('compacted', {
    partitions: 2,
    cleanupPolicy: 'compact',
    segmentBytes: pick(1024, 4096),
    minCleanableDirtyRatio: pick(1, 30) / 100,
    deleteRetentionMs: random() < 0.6 ? 0 : 600_000,
  })
  await broker.close()
  const records = new Map(PRODUCED.map((t) => [t, new Map<number, Map<number, Rec>>()]))
  for (let p = 0; p < 3; p++) records.get('stream')!.set(p, new Map())
  for (let p = 0; p < 2; p++) records.get('retained')!.set(p, new Map())
  return { dir, runs: 0, records, keys: new Map(), pendingTombs: new Set(), commits: new Map(), churn: new Map() }
}
