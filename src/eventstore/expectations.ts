// The checks of stream ids and expected revisions, and whether an expectation holds for a stream.
import { InvalidConfigError } from '../index.js'
import { WrongExpectedVersionError, type ExpectedRevision } from './errors.js'

export function checkStreamId(streamId: unknown): asserts streamId is string {
  if (typeof streamId !== 'string' || streamId === '') throw new InvalidConfigError('a stream id is a non-empty string')
}

export function checkExpected(e: unknown): void {
  if (e === 'any' || e === 'no_stream' || e === 'stream_exists') return
  if ((typeof e === 'number' && Number.isSafeInteger(e) && e >= 0) || (typeof e === 'bigint' && e >= 0n)) return
  throw new InvalidConfigError(`expectedRevision must be 'any', 'no_stream', 'stream_exists' or a revision ≥ 0, got ${String(e)}`)
}

/** Throws WrongExpectedVersionError unless `expected` holds for a stream at `last` (null: no visible events). */
export function checkExpectation(streamId: string, expected: ExpectedRevision, last: number | null): void {
  const ok =
    expected === 'any' ||
    (expected === 'no_stream' && last === null) ||
    (expected === 'stream_exists' && last !== null) ||
    (typeof expected !== 'string' && last !== null && Number(expected) === last)
  if (!ok) throw new WrongExpectedVersionError(streamId, expected, last ?? 'no_stream')
}
