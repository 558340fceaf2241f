// Soak run (npm run test:soak; not part of npm test): a busy broker for KAFKALITE_SOAK_SECONDS
// (default 300) — producers with acks 'all' and 'leader', a consumer group, a read-only broker
// tailing the files, retention and compaction on short timers, topics created and deleted, and the
// writer closed and reopened every few seconds. RSS, heap, open file descriptors and active handles
// are sampled every second; the run fails when they keep growing (the last quarter against the
// second, after the first quarter's warm-up).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Broker } from '../../src/index.js'

const SECONDS = Number(process.env.KAFKALITE_SOAK_SECONDS ?? 300)
const REOPEN_MS = 5000
const dir = mkdtempSync(join(tmpdir(), 'kafkalite-soak-'))
const deadline = Date.now() + SECONDS * 1000

interface Sample {
  t: number
  rssMb: number
  heapMb: number
  fds: number
  handles: number
}
const samples: Sample[] = []
const sample = (): void => {
  const m = process.memoryUsage()
  samples.push({
    t: Math.round((Date.now() - (deadline - SECONDS * 1000)) / 1000),
    rssMb: m.rss / 2 ** 20,
    heapMb: m.heapUsed / 2 ** 20,
    fds: readdirSync('/proc/self/fd').length,
    handles: process.getActiveResourcesInfo().length,
  })
}
const sampler = setInterval(sample, 1000)

let produced = 0
let consumed = 0
let cycles = 0
let churned = 0

async function cycle(): Promise<void> {
  const writer = await Broker.open({ dir, retentionCheckIntervalMs: 200, cleanerBackoffMs: 300 })
  for (const [name, cfg] of [
    ['events', { partitions: 4, segmentBytes: 256 * 1024, retentionBytes: 1024 * 1024 }],
    ['state', { partitions: 2, segmentBytes: 64 * 1024, cleanupPolicy: 'compact' as const, minCleanableDirtyRatio: 0.2 }],
  ] as const) {
    if (!writer.hasTopic(name)) await writer.createTopic(name, cfg)
  }
  const reader = await Broker.open({ dir, readOnly: true, tailIntervalMs: 50 })
  const group = writer.consumer({ groupId: 'soak', fromBeginning: true })
  await group.subscribe(['events'])
  await group.run({ eachMessage: async () => void consumed++ })
  const tail = reader.consumer({ fromBeginning: false })
  await tail.subscribe(['state'])
  const tailing = (async () => {
    for await (const _ of tail) void _
  })()
  const all = writer.producer({ acks: 'all' })
  const leader = writer.producer({ acks: 'leader', lingerMs: 2 })
  const until = Math.min(deadline, Date.now() + REOPEN_MS)
  let i = 0
  while (Date.now() < until) {
    const sends: Array<Promise<unknown>> = []
    for (let k = 0; k < 20; k++) {
      const n = i++
      sends.push(all.send('events', { key: `u${n % 1000}`, value: Buffer.alloc(100, n % 256) }))
      sends.push(leader.send('state', { key: `k${n % 500}`, value: Buffer.alloc(60, n % 256) }))
    }
    await Promise.all(sends)
    produced += sends.length
    if (i % 2000 === 0) {
      await writer.createTopic(`tmp-${churned}`, { partitions: 2 })
      await all.send(`tmp-${churned}`, { value: 'x' })
      await writer.deleteTopic(`tmp-${churned}`)
      churned++
    }
  }
  await reader.close()
  await tailing
  await writer.close()
  cycles++
}

try {
  while (Date.now() < deadline) await cycle()
} finally {
  clearInterval(sampler)
  rmSync(dir, { recursive: true, force: true })
}

const q = Math.floor(samples.length / 4)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const second = samples.slice(q, 2 * q)
const last = samples.slice(3 * q)
const rows = (['rssMb', 'heapMb', 'fds', 'handles'] as const).map((k) => ({
  metric: k,
  warm: median(second.map((s) => s[k])),
  end: median(last.map((s) => s[k])),
  max: Math.max(...samples.map((s) => s[k])),
}))
console.log(`soak: ${SECONDS} s, ${cycles} open/close cycles, ${produced} records produced, ${consumed} consumed by the group, ${churned} topics created and deleted`)
console.table(rows.map((r) => ({ ...r, warm: r.warm.toFixed(1), end: r.end.toFixed(1), max: r.max.toFixed(1) })))
const limits: Record<string, (warm: number) => number> = {
  rssMb: (w) => w * 1.25 + 20,
  heapMb: (w) => w * 1.5 + 20,
  fds: (w) => w + 8,
  handles: (w) => w + 8,
}
const grown = rows.filter((r) => r.end > limits[r.metric]!(r.warm))
if (samples.length < 8) {
  console.log('too short to judge growth (run at least 8 s)')
} else if (grown.length > 0) {
  console.error(`FAIL: still growing: ${grown.map((r) => `${r.metric} ${r.warm.toFixed(1)} → ${r.end.toFixed(1)}`).join(', ')}`)
  process.exitCode = 1
} else {
  console.log('PASS: RSS, heap, file descriptors and handles stay flat')
}
