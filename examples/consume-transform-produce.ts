// Consume-transform-produce, exactly once: a worker reads 'orders' in the group 'enricher' (autoCommit
// off), and for each batch opens a transaction that writes the enriched orders to 'enriched' and
// commits the next input offsets with them (sendOffsets). Outputs and input offsets become visible
// together or not at all, so a worker that dies and restarts never adds an output twice.
// Run: npx tsx examples/consume-transform-produce.ts (the data goes to a temp dir, removed at the end;
// KAFKALITE_DIR=<dir> keeps it there instead).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Broker, type Message } from '../src/index.js'

const ORDERS = 2000
const keep = process.env.KAFKALITE_DIR
const dir = keep ?? mkdtempSync(join(tmpdir(), 'kafkalite-ctp-'))
const broker = await Broker.open({ dir })
await broker.createTopic('orders', { partitions: 3 })
await broker.createTopic('enriched', { partitions: 3 })

// 1. The input: plain (non-transactional) orders.
const producer = broker.producer({ valueCodec: 'json' })
for (let i = 0; i < ORDERS; i += 100) {
  await producer.send('orders', Array.from({ length: 100 }, (_, j) => ({ key: `order-${i + j}`, value: { id: i + j, amount: ((i + j) * 7919) % 10_000 } })))
}

// 2. The worker: one transactional producer per worker, with an id that stays the same across
// restarts, so a restarted worker fences the one it replaces and aborts its open transaction.
const output = broker.producer({ transactionalId: 'enricher-worker-1', valueCodec: 'json' })
const consumer = broker.consumer({ groupId: 'enricher', autoCommit: false, fromBeginning: true, valueCodec: 'json', maxBytesPerPartition: 4096 })
consumer.on('crash', ({ error }) => {
  console.error('worker stopped:', error)
  process.exit(1)
})
await consumer.subscribe('orders')

let transactions = 0
let processed = 0
await consumer.run({
  eachBatch: async ({ topic, partition, messages }) => {
    const tx = await output.transaction()
    try {
      await tx.send('enriched', messages.map((m: Message) => ({ key: m.key, value: { ...m.value, tax: Math.round(m.value.amount * 0.2) } })))
      // The committed offset is the next one to read.
      await tx.sendOffsets({
        consumerGroupId: 'enricher',
        // The member id and generation: offsets from a generation that has since rebalanced are refused.
        consumerGroupMetadata: consumer.groupMetadata()!,
        topics: [{ topic, partitions: [{ partition, offset: messages.at(-1)!.offset + 1 }] }],
      })
      await tx.commit()
    } catch (err) {
      if (tx.isActive()) await tx.abort()
      throw err
    }
    transactions++
    processed += messages.length
  },
})
while (processed < ORDERS) await new Promise((r) => setTimeout(r, 5))
await consumer.close()
console.log(`processed ${processed} orders in ${transactions} transactions`)
for (const l of broker.group('enricher').lag({ isolation: 'read_committed' })) console.log(`  orders-${l.partition}: committed ${l.committed}, lag ${l.lag}`)

// 3. Check: read 'enriched' as a read_committed reader (no group) up to the last stable offset.
const reader = broker.consumer({ fromBeginning: true, isolation: 'read_committed', valueCodec: 'json' })
await reader.subscribe('enriched')
const seen = new Map<number, number>()
await reader.run({ eachMessage: (m) => void seen.set(m.value.id, (seen.get(m.value.id) ?? 0) + 1) })
const enriched = broker.topic('enriched')
const caughtUp = (): boolean => Array.from({ length: enriched.partitions }, (_, p) => reader.position('enriched', p) >= enriched.partition(p).lastStableOffset).every(Boolean)
while (!caughtUp()) await new Promise((r) => setTimeout(r, 5))
await reader.close()
const outputs = [...seen.values()].reduce((a, b) => a + b, 0)
const duplicates = outputs - seen.size
console.log(`'enriched' holds ${outputs} committed outputs for ${seen.size} of ${ORDERS} orders: ${duplicates} duplicates, ${ORDERS - seen.size} missing`)

await broker.close() // closes the producers too
if (keep) console.log(`data kept in ${dir}`)
else rmSync(dir, { recursive: true, force: true })
