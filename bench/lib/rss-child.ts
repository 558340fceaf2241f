// Child of the benchmark's memory section: reads every record of topic `big` from the beginning in
// a process of its own and reports its peak resident set size as one JSON line.
import { Broker } from 'kafkalite'

const dir = process.argv[2]!
let peak = process.memoryUsage.rss()
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss())
}, 10)
const broker = await Broker.open({ dir })
const end = broker.topic('big').partition(0).highWatermark
const consumer = broker.consumer({ fromBeginning: true })
await consumer.subscribe('big')
const t0 = performance.now()
let records = 0
let bytes = 0
for await (const m of consumer) {
  records++
  bytes += (m.value as Buffer).length
  if (m.offset === end - 1) break
}
const ms = performance.now() - t0
clearInterval(sampler)
peak = Math.max(peak, process.memoryUsage.rss())
await consumer.close()
await broker.close()
process.stdout.write(JSON.stringify({ records, bytes, ms, peakRss: peak, maxRss: process.resourceUsage().maxRSS * 1024 }) + '\n')
