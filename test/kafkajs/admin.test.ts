// Admin conformance (KafkaJS 2.2 docs and its own admin specs): topics, partitions, metadata, topic
// offsets (also by timestamp), group offsets (fetch/set/reset), deleteTopicRecords, groups, cluster,
// configs with Kafka's config names, and the errors KafkaJS raises.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import {
  ConfigResourceTypes,
  ConfigSource,
  KafkaJSAggregateError,
  KafkaJSCreateTopicError,
  KafkaJSDeleteGroupsError,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
} from '../fixtures/kafkajs-target.js'
import { withDeadline } from '../fixtures/helpers.js'
import {
  caught,
  collectingConsumer,
  connectedAdmin,
  connectedProducer,
  errorChain,
  findProtocolError,
  newKafka,
  waitForAsync,
  closeTargets,
  isWire,
  test,
} from '../fixtures/kafkajs.js'

after(() => closeTargets())

const chain = (e: unknown): string => errorChain(e).map((x) => `${x.name}(${x.type ?? ''}): ${x.message}`).join(' <- ')

test('createTopics resolves true, then false for an existing topic; listTopics and fetchTopicMetadata show it', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  assert.equal(await admin.createTopics({ topics: [{ topic: 'ct-a', numPartitions: 3 }, { topic: 'ct-b' }] }), true, 'created')
  assert.equal(await admin.createTopics({ topics: [{ topic: 'ct-a', numPartitions: 3 }] }), false, 'exists: false, not an error')
  assert.equal(await admin.createTopics({ topics: [{ topic: 'ct-a' }, { topic: 'ct-c', numPartitions: 2 }] }), false, 'one exists: false')
  const topics = await admin.listTopics()
  for (const name of ['ct-a', 'ct-b', 'ct-c']) assert.ok(topics.includes(name), `listTopics includes ${name}`)
  const metadata = await admin.fetchTopicMetadata({ topics: ['ct-a', 'ct-b', 'ct-c'] })
  const byName = Object.fromEntries(metadata.topics.map((tp) => [tp.name, tp.partitions]))
  assert.deepEqual(
    byName['ct-a']!.map((p) => ({ partitionId: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr, partitionErrorCode: p.partitionErrorCode })).sort((a, b) => a.partitionId - b.partitionId),
    [0, 1, 2].map((partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 })),
    'ct-a: three partitions led by node 0',
  )
  assert.equal(byName['ct-b']!.length, 1, 'numPartitions defaults to 1 (the broker default)')
  assert.equal(byName['ct-c']!.length, 2, 'the new topic of a partly failing request was still created')
  const all = await admin.fetchTopicMetadata()
  assert.ok(['ct-a', 'ct-b', 'ct-c'].every((n) => all.topics.some((tp) => tp.name === n)), 'fetchTopicMetadata() without topics lists every topic')
})

test('createTopics argument checks are KafkaJSNonRetriableError with KafkaJS\'s messages', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  const cases: [unknown, string][] = [
    [{ topics: null }, 'Invalid topics array null'],
    [{ topics: [{ topic: 123 }] }, 'Invalid topics array, the topic names have to be a valid string'],
    [{ topics: [{ topic: 'dup' }, { topic: 'dup' }] }, 'Invalid topics array, it cannot have multiple entries for the same topic'],
    [{ topics: [{ topic: 'x', configEntries: [{ name: 'retention.ms' }] }] }, 'Invalid configEntries for topic "x". Entry 0 must have a valid "value" property'],
  ]
  for (const [args, message] of cases) {
    const error = await caught(() => admin.createTopics(args as never))
    assert.ok(error instanceof KafkaJSNonRetriableError, `${JSON.stringify(args)}: KafkaJSNonRetriableError (got ${String(error)})`)
    assert.equal((error as Error).message, message, `${JSON.stringify(args)}: message`)
  }
})

