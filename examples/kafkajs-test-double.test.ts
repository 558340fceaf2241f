// orders.test.ts — node --test --import tsx orders.test.ts (jest/vitest: the same body)
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Kafka, closeSharedBrokers } from 'kafkalite/kafkajs' // in production: from 'kafkajs'

after(() => closeSharedBrokers())

test('an order is consumed', async () => {
  const kafka = new Kafka({ clientId: 'orders-test', brokers: ['localhost:9092'] })
  const producer = kafka.producer()
  const consumer = kafka.consumer({ groupId: 'billing' })
  await Promise.all([producer.connect(), consumer.connect()])
  await consumer.subscribe({ topics: ['orders'], fromBeginning: true })
  const received = new Promise<string>((resolve) => {
    void consumer.run({ eachMessage: async ({ message }) => resolve(message.value!.toString()) })
  })
  await producer.send({ topic: 'orders', messages: [{ key: 'user-1', value: '{"total":42}' }] })
  assert.equal(await received, '{"total":42}')
  await Promise.all([consumer.disconnect(), producer.disconnect()])
})
