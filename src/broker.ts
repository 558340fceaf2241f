// The public Broker: the storage engine (BrokerCore) plus the clients and the group and transaction
// coordinators built on it. Kept above the client layer so that broker/ never imports client/.
import { BrokerAdmin } from './broker/broker-admin.js'
import { TransactionCoordinator } from './broker/txn-coordinator.js'
import type { BrokerOptions } from './broker/broker-core.js'
import { Consumer, type ConsumerOptions } from './client/consumer.js'
import { ConsumerGroup } from './client/group/consumer-group.js'
import { GroupCoordinator, type GroupState } from './client/group/coordinator.js'
import { OffsetStore } from './client/group/offset-store.js'
import { Producer, type ProducerOptions } from './client/producer.js'
import { assert } from './util/assert.js'
import type { ListenOptions, WireServer } from './wire/server.js'

export class Broker extends BrokerAdmin {
  private coordinator: GroupCoordinator | null = null
  private transactions: TransactionCoordinator | null = null

  /** Opens (or creates) a data dir; without `dir` the broker keeps everything in memory. */
  static async open(options: BrokerOptions = {}): Promise<Broker> {
    const broker = new Broker(options ?? {})
    await broker.start()
    try {
      const offsets = new OffsetStore(broker, broker.now)
      await offsets.load()
      // Offsets of topics deleted just before a crash (their tombstones come after the metadata record).
      if (!broker.readOnly) {
        const gone = new Set(offsets.groupIds().flatMap((g) => offsets.all(g).map((c) => c.topic)).filter((t) => !broker.hasTopic(t)))
        for (const topic of gone) await offsets.deleteTopic(topic)
      }
      const groups = new GroupCoordinator(offsets)
      broker.coordinator = groups
      const txns = new TransactionCoordinator(broker, broker.now)
      txns.offsetsHandler = {
        // Without the member's metadata there is no generation to fence on (Kafka's pre-KIP-447 call).
        check: (groupId, member) => member && groups.checkCommitter({ groupId, ...member }),
        commit: (groupId, list) => offsets.commit(groupId, list),
      }
      broker.transactions = txns
      // Finishes transactions a crash interrupted (their markers and offsets) before any client runs.
      await txns.load()
      if (!broker.readOnly) {
        txns.start()
        broker.clients.add({ close: () => txns.stop() })
      }
    } catch (err) {
      await broker.close()
      throw err
    }
    return broker
  }

  /** A producer appending to this broker's topics; broker.close() closes it. */
  producer(options: ProducerOptions = {}): Producer {
    this.assertWritable()
    return this.track((untrack) => new Producer(this, options, untrack, this.transactions ?? undefined))
  }

  /** A consumer reading this broker's topics (sharing them with its group when given a groupId). */
  consumer(options: ConsumerOptions = {}): Consumer {
    this.assertOpen()
    return this.track((untrack) => new Consumer(this, options, untrack, this.coordinator ?? undefined))
  }

  /** The consumer group `groupId`: describe(), lag(), resetOffsets(), delete(). */
  group(groupId: string): ConsumerGroup {
    this.assertOpen()
    return new ConsumerGroup(groupId, this, this.groupCoordinator())
  }

  /** Every group with members or committed offsets. */
  groups(): Array<{ groupId: string; state: GroupState }> {
    this.assertOpen()
    return this.groupCoordinator().list()
  }

  private groupCoordinator(): GroupCoordinator {
    assert(this.coordinator, 'the group coordinator is created at open')
    return this.coordinator
  }

  /**
   * Serves this broker over the Kafka wire protocol, so unmodified Kafka clients (KafkaJS,
   * librdkafka/kcat, the Java client) connect to it as to a one-broker cluster, next to the
   * in-process clients. Binds 127.0.0.1:9092 unless told otherwise; `server.close()` (or
   * `broker.close()`) drains it. The protocol code is loaded on the first call.
   */
  async listen(options: ListenOptions = {}): Promise<WireServer> {
    this.assertWritable()
    const { WireServer } = await import('./wire/server.js')
    this.assertWritable()
    const entry = { close: (): Promise<void> => server.close() }
    const server: WireServer = await WireServer.start(
      { broker: this, groups: this.groupCoordinator(), transactions: this.transactions },
      options,
      () => void this.clients.delete(entry),
    )
    try {
      // broker.close() may have started while the listener was binding.
      this.assertWritable()
    } catch (err) {
      await server.close()
      throw err
    }
    this.clients.add(entry)
    return server
  }

  /** Deletes a topic and every group's committed offsets for it. */
  override async deleteTopic(name: string): Promise<void> {
    await super.deleteTopic(name)
    await this.groupCoordinator().offsets.deleteTopic(name)
  }

  override async close(): Promise<void> {
    await super.close()
    this.coordinator?.close()
  }

  /** Keeps a client until it closes, so that close() can close the ones still open. */
  private track<C extends { close(): Promise<void> }>(create: (untrack: () => void) => C): C {
    const client: C = create(() => void this.clients.delete(client))
    this.clients.add(client)
    return client
  }
}
