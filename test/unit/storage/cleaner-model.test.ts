// Model test: random sequences of keyed puts, tombstones, key-less records, rolls, clock ticks,
// cleaner passes (some with an offset map too small for the dirty range, some killed at their n-th
// file operation) and reopens, checked against the history of every record appended: the log never
// invents, changes or reorders a record, keeps the same final view (key → latest value), keeps
// everything above the cleaned range and every tombstone younger than deleteRetentionMs that is its
// key's latest record, and after each pass holds each key at most once below the pass's end.
import assert from 'node:assert/strict'
import * as path from 'node:path'
import fc from 'fast-check'
import { cleanLog } from '../../../src/storage/cleaner.js'
import type { Log } from '../../../src/storage/log.js'
import type { FaultOp } from '../../../src/util/file-io.js'
import { bothIO, type IOEnv } from '../../helpers/tmp.js'
import { T0, append, assertTruthful, cleanerLeftovers, openLog, readAll, type Clock, type Put, type Rec } from './cleaner-fixtures.js'

const DELETE_RETENTION_MS = 5_000
const CONFIG = { segmentBytes: 512, indexIntervalBytes: 128 }

type Cmd =
  | { t: 'append'; puts: Put[] }
  | { t: 'roll' }
  | { t: 'tick'; ms: number }
  | { t: 'clean'; offsetMapBytesMax: number | undefined }
  | { t: 'reopen'; how: 'clean' | 'crash'; forgetDirty: boolean }
  | { t: 'crashDuringClean'; at: number }

const MUTATING = new Set<FaultOp>(['open', 'write', 'truncate', 'sync', 'rename', 'unlink', 'syncDir'])

const key = fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5')
const put: fc.Arbitrary<Put> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(key, fc.string({ maxLength: 12 })) },
  { weight: 2, arbitrary: fc.tuple(key, fc.constant(null)) },
  { weight: 1, arbitrary: fc.tuple(fc.constant(null), fc.string({ maxLength: 4 })) },
)
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ t: fc.constant('append' as const), puts: fc.array(put, { minLength: 1, maxLength: 4 }) }) },
  { weight: 3, arbitrary: fc.constant({ t: 'roll' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 4_000 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('clean' as const), offsetMapBytesMax: fc.constantFrom(undefined, 200, 600) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('reopen' as const), how: fc.constantFrom('clean' as const, 'crash' as const), forgetDirty: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('crashDuringClean' as const), at: fc.nat({ max: 60 }) }) },
)

/** Every key whose latest record is a tombstone younger than deleteRetentionMs still has it. */
function assertYoungTombstonesKept(recs: readonly Rec[], hist: readonly Rec[], now: number): void {
  const latest = new Map<string, Rec>()
  for (const h of hist) if (h.key !== null) latest.set(h.key, h)
  const present = new Set(recs.map((r) => r.offset))
  for (const h of latest.values()) {
    if (h.value === null && now - h.timestamp < DELETE_RETENTION_MS) assert.ok(present.has(h.offset), `young tombstone ${h.offset} (${h.key}) is gone`)
  }
}

async function run(env: IOEnv, dir: string, cmds: Cmd[]): Promise<void> {
  const clock: Clock = { ms: T0 }
  let log: Log = await openLog(env.io, dir, { clock, config: CONFIG })
  const hist: Rec[] = []
  let firstDirty = 0
  let cleanedUpTo = 0
  try {
    for (const c of cmds) {
      if (c.t === 'append') append(log, hist, c.puts, clock.ms)
      else if (c.t === 'roll') log.roll()
      else if (c.t === 'tick') clock.ms += c.ms
      else if (c.t === 'clean') {
        const r = await cleanLog(log, { deleteRetentionMs: DELETE_RETENTION_MS, now: clock.ms, firstDirtyOffset: firstDirty, offsetMapBytesMax: c.offsetMapBytesMax })
        if (!r.cleaned) continue
        firstDirty = r.nextDirtyOffset
        cleanedUpTo = Math.max(cleanedUpTo, r.nextDirtyOffset)
        const below = readAll(log).recs.filter((x) => x.key !== null && x.offset < r.nextDirtyOffset).map((x) => x.key)
        assert.equal(new Set(below).size, below.length, `keys below ${r.nextDirtyOffset} are unique`)
      } else if (c.t === 'crashDuringClean') {
        // Everything appended is durable first, so the history stays the truth; then the process
        // dies at the pass's `at`-th file operation.
        await log.flush()
        // The pass may get as far as the active segment (a swap is completed at reopen).
        cleanedUpTo = Math.max(cleanedUpTo, log.segmentInfo().at(-1)!.baseOffset)
        let ops = 0
        env.setInjector((op, file) => (MUTATING.has(op) && file.startsWith(dir) && ops++ >= c.at ? 'EIO' : undefined))
        const r = await cleanLog(log, { deleteRetentionMs: DELETE_RETENTION_MS, now: clock.ms, firstDirtyOffset: firstDirty }).catch(() => null)
        log.abandon()
        env.memory?.crash()
        env.setInjector(undefined)
        if (r?.cleaned) firstDirty = r.nextDirtyOffset
        log = await openLog(env.io, dir, { clock, config: CONFIG, recoveryPoint: log.recoveryPoint })
        assert.deepEqual(cleanerLeftovers(env.list(dir)), [])
      } else {
        if (c.how === 'clean') {
          await log.close()
        } else {
          await log.flush()
          log.abandon()
          env.memory?.crash()
        }
        log = await openLog(env.io, dir, { clock, config: CONFIG, clean: c.how === 'clean', recoveryPoint: log.recoveryPoint })
        // A lost cleaner checkpoint: the next pass maps the whole log again.
        if (c.forgetDirty) firstDirty = log.logStartOffset
      }
      assertYoungTombstonesKept(assertTruthful(log, hist, cleanedUpTo), hist, clock.ms)
    }
    assert.equal(log.nextOffset, hist.length)
    assert.deepEqual(cleanerLeftovers(env.list(dir)), [])
    // Reopened from recovery point 0, every batch is validated and the indexes rebuilt.
    await log.close()
    log = await openLog(env.io, dir, { clock, config: CONFIG, recoveryPoint: 0 })
    assertTruthful(log, hist, cleanedUpTo, 1 << 20)
  } finally {
    await log.close()
  }
}

bothIO('cleaner model: random puts, tombstones, rolls, passes and reopens against the history (fast-check)', async (env) => {
  let n = 0
  await fc.assert(
    fc.asyncProperty(fc.array(cmd, { minLength: 5, maxLength: 100 }), async (cmds) => {
      await run(env, path.join(env.root, `run-${n++}`), cmds)
    }),
    { numRuns: env.kind === 'memory' ? 300 : 60 },
  )
})
