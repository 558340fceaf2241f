// KafkaJS's error classes, with their `name`, `retriable` and, for protocol errors, Kafka's error
// `type` and `code`, and the mapping from kafkalite's errors (matched by `code`, so that errors from
// another copy of the package map too). Code that catches KafkaJS errors works unchanged.

interface ErrorLike {
  message?: string
  helpUrl?: string
}

export class KafkaJSError extends Error {
  retriable: boolean
  helpUrl?: string
  override cause?: Error
  constructor(e: string | ErrorLike, { retriable = true, cause }: { retriable?: boolean; cause?: unknown } = {}) {
    super(typeof e === 'string' ? e : (e?.message ?? String(e)), cause === undefined ? undefined : { cause })
    this.name = 'KafkaJSError'
    this.retriable = retriable
    this.helpUrl = typeof e === 'object' ? e?.helpUrl : undefined
    this.cause = cause as Error | undefined
  }
}

export class KafkaJSNonRetriableError extends KafkaJSError {
  constructor(e: string | ErrorLike, { cause }: { cause?: unknown } = {}) {
    super(e, { retriable: false, cause })
    this.name = 'KafkaJSNonRetriableError'
  }
}

/** A Kafka protocol error: `type` and `code` as in Kafka's protocol (UNKNOWN_TOPIC_OR_PARTITION, 3). */
export class KafkaJSProtocolError extends KafkaJSError {
  type: string
  code: number
  constructor(e: string | (ErrorLike & { type?: string; code?: number; retriable?: boolean }), { retriable }: { retriable?: boolean } = {}) {
    const info = typeof e === 'string' ? { message: e } : e
    super(info, { retriable: retriable ?? (typeof e === 'object' ? e.retriable : undefined) ?? true })
    this.type = info.type ?? 'UNKNOWN'
    this.code = info.code ?? -1
    this.name = 'KafkaJSProtocolError'
  }
}

export class KafkaJSOffsetOutOfRange extends KafkaJSProtocolError {
  topic?: string
  partition?: number
  constructor(e: string | ErrorLike, { topic, partition }: { topic?: string; partition?: number } = {}) {
    super(typeof e === 'string' ? { ...PROTOCOL.OFFSET_OUT_OF_RANGE, message: e } : { ...PROTOCOL.OFFSET_OUT_OF_RANGE, ...e })
    this.topic = topic
    this.partition = partition
    this.name = 'KafkaJSOffsetOutOfRange'
  }
}

export class KafkaJSMemberIdRequired extends KafkaJSProtocolError {
  memberId?: string
  constructor(e: string | ErrorLike, { memberId }: { memberId?: string } = {}) {
    super(e)
    this.memberId = memberId
    this.name = 'KafkaJSMemberIdRequired'
  }
}

export class KafkaJSNumberOfRetriesExceeded extends KafkaJSNonRetriableError {
  retryCount?: number
  retryTime?: number
  constructor(e: string | (ErrorLike & { stack?: string }), { retryCount, retryTime }: { retryCount?: number; retryTime?: number } = {}) {
    super(e, { cause: e })
    this.retryCount = retryCount
    this.retryTime = retryTime
    this.name = 'KafkaJSNumberOfRetriesExceeded'
  }
}

export class KafkaJSConnectionError extends KafkaJSError {
  broker?: string
  code?: string
  constructor(e: string | ErrorLike, { broker, code }: { broker?: string; code?: string } = {}) {
    super(e)
    this.broker = broker
    this.code = code
    this.name = 'KafkaJSConnectionError'
  }
}

export class KafkaJSConnectionClosedError extends KafkaJSConnectionError {
  host?: string
  port?: number
  constructor(e: string | ErrorLike, { host, port }: { host?: string; port?: number } = {}) {
    super(e, { broker: `${host}:${port}` })
    this.host = host
    this.port = port
    this.name = 'KafkaJSConnectionClosedError'
  }
}

