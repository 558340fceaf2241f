// Kafka protocol error codes, and the one each kafkalite error (by its `code`) is answered with.
import { KafkaliteError } from '../errors.js'

export const ErrorCode = {
  UNKNOWN_SERVER_ERROR: -1,
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  COORDINATOR_NOT_AVAILABLE: 15,
  INVALID_TOPIC_EXCEPTION: 17,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_CONFIG: 40,
  INVALID_REQUEST: 42,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  INVALID_TRANSACTION_TIMEOUT: 50,
  KAFKA_STORAGE_ERROR: 56,
  GROUP_ID_NOT_FOUND: 69,
  NON_EMPTY_GROUP: 68,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  INVALID_RECORD: 87,
} as const

const BY_KAFKALITE_CODE: Record<string, number> = {
  UNKNOWN_TOPIC: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  INVALID_PARTITION: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  TOPIC_EXISTS: ErrorCode.TOPIC_ALREADY_EXISTS,
  INVALID_TOPIC: ErrorCode.INVALID_TOPIC_EXCEPTION,
  INVALID_CONFIG: ErrorCode.INVALID_CONFIG,
  INVALID_RECORD: ErrorCode.INVALID_RECORD,
  RECORD_TOO_LARGE: ErrorCode.MESSAGE_TOO_LARGE,
  CORRUPTION: ErrorCode.CORRUPT_MESSAGE,
  OFFSET_OUT_OF_RANGE: ErrorCode.OFFSET_OUT_OF_RANGE,
  REBALANCE_IN_PROGRESS: ErrorCode.REBALANCE_IN_PROGRESS,
  ILLEGAL_GENERATION: ErrorCode.ILLEGAL_GENERATION,
  UNKNOWN_MEMBER: ErrorCode.UNKNOWN_MEMBER_ID,
  GROUP_NOT_FOUND: ErrorCode.GROUP_ID_NOT_FOUND,
  NON_EMPTY_GROUP: ErrorCode.NON_EMPTY_GROUP,
  FENCED: ErrorCode.INVALID_PRODUCER_EPOCH,
  OUT_OF_ORDER_SEQUENCE: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  TIMEOUT: ErrorCode.REQUEST_TIMED_OUT,
  STORAGE: ErrorCode.KAFKA_STORAGE_ERROR,
  CLOSED: ErrorCode.NOT_LEADER_OR_FOLLOWER,
  UNSUPPORTED_VERSION: ErrorCode.UNSUPPORTED_VERSION,
}

/** The Kafka error code a failed call is answered with (UNKNOWN_SERVER_ERROR for anything unexpected). */
export function errorCodeOf(err: unknown): number {
  if (err instanceof KafkaliteError || (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string')) {
    return BY_KAFKALITE_CODE[(err as { code: string }).code] ?? ErrorCode.UNKNOWN_SERVER_ERROR
  }
  return ErrorCode.UNKNOWN_SERVER_ERROR
}

/** The message to send along where a response has an error_message field. */
export function errorMessageOf(err: unknown): string | null {
  return err instanceof Error ? err.message : null
}

const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state'])

/**
 * Topics whose records the broker itself writes and decodes, as Kafka's Topic.isInternal: clients
 * may read them, never write, delete or reshape them (Kafka answers INVALID_TOPIC_EXCEPTION).
 */
export function isInternalTopic(name: string): boolean {
  return INTERNAL_TOPICS.has(name)
}
