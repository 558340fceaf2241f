// A service written against KafkaJS 2.2's type definitions, as its README and docs show the API:
// typed configs, a custom partitioner and logCreator, producer/consumer/admin/transaction calls,
// typed handlers and event listeners, error classes with instanceof. It is only type-checked
// (test/kafkajs/types.test.ts compiles it once against 'kafkajs' and once with the module specifier
// replaced by the facade's entry); it is never run.
import {
  Kafka,
  logLevel,
  CompressionTypes,
  CompressionCodecs,
  Partitioners,
  PartitionAssigners,
  AssignerProtocol,
  ConfigResourceTypes,
  ConfigSource,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSOffsetOutOfRange,
  KafkaJSConnectionError,
  KafkaJSAggregateError,
  type Admin,
  type Batch,
  type Consumer,
  type ConsumerConfig,
  type ConsumerCrashEvent,
  type ConsumerGroupJoinEvent,
  type ConsumerRunConfig,
  type ConsumerSubscribeTopics,
  type EachBatchHandler,
  type EachBatchPayload,
  type EachMessageHandler,
  type EachMessagePayload,
  type GroupDescription,
  type InstrumentationEvent,
  type RemoveInstrumentationEventListener,
  type ICustomPartitioner,
  type IHeaders,
  type ITopicConfig,
  type KafkaConfig,
  type KafkaMessage,
  type LogEntry,
  type Message,
  type PartitionerArgs,
  type Producer,
  type ProducerBatch,
  type ProducerConfig,
  type ProducerRecord,
  type RecordMetadata,
  type RetryOptions,
  type SeekEntry,
  type TopicMessages,
  type TopicPartitionOffsetAndMetadata,
  type Transaction,
  type logCreator,
} from 'kafkajs'

// ---- configuration ---------------------------------------------------------------------------

const retry: RetryOptions = { initialRetryTime: 100, retries: 8, maxRetryTime: 30_000, factor: 0.2, multiplier: 2 }

const entries: LogEntry[] = []
const jsonLogCreator: logCreator = (level: logLevel) => (entry: LogEntry) => {
  const { namespace, level: entryLevel, label, log } = entry
  const { message, timestamp, ...extra } = log
  if (entryLevel <= level) entries.push(entry)
  process.stdout.write(`${JSON.stringify({ namespace, label, message, timestamp, extra })}\n`)
}

const kafkaConfig: KafkaConfig = {
  clientId: 'orders-service',
  brokers: ['kafka1:9092', 'kafka2:9092'],
  connectionTimeout: 3000,
  requestTimeout: 25_000,
  logLevel: logLevel.WARN,
  logCreator: jsonLogCreator,
  retry,
}

/** The same service against a managed cluster: TLS and SASL settings stay in the config. */
export const cloudConfig: KafkaConfig = {
  ...kafkaConfig,
  brokers: async () => ['broker-1.example.com:9093'],
  ssl: true,
  sasl: { mechanism: 'plain', username: 'orders', password: 'secret' },
  authenticationTimeout: 10_000,
  enforceRequestTimeout: true,
}

export const kafka = new Kafka(process.env.KAFKA_CLOUD ? cloudConfig : kafkaConfig)
kafka.logger().info('kafka client created', { clientId: kafkaConfig.clientId })
const ordersLog = kafka.logger().namespace('Orders', logLevel.DEBUG)
ordersLog.setLogLevel(logLevel.INFO)

/** Orders with the same customer go to the same partition; "priority" orders go to partition 0. */
const priorityPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner()
  return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
    const priority = message.headers?.priority
    if (priority !== undefined && String(priority) === 'high') return partitionMetadata[0]!.partitionId
    return fallback({ topic, partitionMetadata, message })
  }
}

const producerConfig: ProducerConfig = {
  createPartitioner: priorityPartitioner,
  allowAutoTopicCreation: false,
  idempotent: true,
  maxInFlightRequests: 1,
  retry: { retries: Number.MAX_SAFE_INTEGER },
}

const consumerConfig: ConsumerConfig = {
  groupId: 'orders-billing',
  sessionTimeout: 30_000,
  heartbeatInterval: 3_000,
  maxBytesPerPartition: 1_048_576,
  maxWaitTimeInMs: 500,
  readUncommitted: false,
  partitionAssigners: [PartitionAssigners.roundRobin],
  retry: { retries: 5, restartOnFailure: async (error: Error) => !(error instanceof KafkaJSNonRetriableError) },
}

// ---- admin ------------------------------------------------------------------------------------

