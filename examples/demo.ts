// The README's demo: a 3-partition `orders` topic in ./kafkalite-data (or KAFKALITE_DIR), 100k keyed
// orders produced in batches of 1000 with acks 'all', then consumed back from where this run started.
// Run it again and the topic keeps growing: everything is on disk.
import { Broker } from '../src/index.js'

const dir = process.env.KAFKALITE_DIR ?? './kafkalite-data'
const ORDERS = Number(process.env.DEMO_ORDERS ?? 100_000)
const BATCH = 1000

const broker = await Broker.open({ dir })
const orders = broker.hasTopic('orders') ? broker.topic('orders') : await broker.createTopic('orders', { partitions: 3 })
const start = orders.offsets()
console.log(`data dir ${dir}: topic orders has ${orders.partitions} partitions, ${total(start)} records before this run`)

const producer = broker.producer({ acks: 'all', valueCodec: 'json' })
let t0 = performance.now()
for (let i = 0; i < ORDERS; i += BATCH) {
  const messages = []
  for (let j = i; j < Math.min(i + BATCH, ORDERS); j++) {
    messages.push({ key: `customer-${j % 997}`, value: { order: j, amount: (j * 7919) % 10_000, at: Date.now() } })
  }
  await producer.send('orders', messages)
}
const produceMs = performance.now() - t0
await producer.close()
console.log(`produced ${ORDERS} orders in ${produceMs.toFixed(0)} ms: ${rate(ORDERS, produceMs)} msg/s (acks 'all', fsync'd)`)

const consumer = broker.consumer({ valueCodec: 'json' })
consumer.assign(start.map((o) => ({ topic: 'orders', partition: o.partition, offset: o.latest })))
const perPartition = new Map<number, number>()
let consumed = 0
let amount = 0
t0 = performance.now()
for await (const m of consumer) {
  perPartition.set(m.partition, (perPartition.get(m.partition) ?? 0) + 1)
  amount += (m.value as { amount: number }).amount
  if (++consumed === ORDERS) break
}
const consumeMs = performance.now() - t0
await consumer.close()
console.log(`consumed ${consumed} orders in ${consumeMs.toFixed(0)} ms: ${rate(consumed, consumeMs)} msg/s (total amount ${amount})`)
for (const o of orders.offsets()) {
  console.log(`  partition ${o.partition}: ${perPartition.get(o.partition) ?? 0} this run, offsets ${o.earliest}..${o.latest - 1}`)
}
console.log(`topic orders now holds ${total(orders.offsets())} records`)
await broker.close()

function total(offsets: Array<{ earliest: number; latest: number }>): number {
  return offsets.reduce((n, o) => n + o.latest - o.earliest, 0)
}
function rate(n: number, ms: number): string {
  return Math.round((n / ms) * 1000).toLocaleString('en-US')
}