test('createTopics with an invalid name rejects with INVALID_TOPIC_EXCEPTION (code 17)', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  for (const name of ['bad name!', 'a/b', '..', 'x'.repeat(250)]) {
    const error = await caught(() => admin.createTopics({ topics: [{ topic: name }] }), 5000, `createTopics ${name.slice(0, 20)}`)
    const protocol = findProtocolError(error, 'INVALID_TOPIC_EXCEPTION')
    assert.ok(protocol, `${name.slice(0, 20)}: INVALID_TOPIC_EXCEPTION in ${chain(error)}`)
    assert.equal(protocol.code, 17, 'code 17')
    assert.equal(protocol.retriable, false, 'not retriable')
    assert.ok(protocol instanceof KafkaJSProtocolError, 'a KafkaJSProtocolError')
  }
  assert.ok(!(await admin.listTopics()).includes('bad name!'), 'nothing created')
})

test('createTopics with an invalid name: KafkaJSAggregateError of KafkaJSCreateTopicError, exactly as KafkaJS', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  const error = await caught(() => admin.createTopics({ topics: [{ topic: 'bad name!' }] }))
  assert.ok(error instanceof KafkaJSAggregateError, `KafkaJS rejects with KafkaJSAggregateError (got ${chain(error)})`)
  const [inner] = (error as KafkaJSAggregateError).errors as KafkaJSCreateTopicError[]
  assert.ok(inner instanceof KafkaJSCreateTopicError, 'errors[0] is a KafkaJSCreateTopicError')
  assert.equal(inner.type, 'INVALID_TOPIC_EXCEPTION', 'type')
  assert.equal(inner.code, 17, 'code')
  assert.equal((inner as unknown as { topic: string }).topic, 'bad name!', 'topic')
})

test('configEntries at creation are visible through describeConfigs with Kafka\'s names; alterConfigs changes them', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({
    topics: [{ topic: 'cfg', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '1000' }, { name: 'cleanup.policy', value: 'compact' }] }],
  })
  const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg' }], includeSynonyms: false })
  assert.equal(described.resources.length, 1, 'one resource')
  const [resource] = described.resources
  assert.equal(resource!.resourceName, 'cfg', 'resourceName')
  assert.equal(resource!.resourceType, ConfigResourceTypes.TOPIC, 'resourceType')
  assert.equal(resource!.errorCode, 0, 'errorCode')
  const entry = (name: string) => resource!.configEntries.find((e) => e.configName === name)
  for (const name of ['retention.ms', 'cleanup.policy', 'segment.bytes', 'max.message.bytes', 'retention.bytes', 'message.timestamp.type']) {
    assert.ok(entry(name), `describeConfigs lists ${name}`)
  }
  assert.deepEqual(
    { ...entry('retention.ms'), configSynonyms: undefined },
    { configName: 'retention.ms', configValue: '1000', readOnly: false, isDefault: false, configSource: ConfigSource.TOPIC_CONFIG, isSensitive: false, configSynonyms: undefined },
    'an override: TOPIC_CONFIG, not default',
  )
  assert.equal(entry('cleanup.policy')!.configValue, 'compact', 'cleanup.policy override')
  assert.equal(entry('segment.bytes')!.isDefault, true, 'a value left alone is the default')
  assert.equal(entry('segment.bytes')!.configSource, ConfigSource.DEFAULT_CONFIG, 'DEFAULT_CONFIG source')
  assert.equal(entry('segment.bytes')!.configValue, String(1024 * 1024 * 1024), 'Kafka\'s default segment.bytes (1 GiB)')

  const selected = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configNames: ['retention.ms'] }], includeSynonyms: true })
  assert.deepEqual(selected.resources[0]!.configEntries.map((e) => e.configName), ['retention.ms'], 'configNames selects entries')
  const synonyms = selected.resources[0]!.configEntries[0]!.configSynonyms
  assert.ok(Array.isArray(synonyms) && synonyms.length >= 1, 'includeSynonyms: synonyms listed')
  assert.deepEqual(synonyms[0], { configName: 'retention.ms', configValue: '1000', configSource: ConfigSource.TOPIC_CONFIG }, 'the first synonym is the topic override')

  const altered = await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries: [{ name: 'retention.ms', value: '5000' }, { name: 'cleanup.policy', value: 'compact' }] }],
  })
  assert.deepEqual(
    altered.resources.map((r: { resourceName: string; errorCode: number }) => [r.resourceName, r.errorCode]),
    [['cfg', 0]],
    'alterConfigs resolves to { resources: [{ resourceName, errorCode: 0, ... }] }',
  )
  const after1 = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configNames: ['retention.ms', 'cleanup.policy'] }], includeSynonyms: false })
  const values1 = Object.fromEntries(after1.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]))
  assert.deepEqual(values1, { 'retention.ms': '5000', 'cleanup.policy': 'compact' }, 'altered')

  const validateOnly = await admin.alterConfigs({
    validateOnly: true,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries: [{ name: 'retention.ms', value: '7' }, { name: 'cleanup.policy', value: 'compact' }] }],
  })
  assert.equal(validateOnly.resources[0].errorCode, 0, 'validateOnly succeeds')
  const after2 = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configNames: ['retention.ms'] }], includeSynonyms: false })
  assert.equal(after2.resources[0]!.configEntries[0]!.configValue, '5000', 'validateOnly changed nothing')
})

