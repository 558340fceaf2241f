// KafkaJS's producer on kafkalite's: `send`/`sendBatch` with KafkaJS's message shape (string or
// Buffer key/value, string timestamp, headers), its partitioners, per-send `acks` and compression,
// auto topic creation, idempotent and transactional producers, and KafkaJS's per-partition
// RecordMetadata (offsets as strings). Called by user code through `kafka.producer(config)`.
import type { Acks, Broker, Producer as CoreProducer, ProducerMessage, RecordMetadata as CoreMetadata } from '../index.js'
import { CompressionTypes, Partitioners } from './constants.js'
import { KafkaJSError, KafkaJSNonRetriableError, KafkaJSNotImplemented, protocolError, toKafkaJSError } from './errors.js'
import { Instrumentation } from './instrumentation.js'
import { Connection } from './connection.js'
import type { ClientContext } from './kafka.js'
import type {
  IHeaders,
  Logger,
  Message,
  Offsets,
  PartitionMetadata,
  ProducerBatch,
  ProducerConfig,
  ProducerEvents,
  ProducerRecord,
  RecordMetadata,
  RemoveInstrumentationEventListener,
  TopicMessages,
} from './types.js'

const EVENTS: ProducerEvents = {
  CONNECT: 'producer.connect',
  DISCONNECT: 'producer.disconnect',
  REQUEST: 'producer.network.request',
  REQUEST_TIMEOUT: 'producer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'producer.network.request_queue_size',
}

const ACKS: Record<number, Acks> = { [-1]: 'all', 1: 'leader', 0: 'none' }

export class Producer {
  readonly events: ProducerEvents = EVENTS
  private readonly instrumentation = new Instrumentation(EVENTS)
  private readonly connection: Connection
  /** One kafkalite producer per (acks, compression) a send asked for. */
  private producers = new Map<string, CoreProducer>()
  private readonly partition: (args: { topic: string; partitionMetadata: PartitionMetadata[]; message: Message }) => number
  private readonly autoCreate: boolean
  private readonly idempotent: boolean
  private txProducer: CoreProducer | null = null
  private activeTransaction: Transaction | null = null

  /** @internal use kafka.producer() */
  constructor(
    private readonly context: ClientContext,
    private readonly config: ProducerConfig,
  ) {
    this.connection = new Connection(context)
    this.partition = (config.createPartitioner ?? Partitioners.DefaultPartitioner)()
    this.autoCreate = config.allowAutoTopicCreation ?? true
    this.idempotent = config.idempotent ?? false
    if (config.transactionalId !== undefined && typeof config.transactionalId !== 'string') {
      throw new KafkaJSNonRetriableError('transactionalId must be a string')
    }
  }

  async connect(): Promise<void> {
    await this.open()
    this.instrumentation.emit(EVENTS.CONNECT, null)
  }

  async disconnect(): Promise<void> {
    if (!this.connection.broker) {
      await this.connection.close()
      return
    }
    const producers = [...this.producers.values(), ...(this.txProducer ? [this.txProducer] : [])]
    this.producers.clear()
    this.txProducer = null
    await Promise.all(producers.map((p) => p.close().catch(() => undefined)))
    await this.connection.close()
    this.instrumentation.emit(EVENTS.DISCONNECT, null)
  }

  isIdempotent(): boolean {
    return this.idempotent || this.config.transactionalId !== undefined
  }

  logger(): Logger {
    return this.context.logger
  }

