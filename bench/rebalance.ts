// Rebalance time of a consumer group: 10 members over a 100-partition topic, in process.
// Measures a member joining a stable group of 9 and a member leaving a group of 10, from the event
// to every partition being owned again, for each assignor.   npm run bench:rebalance
import { Broker, type Consumer } from 'kafkalite'

const PARTITIONS = 100
const MEMBERS = 10
const ROUNDS = 5

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('rebalance did not finish within 30 s')
    await new Promise((r) => setImmediate(r))
  }
}

function owned(consumers: Consumer[]): number {
  return consumers.reduce((n, c) => n + c.assignment().length, 0)
}

for (const assignor of ['range', 'roundrobin', 'cooperative-sticky'] as const) {
  const join: number[] = []
  const leave: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const broker = await Broker.open()
    await broker.createTopic('t', { partitions: PARTITIONS })
    const start = async (): Promise<Consumer> => {
      const c = broker.consumer({ groupId: 'g', partitionAssigners: [assignor] })
      await c.subscribe('t')
      await c.run({ eachMessage: async () => {} })
      return c
    }
    const group: Consumer[] = []
    for (let i = 0; i < MEMBERS - 1; i++) group.push(await start())
    await until(() => broker.group('g').describe().state === 'Stable' && owned(group) === PARTITIONS)
    let t0 = performance.now()
    group.push(await start())
    await until(() => broker.group('g').describe().state === 'Stable' && owned(group) === PARTITIONS && group.every((c) => c.assignment().length > 0))
    join.push(performance.now() - t0)
    t0 = performance.now()
    await group.shift()!.close()
    await until(() => broker.group('g').describe().state === 'Stable' && owned(group) === PARTITIONS)
    leave.push(performance.now() - t0)
    await broker.close()
  }
  const median = (xs: number[]): string => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(2)
  console.log(`${assignor.padEnd(20)} 10th member joins: ${median(join)} ms   a member leaves: ${median(leave)} ms   (median of ${ROUNDS}, ${MEMBERS} members, ${PARTITIONS} partitions)`)
}
