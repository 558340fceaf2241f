// `kafkalite demo` (and `npm run demo`): a 3-partition `orders` topic in the data dir, 100k keyed
// orders produced in batches of 1000 with acks 'all', then consumed back from where this run
// started, with counts per partition and msg/s. Run it again and the topic keeps growing.
import { Option, type Command } from 'commander'
import { Broker } from '../index.js'
import { dirOption, intArg, type DirOptions } from './common.js'

const BATCH = 1000

export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description("the README's demo: produce keyed orders, consume them back, print rates")
    .addOption(new Option('--orders <n>', 'how many orders to produce').argParser(intArg(1)).env('DEMO_ORDERS').default(100_000))
    .addOption(dirOption())
    .addHelpText('after', '\nExamples:\n  $ kafkalite demo\n  $ kafkalite demo --dir /tmp/demo --orders 1000000')
    .action((o: DirOptions & { orders: number }) => runDemo(o.dir, o.orders))
}

export async function runDemo(dir: string, count: number): Promise<void> {
  const say = (line: string): boolean => process.stdout.write(line + '\n')
  const broker = await Broker.open({ dir })
  try {
    const orders = broker.hasTopic('orders') ? broker.topic('orders') : await broker.createTopic('orders', { partitions: 3 })
    const start = orders.offsets()
    say(`data dir ${dir}: topic orders has ${orders.partitions} partitions, ${total(start)} records before this run`)

    const producer = broker.producer({ acks: 'all', valueCodec: 'json' })
    let t0 = performance.now()
    for (let i = 0; i < count; i += BATCH) {
      const messages = []
      for (let j = i; j < Math.min(i + BATCH, count); j++) {
        messages.push({ key: `customer-${j % 997}`, value: { order: j, amount: (j * 7919) % 10_000, at: Date.now() } })
      }
      await producer.send('orders', messages)
    }
    const produceMs = performance.now() - t0
    await producer.close()
    say(`produced ${count} orders in ${produceMs.toFixed(0)} ms: ${rate(count, produceMs)} msg/s (acks 'all', fsync'd)`)

    const consumer = broker.consumer({ valueCodec: 'json' })
    consumer.assign(start.map((o) => ({ topic: 'orders', partition: o.partition, offset: o.latest })))
    const perPartition = new Map<number, number>()
    let consumed = 0
    let amount = 0
    t0 = performance.now()
    for await (const m of consumer) {
      perPartition.set(m.partition, (perPartition.get(m.partition) ?? 0) + 1)
      amount += (m.value as { amount: number }).amount
      if (++consumed === count) break
    }
    const consumeMs = performance.now() - t0
    await consumer.close()
    say(`consumed ${consumed} orders in ${consumeMs.toFixed(0)} ms: ${rate(consumed, consumeMs)} msg/s (total amount ${amount})`)
    for (const o of orders.offsets()) {
      say(`  partition ${o.partition}: ${perPartition.get(o.partition) ?? 0} this run, offsets ${o.earliest}..${o.latest - 1}`)
    }
    say(`topic orders now holds ${total(orders.offsets())} records`)
    say(`next: npx kafkalite topics describe orders --dir ${dir}`)
  } finally {
    await broker.close()
  }
}

function total(offsets: Array<{ earliest: number; latest: number }>): number {
  return offsets.reduce((n, o) => n + o.latest - o.earliest, 0)
}

function rate(n: number, ms: number): string {
  return Math.round((n / ms) * 1000).toLocaleString('en-US')
}