export class KafkaJSRequestTimeoutError extends KafkaJSError {
  broker?: string
  correlationId?: number
  createdAt?: number
  sentAt?: number
  pendingDuration?: number
  constructor(e: string | ErrorLike, o: { broker?: string; correlationId?: number; createdAt?: number; sentAt?: number; pendingDuration?: number } = {}) {
    super(e)
    Object.assign(this, o)
    this.name = 'KafkaJSRequestTimeoutError'
  }
}

export class KafkaJSMetadataNotLoaded extends KafkaJSError {
  constructor(e: string | ErrorLike, options?: { retriable?: boolean; cause?: unknown }) {
    super(e, options)
    this.name = 'KafkaJSMetadataNotLoaded'
  }
}

export class KafkaJSTopicMetadataNotLoaded extends KafkaJSMetadataNotLoaded {
  topic?: string
  constructor(e: string | ErrorLike, { topic }: { topic?: string } = {}) {
    super(e)
    this.topic = topic
    this.name = 'KafkaJSTopicMetadataNotLoaded'
  }
}

export class KafkaJSStaleTopicMetadataAssignment extends KafkaJSError {
  topic?: string
  unknownPartitions?: number[]
  constructor(e: string | ErrorLike, { topic, unknownPartitions }: { topic?: string; unknownPartitions?: number[] } = {}) {
    super(e)
    this.topic = topic
    this.unknownPartitions = unknownPartitions
    this.name = 'KafkaJSStaleTopicMetadataAssignment'
  }
}

export class KafkaJSDeleteGroupsError extends KafkaJSError {
  groups: Array<{ groupId: string; errorCode?: number; error?: KafkaJSProtocolError }>
  constructor(e: string | ErrorLike, groups: Array<{ groupId: string; errorCode?: number; error?: KafkaJSProtocolError }> = []) {
    super(e)
    this.groups = groups
    this.name = 'KafkaJSDeleteGroupsError'
  }
}

export class KafkaJSServerDoesNotSupportApiKey extends KafkaJSNonRetriableError {
  apiKey?: number
  apiName?: string
  constructor(e: string | ErrorLike, { apiKey, apiName }: { apiKey?: number; apiName?: string } = {}) {
    super(e)
    this.apiKey = apiKey
    this.apiName = apiName
    this.name = 'KafkaJSServerDoesNotSupportApiKey'
  }
}

export class KafkaJSBrokerNotFound extends KafkaJSError {
  constructor(e: string | ErrorLike, options?: { retriable?: boolean; cause?: unknown }) {
    super(e, options)
    this.name = 'KafkaJSBrokerNotFound'
  }
}

/** The non-retriable errors that only carry a name. */
function named(name: string): typeof KafkaJSNonRetriableError {
  return class extends KafkaJSNonRetriableError {
    constructor(e: string | ErrorLike, options?: { cause?: unknown }) {
      super(e, options)
      this.name = name
    }
  }
}

export class KafkaJSPartialMessageError extends named('KafkaJSPartialMessageError') {}
export class KafkaJSSASLAuthenticationError extends named('KafkaJSSASLAuthenticationError') {}
export class KafkaJSGroupCoordinatorNotFound extends named('KafkaJSGroupCoordinatorNotFound') {}
export class KafkaJSNotImplemented extends named('KafkaJSNotImplemented') {}
export class KafkaJSTimeout extends named('KafkaJSTimeout') {}
export class KafkaJSLockTimeout extends KafkaJSTimeout {
  constructor(e: string | ErrorLike, options?: { cause?: unknown }) {
    super(e, options)
    this.name = 'KafkaJSLockTimeout'
  }
}
export class KafkaJSUnsupportedMagicByteInMessageSet extends named('KafkaJSUnsupportedMagicByteInMessageSet') {}
export class KafkaJSInvalidVarIntError extends named('KafkaJSNonRetriableError') {}
export class KafkaJSInvalidLongError extends named('KafkaJSNonRetriableError') {}

export class KafkaJSInvariantViolation extends KafkaJSNonRetriableError {
  constructor(e: string | ErrorLike) {
    super(`Invariant violated: ${typeof e === 'string' ? e : e?.message}. This is likely a bug and should be reported.`)
    this.name = 'KafkaJSInvariantViolation'
  }
}

