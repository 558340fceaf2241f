// Decoder fuzzing: random and mutated bytes fed to every decoder of bytes that come from disk or
// from another process. Each decoder is tested at the boundary where its callers see it:
//
//   decoder (file)                                   boundary: what may escape
//   ----------------------------------------------   ------------------------------------------------
//   record batch codec (storage/record-batch.ts,     CorruptionError only. The codec's DecodeError
//     record-body.ts): checkBatch, batchSizeAt,      (storage/varint.ts) is a CorruptionError whose
//     readBatchHeader, decodeRecords (incl. gzip,    file is unknown (''); callers that know the file
//     snappy, lz4), forEachRecordKey                 rethrow it with file and position. checkBatch
//   varints (storage/varint.ts)                      never throws, and a batch it passes has a header
//   transaction markers (storage/control-batch.ts)   readBatchHeader reads (bar a baseOffset beyond
//                                                    2^53: outside the CRC). decodeRecords and
//                                                    forEachRecordKey agree on every batch both
//                                                    accept; offsets and timestamps are safe integers.
//   snappy and lz4 (storage/compression-snappy.ts,   CorruptionError only (DecodeError); the output
//     compression-lz4.ts): raw and xerial snappy,    stays within the limit given (also a small one),
//     LZ4 frames                                     what decodes compresses back to the same bytes.
//   .index / .timeindex (storage/offset-index.ts,    nothing: a bad index is refused with null (and
//     storage/time-index.ts: fromBuffer)             rebuilt from the .log); an accepted one writes
//                                                    back to the same bytes.
//   checkpoints (storage/checkpoint.ts)              CorruptionError naming the file; accepted
//                                                    offsets are safe integers ≥ 0.
//   a partition's files (storage/log.ts: Log.open    CorruptionError naming the file, and reading
//     over mutated .log/.index/.timeindex, read,     advances. Defects found there in files outside
//     offsetForTimestamp)                            the decoders are listed in targets-files.ts
//                                                    (KNOWN_LOG_DEFECTS): counted and printed, not
//                                                    failed, until their owners fix them.
//   metadata log (broker/metadata.ts:                CorruptionError, or UnsupportedVersionError for
//     MetadataLog.open replaying msgpack records)    a newer format; the replayed state holds only
//                                                    topics the broker can open (valid name, id,
//                                                    partition count and config).
//   __consumer_offsets (client/group/offset-store.ts: CorruptionError; OffsetStore.load advances
//     decodeOffsetKey/Value, OffsetStore.load)       past every batch (empty ones too).
//   consumer protocol bytes from a member            InvalidRecordError (bad input from another
//     (client/group/consumer-protocol.ts)            process, not corruption).
//   fetch decoding (client/fetch-decode.ts)          CorruptionError; messages and headers as
//                                                    decodeRecords gives them.
//   raw appends (broker/partition.ts: appendBatch)   InvalidRecordError / RecordTooLargeError, and
//                                                    every accepted batch reads back and decodes.
//
// Inputs: (a) random bytes of random lengths from fast-check, bare or behind a plausible header with
// a valid CRC; (b) valid encodings from kafkalite's encoders, mutated: bit flips, byte overwrites,
// truncation at every length, garbage appended, length and count fields set to extreme values, and
// record bodies edited below a recomputed CRC (recompressed for gzip, snappy, lz4), so the record
// parser itself is reached, as by a batch a buggy client sent with a correct CRC; for the snappy and
// lz4 decoders, LZ4 frames edited below a recomputed header checksum and random element streams.
// Every call is checked for: an error outside its boundary; taking over 1 s (harness.ts); Buffer
// allocations above a bound derived from the input (4 × input + 64 KiB; for compressed records, what
// the codec can expand to, capped by DECOMPRESSED_BYTES_MAX); a result holding more values than its input can
// encode; and, from outside the worker thread, a call that never returns (runner.ts). The worker's
// JS heap is capped too.
//
// Budget: 60% of KAFKALITE_FUZZ_MS (default 10 s, shared with the wire fuzzing: 6 s here), split
// among the targets by weight; `npm run test:fuzz` gives 72 s. The seed is printed; KAFKALITE_SEED=<seed> replays a run (a
// failure names its phase and case number), KAFKALITE_FUZZ_TARGET=<id>,... runs some targets only.
import assert from 'node:assert/strict'
import { test } from '../fixtures/helpers.js'
import { FUZZ_MS, runSeed } from './harness.js'
import { formatFailure, runTargets } from './runner.js'
import { SELF_CHECKS, TARGETS, selectedTargets } from './targets.js'

const TIMEOUT_MS = Number(process.env.KAFKALITE_TEST_TIMEOUT ?? 120_000)

test('the harness flags a hang, a length-driven allocation, an oversized result, a foreign error and a wrong value', async () => {
  const ids = Object.keys(SELF_CHECKS)
  // Generous budgets: on a loaded machine a worker's start alone can take longer than a short one.
  const budgets = Object.fromEntries(ids.map((id) => [id, 1000]))
  const reports = await runTargets(ids, 1, budgets)
  const flagged = new Map(reports.map((r) => [r.id, r.failures.map((f) => f.signature).join(' | ')]))
  assert.match(flagged.get('self-check hang') ?? '', /^hang: /)
  assert.match(flagged.get('self-check allocation') ?? '', /allocated N Buffer bytes/)
  assert.match(flagged.get('self-check result size') ?? '', /returned more than N items/)
  assert.match(flagged.get('self-check foreign error') ?? '', /threw RangeError/)
  assert.match(flagged.get('self-check wrong value') ?? '', /returned a wrong value/)
}, TIMEOUT_MS)

test('decoders raise only their boundary\'s errors on random and mutated bytes, never hang, allocate within bounds', async (t) => {
  const seed = runSeed()
  const ids = selectedTargets()
  const weights = Object.fromEntries(ids.map((id) => [id, TARGETS[id]!().weight ?? 1]))
  const total = Object.values(weights).reduce((a, b) => a + b, 0)
  const budgets = Object.fromEntries(ids.map((id) => [id, Math.round((0.6 * FUZZ_MS * weights[id]!) / total)]))
  console.log(`decoder fuzzing: seed ${seed} (replay with KAFKALITE_SEED=${seed}), ${Math.round(0.6 * FUZZ_MS)} ms over ${ids.length} targets`)
  const started = Date.now()
  const reports = await runTargets(ids, seed, budgets)
  console.log(`decoder fuzzing took ${Date.now() - started} ms`)
  for (const r of reports) {
    await t.test(r.name, () => {
      console.log(`${r.name}: ${r.calls} calls (sweep ${r.sweepMs} ms, ${r.randomRuns} random, ${r.mutatedCases} mutated) in ${r.ms} ms`)
      for (const [what, n] of r.known) console.log(`  known defect, not fixed here (${n}×): ${what}`)
      if (r.failures.length > 0) {
        assert.fail(`${r.failures.length} defect(s) under seed ${seed}:\n${r.failures.map((f) => formatFailure(f, seed)).join('\n')}`)
      }
    })
  }
}, TIMEOUT_MS)