export async function provision(admin: Admin): Promise<void> {
  await admin.connect()
  const topics: ITopicConfig[] = [
    { topic: 'orders', numPartitions: 6, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: String(7 * 24 * 3600 * 1000) }] },
    { topic: 'orders.compacted', numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
    { topic: 'invoices' },
  ]
  const created: boolean = await admin.createTopics({ topics, waitForLeaders: true, timeout: 5000 })
  if (!created) kafka.logger().warn('topics existed already')

  const names: string[] = await admin.listTopics()
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics: names.filter((n) => n.startsWith('orders')) })
  for (const { name, partitions } of metadata) {
    const leaders = partitions.map((p) => `${p.partitionId}@${p.leader} isr=${p.isr.join(',')}`)
    kafka.logger().info(`${name}: ${leaders.join(' ')}`)
  }

  await admin.createPartitions({ topicPartitions: [{ topic: 'invoices', count: 3 }] })

  const offsets: Array<SeekEntry & { high: string; low: string }> = await admin.fetchTopicOffsets('orders')
  const backlog = offsets.reduce((sum, { high, low }) => sum + (Number(high) - Number(low)), 0)
  const byTime: SeekEntry[] = await admin.fetchTopicOffsetsByTimestamp('orders', Date.now() - 3600_000)
  kafka.logger().info('offsets', { backlog, byTime })

  const groupOffsets = await admin.fetchOffsets({ groupId: 'orders-billing', topics: ['orders'] })
  for (const { topic, partitions } of groupOffsets) {
    for (const { partition, offset, metadata: meta } of partitions) {
      if (offset === '-1') kafka.logger().info(`${topic}[${partition}] has no committed offset`, { meta })
    }
  }
  await admin.setOffsets({ groupId: 'orders-replay', topic: 'orders', partitions: [{ partition: 0, offset: '0' }] })
  await admin.resetOffsets({ groupId: 'orders-replay', topic: 'orders', earliest: true })
  await admin.deleteTopicRecords({ topic: 'orders', partitions: [{ partition: 0, offset: '-1' }] })

  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: 'orders', configNames: ['retention.ms', 'cleanup.policy'] }],
  })
  for (const resource of configs.resources) {
    for (const entry of resource.configEntries) {
      const origin = entry.configSource === ConfigSource.TOPIC_CONFIG ? 'override' : entry.isDefault ? 'default' : 'other'
      kafka.logger().info(`${resource.resourceName} ${entry.configName}=${entry.configValue} (${origin})`)
    }
  }
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: 'orders', configEntries: [{ name: 'retention.ms', value: '86400000' }] }],
  })

  const { groups } = await admin.listGroups()
  const described = await admin.describeGroups(groups.map((g) => g.groupId))
  const stable: GroupDescription[] = described.groups.filter((g) => g.state === 'Stable')
  for (const group of stable) {
    for (const member of group.members) {
      const assignment = AssignerProtocol.MemberAssignment.decode(member.memberAssignment)
      kafka.logger().debug(`${group.groupId}/${member.clientId}`, { assignment: assignment?.assignment })
    }
  }
  const cluster = await admin.describeCluster()
  kafka.logger().info(`cluster ${cluster.clusterId}, controller ${cluster.controller}, ${cluster.brokers.length} brokers`)
  admin.on(admin.events.DISCONNECT, () => kafka.logger().info('admin disconnected'))
  try {
    await admin.deleteGroups(['orders-replay'])
  } catch (e) {
    if (e instanceof KafkaJSError) kafka.logger().warn(`deleteGroups: ${e.message}`, { retriable: e.retriable })
  }
  await admin.deleteTopics({ topics: ['orders.compacted'], timeout: 5000 })
  await admin.disconnect()
}

// ---- producer ---------------------------------------------------------------------------------

interface Order {
  id: string
  customer: string
  total: number
  priority?: boolean
}

function toMessage(order: Order): Message {
  ordersLog.debug('encoding order', { id: order.id })
  const headers: IHeaders = { 'content-type': 'application/json', source: Buffer.from('web'), tags: ['a', 'b'] }
  if (order.priority) headers.priority = 'high'
  return { key: order.customer, value: JSON.stringify(order), headers, timestamp: String(Date.now()) }
}

