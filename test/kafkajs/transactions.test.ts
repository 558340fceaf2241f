// Transactions as KafkaJS 2.2's docs use them: producer.transaction() → send/sendBatch/sendOffsets
// → commit/abort; read_committed consumers (the default) never see aborted records and wait for open
// transactions; readUncommitted consumers see everything; sendOffsets commits with the transaction
// only; the transaction object refuses use after it ended; a newer producer fences an older one.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import { KafkaJSError, KafkaJSNonRetriableError } from '../fixtures/kafkajs-target.js'
import { withDeadline } from '../fixtures/helpers.js'
import { caught, collectingConsumer, connectedAdmin, connectedProducer, errorChain, newKafka, waitForAsync, closeTargets, test } from '../fixtures/kafkajs.js'

after(() => closeTargets())

const txConfig = (id: string) => ({ transactionalId: id, maxInFlightRequests: 1, idempotent: true })

test('a committed transaction is read by read_committed consumers; an aborted one never is (readUncommitted sees both)', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'tx-out', numPartitions: 2 }] })
  const producer = await connectedProducer(t, kafka, txConfig('tx-1'))
  const plain = await connectedProducer(t, kafka)

  const committed = await producer.transaction()
  assert.equal(committed.isActive(), true, 'isActive() while open')
  await committed.send({ topic: 'tx-out', messages: [{ key: 'a', value: 'committed-1', partition: 0 }] })
  await committed.sendBatch({ topicMessages: [{ topic: 'tx-out', messages: [{ value: 'committed-2', partition: 1 }] }] })
  await committed.commit()
  assert.equal(committed.isActive(), false, 'isActive() false after commit')

  const aborted = await producer.transaction()
  await aborted.send({ topic: 'tx-out', messages: [{ value: 'aborted-1', partition: 0 }, { value: 'aborted-2', partition: 1 }] })
  await aborted.abort()
  await plain.send({ topic: 'tx-out', messages: [{ value: 'end-0', partition: 0 }, { value: 'end-1', partition: 1 }] })

  const readCommitted = await collectingConsumer(t, kafka, { groupId: 'tx-rc', topics: ['tx-out'] })
  const readUncommitted = await collectingConsumer(t, kafka, { groupId: 'tx-ru', topics: ['tx-out'], config: { readUncommitted: true } })
  await waitForAsync(() => readCommitted.received.filter((r) => r.value!.startsWith('end')).length === 2, 5000, 'read_committed reached the end markers')
  await readUncommitted.waitForCount(6)
  assert.deepEqual(
    readCommitted.received.map((r) => r.value).sort(),
    ['committed-1', 'committed-2', 'end-0', 'end-1'],
    'read_committed: the committed records and the plain ones, no aborted record',
  )
  assert.deepEqual(
    readUncommitted.received.map((r) => r.value).sort(),
    ['aborted-1', 'aborted-2', 'committed-1', 'committed-2', 'end-0', 'end-1'],
    'readUncommitted: every record, aborted ones too',
  )
  const p0 = readCommitted.received.filter((r) => r.partition === 0).map((r) => r.offset)
  assert.deepEqual(p0, ['0', '4'], 'control records take offsets: committed-1 at 0, marker 1, aborted 2, marker 3, end-0 at 4')
})