test('alterConfigs is Kafka\'s non-incremental AlterConfigs: configs left out go back to their defaults', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'cfg-replace', configEntries: [{ name: 'retention.ms', value: '1000' }] }] })
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg-replace', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] })
  const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg-replace', configNames: ['retention.ms', 'cleanup.policy'] }], includeSynonyms: false })
  const byName = Object.fromEntries(described.resources[0]!.configEntries.map((e) => [e.configName, e]))
  assert.equal(byName['cleanup.policy']!.configValue, 'compact', 'the given config is set')
  assert.equal(byName['retention.ms']!.configValue, String(7 * 24 * 3600 * 1000), 'retention.ms, not in the request, is back to Kafka\'s default (7 days)')
  assert.equal(byName['retention.ms']!.isDefault, true, 'and is a default again')
})

test('config errors: an unknown config name or a bad value is INVALID_CONFIG (40); describeConfigs of an unknown topic is UNKNOWN_TOPIC_OR_PARTITION', async (t) => {
  const kafka = newKafka({ retry: { initialRetryTime: 10, retries: 1 } })
  const admin = await connectedAdmin(t, kafka)
  const unknownName = await caught(() => admin.createTopics({ topics: [{ topic: 'cfg-bad', configEntries: [{ name: 'no.such.config', value: '1' }] }] }))
  assert.ok(findProtocolError(unknownName, 'INVALID_CONFIG'), `unknown config name: INVALID_CONFIG in ${chain(unknownName)}`)
  const badValue = await caught(() => admin.createTopics({ topics: [{ topic: 'cfg-bad', configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }))
  assert.ok(findProtocolError(badValue, 'INVALID_CONFIG'), `bad value: INVALID_CONFIG in ${chain(badValue)}`)
  assert.ok(!(await admin.listTopics()).includes('cfg-bad'), 'nothing created')
  const unknownTopic = await caught(() => admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg-missing' }], includeSynonyms: false }), 10_000, 'describeConfigs unknown')
  assert.ok(findProtocolError(unknownTopic, 'UNKNOWN_TOPIC_OR_PARTITION'), `unknown topic: UNKNOWN_TOPIC_OR_PARTITION in ${chain(unknownTopic)}`)
  const badType = await caught(() => admin.describeConfigs({ resources: [{ type: 1999 as ConfigResourceTypes, name: 'x' }], includeSynonyms: false }))
  assert.ok(badType instanceof KafkaJSNonRetriableError, 'an invalid resource type is refused before any request')
})

test('createTopics accepts replicationFactor 1 and Kafka topic configs common in KafkaJS code (min.insync.replicas, compression.type)', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  assert.equal(await admin.createTopics({ topics: [{ topic: 'rf1', numPartitions: 2, replicationFactor: 1 }] }), true, 'replicationFactor 1')
  for (const [name, value] of [
    ['min.insync.replicas', '1'],
    ['compression.type', 'producer'],
  ]) {
    const created = await admin
      .createTopics({ topics: [{ topic: `kcfg-${name.replace(/\./g, '-')}`, configEntries: [{ name: name!, value: value! }] }] })
      .catch((e: unknown) => chain(e))
    assert.equal(created, true, `a topic with ${name}=${value} is created (Kafka accepts every topic config)`)
  }
})

test('deleteTopics removes topics; deleting an unknown topic fails with UNKNOWN_TOPIC_OR_PARTITION', async (t) => {
  const kafka = newKafka({ retry: { initialRetryTime: 10, retries: 1 } })
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'del-a' }, { topic: 'del-b' }] })
  await admin.deleteTopics({ topics: ['del-a'] })
  const topics = await admin.listTopics()
  assert.ok(!topics.includes('del-a') && topics.includes('del-b'), 'del-a gone, del-b kept')
  const error = await caught(() => admin.deleteTopics({ topics: ['del-missing'] }), 10_000, 'deleteTopics unknown')
  assert.ok(findProtocolError(error, 'UNKNOWN_TOPIC_OR_PARTITION'), `UNKNOWN_TOPIC_OR_PARTITION in ${chain(error)}`)
  const metadata = await caught(() => admin.fetchTopicMetadata({ topics: ['del-a'] }), 10_000, 'metadata of deleted topic')
  assert.ok(findProtocolError(metadata, 'UNKNOWN_TOPIC_OR_PARTITION'), `fetchTopicMetadata of a deleted topic: UNKNOWN_TOPIC_OR_PARTITION in ${chain(metadata)}`)
})

