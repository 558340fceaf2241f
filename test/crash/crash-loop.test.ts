// The crash loop: a child (test/fixtures/crash-workload.ts) runs a seeded mix of acks 'all' sends,
// retention, compaction, group commits and topic churn on a data dir; this process kills it with
// SIGKILL at a random moment (sometimes while it opens and recovers the dir, sometimes after many
// rolls), reopens the dir here and checks:
//   - every acknowledged record of 'stream' is at its offset exactly once, in send order, and so is
//     every one of 'retained' at or above its log start offset;
//   - every key of 'compacted' still has its last acknowledged update (or a later one), a key whose
//     last update was a tombstone may be gone;
//   - every committed offset is at least the last one reported, and none is left for a topic that
//     no longer exists;
//   - a topic whose creation resolved is whole (partitions, records, log start), one whose deletion
//     resolved is gone, with its directories;
//   - every partition, internal ones too, reads from its log start to its high watermark;
//   - the dir opens at once, also when opened as if a minute later (the dead holder's lock stale by then).
// A dir is reused for a few runs (recovering a recovered log), then a fresh one starts. Each run
// prints its seed; KAFKALITE_SEED=<n> repeats the workload and kill delays of a whole loop.
// KAFKALITE_CRASH_ITERATIONS sets the number of runs (default 20; `npm run test:crash` runs 200).
import assert from 'node:assert/strict'
import { existsSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { Broker } from '../../src/index.js'
import { exited, killIfRunning, startFixture, stderrOf } from '../fixtures/child.js'
import { test, withDeadline } from '../fixtures/helpers.js'
import { mulberry32 } from '../fixtures/random.js'
import { checkAllReadable, checkChurn, checkCommits, checkCompacted, checkProduced } from './crash-checks.js'
import { PHASES, Run, freshDir, newTotals, type DirModel } from './crash-model.js'

const ITERATIONS = Number(process.env.KAFKALITE_CRASH_ITERATIONS ?? 20)
const TIMEOUT_MS = Number(process.env.KAFKALITE_TEST_TIMEOUT ?? 120_000)
/** The reopen and checks of one run take well under a second; past this the watchdog ends the test. */
const CHECK_MS = 60_000
/** The parent's own record after each check: the last seq of its run. */
const PARENT_SEQ = 0xffffffff

/** Sets back the times of `path` and everything under it by `ms`, as if that much time had passed. */
function age(path: string, ms: number): void {
  if (!existsSync(path)) return
  const then = new Date(Date.now() - ms)
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) age(join(path, name), ms)
  utimesSync(path, then, then)
}

/**
 * A watchdog thread for the reopen and the checks, which run synchronously for the most part: when
 * the deadline given to `arm` passes (a loop in open or in a read that never ends), it writes what
 * was going on to stderr and kills this process, so the run fails instead of hanging past every
 * test timeout (which cannot fire while the event loop is blocked).
 */
function watchdog(): { arm(ms: number, what: string): void; disarm(): void; stop(): Promise<number> } {
  const deadline = new Float64Array(new SharedArrayBuffer(8))
  const message = new Uint8Array(new SharedArrayBuffer(4096))
  const worker = new Worker(
    `const { workerData: { deadline, message } } = require('node:worker_threads')
     const { writeSync } = require('node:fs')
     setInterval(() => {
       if (deadline[0] === 0 || Date.now() < deadline[0]) return
       writeSync(2, '\\n' + Buffer.from(message).toString('utf8').replace(/\\0+$/, '') + '\\n')
       process.kill(process.pid, 'SIGKILL')
     }, 200)`,
    { eval: true, workerData: { deadline, message } },
  )
  worker.unref()
  return {
    arm(ms, what) {
      message.fill(0)
      message.set(Buffer.from(what).subarray(0, message.length))
      deadline[0] = Date.now() + ms
    },
    disarm() {
      deadline[0] = 0
    },
    stop: () => worker.terminate(),
  }
}