export class KafkaJSDeleteTopicRecordsError extends KafkaJSError {
  partitions: Array<{ partition: number; offset: string; error?: KafkaJSError | null }>
  constructor({ partitions }: { partitions: Array<{ partition: number; offset: string; error?: KafkaJSError | null }> }) {
    const errors = partitions.filter((p) => p.error != null)
    super('Error while deleting records', { retriable: errors.every((p) => p.error!.retriable === true) })
    this.name = 'KafkaJSDeleteTopicRecordsError'
    this.partitions = partitions
  }
}

export class KafkaJSCreateTopicError extends KafkaJSProtocolError {
  topic: string
  constructor(e: string | (ErrorLike & { type?: string; code?: number; retriable?: boolean }), topicName: string) {
    super(e)
    this.topic = topicName
    this.name = 'KafkaJSCreateTopicError'
  }
}

export class KafkaJSAlterPartitionReassignmentsError extends KafkaJSProtocolError {
  topic?: string
  partition?: number
  constructor(e: string | (ErrorLike & { type?: string; code?: number; retriable?: boolean }), topic?: string, partition?: number) {
    super(e)
    this.topic = topic
    this.partition = partition
    this.name = 'KafkaJSAlterPartitionReassignmentsError'
  }
}

export class KafkaJSAggregateError extends Error {
  errors: Error[]
  constructor(message: string, errors: Error[]) {
    super(message)
    this.errors = errors
    this.name = 'KafkaJSAggregateError'
  }
}

export class KafkaJSFetcherRebalanceError extends Error {}

export class KafkaJSNoBrokerAvailableError extends KafkaJSError {
  constructor() {
    super('No broker available')
    this.name = 'KafkaJSNoBrokerAvailableError'
  }
}

