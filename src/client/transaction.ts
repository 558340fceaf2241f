// Transactions of a producer with a `transactionalId`: `const tx = await producer.transaction()`,
// `tx.send(...)`, `tx.sendOffsets(...)`, then `tx.commit()` or `tx.abort()`. The producer registers
// with the broker's transaction coordinator on its first transaction (which fences any older
// producer with the same id); each partition joins the transaction before its first write; commit
// flushes the sends and has the coordinator write the markers.
import { ClosedError, FencedError, InvalidConfigError } from '../errors.js'
import type { TransactionCoordinator } from '../broker/txn-coordinator.js'
import type { Message, RecordMetadata } from './producer.js'

/** What a transaction needs from its producer (implemented by Producer). */
export interface TransactionalProducer {
  readonly transactionalId: string
  /** Sends inside the transaction; `join` runs with the partitions the send writes to, before it writes. */
  sendInTransaction(topic: string, messages: Message | Message[], join: (partitions: number[]) => Promise<void>): Promise<RecordMetadata[]>
  flush(): Promise<void>
  /** Adopts the producer id and epoch the coordinator gave (sequences start again at 0). */
  useProducerId(producerId: number, epoch: number): void
}

export interface SendOffsetsOptions {
  consumerGroupId: string
  /** The consumer's group membership (memberId, generationId): a stale generation is refused (KIP-447). */
  consumerGroupMetadata?: { memberId: string; generationId: number }
  topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: number | string }> }>
}

/** The transactional state of one producer: registration, and at most one open transaction. */
export class TransactionalSession {
  private registered: Promise<{ producerId: number; epoch: number }> | null = null
  private ids = { producerId: -1, epoch: -1 }
  open: Transaction | null = null
  fenced: FencedError | null = null

  constructor(
    readonly producer: TransactionalProducer,
    readonly coordinator: TransactionCoordinator,
    readonly timeoutMs: number,
  ) {}

  async begin(): Promise<Transaction> {
    if (this.fenced) throw this.fenced
    if (this.open) throw new InvalidConfigError(`producer ${this.producer.transactionalId} already has an open transaction`)
    this.registered ??= this.coordinator.initProducer(this.producer.transactionalId, this.timeoutMs).then((ids) => {
      this.ids = ids
      this.producer.useProducerId(ids.producerId, ids.epoch)
      return ids
    })
    try {
      await this.registered
    } catch (err) {
      this.registered = null
      throw err
    }
    this.open = new Transaction(this, this.ids.producerId, this.ids.epoch)
    return this.open
  }

  /** Remembers a fencing: every later call of this producer raises it. */
  noteFenced(err: unknown): unknown {
    if (err instanceof FencedError) this.fenced = err
    return err
  }
}

export class Transaction {
  private readonly joined = new Set<string>()
  private done = false

  constructor(
    private readonly session: TransactionalSession,
    readonly producerId: number,
    readonly epoch: number,
  ) {}

  /** True until commit() or abort(). */
  isActive(): boolean {
    return !this.done
  }

  private assertActive(): void {
    if (this.session.fenced) throw this.session.fenced
    if (this.done) throw new ClosedError('the transaction has ended')
  }

  /** Sends inside the transaction: visible to read_committed consumers only once committed. */
  async send<K = unknown, V = unknown>(topic: string, messages: Message<K, V> | Array<Message<K, V>>): Promise<RecordMetadata[]> {
    this.assertActive()
    try {
      return await this.session.producer.sendInTransaction(topic, messages as Message | Message[], (partitions) =>
        this.join(partitions.map((p) => [topic, p] as [string, number])),
      )
    } catch (err) {
      throw this.session.noteFenced(err)
    }
  }

  /**
   * Commits a consumer group's offsets as part of the transaction (consume-transform-produce): they
   * count only when the transaction commits.
   */
  async sendOffsets(options: SendOffsetsOptions): Promise<void> {
    this.assertActive()
    if (!options || typeof options.consumerGroupId !== 'string' || !Array.isArray(options.topics)) {
      throw new InvalidConfigError('sendOffsets takes { consumerGroupId, topics: [{ topic, partitions: [{ partition, offset }] }] }')
    }
    try {
      await this.session.coordinator.sendOffsets(this.session.producer.transactionalId, this.producerId, this.epoch, options.consumerGroupId, options.topics.flatMap((t) =>
        t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: Number(p.offset) })),
      ), options.consumerGroupMetadata)
    } catch (err) {
      throw this.session.noteFenced(err)
    }
  }

  async commit(): Promise<void> {
    await this.end(true)
  }

  async abort(): Promise<void> {
    await this.end(false)
  }

  private async end(commit: boolean): Promise<void> {
    this.assertActive()
    this.done = true
    try {
      await this.session.producer.flush()
      await this.session.coordinator.endTransaction(this.session.producer.transactionalId, this.producerId, this.epoch, commit)
    } catch (err) {
      throw this.session.noteFenced(err)
    } finally {
      this.session.open = null
    }
  }

  private async join(partitions: Array<[string, number]>): Promise<void> {
    const fresh = partitions.filter(([t, p]) => !this.joined.has(`${t}\u0000${p}`))
    if (fresh.length === 0) return
    await this.session.coordinator.addPartitions(this.session.producer.transactionalId, this.producerId, this.epoch, fresh)
    for (const [t, p] of fresh) this.joined.add(`${t}\u0000${p}`)
  }
}
