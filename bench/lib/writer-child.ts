// Child of the benchmark's reopen section: opens the data dir, appends batches to topic `big` with
// acks 'leader' until it is killed, saying "ready" on stdout once appends are flowing.
import { Broker } from 'kafkalite'

const dir = process.argv[2]!
const broker = await Broker.open({ dir })
const producer = broker.producer({ acks: 'leader', idempotent: false })
const batch = Array.from({ length: 1000 }, (_, i) => ({ key: Buffer.from(`key-${i}`), value: Buffer.alloc(100, 120) }))
for (let n = 0; ; n++) {
  await producer.send('big', batch)
  if (n === 50) process.stdout.write('ready\n')
}
