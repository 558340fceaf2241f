// A kafkajs client in its own process, for bench/wire.ts: `produce` sends N records (sends of 1000,
// 4 in flight, acks -1), `consume` reads N records with eachBatch; prints the elapsed ms as JSON.
// argv: <produce|consume> <port> <topic> <N>
import { createRequire } from 'node:module'

const { Kafka, logLevel } = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs')
const [mode, port, topic, count] = process.argv.slice(2) as [string, string, string, string]
const N = Number(count)
const PER_SEND = 1000
const IN_FLIGHT = 4
const value = Buffer.alloc(100, 'x')
const keyOf = (i: number): string => `k${String(i % 10_000_000).padStart(7, '0')}`
const kafka = new Kafka({ clientId: 'bench', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING })

if (mode === 'produce') {
  const producer = kafka.producer()
  await producer.connect()
  const t0 = performance.now()
  for (let base = 0; base < N; base += PER_SEND * IN_FLIGHT) {
    const sends = []
    for (let s = base; s < Math.min(N, base + PER_SEND * IN_FLIGHT); s += PER_SEND) {
      const messages = Array.from({ length: Math.min(PER_SEND, N - s) }, (_, i) => ({ key: keyOf(s + i), value }))
      sends.push(producer.send({ topic, acks: -1, messages }))
    }
    await Promise.all(sends)
  }
  const ms = performance.now() - t0
  await producer.disconnect()
  process.stdout.write(JSON.stringify({ ms }))
} else {
  const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxBytesPerPartition: 4 << 20, maxBytes: 16 << 20, heartbeatInterval: 500, maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let n = 0
  const t0 = performance.now()
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        n += batch.messages.length
        if (n >= N) resolve()
      },
    })
  })
  const ms = performance.now() - t0
  await consumer.disconnect()
  process.stdout.write(JSON.stringify({ ms }))
}