test(`crash loop: kill -9 at random moments, ${ITERATIONS} runs, loses no acknowledged write`, async (t) => {
  const baseSeed = Number(process.env.KAFKALITE_SEED ?? Date.now() % 1e9)
  console.log(`crash loop seed ${baseSeed} (KAFKALITE_SEED=${baseSeed} repeats it)`)
  t.diagnostic(`seed ${baseSeed} (KAFKALITE_SEED=${baseSeed} repeats this loop)`)
  const random = mulberry32(baseSeed)
  const totals = newTotals()
  const dirs: string[] = []
  t.after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const dog = watchdog()
  t.after(() => dog.stop())
  let model: DirModel | null = null
  let runsLeft = 0
  let totalAcks = 0
  for (let i = 0; i < ITERATIONS; i++) {
    const seed = Math.floor(random() * 2 ** 31)
    const r = mulberry32(seed)
    if (runsLeft === 0 || !model) {
      if (model) rmSync(model.dir, { recursive: true, force: true })
      model = await freshDir(r)
      dirs.push(model.dir)
      runsLeft = 1 + Math.floor(r() * 4)
    }
    runsLeft--
    model.runs++
    const child = startFixture('crash-workload.ts', [model.dir, String(seed), String(i)])
    t.after(() => killIfRunning(child))
    const run = new Run(child, model, totals)
    const died = new Promise<void>((_, reject) => child.once('exit', (code, sig) => reject(new Error(`child exited by itself (${code ?? sig}): ${stderrOf(child)}`))))
    died.catch(() => {})
    const duringOpen = r() < 0.15
    const delayMs = duringOpen ? Math.floor(r() * 40) : Math.floor(r() ** 2 * 1500)
    await withDeadline(Promise.race([duringOpen ? run.opening : run.ready, died]), 30_000, `run ${i} (seed ${seed}) ${duringOpen ? 'opening' : 'ready'}`)
    await new Promise((res) => setTimeout(res, delayMs))
    assert.equal(child.exitCode, null, `run ${i} (seed ${seed}): child exited by itself: ${stderrOf(child)}`)
    child.kill('SIGKILL')
    const exit = await exited(child, 10_000)
    assert.equal(exit.signal, 'SIGKILL', `run ${i} (seed ${seed}): child died by itself (${exit.code}): ${stderrOf(child)}`)
    await withDeadline(run.closed, 10_000, `run ${i}: child's stdout`)
    const inFlight = run.phasesInFlight()
    for (const p of inFlight.length > 0 ? inFlight : (['nothing'] as const)) totals.killsDuring.set(p, (totals.killsDuring.get(p) ?? 0) + 1)
    totalAcks += run.acks

    // Sometimes the dir is reopened as by a service restarted a minute after the crash: the dead
    // holder's lock is then older than the lock's staleness limit.
    const restartS = r() < 0.2 ? 60 : 0
    if (restartS > 0) age(join(model.dir, '.lock'), restartS * 1000)
    const context = `run ${i} (seed ${seed}, KAFKALITE_SEED=${baseSeed}), dir run ${model.runs}, killed ${delayMs} ms after ${duringOpen ? 'opening began' : 'ready'} during [${inFlight.join(', ')}], reopened ${restartS} s later`
    dog.arm(CHECK_MS, `crash loop ${context}: the reopen and checks did not finish within ${CHECK_MS} ms; this process is killed`)
    const started = Date.now()
    const broker: Broker = await Broker.open({ dir: model.dir }).catch((err: unknown) => {
      dog.disarm()
      throw new Error(`${context}: reopen failed: ${(err as Error).stack}\nlast lines of the child:\n${run.lastLines.join('\n')}`, { cause: err })
    })
    try {
      const openMs = Date.now() - started
      assert.ok(openMs < 5000, `reopen took ${openMs} ms: a dead holder's lock is taken over at once`)
      const cut = broker.recovery.reduce((n, rep) => n + rep.truncatedBytes, 0)
      totals.bytesCut += cut
      checkAllReadable(broker)
      checkProduced(broker, model, totals)
      checkCompacted(broker, model, totals)
      checkCommits(broker, model, totals)
      checkChurn(broker, model, totals)
      assert.deepEqual(broker.health().errors, [], 'health after reopen')
      // The reopened log takes appends after its recovered tail.
      const end = broker.topic('stream').latestOffset(0)
      const value = Buffer.alloc(12)
      value.writeUInt32BE(i, 0)
      value.writeUInt32BE(PARENT_SEQ, 4)
      value.writeUInt32BE(12, 8)
      const [meta] = await broker.producer().send('stream', { value, partition: 0 })
      assert.equal(meta!.offset, end, 'the first append after recovery lands at the recovered end')
      model.records.get('stream')!.get(0)!.set(end, { run: i, seq: PARENT_SEQ })
      t.diagnostic(`run ${i} seed ${seed}: dir run ${model.runs}, killed ${delayMs} ms after ${duringOpen ? 'opening began' : 'ready'} during [${inFlight.join(', ')}], ${run.acks} acks, recovery cut ${cut} bytes, reopen ${openMs} ms`)
    } catch (err) {
      throw new Error(`${context}: ${(err as Error).message}\nlast lines of the child:\n${run.lastLines.join('\n')}`, { cause: err })
    } finally {
      await broker.close()
      dog.disarm()
    }
  }
  const kills = [...PHASES, 'nothing' as const].map((p) => `${p} ${totals.killsDuring.get(p) ?? 0}`).join(', ')
  const ops = PHASES.map((p) => `${p} ${totals.started.get(p) ?? 0}`).join(', ')
  const summary = [
    `crash loop summary (seed ${baseSeed}): ${ITERATIONS} runs, ${totalAcks} acks reported; ${totals.acksChecked} record checks (acknowledged, or kept by an earlier run of the dir), ${totals.lost} lost`,
    `  ${totals.goneByRetention} below a retained log start (allowed), ${totals.unackedKept} kept without an ack; ${totals.keysChecked} compacted keys, ${totals.commitsChecked} committed offsets, ${totals.topicsChecked} churned topics checked; recovery cut ${totals.bytesCut} bytes`,
    `  kills with the phase under way (begun or queued, a kill may count in several): ${kills}`,
    `  operations begun: ${ops}; retention deleted ${totals.retentionSegments} segments, the cleaner rewrote ${totals.segmentsCleaned}`,
  ]
  for (const line of summary) t.diagnostic(line)
  console.log(summary.join('\n'))
  assert.equal(totals.lost, 0)
  assert.ok(totalAcks > ITERATIONS, `only ${totalAcks} acknowledged records over ${ITERATIONS} runs`)
}, TIMEOUT_MS)
