// The public Broker: the storage engine (BrokerCore) plus the clients built on it. Kept above the
// client layer so that broker/ never imports client/.
import { BrokerCore, type BrokerOptions } from './broker/broker-core.js'
import { Consumer, type ConsumerOptions } from './client/consumer.js'
import { Producer, type ProducerOptions } from './client/producer.js'

export class Broker extends BrokerCore {
  /** Opens (or creates) a data dir; without `dir` the broker keeps everything in memory. */
  static async open(options: BrokerOptions = {}): Promise<Broker> {
    const broker = new Broker(options ?? {})
    await broker.start()
    return broker
  }

  /** A producer appending to this broker's topics; broker.close() closes it. */
  producer(options: ProducerOptions = {}): Producer {
    this.assertWritable()
    return this.track((untrack) => new Producer(this, options, untrack))
  }

  /** A consumer reading this broker's topics; broker.close() closes it. */
  consumer(options: ConsumerOptions = {}): Consumer {
    this.assertOpen()
    return this.track((untrack) => new Consumer(this, options, untrack))
  }

  /** Keeps a client until it closes, so that close() can close the ones still open. */
  private track<C extends { close(): Promise<void> }>(create: (untrack: () => void) => C): C {
    const client: C = create(() => void this.clients.delete(client))
    this.clients.add(client)
    return client
  }
}
