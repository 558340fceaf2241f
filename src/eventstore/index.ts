// `kafkalite/eventstore`: event sourcing on kafkalite's log, with EventStoreDB/KurrentDB's client
// shapes. Public exports only.
export { EventStore, APPEND_BYTES_MAX, type EventStoreOptions, type BrokerLike, type AppendOptions, type AppendResult, type ReadStreamOptions, type ReadAllOptions } from './event-store.js'
export { jsonEvent, binaryEvent, type EventData, type RecordedEvent, type Position } from './record-format.js'
export { WrongExpectedVersionError, StreamNotFoundError, StreamDeletedError, type ExpectedRevision } from './errors.js'
export { CommandHandler, type CommandHandlerOptions, type CommandResult } from './command-handler.js'
export { Subscription, type Checkpoint, type SubscriptionFilter } from './subscription.js'
export type { CheckpointStore } from './checkpoint-store.js'
export type { GroupSubscription } from './group-subscription.js'
