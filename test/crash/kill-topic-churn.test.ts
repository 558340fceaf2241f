// Crash test for topic creation and deletion: a child creates, fills and deletes topics until it is
// killed with SIGKILL at a random moment; after reopening, a topic is either whole or gone, never
// half-visible, and nothing of a deleted topic is left on disk. Seeded: KAFKALITE_SEED=<n>.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { Broker } from '../../src/index.js'
import { exited, killIfRunning, startFixture, stderrOf } from '../fixtures/child.js'
import { tempDir, test, withDeadline } from '../fixtures/helpers.js'

const ITERATIONS = Number(process.env.KAFKALITE_TOPIC_CRASH_ITERATIONS ?? 8)

test(`kill -9 during topic creation and deletion, ${ITERATIONS} times: topics are whole or gone`, async (t) => {
  const baseSeed = Number(process.env.KAFKALITE_SEED ?? Date.now() % 1_000_000)
  console.log(`topic churn crash test seed ${baseSeed} (KAFKALITE_SEED=${baseSeed} repeats it)`)
  const dir = tempDir(t)
  for (let it = 0; it < ITERATIONS; it++) {
    const seed = baseSeed + it
    const child = startFixture('topic-churn.ts', [dir, String(seed)])
    t.after(() => killIfRunning(child))
    const state = new Map<string, { partitions: number; records: number } | 'creating' | null>()
    const deleting = new Set<string>()
    let rest = ''
    let ready!: () => void
    const isReady = new Promise<void>((r) => (ready = r))
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (rest + d).split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        if (line === 'ready') ready()
        const c = /^creating (\S+)$/.exec(line)
        if (c) state.set(c[1]!, 'creating')
        const d = /^deleting (\S+)$/.exec(line)
        if (d) deleting.add(d[1]!)
        let m = /^created (\S+) (\d+) (\d+)$/.exec(line)
        if (m) state.set(m[1]!, { partitions: Number(m[2]), records: Number(m[3]) })
        m = /^deleted (\S+)$/.exec(line)
        if (m) {
          state.set(m[1]!, null)
          deleting.delete(m[1]!)
        }
      }
    })
    await withDeadline(isReady, 20_000, `child ready (seed ${seed}): ${stderrOf(child)}`)
    await new Promise((r) => setTimeout(r, 20 + ((seed * 7919) % 200)))
    child.kill('SIGKILL')
    await exited(child, 5000)

    const broker = await Broker.open({ dir })
    try {
      for (const [name, want] of state) {
        if (want === 'creating') continue // killed while creating or filling it: either way is fine
        if (want === null) {
          assert.equal(broker.hasTopic(name), false, `seed ${seed}: ${name} was deleted`)
        } else if (broker.hasTopic(name)) {
          // (a topic being deleted at the kill may be either whole or gone)
          const topic = broker.topic(name)
          assert.equal(topic.partitions, want.partitions, `seed ${seed}: ${name} partitions`)
          const total = topic.offsets().reduce((n, o) => n + o.latest, 0)
          assert.ok(total >= want.records, `seed ${seed}: ${name} has ${total} of ${want.records} acknowledged records`)
        } else if (!deleting.has(name)) {
          assert.fail(`seed ${seed}: ${name} was created and acknowledged, but is missing`)
        }
      }
      // Whatever exists is whole: every partition reads to its end.
      for (const topic of broker.topics()) {
        for (let p = 0; p < topic.partitions; p++) {
          const part = topic.partition(p)
          let offset = part.logStartOffset
          while (offset < part.highWatermark) {
            const r = part.readBatches({ offset, maxBytes: 1 << 20 })
            assert.ok(r.bytes.length > 0, `seed ${seed}: ${topic.name}-${p} stops at ${offset}`)
            let pos = 0
            while (pos < r.bytes.length) {
              offset = Number(r.bytes.readBigInt64BE(pos)) + r.bytes.readInt32BE(pos + 23) + 1
              pos += 12 + r.bytes.readInt32BE(pos + 8)
            }
          }
        }
      }
      const names = new Set(broker.topics({ internal: true }).flatMap((tp) => Array.from({ length: tp.partitions }, (_, i) => `${tp.name}-${i}`)))
      const leftovers = readdirSync(dir).filter((n) => n.startsWith('churn-') && !names.has(n))
      assert.deepEqual(leftovers, [], `seed ${seed}: directories of deleted topics left behind`)
    } finally {
      await broker.close()
    }
  }
}, 90_000)
