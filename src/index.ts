export { Broker } from './broker.js'
export type { WireServer, ListenOptions } from './wire/server.js'
export type { BrokerOptions, CreateTopicOptions, BrokerHealth } from './broker/broker-core.js'
export { Topic, type PartitionOffsets, type TopicDescription } from './broker/topic.js'
export {
  Partition,
  type Acks,
  type AppendInfo,
  type Isolation,
  type ReadBatchesOptions,
  type ReadBatchesResult,
} from './broker/partition.js'
export {
  DEFAULT_TOPIC_CONFIG,
  KAFKA_TOPIC_CONFIG_NAMES,
  topicConfigKey,
  topicConfigFromEntries,
  topicConfigToEntries,
  type TopicConfig,
  type CleanupPolicy,
  type MessageTimestampType,
} from './broker/topic-config.js'
export {
  Producer,
  type ProducerOptions,
  type Message as ProducerMessage,
  type MessageHeaders,
  type RecordMetadata,
  type Partitioner,
  type PartitionerArgs,
} from './client/producer.js'
export {
  Consumer,
  type ConsumerOptions,
  type Message,
  type Batch,
  type RunOptions,
  type RetryOptions,
  type AutoOffsetReset,
  type TopicPartitionOffset,
  type CrashEvent,
  type MessageIterator,
} from './client/consumer.js'
export type { Codec, CodecSpec } from './client/serde.js'
export { murmur2, partitionForKey } from './client/partitioner.js'
export type { RecoveryReport } from './storage/log.js'
export type { VerifyOptions, VerifyProgress, VerifyProblem, VerifyReport } from './broker/verify.js'
export {
  encodeRecordBatch,
  decodeRecords,
  readBatchHeader,
  checkBatch,
  type RecordInput,
  type RecordHeader,
  type DecodedRecord,
  type BatchHeader,
  type EncodeOptions,
  type Compression,
  type TimestampType,
} from './storage/record-batch.js'
export { MemoryFileIO, type FileIO, type FaultInjector, type FaultOp } from './util/file-io.js'
export * from './errors.js'
export {
  ConsumerGroup,
  type ConsumerGroupDescription,
  type GroupMemberDescription,
  type PartitionLag,
  type ResetTarget,
} from './client/group/consumer-group.js'
export type { GroupState } from './client/group/coordinator.js'
export type { GroupOptions } from './client/group/session.js'
export type { JoinInfo } from './client/group/membership.js'
export {
  rangeAssignor,
  roundRobinAssignor,
  cooperativeStickyAssignor,
  type PartitionAssignor,
  type SyncPartitionAssignor,
  type AssignArgs,
  type AssignorMember,
  type RebalanceProtocol,
} from './client/group/assignors.js'
export {
  encodeSubscription,
  decodeSubscription,
  encodeAssignment,
  decodeAssignment,
  type Subscription,
  type Assignment,
  type TopicPartitions,
} from './client/group/consumer-protocol.js'
