// The event store's errors, with EventStoreDB's `type` strings and fields, as KafkaliteErrors with a
// stable `code` (match on `code` or `type`, not on instanceof across package copies).
import { KafkaliteError } from '../index.js'

/** An expected revision as given: 'any', 'no_stream', 'stream_exists' or a revision number. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number | bigint

/** An append's expectation did not hold; nothing was written. */
export class WrongExpectedVersionError extends KafkaliteError {
  override readonly code = 'WRONG_EXPECTED_VERSION'
  readonly type = 'wrong-expected-version'
  constructor(
    readonly streamId: string,
    readonly expectedRevision: ExpectedRevision,
    /** The stream's last revision, or 'no_stream'. */
    readonly actualRevision: number | 'no_stream',
  ) {
    super(`stream ${streamId}: expected revision ${String(expectedRevision)}, actual ${String(actualRevision)}`)
  }
  /** EventStoreDB's names for the same fields. */
  get streamName(): string {
    return this.streamId
  }
  get expectedVersion(): ExpectedRevision {
    return this.expectedRevision
  }
  get actualVersion(): number | 'no_stream' {
    return this.actualRevision
  }
}

/** The stream has no events (never written, or deleted). */
export class StreamNotFoundError extends KafkaliteError {
  override readonly code = 'STREAM_NOT_FOUND'
  readonly type = 'stream-not-found'
  constructor(readonly streamId: string) {
    super(`stream ${streamId} not found`)
  }
  get streamName(): string {
    return this.streamId
  }
}

/** The stream was tombstoned: it can never be read or written again. */
export class StreamDeletedError extends KafkaliteError {
  override readonly code = 'STREAM_DELETED'
  readonly type = 'stream-deleted'
  constructor(readonly streamId: string) {
    super(`stream ${streamId} is deleted (tombstoned)`)
  }
  get streamName(): string {
    return this.streamId
  }
}