test('createPartitions raises the partition count; lowering it is INVALID_PARTITIONS (37)', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'grow', numPartitions: 2 }] })
  await admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 5 }] })
  const { topics } = await admin.fetchTopicMetadata({ topics: ['grow'] })
  assert.deepEqual(topics[0]!.partitions.map((p) => p.partitionId).sort(), [0, 1, 2, 3, 4], 'five partitions')
  const error = await caught(() => admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 3 }] }))
  const protocol = findProtocolError(error, 'INVALID_PARTITIONS')
  assert.ok(protocol, `INVALID_PARTITIONS in ${chain(error)}`)
  assert.equal(protocol.code, 37, 'code 37')
  const producer = await connectedProducer(t, kafka)
  const [row] = await producer.send({ topic: 'grow', messages: [{ value: 'x', partition: 4 }] })
  assert.equal(row!.partition, 4, 'a producer can write to the new partition')
})

test('fetchTopicOffsets: [{ partition, offset, high, low }] as strings; deleteTopicRecords moves low', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'offs', numPartitions: 2 }] })
  assert.deepEqual(
    (await admin.fetchTopicOffsets('offs')).sort((a, b) => a.partition - b.partition),
    [
      { partition: 0, offset: '0', high: '0', low: '0' },
      { partition: 1, offset: '0', high: '0', low: '0' },
    ],
    'empty topic',
  )
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'offs', messages: Array.from({ length: 5 }, (_, i) => ({ value: `v${i}`, partition: 0 })) })
  await producer.send({ topic: 'offs', messages: [{ value: 'w', partition: 1 }] })
  await admin.deleteTopicRecords({ topic: 'offs', partitions: [{ partition: 0, offset: '3' }] })
  assert.deepEqual(
    (await admin.fetchTopicOffsets('offs')).sort((a, b) => a.partition - b.partition),
    [
      { partition: 0, offset: '5', high: '5', low: '3' },
      { partition: 1, offset: '1', high: '1', low: '0' },
    ],
    'after deleteTopicRecords(partition 0, "3")',
  )
  await admin.deleteTopicRecords({ topic: 'offs', partitions: [{ partition: 1, offset: '-1' }] })
  const p1 = (await admin.fetchTopicOffsets('offs')).find((o) => o.partition === 1)
  assert.equal(p1!.low, '1', 'offset "-1" deletes every record of the partition')
  const collector = await collectingConsumer(t, kafka, { groupId: 'offs-g', topics: ['offs'] })
  await collector.waitForCount(2)
  assert.deepEqual(collector.received.map((r) => [r.partition, r.offset]), [[0, '3'], [0, '4']], 'a consumer from the beginning starts at the new low')
  const beyond = await caught(() => admin.deleteTopicRecords({ topic: 'offs', partitions: [{ partition: 0, offset: '99' }] }))
  assert.ok(findProtocolError(beyond, 'OFFSET_OUT_OF_RANGE'), `beyond the high watermark: OFFSET_OUT_OF_RANGE in ${chain(beyond)}`)
  const unknown = await caught(() => admin.fetchTopicOffsets('offs-missing'), 10_000, 'fetchTopicOffsets unknown')
  assert.ok(findProtocolError(unknown, 'UNKNOWN_TOPIC_OR_PARTITION'), `fetchTopicOffsets of an unknown topic: UNKNOWN_TOPIC_OR_PARTITION in ${chain(unknown)}`)
})

