// Every fuzz target, by id (KAFKALITE_FUZZ_TARGET=<id substring>,... runs a subset), and the
// self-check targets: deliberately broken decoders the harness must flag.
import { expect, type Probe } from './harness.js'
import type { Target } from './target.js'
import { controlBatchTarget, recordBatchTarget, varintTarget } from './targets-codec.js'
import { compressionTarget } from './targets-compression.js'
import { checkpointTarget, indexTarget, logTarget } from './targets-files.js'
import {
  appendBatchTarget, consumerProtocolTarget, fetchTarget, metadataTarget, offsetStoreTarget,
} from './targets-broker.js'
import { CorruptionError } from '../../src/errors.js'
import { isCorruption } from './target.js'

export const TARGETS: Record<string, () => Target> = {
  'record-batch': recordBatchTarget,
  varint: varintTarget,
  'control-batch': controlBatchTarget,
  compression: compressionTarget,
  indexes: indexTarget,
  checkpoint: checkpointTarget,
  log: logTarget,
  metadata: metadataTarget,
  'offset-store': offsetStoreTarget,
  'consumer-protocol': consumerProtocolTarget,
  fetch: fetchTarget,
  'append-batch': appendBatchTarget,
}

/** Ids of the targets to run: all, or those matching KAFKALITE_FUZZ_TARGET (comma-separated). */
export function selectedTargets(): string[] {
  const filter = (process.env.KAFKALITE_FUZZ_TARGET ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  const ids = Object.keys(TARGETS)
  return filter.length === 0 ? ids : ids.filter((id) => filter.some((f) => id.includes(f)))
}

/** One broken decoder per failure the harness must catch; each fails on its first call. */
function broken(name: string, run: (probe: Probe, input: Buffer) => void): Target {
  const once = (probe: Probe) => run(probe, Buffer.from('0123456789abcdef'))
  return { name, randomBytes: once, mutated: once }
}

export const SELF_CHECKS: Record<string, () => Target> = {
  'self-check hang': () =>
    broken('self-check hang', (probe, input) => {
      probe.watchdogMs = 300
      probe.call('spins', input, () => {
        for (;;) {
          // a decoder stuck in a loop
        }
      }, { allowed: isCorruption })
    }),
  'self-check allocation': () =>
    broken('self-check allocation', (probe, input) => {
      probe.call('allocates by a length field', input, () => Buffer.allocUnsafe(input.readUInt32BE(0) >>> 6).length, { allowed: isCorruption })
    }),
  'self-check result size': () =>
    broken('self-check result size', (probe, input) => {
      probe.call('returns a huge array', input, () => new Array<number>(input.readUInt16BE(0)).fill(0), { allowed: isCorruption })
    }),
  'self-check foreign error': () =>
    broken('self-check foreign error', (probe, input) => {
      probe.call('reads out of range', input, () => input.readInt32BE(input.length), { allowed: isCorruption })
    }),
  'self-check wrong value': () =>
    broken('self-check wrong value', (probe, input) => {
      probe.call('returns garbage', input, () => -1, { allowed: (e) => e instanceof CorruptionError, check: (n) => expect(n >= 0, `${n} < 0`) })
    }),
}
