// Every error kafkalite throws is a KafkaliteError with a stable `code` (one per class) and an
// explicit `retriable` flag. Match errors by `code`, never by `instanceof` across package copies.

export interface ErrorOptions {
  cause?: unknown
}

export class KafkaliteError extends Error {
  readonly code: string = 'KAFKALITE'
  readonly retriable: boolean = false
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A bug in kafkalite: an internal invariant did not hold. Never caught and ignored. */
export class InvariantViolation extends KafkaliteError {
  override readonly code = 'INVARIANT_VIOLATION'
}

export class UnknownTopicError extends KafkaliteError {
  override readonly code = 'UNKNOWN_TOPIC'
}
export class TopicExistsError extends KafkaliteError {
  override readonly code = 'TOPIC_EXISTS'
}
export class InvalidTopicError extends KafkaliteError {
  override readonly code = 'INVALID_TOPIC'
}
export class InvalidPartitionError extends KafkaliteError {
  override readonly code = 'INVALID_PARTITION'
}
export class LockError extends KafkaliteError {
  override readonly code = 'LOCKED'
  /** pid of the process holding the lock, when known. */
  readonly pid: number | undefined
  constructor(message: string, pid?: number, options?: ErrorOptions) {
    super(message, options)
    this.pid = pid
  }
}
export class CorruptionError extends KafkaliteError {
  override readonly code = 'CORRUPTION'
  /** File in which the bad bytes were found. */
  readonly file: string
  /** Byte position inside `file`. */
  readonly position: number
  constructor(message: string, file: string, position: number, options?: ErrorOptions) {
    super(`${message} (file ${file}, position ${position})`, options)
    this.file = file
    this.position = position
  }
}
export class OffsetOutOfRangeError extends KafkaliteError {
  override readonly code = 'OFFSET_OUT_OF_RANGE'
}
export class RebalanceInProgressError extends KafkaliteError {
  override readonly code = 'REBALANCE_IN_PROGRESS'
  override readonly retriable = true
}
export class FencedError extends KafkaliteError {
  override readonly code = 'FENCED'
}
export class ClosedError extends KafkaliteError {
  override readonly code = 'CLOSED'
}
export class InvalidConfigError extends KafkaliteError {
  override readonly code = 'INVALID_CONFIG'
}
export class InvalidRecordError extends KafkaliteError {
  override readonly code = 'INVALID_RECORD'
}
export class RecordTooLargeError extends KafkaliteError {
  override readonly code = 'RECORD_TOO_LARGE'
}
export class IllegalGenerationError extends KafkaliteError {
  override readonly code = 'ILLEGAL_GENERATION'
}
export class UnknownMemberError extends KafkaliteError {
  override readonly code = 'UNKNOWN_MEMBER'
}
export class GroupNotFoundError extends KafkaliteError {
  override readonly code = 'GROUP_NOT_FOUND'
}
export class NonEmptyGroupError extends KafkaliteError {
  override readonly code = 'NON_EMPTY_GROUP'
}
export class OutOfOrderSequenceError extends KafkaliteError {
  override readonly code = 'OUT_OF_ORDER_SEQUENCE'
}
/** A data dir written by a newer kafkalite (a format version this one does not know). */
export class UnsupportedVersionError extends KafkaliteError {
  override readonly code = 'UNSUPPORTED_VERSION'
}
/** A file-system operation failed (ENOSPC, EIO, ...). `cause` holds the system error. */
export class StorageError extends KafkaliteError {
  override readonly code = 'STORAGE'
  override readonly retriable: boolean
  constructor(message: string, retriable: boolean, options?: ErrorOptions) {
    super(message, options)
    this.retriable = retriable
  }
}
/** The producer has more bytes in flight than `maxInFlightBytes` allows and `send` was asked not to wait. */
export class TimeoutError extends KafkaliteError {
  override readonly code = 'TIMEOUT'
  override readonly retriable = true
}