test('fetchTopicOffsetsByTimestamp: the first offset at or after the timestamp, else the high watermark', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  const producer = await connectedProducer(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'bytime' }] })
  await producer.send({ topic: 'bytime', messages: [1000, 2000, 3000].map((ts) => ({ value: String(ts), timestamp: String(ts) })) })
  assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp('bytime', 1500), [{ partition: 0, offset: '1' }], 'between 1000 and 2000: offset 1')
  assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp('bytime', 2000), [{ partition: 0, offset: '1' }], 'exactly 2000: offset 1')
  assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp('bytime', 0), [{ partition: 0, offset: '0' }], 'before everything: offset 0')
  assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp('bytime', 9000), [{ partition: 0, offset: '3' }], 'after everything: the high watermark')
  assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp('bytime'), [{ partition: 0, offset: '3' }], 'no timestamp: the latest offset')
})

// Real KafkaJS's setOffsets, resetOffsets and fetchOffsets({ resolveOffsets }) each run a throwaway
// consumer with KafkaJS's default maxWaitTimeInMs (5 s) and wait for its first (empty) fetch: about
// 5 s each, against Kafka too, so the test needs more than the default 20 s in wire mode. Each such
// call has its own deadline, so that one that never settles fails the test by name.
test('fetchOffsets / setOffsets / resetOffsets for a group, and setOffsets refused while the group runs', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  const producer = await connectedProducer(t, kafka)
  await admin.createTopics({ topics: [{ topic: 'grp-offs', numPartitions: 2 }] })
  await producer.send({ topic: 'grp-offs', messages: Array.from({ length: 6 }, (_, i) => ({ value: `v${i}`, partition: i % 2 })) })
  await withDeadline(admin.setOffsets({ groupId: 'so-g', topic: 'grp-offs', partitions: [{ partition: 0, offset: '2' }, { partition: 1, offset: '1' }] }), 10_000, 'setOffsets')
  assert.deepEqual(
    await admin.fetchOffsets({ groupId: 'so-g', topics: ['grp-offs'] }),
    [{ topic: 'grp-offs', partitions: [{ partition: 0, offset: '2', metadata: null }, { partition: 1, offset: '1', metadata: null }] }],
    'setOffsets then fetchOffsets',
  )
  const collector = await collectingConsumer(t, kafka, { groupId: 'so-g', topics: ['grp-offs'] })
  await collector.waitForCount(3)
  assert.deepEqual(
    collector.received.map((r) => `${r.partition}:${r.offset}`).sort(),
    ['0:2', '1:1', '1:2'],
    'a consumer of the group starts at the offsets set',
  )
  const running = await caught(() => admin.setOffsets({ groupId: 'so-g', topic: 'grp-offs', partitions: [{ partition: 0, offset: '0' }] }))
  assert.ok(running instanceof KafkaJSNonRetriableError, `setOffsets on a running group: KafkaJSNonRetriableError (got ${String(running)})`)
  assert.match((running as Error).message, /The consumer group must have no running instances, current state: Stable/, 'KafkaJS\'s message')
  const runningReset = await caught(() => admin.resetOffsets({ groupId: 'so-g', topic: 'grp-offs', earliest: true }))
  assert.ok(runningReset instanceof KafkaJSNonRetriableError, `resetOffsets on a running group: KafkaJSNonRetriableError (got ${String(runningReset)})`)
  await withDeadline(collector.consumer.disconnect(), 5000, 'disconnect')

  await withDeadline(admin.resetOffsets({ groupId: 'so-g', topic: 'grp-offs', earliest: true }), 10_000, 'resetOffsets({ earliest: true })')
  const [reset] = await admin.fetchOffsets({ groupId: 'so-g', topics: ['grp-offs'] })
  assert.deepEqual(reset!.partitions.map((p) => p.offset), ['-2', '-2'], 'KafkaJS commits the EARLIEST marker (-2), as its own spec shows')
  const resolved = await withDeadline(admin.fetchOffsets({ groupId: 'so-g', topics: ['grp-offs'], resolveOffsets: true }), 10_000, 'fetchOffsets({ resolveOffsets: true })')
  assert.deepEqual(resolved[0]!.partitions.map((p) => p.offset), ['0', '0'], 'resolveOffsets: true turns -2 into the low watermark')
  const again = await collectingConsumer(t, kafka, { groupId: 'so-g', topics: ['grp-offs'], fromBeginning: false })
  await again.waitForCount(6)
  assert.equal(again.received.length, 6, 'after resetOffsets(earliest) the group reads everything again')
  await withDeadline(again.consumer.disconnect(), 5000, 'disconnect')
  await withDeadline(admin.resetOffsets({ groupId: 'so-g', topic: 'grp-offs' }), 10_000, 'resetOffsets()')
  const [latest] = await admin.fetchOffsets({ groupId: 'so-g', topics: ['grp-offs'] })
  assert.deepEqual(latest!.partitions.map((p) => p.offset), ['-1', '-1'], 'resetOffsets without earliest commits the LATEST marker (-1)')
}, isWire ? 60_000 : 20_000)

