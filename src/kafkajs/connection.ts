// A KafkaJS client's hold on its broker: acquired on connect (or first use), released on
// disconnect; a failed connect can be tried again. Used by the producer and the consumer.
import type { Broker } from '../index.js'
import type { ClientContext } from './kafka.js'

export class Connection {
  private connecting: Promise<Broker> | null = null
  /** The broker while connected. */
  broker: Broker | null = null

  constructor(private readonly context: ClientContext) {}

  open(): Promise<Broker> {
    if (!this.connecting) {
      const connecting = this.context.acquire().then((b) => (this.broker = b))
      connecting.catch(() => this.connecting === connecting && (this.connecting = null))
      this.connecting = connecting
    }
    return this.connecting
  }

  /** Releases the broker; false when there was no connection. */
  async close(): Promise<boolean> {
    const connecting = this.connecting
    if (!connecting) return false
    this.connecting = null
    const broker = await connecting.catch(() => null)
    this.broker = null
    if (broker) await this.context.release(broker)
    return true
  }
}
