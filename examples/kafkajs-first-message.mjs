// Time from process start to the first message consumed through the KafkaJS facade (plain node,
// the built package): `npm run build && node examples/kafkajs-first-message.mjs`.
import { Kafka, closeSharedBrokers } from 'kafkalite/kafkajs'

const kafka = new Kafka({ clientId: 'first-message', brokers: ['localhost:9092'] })
const producer = kafka.producer()
const consumer = kafka.consumer({ groupId: 'first-message' })
await producer.connect()
await consumer.connect()
await consumer.subscribe({ topics: ['greetings'], fromBeginning: true })
const first = new Promise((resolve) => {
  void consumer.run({ eachMessage: async ({ message }) => resolve(message) })
})
await producer.send({ topic: 'greetings', messages: [{ key: 'k', value: 'hello' }] })
const message = await first
// performance.now() counts from the start of the process.
console.log(`first message ${JSON.stringify(message.value.toString())} consumed ${performance.now().toFixed(1)} ms after process start`)
await consumer.disconnect()
await producer.disconnect()
await closeSharedBrokers()