export async function publish(producer: Producer, orders: Order[]): Promise<RecordMetadata[]> {
  const removeListener = producer.on(producer.events.CONNECT, (event) => {
    kafka.logger().info(`producer connected at ${event.timestamp}`)
  })
  await producer.connect()
  removeListener()

  const record: ProducerRecord = {
    topic: 'orders',
    messages: orders.map(toMessage),
    acks: -1,
    timeout: 30_000,
    compression: CompressionTypes.GZIP,
  }
  const metadata: RecordMetadata[] = await producer.send(record)
  for (const { topicName, partition, baseOffset, errorCode } of metadata) {
    if (errorCode !== 0) throw new Error(`${topicName}[${partition}] failed with ${errorCode}`)
    kafka.logger().debug(`${topicName}[${partition}] written from offset ${baseOffset ?? '?'}`)
  }

  const topicMessages: TopicMessages[] = [
    { topic: 'orders', messages: [{ key: null, value: null }] },
    { topic: 'invoices', messages: [{ value: Buffer.from('invoice'), partition: 1 }] },
  ]
  const batch: ProducerBatch = { topicMessages, acks: -1, compression: CompressionTypes.None }
  const more = await producer.sendBatch(batch)

  try {
    await producer.send({ topic: 'does-not-exist', messages: [{ value: 'x' }] })
  } catch (e) {
    if (e instanceof KafkaJSProtocolError && e.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
      kafka.logger().error(`unknown topic (code ${e.code}, retriable ${e.retriable})`)
    } else if (e instanceof KafkaJSNumberOfRetriesExceeded) {
      kafka.logger().error(`gave up after ${e.retryCount} retries (${e.retryTime} ms)`, { cause: e.cause?.message })
    } else if (e instanceof KafkaJSConnectionError) {
      kafka.logger().error(`connection to ${e.broker} failed`)
    } else {
      throw e
    }
  }
  if (!producer.isIdempotent()) kafka.logger().warn('producer is not idempotent')
  return [...metadata, ...more]
}

/** Consume-transform-produce with exactly-once semantics. */
export async function transfer(order: Order, consumedFrom: { topic: string; partition: number; offset: string }): Promise<void> {
  const txProducer: Producer = kafka.producer({ transactionalId: 'billing-tx', maxInFlightRequests: 1, idempotent: true, transactionTimeout: 30_000 })
  await txProducer.connect()
  const transaction: Transaction = await txProducer.transaction()
  try {
    await transaction.send({ topic: 'invoices', messages: [{ key: order.id, value: JSON.stringify({ invoiceFor: order.id, amount: order.total }) }] })
    await transaction.sendBatch({ topicMessages: [{ topic: 'orders', messages: [{ key: order.id, value: null }] }] })
    await transaction.sendOffsets({
      consumerGroupId: 'orders-billing',
      topics: [{ topic: consumedFrom.topic, partitions: [{ partition: consumedFrom.partition, offset: String(Number(consumedFrom.offset) + 1) }] }],
    })
    await transaction.commit()
  } catch (e) {
    if (transaction.isActive()) await transaction.abort()
    throw e
  } finally {
    await txProducer.disconnect()
  }
}

// ---- consumer ---------------------------------------------------------------------------------

function parseOrder(message: KafkaMessage): Order | null {
  if (message.value === null) return null
  const order = JSON.parse(message.value.toString()) as Order
  const contentType = message.headers?.['content-type']
  if (contentType !== undefined && contentType.toString() !== 'application/json') return null
  return order
}

const handleMessage: EachMessageHandler = async ({ topic, partition, message, heartbeat, pause }: EachMessagePayload) => {
  const order = parseOrder(message)
  const key: string | undefined = message.key?.toString()
  kafka.logger().debug(`${topic}[${partition}]@${message.offset} key=${key} ts=${message.timestamp}`)
  if (order && order.total > 10_000) {
    const resume = pause()
    setTimeout(resume, 1000)
    return
  }
  if (order) await transfer(order, { topic, partition, offset: message.offset })
  await heartbeat()
}

const handleBatch: EachBatchHandler = async ({
  batch,
  resolveOffset,
  heartbeat,
  commitOffsetsIfNecessary,
  uncommittedOffsets,
  isRunning,
  isStale,
}: EachBatchPayload) => {
  const typed: Batch = batch
  kafka.logger().info(`batch ${typed.topic}[${typed.partition}] ${typed.firstOffset()}..${typed.lastOffset()} lag ${typed.offsetLag()}/${typed.offsetLagLow()} hw ${typed.highWatermark}`)
  if (typed.isEmpty()) return
  for (const message of typed.messages) {
    if (!isRunning() || isStale()) break
    parseOrder(message)
    resolveOffset(message.offset)
    await heartbeat()
  }
  const pending = uncommittedOffsets()
  for (const { topic, partitions } of pending.topics) kafka.logger().debug(`${topic}: ${partitions.length} partitions to commit`)
  await commitOffsetsIfNecessary()
}

