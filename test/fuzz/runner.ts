// Runs fuzz targets in a worker thread and watches it from the main thread: a decoder call that
// never returns cannot be timed from inside, so the worker marks each call's start in shared memory
// and the runner terminates it when a call outlives its watchdog limit, reports the hang with the
// case and input, and starts a new worker for the targets still to run. A worker that dies (e.g.
// out of heap under its resourceLimits) is reported the same way.
import { Worker } from 'node:worker_threads'
import { SHOWN_BYTES_MAX, WATCH_BYTES, WATCH_INPUT_MAX, WATCH_LABEL_MAX, WATCH_SLOTS, type Failure } from './harness.js'
import type { TargetReport, WorkerInput } from './worker.js'

/** JS heap a fuzz worker may use: a decoder that builds huge results runs out of it and is reported. */
const WORKER_HEAP_MB = 512

function startWorker(data: WorkerInput): Worker {
  // node 20 workers do not inherit tsx's loader hooks: load the worker through tsx's API
  const api = import.meta.resolve('tsx/esm/api')
  const self = JSON.stringify(import.meta.url)
  const file = JSON.stringify(new URL('./worker.ts', import.meta.url).href)
  const code = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${file}, ${self}))`
  return new Worker(code, { eval: true, workerData: data, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } })
}

function deadReport(id: string, name: string, signature: string, message: string, at: string, input: Buffer): TargetReport {
  const failure: Failure = {
    target: name, signature, message, at, input: input.subarray(0, SHOWN_BYTES_MAX).toString('hex'), inputBytes: input.length, count: 1,
  }
  return { id, name: id, calls: 0, sweepMs: 0, randomRuns: 0, mutatedCases: 0, ms: 0, failures: [failure], known: [] }
}

/** Runs `ids` (in order) with their budgets; resolves with one report per target. */
export async function runTargets(ids: string[], seed: number, budgets: Record<string, number>): Promise<TargetReport[]> {
  const reports: TargetReport[] = []
  let rest = [...ids]
  while (rest.length > 0) {
    const shared = new SharedArrayBuffer(WATCH_BYTES)
    const slots = new Float64Array(shared, 0, 4)
    const label = new Uint8Array(shared, 32, WATCH_LABEL_MAX)
    const inputBytes = new Uint8Array(shared, 32 + WATCH_LABEL_MAX, WATCH_INPUT_MAX)
    const worker = startWorker({ ids: rest, seed, budgets, shared })
    let current = rest[0]!
    const lastCase = (): { at: string; input: Buffer } => ({
      at: new TextDecoder().decode(label.subarray(0, slots[WATCH_SLOTS.labelBytes])),
      input: Buffer.from(inputBytes.subarray(0, slots[WATCH_SLOTS.inputBytes])),
    })
    const died = await new Promise<TargetReport | null>((resolve) => {
      const timer = setInterval(() => {
        const started = slots[WATCH_SLOTS.startedAt]!
        const limit = slots[WATCH_SLOTS.watchdogMs]!
        if (started > 0 && Date.now() - started > limit) {
          clearInterval(timer)
          const { at, input } = lastCase()
          void worker.terminate()
          resolve(deadReport(current, current, `hang: ${at.replace(/-?\d+/g, 'N').slice(0, 120)}`,
            `a call did not return within ${limit} ms (the worker was terminated)`, at, input))
        }
      }, 25)
      worker.on('message', (m: { type: string; id: string; report?: TargetReport }) => {
        if (m.type === 'start') current = m.id
        else if (m.type === 'done') {
          reports.push(m.report!)
          rest = rest.filter((id) => id !== m.id)
        }
      })
      worker.on('error', (err) => {
        clearInterval(timer)
        const { at, input } = lastCase()
        resolve(deadReport(current, current, `worker died: ${(err as { code?: string }).code ?? err.name}`, `the worker died: ${err.stack ?? err}`, at, input))
      })
      worker.on('exit', () => {
        clearInterval(timer)
        resolve(null)
      })
    })
    if (died) {
      reports.push(died)
      rest = rest.filter((id) => id !== died.id)
    } else if (rest.length > 0 && rest[0] === current) {
      // the worker exited in the middle of a target without an error
      const { at, input } = lastCase()
      reports.push(deadReport(current, current, 'worker exited', 'the worker exited before finishing the target', at, input))
      rest = rest.slice(1)
    }
  }
  return reports
}

/** One failure, readable in a test report, with what is needed to find it again. */
export function formatFailure(f: Failure, seed: number): string {
  return [
    `${f.signature} (${f.count}×)`,
    `  first at: ${f.at}; replay with KAFKALITE_SEED=${seed}`,
    `  ${f.message.split('\n').join('\n  ')}`,
    `  input (${f.inputBytes} bytes): ${f.input}${f.inputBytes > SHOWN_BYTES_MAX ? '…' : ''}`,
  ].join('\n')
}
