// Process life: a running consumer holds the process, a script that closes everything exits by
// itself, and close() leaves no timers behind.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { Broker } from '../../src/index.js'
import { exited, killIfRunning, startFixture, stderrOf } from '../fixtures/child.js'
import { deferred, tempDir, test, withDeadline } from '../fixtures/helpers.js'

for (const where of ['a data dir', 'memory']) {
  test(`a script that produces, consumes with run() and closes everything exits by itself (${where})`, async (t) => {
    const args = where === 'memory' ? [] : [tempDir(t)]
    const child = startFixture('produce-consume-exit.ts', args)
    t.after(() => killIfRunning(child))
    let out = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
    const exit = await exited(child, 15_000)
    assert.deepEqual(exit, { code: 0, signal: null }, stderrOf(child))
    assert.match(out, /^alive 2\nclosed\n$/, 'the running consumer kept the process alive until close()')
  })
}

/** Active timers (Timeout handles) of this process. */
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

test('after broker.close() no timer is left: producers (with linger), consumers (run and for await), retries', async (t) => {
  const before = timers()
  const broker = await Broker.open({ dir: tempDir(t) })
  await broker.createTopic('res', { partitions: 2 })
  const producer = broker.producer({ lingerMs: 50 })
  const pending = producer.send('res', { value: Buffer.from('x') })
  const running = broker.consumer({ fromBeginning: true })
  await running.subscribe('res')
  const got = deferred()
  await running.run({ eachMessage: () => got.resolve() })
  const retrying = broker.consumer({ fromBeginning: true, retry: { initialRetryTime: 60_000 } })
  await retrying.subscribe('res')
  const failed = deferred()
  await retrying.run({
    eachMessage: () => {
      failed.resolve()
      throw new Error('retry later')
    },
  })
  const iterating = broker.consumer()
  await iterating.subscribe('res')
  const loop = (async () => {
    for await (const _ of iterating) void _
  })()
  await withDeadline(Promise.all([pending, got.promise, failed.promise]), 5000, 'work started')
  assert.ok(timers() > before, 'the clients hold timers while they work')
  await withDeadline(broker.close(), 5000, 'broker close')
  await withDeadline(loop, 1000, 'for await ends with the broker')
  await new Promise((r) => setImmediate(r))
  assert.equal(timers(), before, `timers left: ${process.getActiveResourcesInfo().join(', ')}`)
})

test('an abandoned iterator does not keep the process alive after close()', async (t) => {
  const before = timers()
  const broker = await Broker.open()
  await broker.createTopic('abandon')
  await broker.producer().send('abandon', [{ value: Buffer.from('a') }, { value: Buffer.from('b') }])
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe('abandon')
  const it = consumer[Symbol.asyncIterator]()
  assert.equal(String((await it.next()).value?.value), 'a')
  await broker.close()
  assert.equal(timers(), before)
  t.after(() => void it.return())
})

/** Every kind of active resource (timers, handles, requests) with its count. */
function resources(): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1
  return out
}
const openFds = (): number => readdirSync('/proc/self/fd').length
const processListeners = (): number => process.eventNames().reduce((n, e) => n + process.listenerCount(e), 0)

test('after close() nothing is left: no timer, handle, file descriptor or process listener (groups, cleaner, retention, read-only tail, verify)', async (t) => {
  const dir = tempDir(t)
  // Warm-up: the first open loads modules that keep their own process-wide state.
  await (await Broker.open({ dir: tempDir(t) })).close()
  await new Promise((r) => setImmediate(r))
  const before = { resources: resources(), fds: openFds(), listeners: processListeners() }

  const broker = await Broker.open({ dir, retentionCheckIntervalMs: 20, cleanerBackoffMs: 20 })
  await broker.createTopic('c', { cleanupPolicy: 'compact', segmentBytes: 1024, minCleanableDirtyRatio: 0.01 })
  await broker.createTopic('r', { segmentBytes: 1024, retentionBytes: 2048, partitions: 2 })
  await broker.createTopic('g', { partitions: 2 })
  const producer = broker.producer({ lingerMs: 5 })
  for (let i = 0; i < 300; i++) void producer.send(['c', 'r', 'g'][i % 3]!, { key: `k${i % 7}`, value: 'v'.repeat(40) })
  await producer.flush()
  const group = broker.consumer({ groupId: 'g', fromBeginning: true })
  await group.subscribe(['g'])
  const got = deferred()
  let n = 0
  await group.run({ eachMessage: async () => void (++n === 100 && got.resolve()) })
  const reader = await Broker.open({ dir, readOnly: true, tailIntervalMs: 5 })
  const tail = reader.consumer({ fromBeginning: true })
  await tail.subscribe('c')
  const tailed = (async () => {
    for await (const _ of tail) void _
  })()
  await withDeadline(got.promise, 5000, 'the group consumed')
  assert.ok((await broker.verify()).ok)
  await broker.runCleaner()
  await broker.enforceRetention()
  broker.on('error', () => {})
  assert.ok(openFds() > before.fds, 'files are open while the brokers work')

  await withDeadline(reader.close(), 5000, 'reader close')
  await withDeadline(tailed, 1000, 'the tailing iterator ends with its broker')
  await withDeadline(broker.close(), 5000, 'writer close')
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(resources(), before.resources, 'active resources')
  assert.equal(openFds(), before.fds, 'open file descriptors')
  assert.equal(processListeners(), before.listeners, 'process listeners')
  assert.equal(broker.eventNames().length + reader.eventNames().length, 0, 'broker listeners')
})
