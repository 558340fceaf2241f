// The README's "Connect any Kafka client" example: the unmodified kafkajs package talking TCP to a
// kafkalite broker in this process, then the records read back in process. Plain node, the built
// package: `npm run build && node examples/serve-kafkajs.mjs` (prints the records, exits by itself).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Broker } from 'kafkalite'
import kafkajs from 'kafkajs'

const { Kafka, logLevel } = kafkajs
const dir = mkdtempSync(join(tmpdir(), 'kafkalite-serve-example-'))
try {
  const broker = await Broker.open({ dir })
  const server = await broker.listen({ port: 0 }) // 0: any free port
  const kafka = new Kafka({ clientId: 'app', brokers: [`127.0.0.1:${server.port}`], logLevel: logLevel.NOTHING })
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic: 'orders', messages: [{ key: 'user-1', value: 'hello' }, { key: 'user-2', value: 'world' }] })
  await producer.disconnect()

  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('orders')
  let n = 0
  for await (const m of consumer) {
    console.log(`${m.topic}-${m.partition}@${m.offset} ${m.key} ${m.value}`)
    if (++n === 2) break
  }
  await broker.close() // closes the listener and the consumer too
} finally {
  rmSync(dir, { recursive: true, force: true })
}