test('an open transaction holds read_committed consumers back (LSO) until it commits; readUncommitted sees it at once', async (t) => {
  const kafka = newKafka()
  const producer = await connectedProducer(t, kafka, txConfig('tx-open'))
  const plain = await connectedProducer(t, kafka)
  await plain.send({ topic: 'tx-open-t', messages: [{ value: 'before' }] })
  const readCommitted = await collectingConsumer(t, kafka, { groupId: 'open-rc', topics: ['tx-open-t'] })
  const readUncommitted = await collectingConsumer(t, kafka, { groupId: 'open-ru', topics: ['tx-open-t'], config: { readUncommitted: true } })
  await readCommitted.waitForCount(1)
  const tx = await producer.transaction()
  await tx.send({ topic: 'tx-open-t', messages: [{ value: 'pending' }] })
  await plain.send({ topic: 'tx-open-t', messages: [{ value: 'after-pending' }] })
  await readUncommitted.waitForCount(3)
  assert.deepEqual(readUncommitted.received.map((r) => r.value), ['before', 'pending', 'after-pending'], 'readUncommitted sees the open transaction')
  assert.deepEqual(readCommitted.received.map((r) => r.value), ['before'], 'read_committed stops at the open transaction, also for the later plain record')
  await tx.commit()
  await readCommitted.waitForCount(3)
  assert.deepEqual(readCommitted.received.map((r) => r.value), ['before', 'pending', 'after-pending'], 'after commit, in log order')
})

test('sendOffsets commits the group\'s offsets with the transaction, and not when it aborts', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'tx-in' }, { topic: 'tx-res' }] })
  const producer = await connectedProducer(t, kafka, txConfig('tx-offsets'))

  const aborted = await producer.transaction()
  await aborted.send({ topic: 'tx-res', messages: [{ value: 'r1' }] })
  await aborted.sendOffsets({ consumerGroupId: 'tx-grp', topics: [{ topic: 'tx-in', partitions: [{ partition: 0, offset: '7' }] }] })
  await aborted.abort()
  const [afterAbort] = await admin.fetchOffsets({ groupId: 'tx-grp', topics: ['tx-in'] })
  assert.equal(afterAbort!.partitions[0]!.offset, '-1', 'aborted: the offsets were not committed')

  const committed = await producer.transaction()
  await committed.send({ topic: 'tx-res', messages: [{ value: 'r2' }] })
  await committed.sendOffsets({ consumerGroupId: 'tx-grp', topics: [{ topic: 'tx-in', partitions: [{ partition: 0, offset: '3' }] }] })
  const [beforeCommit] = await admin.fetchOffsets({ groupId: 'tx-grp', topics: ['tx-in'] })
  assert.equal(beforeCommit!.partitions[0]!.offset, '-1', 'not visible before the commit')
  await committed.commit()
  const [afterCommit] = await admin.fetchOffsets({ groupId: 'tx-grp', topics: ['tx-in'] })
  assert.equal(afterCommit!.partitions[0]!.offset, '3', 'committed with the transaction')
})

test('consume-transform-produce: eachMessage handler runs a transaction per message with sendOffsets; a consumer of the group resumes after it', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'ctp-in' }, { topic: 'ctp-out' }] })
  const plain = await connectedProducer(t, kafka)
  await plain.send({ topic: 'ctp-in', messages: [1, 2, 3].map((n) => ({ value: String(n) })) })
  const producer = await connectedProducer(t, kafka, txConfig('ctp'))
  const transformer = await collectingConsumer(t, kafka, {
    groupId: 'ctp-g',
    topics: ['ctp-in'],
    run: { autoCommit: false },
    onMessage: async ({ topic, partition, message }) => {
      const tx = await producer.transaction()
      try {
        await tx.send({ topic: 'ctp-out', messages: [{ value: String(Number(message.value) * 10) }] })
        await tx.sendOffsets({ consumerGroupId: 'ctp-g', topics: [{ topic, partitions: [{ partition, offset: String(Number(message.offset) + 1) }] }] })
        await tx.commit()
      } catch (e) {
        await tx.abort()
        throw e
      }
    },
  })
  await transformer.waitForCount(3)
  await waitForAsync(async () => (await admin.fetchOffsets({ groupId: 'ctp-g', topics: ['ctp-in'] }))[0]!.partitions[0]!.offset === '3', 5000, 'input offsets committed by the transactions')
  const reader = await collectingConsumer(t, kafka, { groupId: 'ctp-reader', topics: ['ctp-out'] })
  await reader.waitForCount(3)
  assert.deepEqual(reader.received.map((r) => r.value), ['10', '20', '30'], 'outputs, once each')
  await withDeadline(transformer.consumer.disconnect(), 5000, 'disconnect transformer')
  await plain.send({ topic: 'ctp-in', messages: [{ value: '4' }] })
  const resumed = await collectingConsumer(t, kafka, { groupId: 'ctp-g', topics: ['ctp-in'] })
  await resumed.waitForCount(1)
  assert.deepEqual(resumed.received.map((r) => r.value), ['4'], 'the group resumes after the transactionally committed offsets')
})

