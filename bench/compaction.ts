// Compaction throughput and the event loop's delay while the cleaner runs.
//   npm run bench:compaction            ~100 MB of keyed 100-byte updates over 1024 keys
//   npm run bench:compaction -- --quick ~10 MB
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Broker } from 'kafkalite'

const quick = process.argv.includes('--quick')
const RECORDS = quick ? 80_000 : 800_000
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafkalite-compaction-'))
const broker = await Broker.open({ dir, cleanerBackoffMs: 3_600_000 })
await broker.createTopic('state', { cleanupPolicy: 'compact', segmentBytes: 8 * 1024 * 1024, minCleanableDirtyRatio: 0.01 })
const producer = broker.producer({ acks: 'leader' })
for (let i = 0; i < RECORDS; i += 1000) {
  await producer.send('state', Array.from({ length: 1000 }, (_, j) => ({ key: `key-${(i + j) % 1024}`, value: Buffer.alloc(100, (i + j) % 251) })))
}
await producer.flush()
const before = broker.describeTopic('state').partitions[0]!.sizeBytes
const h = monitorEventLoopDelay({ resolution: 1 })
h.enable()
const t0 = performance.now()
const [r] = await broker.runCleaner()
const ms = performance.now() - t0
h.disable()
const after = broker.describeTopic('state').partitions[0]!.sizeBytes
console.log(`cleaned ${(before / 1e6).toFixed(1)} MB → ${(after / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms: ${(r!.bytesRead / 1e6 / (ms / 1000)).toFixed(0)} MB/s read, ${r!.recordsRemoved} records removed`)
console.log(`event-loop delay while cleaning: p50 ${(h.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms, max ${(h.max / 1e6).toFixed(1)} ms`)
await broker.close()
fs.rmSync(dir, { recursive: true, force: true })
