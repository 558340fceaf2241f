// Time from process start to the first message consumed through the KafkaJS facade (plain node,
// the built package): `npm run build && node examples/kafkajs-first-message.mjs`.
const scriptStart = performance.now() // node's own startup is over here; the imports below still load
const { Kafka, closeSharedBrokers } = await import('kafkalite/kafkajs')

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
const now = performance.now()
console.log(
  `first message ${JSON.stringify(message.value.toString())} consumed ${now.toFixed(1)} ms after process start, ` +
    `${(now - scriptStart).toFixed(1)} ms after node handed over to the script (import included)`,
)
await consumer.disconnect()
await producer.disconnect()
await closeSharedBrokers()
