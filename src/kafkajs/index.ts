// `kafkalite/kafkajs`: KafkaJS 2.2's API on kafkalite, so that code written for KafkaJS runs in
// process with only its import changed (the test double for real Kafka). Public exports only.
export { Kafka, closeSharedBrokers } from './kafka.js'
export type { Producer, Transaction } from './producer.js'
export type { Consumer } from './consumer.js'
export type { Admin } from './admin.js'
export {
  logLevel,
  CompressionTypes,
  CompressionCodecs,
  ConfigResourceTypes,
  ConfigSource,
  AclResourceTypes,
  AclOperationTypes,
  AclPermissionTypes,
  ResourcePatternTypes,
  Partitioners,
  PartitionAssigners,
  AssignerProtocol,
} from './constants.js'
export {
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSPartialMessageError,
  KafkaJSBrokerNotFound,
  KafkaJSProtocolError,
  KafkaJSConnectionError,
  KafkaJSConnectionClosedError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSOffsetOutOfRange,
  KafkaJSMemberIdRequired,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNotImplemented,
  KafkaJSMetadataNotLoaded,
  KafkaJSTopicMetadataNotLoaded,
  KafkaJSStaleTopicMetadataAssignment,
  KafkaJSDeleteGroupsError,
  KafkaJSTimeout,
  KafkaJSLockTimeout,
  KafkaJSServerDoesNotSupportApiKey,
  KafkaJSUnsupportedMagicByteInMessageSet,
  KafkaJSDeleteTopicRecordsError,
  KafkaJSInvariantViolation,
  KafkaJSInvalidVarIntError,
  KafkaJSInvalidLongError,
  KafkaJSCreateTopicError,
  KafkaJSAggregateError,
  KafkaJSFetcherRebalanceError,
  KafkaJSNoBrokerAvailableError,
  KafkaJSAlterPartitionReassignmentsError,
} from './errors.js'
export type * from './types.js'