/** Kafka's protocol errors that kafkalite's errors map to (type, code, retriable, message as Kafka). */
export const PROTOCOL = {
  OFFSET_OUT_OF_RANGE: { type: 'OFFSET_OUT_OF_RANGE', code: 1, retriable: false, message: 'The requested offset is not within the range of offsets maintained by the server' },
  CORRUPT_MESSAGE: { type: 'CORRUPT_MESSAGE', code: 2, retriable: true, message: 'This message has failed its CRC checksum, exceeds the valid size, or is otherwise corrupt' },
  UNKNOWN_TOPIC_OR_PARTITION: { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true, message: 'This server does not host this topic-partition' },
  REQUEST_TIMED_OUT: { type: 'REQUEST_TIMED_OUT', code: 7, retriable: true, message: 'The request timed out' },
  MESSAGE_TOO_LARGE: { type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false, message: 'The request included a message larger than the max message size the server will accept' },
  INVALID_TOPIC_EXCEPTION: { type: 'INVALID_TOPIC_EXCEPTION', code: 17, retriable: false, message: 'The request attempted to perform an operation on an invalid topic' },
  ILLEGAL_GENERATION: { type: 'ILLEGAL_GENERATION', code: 22, retriable: false, message: 'Specified group generation id is not valid' },
  UNKNOWN_MEMBER_ID: { type: 'UNKNOWN_MEMBER_ID', code: 25, retriable: false, message: 'The coordinator is not aware of this member' },
  REBALANCE_IN_PROGRESS: { type: 'REBALANCE_IN_PROGRESS', code: 27, retriable: false, message: 'The group is rebalancing, so a rejoin is needed' },
  TOPIC_ALREADY_EXISTS: { type: 'TOPIC_ALREADY_EXISTS', code: 36, retriable: false, message: 'Topic with this name already exists' },
  INVALID_PARTITIONS: { type: 'INVALID_PARTITIONS', code: 37, retriable: false, message: 'Number of partitions is invalid' },
  INVALID_CONFIG: { type: 'INVALID_CONFIG', code: 40, retriable: false, message: 'Configuration is invalid' },
  OUT_OF_ORDER_SEQUENCE_NUMBER: { type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', code: 45, retriable: false, message: 'The broker received an out of order sequence number' },
  INVALID_PRODUCER_EPOCH: { type: 'INVALID_PRODUCER_EPOCH', code: 47, retriable: false, message: 'Producer attempted an operation with an old epoch' },
  INVALID_TXN_STATE: { type: 'INVALID_TXN_STATE', code: 48, retriable: false, message: 'The producer attempted a transactional operation in an invalid state' },
  NON_EMPTY_GROUP: { type: 'NON_EMPTY_GROUP', code: 68, retriable: false, message: 'The group is not empty' },
  GROUP_ID_NOT_FOUND: { type: 'GROUP_ID_NOT_FOUND', code: 69, retriable: false, message: 'The group id was not found' },
  INVALID_RECORD: { type: 'INVALID_RECORD', code: 87, retriable: false, message: 'This record has failed the validation on broker and hence be rejected' },
} as const

const BY_KAFKALITE_CODE: Record<string, keyof typeof PROTOCOL> = {
  UNKNOWN_TOPIC: 'UNKNOWN_TOPIC_OR_PARTITION',
  INVALID_PARTITION: 'UNKNOWN_TOPIC_OR_PARTITION',
  TOPIC_EXISTS: 'TOPIC_ALREADY_EXISTS',
  INVALID_TOPIC: 'INVALID_TOPIC_EXCEPTION',
  INVALID_CONFIG: 'INVALID_CONFIG',
  INVALID_RECORD: 'INVALID_RECORD',
  RECORD_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  CORRUPTION: 'CORRUPT_MESSAGE',
  REBALANCE_IN_PROGRESS: 'REBALANCE_IN_PROGRESS',
  ILLEGAL_GENERATION: 'ILLEGAL_GENERATION',
  UNKNOWN_MEMBER: 'UNKNOWN_MEMBER_ID',
  GROUP_NOT_FOUND: 'GROUP_ID_NOT_FOUND',
  NON_EMPTY_GROUP: 'NON_EMPTY_GROUP',
  FENCED: 'INVALID_PRODUCER_EPOCH',
  OUT_OF_ORDER_SEQUENCE: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
  TIMEOUT: 'REQUEST_TIMED_OUT',
}

/** A protocol error of `type`, with `message` (default Kafka's) and the original error as `cause`. */
export function protocolError(type: keyof typeof PROTOCOL, message?: string, cause?: unknown): KafkaJSProtocolError {
  const e = new KafkaJSProtocolError({ ...PROTOCOL[type], message: message ?? PROTOCOL[type].message })
  if (cause !== undefined) e.cause = cause as Error
  return e
}

/** A kafkalite (or other) error as the KafkaJS error a KafkaJS client would raise for it. */
export function toKafkaJSError(err: unknown, context: { topic?: string; partition?: number } = {}): Error {
  if (err instanceof KafkaJSError || err instanceof KafkaJSAggregateError) return err
  const code = (err as { code?: unknown })?.code
  const message = (err as Error)?.message ?? String(err)
  if (code === 'OFFSET_OUT_OF_RANGE') {
    const e = new KafkaJSOffsetOutOfRange(message, context)
    e.cause = err as Error
    return e
  }
  if (code === 'INVARIANT_VIOLATION') return new KafkaJSInvariantViolation(message)
  if (code === 'CLOSED') return new KafkaJSNonRetriableError(message, { cause: err })
  if (typeof code === 'string' && code in BY_KAFKALITE_CODE) return protocolError(BY_KAFKALITE_CODE[code]!, message, err)
  if (err instanceof Error) return new KafkaJSNonRetriableError(err, { cause: err })
  return new KafkaJSNonRetriableError(message)
}

/** Runs `fn`, rethrowing what it throws as KafkaJS's error. */
export async function kafkajsErrors<T>(fn: () => Promise<T> | T, context?: { topic?: string; partition?: number }): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw toKafkaJSError(err, context)
  }
}
