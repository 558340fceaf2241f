// Process life: a running consumer holds the process, a script that closes everything exits by
// itself, and close() leaves no timers behind.
import assert from 'node:assert/strict'
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
