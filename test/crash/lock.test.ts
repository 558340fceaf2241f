// The writer's lock across processes: a live holder → LockError naming its pid; a holder killed with
// SIGKILL → the next open takes the lock over at once, with the data intact.
import assert from 'node:assert/strict'
import { Broker, LockError, type PartitionOffsets } from '../../src/index.js'
import { lockDir } from '../../src/broker/lock.js'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { exited, killIfRunning, nextMessage, startFixture } from '../fixtures/child.js'
import { tempDir, test } from '../fixtures/helpers.js'

interface Ready {
  ready: true
  pid: number
  offsets: PartitionOffsets[]
}

test('a second process opening a held dir gets LockError naming the holder pid (both directions)', async (t) => {
  const dir = tempDir(t)
  const holder = startFixture('hold-open.ts', [dir, '4'])
  t.after(() => killIfRunning(holder))
  const ready = await nextMessage<Ready>(holder, 15_000)
  assert.equal(ready.pid, holder.pid)

  // This process tries while the child holds the dir.
  const err = await Broker.open({ dir }).then(
    (b) => (b.close(), null),
    (e: unknown) => e,
  )
  assert.ok(err instanceof LockError, `expected LockError, got ${String(err)}`)
  assert.equal(err.code, 'LOCKED')
  assert.equal(err.pid, holder.pid)
  assert.match(err.message, new RegExp(`pid ${holder.pid}\\b`))

  // The child closes cleanly and exits by itself; then this process holds the dir.
  holder.send('close')
  assert.equal((await exited(holder, 10_000)).code, 0)
  const broker = await Broker.open({ dir })
  t.after(() => broker.close())
  assert.deepEqual(broker.topic('held').offsets(), ready.offsets)

  // Another process now tries while this one holds it.
  const other = startFixture('try-open.ts', [dir])
  t.after(() => killIfRunning(other))
  const reply = await nextMessage<{ error?: { code: string; message: string; pid: number } }>(other, 15_000)
  assert.equal(reply.error?.code, 'LOCKED')
  assert.equal(reply.error?.pid, process.pid)
  assert.match(reply.error!.message, new RegExp(`pid ${process.pid}\\b`))
  assert.equal((await exited(other, 10_000)).code, 0)
})

test('a second open in the same process → LockError; after close the dir opens again', async (t) => {
  const dir = tempDir(t)
  const a = await Broker.open({ dir })
  await assert.rejects(Broker.open({ dir }), (e: unknown) => e instanceof LockError && e.pid === process.pid)
  await a.close()
  const b = await Broker.open({ dir })
  await b.close()
})

test('reopen right after kill -9 of the holder: the lock is taken over at once and the data is intact', async (t) => {
  const dir = tempDir(t)
  for (let round = 0; round < 2; round++) {
    const child = startFixture('hold-open.ts', [dir, '25'])
    t.after(() => killIfRunning(child))
    const ready = await nextMessage<Ready>(child, 15_000)
    child.kill('SIGKILL')
    assert.equal((await exited(child, 5000)).signal, 'SIGKILL')
    const started = Date.now()
    const broker = await Broker.open({ dir })
    const took = Date.now() - started
    try {
      assert.ok(took < 2000, `reopen took ${took} ms`)
      assert.deepEqual(broker.topic('held').offsets(), ready.offsets, `round ${round}`)
      assert.equal(ready.offsets[0]!.latest, 13 * (round + 1), 'every acknowledged record is there')
      const consumer = broker.consumer({ fromBeginning: true })
      await consumer.subscribe('held')
      const values: string[] = []
      for await (const m of consumer) {
        values.push(`${m.partition}:${m.offset}:${m.value}`)
        if (values.length === 50 * (round + 1) / 2) break
      }
      await consumer.close()
      assert.ok(values.includes(`0:0:held-0`) && values.includes(`1:0:held-1`))
    } finally {
      await broker.close()
    }
  }
})

test('a lock held past several refreshes stays ours: not compromised, released and taken again in the same process', async (t) => {
  const dir = tempDir(t)
  const compromised: Error[] = []
  // stale 1 s: proper-lockfile refreshes the lock every 500 ms and checks that its mtime is its own.
  const lock = await lockDir(dir, (e) => compromised.push(e), 1000)
  await new Promise((r) => setTimeout(r, 1800))
  assert.deepEqual(compromised.map((e) => e.message), [])
  await assert.rejects(lockDir(dir, () => {}, 1000), LockError)
  await lock.release()
  const again = await lockDir(dir, (e) => compromised.push(e), 1000)
  await again.release()
  assert.deepEqual(compromised, [])
})

test('a holder killed between taking the lock and recording itself: the lock is taken over at once', async (t) => {
  const dir = tempDir(t)
  const broker = await Broker.open({ dir })
  await broker.close()
  // What such a holder leaves: proper-lockfile's directory, its candidate file, no owner.json.
  mkdirSync(join(dir, '.lock', 'writer'), { recursive: true })
  writeFileSync(join(dir, '.lock', 'candidate-999999.json'), JSON.stringify({ pid: 999999, host: hostname(), since: '' }))
  const again = await Broker.open({ dir })
  await again.close()
  assert.deepEqual(readdirSync(join(dir, '.lock')), [], 'no candidate or owner file is left behind')
})
