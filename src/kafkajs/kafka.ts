// `new Kafka(config)`: the entry point of the KafkaJS facade. Without a `kafkalite` option, every Kafka
// instance of the process with the same `brokers` list shares one in-memory broker, so a test's
// producer and consumer built from separate instances see the same data; `{ kafkalite: { dir } }`
// shares one broker per data dir, `{ kafkalite: { broker } }` uses the caller's open Broker.
// `closeSharedBrokers()` closes the shared ones (between tests); a shared broker also closes itself
// when its last client disconnects, so nothing keeps the process alive.
import * as path from 'node:path'
import { Broker } from '../index.js'
import { Admin } from './admin.js'
import { Consumer } from './consumer.js'
import { createLogger } from './instrumentation.js'
import { KafkaJSNonRetriableError } from './errors.js'
import { Producer } from './producer.js'
import type { AdminConfig, ConsumerConfig, KafkaConfig, Logger, ProducerConfig, RetryOptions } from './types.js'

/** What producers, consumers and admins of one Kafka instance share. */
export interface ClientContext {
  clientId: string
  logger: Logger
  retry: RetryOptions
  /** Opens (or joins) the broker; each call must be paired with release() of the broker it gave. */
  acquire(): Promise<Broker>
  release(broker: Broker): Promise<void>
}

interface Shared {
  broker: Promise<Broker>
  users: number
}

const shared = new Map<string, Shared>()
/** The entry each shared broker came from (a client releases the broker it got, not the key's current one). */
const entryOf = new WeakMap<Broker, Shared>()

/** Closes and forgets every broker shared by brokers list or data dir (for afterEach/afterAll). */
export async function closeSharedBrokers(): Promise<void> {
  const all = [...shared.values()]
  shared.clear()
  await Promise.all(all.map(async (s) => (await s.broker.catch(() => null))?.close()))
}

export class Kafka {
  private readonly context: ClientContext

  constructor(config: KafkaConfig) {
    if (!config || typeof config !== 'object') throw new KafkaJSNonRetriableError('Kafka config must be an object')
    const logger = createLogger(config.logLevel, config.logCreator)
    const own = config.kafkalite?.broker as Broker | undefined
    const key = own ? null : config.kafkalite?.dir ? `dir:${path.resolve(config.kafkalite.dir)}` : `brokers:${brokerList(config.brokers)}`
    const dir = config.kafkalite?.dir
    this.context = {
      clientId: config.clientId ?? 'kafkajs',
      logger,
      retry: config.retry ?? {},
      acquire: async () => {
        if (own) return own
        let s = shared.get(key!)
        if (!s) {
          const entry: Shared = { broker: Broker.open(dir ? { dir } : {}), users: 0 }
          s = entry
          shared.set(key!, entry)
          entry.broker.then(
            (b) => entryOf.set(b, entry),
            () => shared.get(key!) === entry && shared.delete(key!),
          )
        }
        s.users++
        return s.broker
      },
      release: async (broker: Broker) => {
        if (own) return
        const s = entryOf.get(broker)
        if (!s) return
        s.users--
        // A data dir's broker closes with its last client (its lock and files are released); an
        // in-memory one stays, holding the data, until closeSharedBrokers(). One that
        // closeSharedBrokers() already dropped is closed already.
        if (s.users === 0 && dir && shared.get(key!) === s) {
          shared.delete(key!)
          await broker.close()
        }
      },
    }
  }

  producer(config: ProducerConfig = {}): Producer {
    return new Producer(this.context, config)
  }

  consumer(config: ConsumerConfig): Consumer {
    if (!config || typeof config.groupId !== 'string' || config.groupId === '') {
      throw new KafkaJSNonRetriableError('Consumer groupId must be a non-empty string.')
    }
    const session = config.sessionTimeout ?? 30_000
    if ((config.heartbeatInterval ?? 3_000) >= session) {
      throw new KafkaJSNonRetriableError(`Consumer heartbeatInterval (${config.heartbeatInterval}) must be lower than sessionTimeout (${session}). It is recommended to set heartbeatInterval to approximately a third of the sessionTimeout.`)
    }
    return new Consumer(this.context, config)
  }

  admin(config: AdminConfig = {}): Admin {
    return new Admin(this.context, config)
  }

  logger(): Logger {
    return this.context.logger
  }
}

function brokerList(brokers: KafkaConfig['brokers']): string {
  if (typeof brokers === 'function') return 'function'
  if (!Array.isArray(brokers)) throw new KafkaJSNonRetriableError('Failed to connect: expected brokers array and got nothing')
  return [...brokers].sort().join(',')
}