  on(eventName: string, listener: (event: any) => void): RemoveInstrumentationEventListener<string> {
    return this.instrumentation.on(eventName, listener)
  }

  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    if (this.config.transactionalId !== undefined && !this.activeTransaction) {
      throw new KafkaJSNonRetriableError('Cannot send messages outside of a transaction with a transactional producer')
    }
    return this.sendBatch({ acks: record?.acks, timeout: record?.timeout, compression: record?.compression, topicMessages: [record] })
  }

  async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    if (this.config.transactionalId !== undefined && !this.activeTransaction) {
      throw new KafkaJSNonRetriableError('Cannot send messages outside of a transaction with a transactional producer')
    }
    return this.sendTopics(batch, (topic, messages) => this.coreProducer(batch).send(topic, messages))
  }

  /** Validates, creates missing topics, partitions like KafkaJS, sends, and groups the metadata per partition. */
  async sendTopics(batch: ProducerBatch, send: (topic: string, messages: ProducerMessage[]) => Promise<CoreMetadata[]>): Promise<RecordMetadata[]> {
    const topicMessages = batch?.topicMessages
    if (!Array.isArray(topicMessages)) throw new KafkaJSNonRetriableError('Invalid topicMessages array')
    for (const tm of topicMessages) validate(tm)
    if (!this.broker) throw new KafkaJSError('The producer is disconnected')
    const broker = this.broker
    // KafkaJS merges the messages of one topic into one request.
    const byTopic = new Map<string, Message[]>()
    for (const { topic, messages } of topicMessages) byTopic.set(topic, [...(byTopic.get(topic) ?? []), ...messages])
    const out: RecordMetadata[] = []
    for (const [topic, messages] of byTopic) {
      try {
        await this.ensureTopic(broker, topic)
        const partitionMetadata = metadataOf(broker, topic)
        const core = messages.map((m) => toCoreMessage(m, this.partition({ topic, partitionMetadata, message: m })))
        const metas = await send(topic, core)
        if (batch.acks !== 0) out.push(...perPartition(broker, topic, metas))
      } catch (err) {
        throw toKafkaJSError(err, { topic })
      }
    }
    return out
  }

  /** A transaction: send, sendBatch, sendOffsets, commit, abort (one at a time per producer). */
  async transaction(): Promise<Transaction> {
    const id = this.config.transactionalId
    if (id === undefined) throw new KafkaJSNonRetriableError('Must provide transactional id for transactional producer')
    if (this.activeTransaction) throw new KafkaJSNonRetriableError('There is already an ongoing transaction for this producer. Please end the transaction before beginning another.')
    if (!this.broker) throw new KafkaJSError('The producer is disconnected')
    const broker = this.broker
    this.txProducer ??= broker.producer({ transactionalId: id, transactionTimeoutMs: this.config.transactionTimeout })
    try {
      const tx = new Transaction(this, await this.txProducer.transaction(), () => {
        this.activeTransaction = null
      })
      this.activeTransaction = tx
      return tx
    } catch (err) {
      throw toKafkaJSError(err)
    }
  }

  private open(): Promise<Broker> {
    return this.connection.open()
  }

  private get broker(): Broker | null {
    return this.connection.broker
  }

  private async ensureTopic(broker: Broker, topic: string): Promise<void> {
    if (broker.hasTopic(topic)) return
    if (!this.autoCreate) throw protocolError('UNKNOWN_TOPIC_OR_PARTITION')
    await broker.createTopic(topic).catch((err: { code?: string }) => {
      if (err?.code !== 'TOPIC_EXISTS') throw err
    })
  }

  private coreProducer(batch: ProducerBatch): CoreProducer {
    const acks = ACKS[batch.acks ?? -1]
    if (!acks) throw new KafkaJSNonRetriableError(`acks must be -1, 0 or 1, got ${String(batch.acks)}`)
    const compression = compressionOf(batch.compression)
    const key = `${acks}/${compression}`
    let p = this.producers.get(key)
    if (!p) {
      if (!this.broker) throw new KafkaJSNonRetriableError('The producer is disconnected')
      if (this.idempotent && acks !== 'all') throw new KafkaJSNonRetriableError("Not requiring ack for all messages invalidates the idempotent producer's EoS guarantees")
      p = this.broker.producer({ acks, compression, idempotent: acks === 'all' ? this.idempotent : false })
      this.producers.set(key, p)
    }
    return p
  }
}