export async function consume(useBatches: boolean): Promise<Consumer> {
  const consumer: Consumer = kafka.consumer(consumerConfig)
  const { GROUP_JOIN, CRASH, REBALANCING, COMMIT_OFFSETS, START_BATCH_PROCESS, END_BATCH_PROCESS, HEARTBEAT } = consumer.events
  const removers = [
    consumer.on(GROUP_JOIN, (event: ConsumerGroupJoinEvent) => {
      const { groupId, memberId, leaderId, isLeader, memberAssignment, groupProtocol, duration } = event.payload
      const partitions = Object.entries(memberAssignment).map(([topic, ps]) => `${topic}:${ps.join(',')}`)
      kafka.logger().info(`${memberId} joined ${groupId} (${groupProtocol}, leader ${leaderId}, ${isLeader}) in ${duration} ms: ${partitions.join(' ')}`)
    }),
    consumer.on(CRASH, (event: ConsumerCrashEvent) => {
      const { error, groupId, restart } = event.payload
      kafka.logger().error(`consumer of ${groupId} crashed: ${error.message}; restarting: ${restart}`)
    }),
    consumer.on(REBALANCING, ({ payload }) => kafka.logger().warn(`rebalancing ${payload.groupId} for ${payload.memberId}`)),
    consumer.on(COMMIT_OFFSETS, ({ payload }) => {
      for (const { topic, partitions } of payload.topics) kafka.logger().debug(`committed ${topic}`, { partitions })
    }),
    consumer.on(START_BATCH_PROCESS, ({ payload }) => kafka.logger().debug(`start ${payload.topic}[${payload.partition}] size ${payload.batchSize}`)),
    consumer.on(END_BATCH_PROCESS, ({ payload }) => kafka.logger().debug(`end ${payload.topic} after ${payload.duration} ms, lag ${payload.offsetLag}`)),
    consumer.on(HEARTBEAT, ({ payload }) => kafka.logger().debug(`heartbeat gen ${payload.groupGenerationId}`)),
  ]

  await consumer.connect()
  const subscription: ConsumerSubscribeTopics = { topics: ['orders', /^invoices(\..+)?$/], fromBeginning: true }
  await consumer.subscribe(subscription)
  await consumer.subscribe({ topic: 'legacy-orders', fromBeginning: false })

  const runConfig: ConsumerRunConfig = useBatches
    ? { eachBatch: handleBatch, eachBatchAutoResolve: false, autoCommitInterval: 5000, autoCommitThreshold: 100 }
    : { eachMessage: handleMessage, partitionsConsumedConcurrently: 3, autoCommit: true }
  await consumer.run(runConfig)

  consumer.seek({ topic: 'orders', partition: 0, offset: '42' })
  consumer.pause([{ topic: 'orders', partitions: [1, 2] }])
  const paused = consumer.paused()
  if (paused.some(({ topic }) => topic === 'orders')) consumer.resume([{ topic: 'orders' }])

  const commits: TopicPartitionOffsetAndMetadata[] = [{ topic: 'orders', partition: 0, offset: '43', metadata: 'manual' }]
  await consumer.commitOffsets(commits)
  const description: GroupDescription = await consumer.describeGroup()
  kafka.logger().info(`group ${description.groupId} is ${description.state} with ${description.members.length} members`)

  consumer.logger().info('consumer started', { groupId: consumerConfig.groupId })
  const removeStop: RemoveInstrumentationEventListener<typeof consumer.events.STOP> = consumer.on(consumer.events.STOP, (event: InstrumentationEvent<null>) => {
    kafka.logger().info(`stopped at ${event.timestamp}`)
  })
  removers.push(removeStop)
  const shutdown = async (): Promise<void> => {
    for (const remove of removers) remove()
    await consumer.stop()
    await consumer.disconnect()
  }
  process.once('SIGTERM', () => void shutdown())
  return consumer
}

// ---- errors -----------------------------------------------------------------------------------

export function describeError(e: unknown): string {
  if (e instanceof KafkaJSOffsetOutOfRange) return `offset out of range on ${e.topic}[${e.partition}]`
  if (e instanceof KafkaJSProtocolError) return `protocol error ${e.type} (${e.code})${e.retriable ? ', retriable' : ''}`
  if (e instanceof KafkaJSAggregateError) return `${e.errors.length} errors: ${e.errors.map((x) => (typeof x === 'string' ? x : x.message)).join('; ')}`
  if (e instanceof KafkaJSNonRetriableError) return `fatal: ${e.message}`
  if (e instanceof KafkaJSError) return `${e.name}: ${e.message}${e.cause ? ` (caused by ${e.cause.message})` : ''}`
  return String(e)
}

export async function main(): Promise<void> {
  if (CompressionCodecs[CompressionTypes.GZIP] === undefined) throw new Error('gzip codec missing')
  const admin: Admin = kafka.admin({ retry: { retries: 2 } })
  await provision(admin)
  const producer: Producer = kafka.producer(producerConfig)
  const written = await publish(producer, [
    { id: 'o-1', customer: 'c-1', total: 42 },
    { id: 'o-2', customer: 'c-2', total: 99_999, priority: true },
  ])
  kafka.logger().info(`${written.length} partitions written`)
  await producer.disconnect()
  await consume(process.argv.includes('--batches'))
}
