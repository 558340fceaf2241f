// The fuzz worker: runs the targets it is given one after the other, each for its share of the
// time budget (setup, the deterministic sweep, fast-check random bytes, then seeded mutations until
// the deadline), and posts each target's report. Started by runner.ts.
import { parentPort, workerData } from 'node:worker_threads'
import fc from 'fast-check'
import { Probe, Rng, caseSeed, describe, installAllocSpy, type Failure } from './harness.js'
import type { Target } from './target.js'
import { SELF_CHECKS, TARGETS } from './targets.js'

export interface WorkerInput {
  ids: string[]
  seed: number
  budgets: Record<string, number>
  shared: SharedArrayBuffer
}

export interface TargetReport {
  id: string
  name: string
  calls: number
  sweepMs: number
  randomRuns: number
  mutatedCases: number
  ms: number
  failures: Failure[]
  /** Known defects outside this change that the target met, with how often. */
  known: Array<[string, number]>
}

async function runTarget(id: string, target: Target, seed: number, budgetMs: number, shared: SharedArrayBuffer): Promise<TargetReport> {
  const probe = new Probe(target.name, shared)
  const started = Date.now()
  const deadline = started + budgetMs
  let randomRuns = 0
  let mutatedCases = 0
  let sweepMs = 0
  try {
    await target.setup?.()
    const swept = Date.now()
    await target.sweep?.(probe)
    sweepMs = Date.now() - swept
    const randomMs = Math.floor((deadline - Date.now()) / 3)
    if (randomMs > 0) {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 7 }), async (u, choice) => {
          probe.at = `fast-check run ${randomRuns++} (seed ${seed})`
          await target.randomBytes(probe, Buffer.from(u.buffer, u.byteOffset, u.byteLength), choice)
        }),
        { seed, numRuns: 100_000_000, interruptAfterTimeLimit: randomMs },
      )
    }
    while (Date.now() < deadline) {
      probe.at = `mutated case ${mutatedCases}`
      await target.mutated(probe, new Rng(caseSeed(seed, id, mutatedCases)))
      mutatedCases++
    }
  } catch (err) {
    probe.fail('the target itself', Buffer.alloc(0), `crashed at ${probe.at}: ${describe(err)}`)
  } finally {
    await Promise.resolve(target.teardown?.()).catch(() => undefined)
  }
  return {
    id, name: target.name, calls: probe.calls, sweepMs, randomRuns, mutatedCases, ms: Date.now() - started,
    failures: [...probe.failures.values()], known: [...probe.known],
  }
}

const input = workerData as WorkerInput
installAllocSpy()
for (const id of input.ids) {
  const make = TARGETS[id] ?? SELF_CHECKS[id]!
  parentPort!.postMessage({ type: 'start', id })
  const report = await runTarget(id, make(), input.seed, input.budgets[id]!, input.shared)
  parentPort!.postMessage({ type: 'done', id, report })
}
