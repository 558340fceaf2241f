// Exactly once across kill -9: a consume-transform-produce worker (test/fixtures/ctp-worker.ts) reads
// 'in' in a group and, in one transaction per fetched batch, writes one output per input to 'out' and
// commits the next input offsets (sendOffsets). This process fills 'in' with records carrying unique
// ids, then starts the worker and kills it with SIGKILL at a random moment (during its open, before
// its first commit, after a few commits, between the steps of a transaction), again and again; then
// it runs the worker once more to the end of 'in' and checks, reading 'out' from the beginning:
//   - read_committed (no group): every input id exactly once — nothing lost, nothing doubled;
//   - read_uncommitted: the aborted outputs (kills inside a transaction, aborts on purpose) are there
//     too, counted and reported, and every one of them is an input id;
//   - the group's committed offsets are at the end of every partition of 'in'.
// KAFKALITE_EOS_ITERATIONS sets the number of kills (default 10; 50 under `npm run test:crash`, which
// sets KAFKALITE_CRASH_ITERATIONS). Prints its seed; KAFKALITE_SEED=<n> repeats the inputs and the
// kill delays (the worker's own timing still varies).
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { Broker, type Isolation } from '../../src/index.js'
import { exited, killIfRunning, startFixture, stderrOf } from '../fixtures/child.js'
import { tempDir, test, waitFor } from '../fixtures/helpers.js'
import { mulberry32 } from '../fixtures/random.js'

const ITERATIONS = Number(process.env.KAFKALITE_EOS_ITERATIONS ?? (process.env.KAFKALITE_CRASH_ITERATIONS ? 50 : 10))
const INPUTS = Number(process.env.KAFKALITE_EOS_INPUTS ?? 3000)
const IN_PARTITIONS = 3
const OUT_PARTITIONS = 2
/** How long one run of the worker may take to reach the line the parent waits for. */
const LINE_MS = 30_000
const FINISH_MS = 90_000

/** A running worker and the lines it printed so far. */
class Worker {
  readonly child: ChildProcess
  readonly lines: string[] = []
  private listeners = new Set<() => void>()

  constructor(dir: string, seed: number, mode: 'loop' | 'finish') {
    this.child = startFixture('ctp-worker.ts', [dir, String(seed), mode])
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line)
      for (const l of this.listeners) l()
    })
    this.child.once('exit', () => {
      for (const l of this.listeners) l()
    })
  }

  count(prefix: string): number {
    return this.lines.filter((l) => l.startsWith(prefix)).length
  }

  /** Resolves once `cond` holds; rejects when the worker exits first or after `ms`. */
  until(cond: () => boolean, ms: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (cond()) done(resolve)
        else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done(() => reject(new Error(`worker exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; stderr: ${stderrOf(this.child)}`)))
        }
      }
      const timer = setTimeout(() => done(() => reject(new Error(`${what}: not within ${ms} ms; stderr: ${stderrOf(this.child)}`))), ms)
      const done = (settle: () => void): void => {
        clearTimeout(timer)
        this.listeners.delete(check)
        settle()
      }
      this.listeners.add(check)
      check()
    })
  }
}

/** The outputs of 'out' up to its end for `isolation`, as input id → count; a consumer without a group. */
async function readOut(broker: Broker, isolation: Isolation): Promise<Map<string, number>> {
  const seen = new Map<string, number>()
  const reader = broker.consumer({ fromBeginning: true, isolation })
  try {
    await reader.subscribe('out')
    await reader.run({ eachMessage: (m) => void seen.set(String(m.value), (seen.get(String(m.value)) ?? 0) + 1) })
    const out = broker.topic('out')
    const end = (p: number): number => (isolation === 'read_committed' ? out.partition(p).lastStableOffset : out.partition(p).highWatermark)
    await waitFor(() => Array.from({ length: OUT_PARTITIONS }, (_, p) => reader.position('out', p) >= end(p)).every(Boolean), 30_000, `reading 'out' (${isolation})`)
  } finally {
    await reader.close()
  }
  return seen
}

