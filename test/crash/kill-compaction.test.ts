// Crash test for compaction: a child writes keyed updates and cleans the log over and over until it
// is killed with SIGKILL at a random moment (also in the middle of a swap); after reopening, the log
// reads to its end, offsets increase, and every key's last acknowledged update (or a later one) is
// there. Seeded: KAFKALITE_SEED=<n>.
import assert from 'node:assert/strict'
import { Broker, decodeRecords } from '../../src/index.js'
import { exited, killIfRunning, startFixture, stderrOf } from '../fixtures/child.js'
import { tempDir, test, withDeadline } from '../fixtures/helpers.js'

const ITERATIONS = Number(process.env.KAFKALITE_COMPACTION_CRASH_ITERATIONS ?? 8)

test(`kill -9 during compaction, ${ITERATIONS} times: no acknowledged update is lost`, async (t) => {
  const baseSeed = Number(process.env.KAFKALITE_SEED ?? Date.now() % 1_000_000)
  console.log(`compaction crash test seed ${baseSeed} (KAFKALITE_SEED=${baseSeed} repeats it)`)
  const dir = tempDir(t)
  const lastAcked = new Map<string, number>()
  const tombstoned = new Set<string>()
  for (let it = 0; it < ITERATIONS; it++) {
    const seed = baseSeed + it
    const child = startFixture('compact-churn.ts', [dir, String(seed)])
    t.after(() => killIfRunning(child))
    let rest = ''
    let ready!: () => void
    const isReady = new Promise<void>((r) => (ready = r))
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (rest + d).split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        if (line === 'ready') ready()
        const m = /^ack (\S+) (\d+) ([vt])$/.exec(line)
        if (m && Number(m[2]) > (lastAcked.get(m[1]!) ?? -1)) {
          lastAcked.set(m[1]!, Number(m[2]))
          if (m[3] === 't') tombstoned.add(m[1]!)
          else tombstoned.delete(m[1]!)
        }
      }
    })
    await withDeadline(isReady, 20_000, `child ready (seed ${seed}): ${stderrOf(child)}`)
    await new Promise((r) => setTimeout(r, 50 + ((seed * 7919) % 300)))
    child.kill('SIGKILL')
    await exited(child, 5000)

    const broker = await Broker.open({ dir })
    try {
      const p = broker.topic('state').partition(0)
      const latest = new Map<string, number>()
      let offset = p.logStartOffset
      let prev = -1
      while (offset < p.highWatermark) {
        const r = p.readBatches({ offset, maxBytes: 1 << 20 })
        assert.ok(r.bytes.length > 0, `seed ${seed}: the log stops at ${offset} of ${p.highWatermark}`)
        let pos = 0
        while (pos < r.bytes.length) {
          for (const rec of decodeRecords(r.bytes, pos)) {
            assert.ok(rec.offset > prev, `seed ${seed}: offset ${rec.offset} after ${prev}`)
            prev = rec.offset
            latest.set(rec.key!.toString(), rec.offset)
          }
          offset = Number(r.bytes.readBigInt64BE(pos)) + r.bytes.readInt32BE(pos + 23) + 1
          pos += 12 + r.bytes.readInt32BE(pos + 8)
        }
      }
      for (const [key, acked] of lastAcked) {
        const have = latest.get(key)
        // A tombstone may be gone (deleteRetentionMs 0), with every older value of its key.
        if (have === undefined && tombstoned.has(key)) continue
        assert.ok(have !== undefined, `seed ${seed}: ${key} lost its acknowledged update at ${acked}`)
        assert.ok(have >= acked, `seed ${seed}: ${key} has offset ${have}, its last acknowledged update is ${acked}`)
      }
      assert.ok(p.highWatermark > Math.max(-1, ...lastAcked.values()), `seed ${seed}: the high watermark went back`)
    } finally {
      await broker.close()
    }
  }
}, 90_000)
