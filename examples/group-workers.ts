// Three workers share a 6-partition topic as one consumer group; a fourth joins halfway and the
// group rebalances; then one leaves and its partitions move to the others. Every order is processed
// once. Run: npx tsx examples/group-workers.ts
import { Broker, type Consumer } from '../src/index.js'

const broker = await Broker.open() // in memory; pass { dir } to keep the data
await broker.createTopic('orders', { partitions: 6 })
const producer = broker.producer()
const processed = new Map<string, number>()

async function startWorker(name: string): Promise<Consumer> {
  const consumer = broker.consumer({ groupId: 'billing', clientId: name, fromBeginning: true })
  consumer.on('assigned', (tps) => console.log(`${name} assigned ${describe(tps)}`))
  consumer.on('revoked', (tps) => console.log(`${name} revoked  ${describe(tps)}`))
  await consumer.subscribe('orders')
  await consumer.run({
    eachMessage: async (m) => {
      processed.set(String(m.value), (processed.get(String(m.value)) ?? 0) + 1)
    },
  })
  return consumer
}

function describe(tps: Array<{ topic: string; partitions: number[] }>): string {
  return tps.map((tp) => `${tp.topic}[${tp.partitions.join(',')}]`).join(' ') || '(nothing)'
}

async function produce(from: number, n: number): Promise<void> {
  await producer.send('orders', Array.from({ length: n }, (_, i) => ({ key: `customer-${(from + i) % 50}`, value: `order-${from + i}` })))
}

async function settle(): Promise<void> {
  while (broker.group('billing').describe().state !== 'Stable') await new Promise((r) => setTimeout(r, 5))
}

function showGroup(): void {
  const g = broker.group('billing').describe()
  console.log(`group billing: ${g.state}, generation ${g.generation}, protocol ${g.protocol}`)
  for (const m of g.members) console.log(`  ${m.clientId}: ${describe(Object.entries(m.assignment).map(([topic, partitions]) => ({ topic, partitions })))}`)
}

const workers = [await startWorker('worker-1'), await startWorker('worker-2'), await startWorker('worker-3')]
await settle()
showGroup()
await produce(0, 3000)

console.log('\nworker-4 joins')
workers.push(await startWorker('worker-4'))
await settle()
showGroup()
await produce(3000, 3000)

console.log('\nworker-1 leaves')
await workers.shift()!.close()
await settle()
showGroup()
await produce(6000, 3000)

while (processed.size < 9000) await new Promise((r) => setTimeout(r, 5))
const twice = [...processed.values()].filter((n) => n > 1).length
console.log(`\nprocessed ${processed.size} orders, ${twice} more than once`)
for (const l of broker.group('billing').lag()) if (l.lag > 0) console.log(`  lag ${l.topic}-${l.partition}: ${l.lag}`)
await broker.close()