export class Transaction {
  private active = true

  /** @internal use producer.transaction() */
  constructor(
    private readonly producer: Producer,
    private readonly tx: Awaited<ReturnType<CoreProducer['transaction']>>,
    private readonly onEnd: () => void,
  ) {}

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    return this.sendBatch({ acks: record?.acks, compression: record?.compression, topicMessages: [record] })
  }

  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    this.assertActive()
    return this.producer.sendTopics(batch, (topic, messages) => this.tx.send(topic, messages))
  }

  async sendOffsets(offsets: Offsets & { consumerGroupId: string }): Promise<void> {
    this.assertActive()
    try {
      await this.tx.sendOffsets(offsets)
    } catch (err) {
      throw toKafkaJSError(err)
    }
  }

  commit(): Promise<void> {
    return this.end(() => this.tx.commit())
  }

  abort(): Promise<void> {
    return this.end(() => this.tx.abort())
  }

  isActive(): boolean {
    return this.active
  }

  private async end(fn: () => Promise<void>): Promise<void> {
    this.assertActive()
    this.active = false
    this.onEnd()
    try {
      await fn()
    } catch (err) {
      throw toKafkaJSError(err)
    }
  }

  private assertActive(): void {
    if (!this.active) throw new KafkaJSNonRetriableError('Cannot continue to use transaction once ended')
  }
}

function validate(tm: TopicMessages): void {
  if (!tm || typeof tm.topic !== 'string' || tm.topic === '') throw new KafkaJSNonRetriableError(`Invalid topic`)
  if (!Array.isArray(tm.messages)) throw new KafkaJSNonRetriableError(`Invalid messages array [${String(tm.messages)}] for topic "${tm.topic}"`)
  for (const m of tm.messages) {
    if (m === null || typeof m !== 'object' || m.value === undefined) {
      throw new KafkaJSNonRetriableError(`Invalid message without value for topic "${tm.topic}": ${JSON.stringify(m)}`)
    }
  }
}

function compressionOf(type: CompressionTypes | undefined): 'none' | 'gzip' {
  if (type === undefined || type === CompressionTypes.None) return 'none'
  if (type === CompressionTypes.GZIP) return 'gzip'
  throw new KafkaJSNotImplemented(`${CompressionTypes[type] ?? type} compression not implemented`)
}

function metadataOf(broker: Broker, topic: string): PartitionMetadata[] {
  const n = broker.topic(topic).partitions
  return Array.from({ length: n }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0], offlineReplicas: [] }))
}

function bytes(v: Buffer | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v))
}

function toCoreMessage(m: Message, partition: number): ProducerMessage {
  const out: ProducerMessage = { key: bytes(m.key), value: bytes(m.value), partition }
  if (m.timestamp !== undefined && m.timestamp !== null) out.timestamp = Number(m.timestamp)
  if (m.headers) out.headers = headersOf(m.headers)
  return out
}

function headersOf(h: IHeaders): Record<string, Buffer | Buffer[]> {
  const out: Record<string, Buffer | Buffer[]> = {}
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue
    out[k] = Array.isArray(v) ? v.map((x) => bytes(x)!) : bytes(v)!
  }
  return out
}

/** KafkaJS answers one entry per partition written, with the first offset this send got there. */
function perPartition(broker: Broker, topic: string, metas: CoreMetadata[]): RecordMetadata[] {
  const first = new Map<number, number>()
  for (const m of metas) if (!first.has(m.partition) || m.offset < first.get(m.partition)!) first.set(m.partition, m.offset)
  return [...first]
    .sort(([a], [b]) => a - b)
    .map(([partition, offset]) => ({
      topicName: topic,
      partition,
      errorCode: 0,
      baseOffset: String(offset),
      logAppendTime: '-1',
      logStartOffset: String(broker.topic(topic).earliestOffset(partition)),
    }))
}