test('transaction rules as in KafkaJS: no transactionalId, one at a time, no use after it ended', async (t) => {
  const kafka = newKafka()
  const plain = await connectedProducer(t, kafka)
  const noId = await caught(() => plain.transaction())
  assert.ok(noId instanceof KafkaJSNonRetriableError, `transaction() without transactionalId: KafkaJSNonRetriableError (got ${String(noId)})`)
  assert.match((noId as Error).message, /Must provide transactional id for transactional producer/, 'KafkaJS\'s message')

  const producer = await connectedProducer(t, kafka, txConfig('tx-rules'))
  const tx = await producer.transaction()
  const second = await caught(() => producer.transaction())
  assert.ok(second instanceof KafkaJSNonRetriableError, `a second transaction while one is open: KafkaJSNonRetriableError (got ${String(second)})`)
  await tx.send({ topic: 'tx-rules-t', messages: [{ value: 'x' }] })
  await tx.commit()
  const messages: string[] = []
  for (const [what, call] of [
    ['send', () => tx.send({ topic: 'tx-rules-t', messages: [{ value: 'y' }] })],
    ['commit', () => tx.commit()],
    ['abort', () => tx.abort()],
    ['sendOffsets', () => tx.sendOffsets({ consumerGroupId: 'g', topics: [] })],
  ] as const) {
    const error = await caught(call)
    assert.ok(error instanceof KafkaJSNonRetriableError, `${what} after commit: KafkaJSNonRetriableError (got ${String(error)})`)
    messages.push(`${what}: ${(error as Error).message}`)
  }
  const next = await producer.transaction()
  assert.equal(next.isActive(), true, 'a new transaction after the last one ended')
  await next.abort()
  const empty = await producer.transaction()
  await withDeadline(empty.commit(), 2000, 'committing an empty transaction resolves')
  assert.ok(
    messages.every((m) => m.endsWith('Cannot continue to use transaction once ended')),
    `KafkaJS's message "Cannot continue to use transaction once ended": ${messages.join('; ')}`,
  )
})

test('a newer producer with the same transactionalId fences the older one; its open transaction is aborted', async (t) => {
  const kafka = newKafka({ retry: { initialRetryTime: 10, retries: 1 } })
  const older = await connectedProducer(t, kafka, txConfig('tx-fence'))
  const tx = await older.transaction()
  await tx.send({ topic: 'tx-fence-t', messages: [{ value: 'zombie' }] })
  const newer = await connectedProducer(t, kafka, txConfig('tx-fence'))
  const fresh = await newer.transaction()
  await fresh.send({ topic: 'tx-fence-t', messages: [{ value: 'fresh' }] })
  await fresh.commit()
  const error = await caught(() => tx.commit(), 10_000, 'commit by the fenced producer')
  assert.ok(error instanceof KafkaJSError, `the fenced producer's commit fails with a KafkaJSError (got ${String(error)})`)
  const fenced = errorChain(error).find((e) => e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'PRODUCER_FENCED')
  assert.ok(fenced, `INVALID_PRODUCER_EPOCH (KafkaJS's EndTxn v0/v1) or PRODUCER_FENCED in ${errorChain(error).map((e) => `${e.name}:${e.type}`).join(' <- ')}`)
  const reader = await collectingConsumer(t, kafka, { groupId: 'fence-reader', topics: ['tx-fence-t'] })
  await reader.waitForCount(1)
  assert.deepEqual(reader.received.map((r) => r.value), ['fresh'], 'the zombie\'s record is never read')
})