test(`exactly once: consume-transform-produce killed with kill -9 ${ITERATIONS} times outputs every input once`, async (t) => {
  const baseSeed = Number(process.env.KAFKALITE_SEED ?? Date.now() % 1e9)
  console.log(`eos crash seed ${baseSeed} (KAFKALITE_SEED=${baseSeed} repeats it)`)
  t.diagnostic(`seed ${baseSeed} (KAFKALITE_SEED=${baseSeed} repeats this loop)`)
  const random = mulberry32(baseSeed)
  const dir = tempDir(t, 'kafkalite-eos-')
  const running = new Set<ChildProcess>()
  t.after(async () => {
    for (const c of running) await killIfRunning(c)
  })

  // The input: unique ids in sends of 1–40 records (so batches of varied sizes), acks 'all'.
  const setup = await Broker.open({ dir })
  await setup.createTopic('in', { partitions: IN_PARTITIONS, segmentBytes: 16 * 1024 })
  await setup.createTopic('out', { partitions: OUT_PARTITIONS, segmentBytes: 16 * 1024 })
  const producer = setup.producer()
  for (let id = 0; id < INPUTS; ) {
    const n = Math.min(INPUTS - id, 1 + Math.floor(random() * 40))
    await producer.send('in', Array.from({ length: n }, (_, i) => ({ key: `k${(id + i) % 97}`, value: `id-${id + i}` })))
    id += n
  }
  await setup.close()

  const totals = { kills: 0, beforeReady: 0, beforeFirstCommit: 0, afterCommits: 0, caughtUp: 0, committed: 0, committedInputs: 0, abortedOnPurpose: 0 }
  const started = Date.now()
  for (let i = 0; i < ITERATIONS; i++) {
    const seed = baseSeed + 1 + i
    const worker = new Worker(dir, seed, 'loop')
    running.add(worker.child)
    const r = random()
    if (r < 0.2) {
      // Anywhere from its open to its first transactions.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 600)))
    } else if (r < 0.4) {
      // Inside its first transactions.
      await worker.until(() => worker.count('ready') > 0, LINE_MS, `ready (seed ${seed})`)
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 20)))
    } else {
      const commits = 1 + Math.floor(random() * (r < 0.6 ? 3 : 12))
      await worker.until(() => worker.count('committed') >= commits || worker.count('caught-up') > 0, LINE_MS, `${commits} commits (seed ${seed})`)
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 5)))
    }
    assert.equal(worker.child.exitCode, null, `worker (seed ${seed}) exited by itself; stderr: ${stderrOf(worker.child)}`)
    worker.child.kill('SIGKILL')
    await exited(worker.child, 10_000)
    running.delete(worker.child)
    totals.kills++
    if (worker.count('ready') === 0) totals.beforeReady++
    else if (worker.count('committed') === 0) totals.beforeFirstCommit++
    else totals.afterCommits++
    if (worker.count('caught-up') > 0) totals.caughtUp++
    totals.committed += worker.count('committed')
    totals.committedInputs += worker.lines.filter((l) => l.startsWith('committed ')).reduce((a, l) => a + Number(l.split(' ')[1]), 0)
    totals.abortedOnPurpose += worker.count('aborted')
  }
  const killMs = Date.now() - started

  // One more run, to the end of 'in'.
  const finisher = new Worker(dir, baseSeed, 'finish')
  running.add(finisher.child)
  await finisher.until(() => finisher.count('done') > 0, FINISH_MS, 'the last run to finish')
  assert.deepEqual(await exited(finisher.child, 10_000), { code: 0, signal: null }, stderrOf(finisher.child))
  running.delete(finisher.child)
  const finished = finisher.lines.filter((l) => l.startsWith('committed ')).reduce((a, l) => a + Number(l.split(' ')[1]), 0)
  totals.committed += finisher.count('committed')
  totals.committedInputs += finished

  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  const committed = await readOut(broker, 'read_committed')
  const uncommitted = await readOut(broker, 'read_uncommitted')
  const outputs = [...committed.values()].reduce((a, b) => a + b, 0)
  const all = [...uncommitted.values()].reduce((a, b) => a + b, 0)
  const doubled = [...committed].filter(([, n]) => n > 1)
  const missing = Array.from({ length: INPUTS }, (_, id) => `id-${id}`).filter((v) => !committed.has(v))
  const strangers = [...uncommitted.keys()].filter((v) => !/^id-\d+$/.test(v) || Number(v.slice(3)) >= INPUTS)
  const summary =
    `kills ${totals.kills} (before ready ${totals.beforeReady}, before the first commit ${totals.beforeFirstCommit}, after commits ${totals.afterCommits}, ` +
    `after catching up ${totals.caughtUp}) in ${killMs} ms; transactions committed ${totals.committed} (reported; ${totals.committedInputs} inputs, ${finished} of them by the last run), ` +
    `aborted on purpose ${totals.abortedOnPurpose}; outputs ${outputs} for ${INPUTS} inputs; duplicates under read_committed ${outputs - committed.size}; ` +
    `aborted records seen under read_uncommitted ${all - outputs}`
  console.log(`eos crash: ${summary}`)
  t.diagnostic(summary)
  assert.deepEqual(doubled.slice(0, 10), [], `inputs written more than once under read_committed (seed ${baseSeed})`)
  assert.deepEqual(missing.slice(0, 10), [], `inputs missing from 'out' (seed ${baseSeed}): ${missing.length} in all`)
  assert.equal(outputs, INPUTS)
  assert.deepEqual(strangers.slice(0, 10), [], 'outputs that are no input')
  assert.ok(all >= outputs)
  // A worker reports a commit only after it resolved, so the inputs of reported commits are at most the committed outputs.
  assert.ok(totals.committedInputs <= outputs, `${totals.committedInputs} inputs reported committed, ${outputs} committed outputs`)
  for (const l of broker.group('ctp').lag()) {
    assert.equal(l.committed, broker.topic('in').partition(l.partition).highWatermark, `committed offset of in-${l.partition}`)
  }
}, Number(process.env.KAFKALITE_TEST_TIMEOUT ?? Math.max(120_000, ITERATIONS * 6000)))
