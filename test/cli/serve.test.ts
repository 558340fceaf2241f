// `kafkalite serve`: a data dir served over the Kafka protocol to the real kafkajs client; SIGTERM
// answers what is in flight, closes the dir cleanly and exits 0; the records are there afterwards
// for the other commands. A dir missing is created; a second writer is refused while it serves.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { assertExit, jsonLines, runCli, show, startCli, type JsonRecord } from '../fixtures/cli.js'
import { tempDir, test, withDeadline } from '../fixtures/helpers.js'

const { Kafka, logLevel } = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs')

test('serve: kafkajs creates a topic and produces over TCP; SIGTERM exits 0 and the records stay in the dir', async (t) => {
  const data = join(tempDir(t, 'kafkalite-cli-'), 'fresh', 'data')
  const dir = ['--dir', data]
  const server = startCli(t, ['serve', '--port', '0', ...dir])
  await server.waitForStdout((s) => /listening on 127\.0\.0\.1:\d+/.test(s), 10_000, 'serve prints its address')
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(server.stdout())![1])

  const kafka = new Kafka({ clientId: 'cli-serve', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } })
  const admin = kafka.admin()
  await withDeadline(admin.connect(), 5_000, 'admin.connect()')
  assert.equal(await admin.createTopics({ topics: [{ topic: 'served', numPartitions: 2 }] }), true, 'topic created over the wire')
  const producer = kafka.producer()
  await withDeadline(producer.connect(), 5_000, 'producer.connect()')
  await producer.send({ topic: 'served', messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i % 3}`, value: `v${i}` })) })
  await producer.disconnect()
  await admin.disconnect()

  // A second writer is refused while serve holds the dir.
  const second = await runCli(t, ['produce', 'served', ...dir], { input: 'x\n' })
  assertExit(second, 1, 'produce beside serve')
  assert.match(second.stderr, /lock/i, `the refusal names the lock: ${show(second)}`)

  assert.ok(server.child.kill('SIGTERM'), 'SIGTERM sent')
  const r = await server.exit(10_000)
  assertExit(r, 0, 'serve after SIGTERM')

  const read = await runCli(t, ['consume', 'served', '--from-beginning', '--json', ...dir])
  assertExit(read, 0, 'consume after serve stopped')
  const values = jsonLines<JsonRecord>(read.stdout).map((m) => m.value).sort()
  assert.deepEqual(values, Array.from({ length: 10 }, (_, i) => `v${i}`).sort(), 'every record produced over the wire is in the dir')
})

test('serve --no-auto-create-topics: a metadata request for an unknown topic does not create it', async (t) => {
  const data = join(tempDir(t, 'kafkalite-cli-'), 'data')
  const server = startCli(t, ['serve', '--port', '0', '--no-auto-create-topics', '--dir', data])
  await server.waitForStdout((s) => /listening on/.test(s), 10_000, 'serve prints its address')
  const port = Number(/:(\d+) /.exec(server.stdout())![1])
  const kafka = new Kafka({ clientId: 'cli-serve', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } })
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  await withDeadline(producer.connect(), 5_000, 'producer.connect()')
  await assert.rejects(producer.send({ topic: 'nope', messages: [{ value: 'x' }] }), 'sending to an unknown topic fails')
  await producer.disconnect()
  assert.ok(server.child.kill('SIGINT'), 'SIGINT sent')
  assertExit(await server.exit(10_000), 0, 'serve after SIGINT')
  const topics = await runCli(t, ['topics', 'list', '--dir', data])
  assert.doesNotMatch(topics.stdout, /nope/, `no topic was created: ${show(topics)}`)
})
