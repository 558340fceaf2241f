// What a fuzz target is: the decoder calls it makes on one input, and where its inputs come from.
import { CorruptionError, type KafkaliteError } from '../../src/errors.js'
import type { Probe, Rng } from './harness.js'

export interface Target {
  name: string
  /** Share of the time budget, relative to the other targets (default 1). */
  weight?: number
  /** Builds the target's corpus (not timed against the budget). */
  setup?(): void | Promise<void>
  /** Deterministic cases run first: every truncation, every field set to extreme values, ... */
  sweep?(probe: Probe): void | Promise<void>
  /** One case of purely random bytes from fast-check; `choice` picks how they are framed. */
  randomBytes(probe: Probe, bytes: Buffer, choice: number): void | Promise<void>
  /** One seeded case: a corpus item mutated. */
  mutated(probe: Probe, rng: Rng): void | Promise<void>
  /** Releases what setup() opened. */
  teardown?(): void | Promise<void>
}

/** The storage and broker boundary: only CorruptionError (code CORRUPTION) may escape. */
export function isCorruption(err: unknown): boolean {
  return err instanceof CorruptionError && (err as KafkaliteError).code === 'CORRUPTION'
}

/** Nothing may escape (e.g. checkBatch, the index sanity checks). */
export const nothing = (): boolean => false