test('fetchOffsets of an unknown topic fails with UNKNOWN_TOPIC_OR_PARTITION; bad arguments are KafkaJSNonRetriableError', async (t) => {
  const kafka = newKafka({ retry: { initialRetryTime: 10, retries: 1 } })
  const admin = await connectedAdmin(t, kafka)
  const error = await caught(() => admin.fetchOffsets({ groupId: 'g', topics: ['fo-missing'] }), 10_000, 'fetchOffsets unknown topic')
  assert.ok(findProtocolError(error, 'UNKNOWN_TOPIC_OR_PARTITION'), `UNKNOWN_TOPIC_OR_PARTITION in ${chain(error)}`)
  const noGroup = await caught(() => admin.fetchOffsets({ groupId: '', topics: [] }))
  assert.ok(noGroup instanceof KafkaJSNonRetriableError, 'empty groupId')
  const noPartitions = await caught(() => admin.setOffsets({ groupId: 'g', topic: 't', partitions: [] }))
  assert.ok(noPartitions instanceof KafkaJSNonRetriableError, 'setOffsets without partitions')
})

test('listGroups, describeGroups, deleteGroups (KafkaJSDeleteGroupsError for a non-empty or unknown group)', async (t) => {
  const kafka = newKafka()
  const admin = await connectedAdmin(t, kafka)
  const producer = await connectedProducer(t, kafka)
  await producer.send({ topic: 'grps', messages: [{ value: 'x' }] })
  const collector = await collectingConsumer(t, kafka, { groupId: 'grps-g', topics: ['grps'] })
  await collector.waitForCount(1)
  const { groups } = await admin.listGroups()
  assert.deepEqual(groups.filter((g) => g.groupId === 'grps-g'), [{ groupId: 'grps-g', protocolType: 'consumer' }], 'listGroups: { groupId, protocolType }')
  const described = await admin.describeGroups(['grps-g', 'grps-none'])
  const running = described.groups.find((g) => g.groupId === 'grps-g')!
  assert.equal(running.state, 'Stable', 'running group is Stable')
  assert.equal(running.members.length, 1, 'one member')
  assert.equal(running.protocolType, 'consumer', 'protocolType')
  const none = described.groups.find((g) => g.groupId === 'grps-none')
  assert.ok(none, 'an unknown group is described too')
  assert.equal(none.state, 'Dead', 'an unknown group is Dead (as Kafka describes it)')
  assert.deepEqual(none.members, [], 'without members')

  const nonEmpty = await caught(() => admin.deleteGroups(['grps-g']))
  assert.ok(nonEmpty instanceof KafkaJSDeleteGroupsError, `non-empty group: KafkaJSDeleteGroupsError (got ${chain(nonEmpty)})`)
  const failed = (nonEmpty as KafkaJSDeleteGroupsError).groups
  assert.equal(failed[0]!.groupId, 'grps-g', 'names the group')
  assert.equal(failed[0]!.errorCode, 68, 'NON_EMPTY_GROUP (68)')
  assert.ok(failed[0]!.error instanceof KafkaJSProtocolError && failed[0]!.error.type === 'NON_EMPTY_GROUP', 'error is a KafkaJSProtocolError NON_EMPTY_GROUP')

  await withDeadline(collector.consumer.disconnect(), 5000, 'disconnect')
  const [emptyGroup] = (await admin.describeGroups(['grps-g'])).groups
  assert.equal(emptyGroup!.state, 'Empty', 'after the member left the group is Empty')
  assert.deepEqual(await admin.deleteGroups(['grps-g']), [{ groupId: 'grps-g', errorCode: 0 }], 'deleteGroups resolves to [{ groupId, errorCode: 0 }]')
  assert.ok(!(await admin.listGroups()).groups.some((g) => g.groupId === 'grps-g'), 'the group is gone')
  const [afterDelete] = await admin.fetchOffsets({ groupId: 'grps-g', topics: ['grps'] })
  assert.equal(afterDelete!.partitions[0]!.offset, '-1', 'its committed offsets went with it')

  const unknown = await caught(() => admin.deleteGroups(['grps-unknown']))
  assert.ok(unknown instanceof KafkaJSDeleteGroupsError, `unknown group: KafkaJSDeleteGroupsError (got ${chain(unknown)})`)
  assert.equal((unknown as KafkaJSDeleteGroupsError).groups[0]!.error?.type, 'GROUP_ID_NOT_FOUND', 'GROUP_ID_NOT_FOUND')
  assert.deepEqual(await admin.deleteGroups([]), [], 'deleting no groups resolves to []')
})

