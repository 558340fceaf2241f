// Model test of the public Broker API: fast-check generates random command sequences (create,
// delete and alter topics, add partitions, send with acks 'all' or 'leader' alone or concurrently,
// read through consumers and raw batches, seek by offset and timestamp, offsetForTimestamp, commit
// group offsets as admin and as a member, read as a group member, delete groups, deleteRecords,
// advance the clock and run retention, run the cleaner, close and reopen, crash the in-memory file
// layer between commands or in the middle of one) and every observable result is compared with the
// plain in-memory model in model.ts (outcomes.ts for what it can only bound). known-defects.ts holds
// the switches for the cases of the defects it found (fixed, kept on).
//
// KAFKALITE_MODEL_RUNS sets the number of sequences (default 1000; `npm run test:model` runs 10000),
// KAFKALITE_SEED fixes the seed, and KAFKALITE_MODEL_PATH (with the seed) replays the counterexample
// path fast-check prints on failure; KAFKALITE_MODEL_TRACE=1 prints each command as it runs, and
// KAFKALITE_MODEL_SHRINK=0 reports the first failing sequence as it is, without shrinking it.
import { writeSync } from 'node:fs'
import fc from 'fast-check'
import { test } from '../fixtures/helpers.js'
import { sequence, type Cmd } from './commands.js'
import { coverage } from './coverage.js'
import { Runner } from './runner.js'

const RUNS = Number(process.env.KAFKALITE_MODEL_RUNS ?? 1000)
const SEED = process.env.KAFKALITE_SEED !== undefined ? Number(process.env.KAFKALITE_SEED) : (Date.now() ^ (Math.random() * 0x1_0000_0000)) | 0
const PATH = process.env.KAFKALITE_MODEL_PATH
const TIMEOUT_MS = Number(process.env.KAFKALITE_TEST_TIMEOUT ?? 120_000)
/** Writes every command to stderr before it runs (synchronously: a spinning event loop still shows it). */
const TRACE = process.env.KAFKALITE_MODEL_TRACE === '1'

/** Runs one sequence on a fresh in-memory broker; the failing step is named in the error. */
async function runSequence(cmds: Cmd[]): Promise<void> {
  if (TRACE) writeSync(2, `--- sequence of ${cmds.length} commands\n`)
  const runner = new Runner()
  await runner.open()
  try {
    for (const [i, cmd] of cmds.entries()) {
      try {
        if (TRACE) writeSync(2, `${i} ${JSON.stringify(cmd)}\n`)
        await runner.step(cmd)
      } catch (err) {
        throw new Error(`step ${i} (${cmd.t}): ${(err as Error)?.message}`, { cause: err })
      }
    }
    await runner.finish()
  } catch (err) {
    // The broker may be in any state here: closing it must not hide why the run failed.
    await runner.close().catch(() => undefined)
    throw err
  }
  await runner.close()
}

test(`broker model: ${RUNS} random command sequences against an in-memory model`, async (t) => {
  const replay = `seed ${SEED} (replay: KAFKALITE_SEED=${SEED}${PATH ? ` KAFKALITE_MODEL_PATH=${PATH}` : ''})`
  // Printed at once as well: a run that times out never gets to its diagnostics.
  console.log(`broker model: ${RUNS} runs, ${replay}`)
  t.diagnostic(replay)
  try {
    await fc.assert(fc.asyncProperty(sequence, runSequence), {
      numRuns: RUNS,
      seed: SEED,
      path: PATH,
      // Shrinking a long failing sequence can take longer than the test may: stop in time and report
      // the smallest counterexample found so far (an interrupted run counts as a failure).
      interruptAfterTimeLimit: Math.max(TIMEOUT_MS - 20_000, 10_000),
      markInterruptAsFailure: true,
      endOnFailure: process.env.KAFKALITE_MODEL_SHRINK === '0',
    })
  } finally {
    t.diagnostic(`covered: ${[...coverage].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`)
  }
}, TIMEOUT_MS)
