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

  /** A producer appending to this broker's topics. */
  producer(options: ProducerOptions = {}): Producer {
    this.assertOpen()
    const p = new Producer(this, options)
    this.track(p)
    return p
  }

  /** A consumer reading this broker's topics. */
  consumer(options: ConsumerOptions = {}): Consumer {
    this.assertOpen()
    let c: Consumer
    const untrack = (): void => void this.clients.delete(c)
    c = new Consumer(this, options, untrack)
    this.clients.add(c)
    return c
  }

  private track(client: { close(): Promise<void> }): void {
    this.clients.add(client)
  }
}
