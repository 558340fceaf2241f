import assert from 'node:assert/strict'
import { Broker } from '../../src/index.js'
import { test } from '../fixtures/helpers.js'

// A loop that awaits sends or messages without I/O never leaves the microtask queue by itself; the
// producer and the consumer let the event loop turn every few milliseconds so timers, sockets and
// other work go on. Each test stops as soon as a timer fired (or after a bounded amount of work).

const value = Buffer.alloc(100, 7)
const batch = Array.from({ length: 200 }, () => ({ value }))

test("a tight loop of acks 'leader' sends lets timers run", async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('tight')
  const producer = broker.producer({ acks: 'leader' })
  let fired = false
  const timer = setTimeout(() => (fired = true), 1)
  t.after(() => clearTimeout(timer))
  let sends = 0
  const start = performance.now()
  while (!fired && performance.now() - start < 2000) {
    await producer.send('tight', batch)
    sends++
  }
  assert.ok(fired, `the timer did not fire during ${sends} sends`)
})

test('a for await over a consumer with data waiting lets timers run', async (t) => {
  const broker = await Broker.open()
  t.after(() => broker.close())
  await broker.createTopic('backlog')
  const producer = broker.producer({ acks: 'leader' })
  for (let i = 0; i < 500; i++) await producer.send('backlog', batch)
  const consumer = broker.consumer({ fromBeginning: true, maxBytesPerPartition: 16 * 1024 })
  await consumer.subscribe('backlog')
  t.after(() => consumer.close())
  let fired = false
  const timer = setTimeout(() => (fired = true), 1)
  t.after(() => clearTimeout(timer))
  let seen = 0
  for await (const _ of consumer) {
    if (fired || ++seen === 500 * batch.length) break
  }
  assert.ok(fired, `the timer did not fire while ${seen} messages were read`)
})