test('describeCluster: one broker, node 0, which is the controller; admin CONNECT/DISCONNECT events', async (t) => {
  const kafka = newKafka({ brokers: ['cluster-host-1:9092'] })
  const admin = kafka.admin()
  const events: string[] = []
  admin.on(admin.events.CONNECT, (e) => {
    events.push(e.type)
  })
  admin.on(admin.events.DISCONNECT, (e) => {
    events.push(e.type)
  })
  await withDeadline(admin.connect(), 5000, 'connect')
  t.after(() => admin.disconnect())
  const cluster = await admin.describeCluster()
  assert.equal(cluster.brokers.length, 1, 'one broker')
  assert.equal(cluster.brokers[0]!.nodeId, 0, 'node id 0')
  assert.equal(typeof cluster.brokers[0]!.host, 'string', 'host')
  assert.equal(typeof cluster.brokers[0]!.port, 'number', 'port')
  assert.equal(cluster.controller, 0, 'the broker is the controller')
  assert.equal(typeof cluster.clusterId, 'string', 'clusterId')
  assert.ok(cluster.clusterId.length > 0, 'clusterId is not empty')
  await withDeadline(admin.disconnect(), 5000, 'disconnect')
  assert.deepEqual(events, ['admin.connect', 'admin.disconnect'], 'admin events')
})
