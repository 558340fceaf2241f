// kafkajs producing and consuming for bench/wire.ts, in its process or a child's (kafkajs-child.ts):
// N records of 100-byte values with 8-byte keys, sends of 1000 with 4 in flight (acks -1), and a
// group consumer counting eachBatch. Each resolves to the elapsed ms.
import type { Kafka } from 'kafkajs'

const PER_SEND = 1000
const IN_FLIGHT = 4
export const VALUE = Buffer.alloc(100, 'x')
export const keyOf = (i: number): string => `k${String(i % 10_000_000).padStart(7, '0')}`

export async function kafkajsProduce(kafka: Kafka, topic: string, n: number): Promise<number> {
  const producer = kafka.producer()
  await producer.connect()
  const t0 = performance.now()
  for (let base = 0; base < n; base += PER_SEND * IN_FLIGHT) {
    const sends = []
    for (let s = base; s < Math.min(n, base + PER_SEND * IN_FLIGHT); s += PER_SEND) {
      const messages = Array.from({ length: Math.min(PER_SEND, n - s) }, (_, i) => ({ key: keyOf(s + i), value: VALUE }))
      sends.push(producer.send({ topic, acks: -1, messages }))
    }
    await Promise.all(sends)
  }
  const ms = performance.now() - t0
  await producer.disconnect()
  return ms
}

/** From the consumer's run() to the n-th record: includes its group join. */
export async function kafkajsConsume(kafka: Kafka, topic: string, n: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxBytesPerPartition: 4 << 20, maxBytes: 16 << 20, heartbeatInterval: 500, maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let seen = 0
  const t0 = performance.now()
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length
        if (seen >= n) resolve()
      },
    })
  })
  const ms = performance.now() - t0
  await consumer.disconnect()
  return ms
}
