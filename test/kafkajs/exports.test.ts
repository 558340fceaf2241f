// The facade's exports against the real kafkajs 2.2.4 package: the same names, the same enum values,
// error classes that behave like KafkaJS's (name, message, retriable, type/code, extra fields,
// inheritance), the same event names, partitioners and assigner protocol. kafkajs is used only as an
// oracle here: nothing connects to a server.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import * as facade from '../../src/kafkajs/index.js'
import { facadeOnly, kafkajsDefaultPartition, kafkajsLegacyPartition, newKafka, realKafkajs } from '../fixtures/kafkajs.js'

after(() => facade.closeSharedBrokers())

// The facade's exports checked against kafkajs: in wire mode the client is kafkajs itself.
const test = facadeOnly('compares the facade\'s exports with the kafkajs package')

const real = realKafkajs as unknown as Record<string, unknown>
const mine = facade as unknown as Record<string, unknown>

test('every name kafkajs exports is exported by the facade, plus closeSharedBrokers', () => {
  const missing = Object.keys(real).filter((name) => !(name in mine) || mine[name] === undefined)
  assert.deepEqual(missing, [], `names kafkajs exports that the facade lacks: ${missing.join(', ')}`)
  assert.equal(typeof facade.closeSharedBrokers, 'function', 'closeSharedBrokers is a kafkalite extra')
  assert.equal(typeof facade.Kafka, 'function', 'Kafka is a class')
})

test('enums have KafkaJS\'s values: logLevel, CompressionTypes, config and ACL enums', () => {
  for (const name of [
    'logLevel',
    'CompressionTypes',
    'ConfigResourceTypes',
    'ConfigSource',
    'AclResourceTypes',
    'AclOperationTypes',
    'AclPermissionTypes',
    'ResourcePatternTypes',
  ]) {
    const expected = real[name] as Record<string, unknown>
    const actual = mine[name] as Record<string, unknown>
    assert.ok(actual && typeof actual === 'object', `${name} is exported as an object`)
    for (const [key, value] of Object.entries(expected)) {
      assert.equal(actual[key], value, `${name}.${key}`)
    }
  }
  assert.deepEqual(
    Object.keys(realKafkajs.CompressionCodecs).sort(),
    Object.keys(facade.CompressionCodecs)
      .filter((k) => /^\d+$/.test(k))
      .sort(),
    'CompressionCodecs is keyed by the same compression types (a user registers codecs there)',
  )
})

// Constructor arguments for each class as KafkaJS's own code creates them.
const protocolInfo = { message: 'This server does not host this topic-partition', type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true }
const cause = new Error('root cause')
const errorCases: [string, unknown[]][] = [
  ['KafkaJSError', ['plain message']],
  ['KafkaJSError', ['not retriable', { retriable: false }]],
  ['KafkaJSNonRetriableError', ['non retriable']],
  ['KafkaJSNonRetriableError', [cause]],
  ['KafkaJSProtocolError', [protocolInfo]],
  ['KafkaJSProtocolError', [{ message: 'Configuration is invalid', type: 'INVALID_CONFIG', code: 40, retriable: false }]],
  ['KafkaJSProtocolError', ['a message only']],
  ['KafkaJSOffsetOutOfRange', [{ message: 'out of range', type: 'OFFSET_OUT_OF_RANGE', code: 1, retriable: false }, { topic: 'tp', partition: 2 }]],
  ['KafkaJSMemberIdRequired', [{ message: 'member id required', type: 'MEMBER_ID_REQUIRED', code: 79, retriable: false }, { memberId: 'm-1' }]],
  ['KafkaJSNumberOfRetriesExceeded', [cause, { retryCount: 5, retryTime: 1234 }]],
  ['KafkaJSConnectionError', ['Connection error', { broker: 'b:9092', code: 'ECONNREFUSED' }]],
  ['KafkaJSConnectionClosedError', ['Closed connection', { host: 'h', port: 9092 }]],
  ['KafkaJSRequestTimeoutError', ['Request timed out', { broker: 'b:9092', correlationId: 7, createdAt: 1, sentAt: 2, pendingDuration: 3 }]],
  ['KafkaJSMetadataNotLoaded', ['metadata not loaded']],
  ['KafkaJSTopicMetadataNotLoaded', ['topic metadata not loaded', { topic: 'tp' }]],
  ['KafkaJSStaleTopicMetadataAssignment', ['stale', { topic: 'tp', unknownPartitions: [1] }]],
  ['KafkaJSDeleteGroupsError', ['Error in DeleteGroups', [{ groupId: 'g', errorCode: 69 }]]],
  ['KafkaJSServerDoesNotSupportApiKey', ['not supported', { apiKey: 18, apiName: 'ApiVersions' }]],
  ['KafkaJSBrokerNotFound', ['broker not found']],
  ['KafkaJSPartialMessageError', ['partial']],
  ['KafkaJSSASLAuthenticationError', ['sasl']],
  ['KafkaJSGroupCoordinatorNotFound', ['no coordinator']],
  ['KafkaJSNotImplemented', ['not implemented']],
  ['KafkaJSTimeout', ['timeout']],
  ['KafkaJSLockTimeout', ['lock timeout']],
  ['KafkaJSUnsupportedMagicByteInMessageSet', ['magic']],
  ['KafkaJSDeleteTopicRecordsError', [{ topic: 'tp', partitions: [{ partition: 0, offset: '5', error: { retriable: false } }] }]],
  ['KafkaJSInvariantViolation', ['something impossible']],
  ['KafkaJSInvalidVarIntError', ['bad varint']],
  ['KafkaJSInvalidLongError', ['bad long']],
  ['KafkaJSCreateTopicError', [{ message: 'invalid topic', type: 'INVALID_TOPIC_EXCEPTION', code: 17, retriable: false }, 'bad topic']],
  ['KafkaJSAggregateError', ['Topic creation errors', [new Error('one')]]],
  ['KafkaJSNoBrokerAvailableError', []],
  ['KafkaJSAlterPartitionReassignmentsError', [{ message: 'reassign', type: 'UNKNOWN', code: -1, retriable: false }, 'tp', 3]],
]
const compared = ['name', 'message', 'retriable', 'type', 'code', 'topic', 'partition', 'memberId', 'broker', 'retryCount', 'retryTime', 'host', 'port', 'correlationId', 'apiKey', 'apiName', 'unknownPartitions']

test('error classes: constructed as KafkaJS constructs them, they carry the same fields', () => {
  const problems: string[] = []
  for (const [name, args] of errorCases) {
    const Real = real[name] as new (...a: unknown[]) => Record<string, unknown>
    const Mine = mine[name] as new (...a: unknown[]) => Record<string, unknown>
    assert.equal(typeof Mine, 'function', `${name} is exported`)
    const expected = new Real(...args)
    const actual = new Mine(...args)
    assert.ok(actual instanceof Error, `${name} is an Error`)
    for (const field of compared) {
      if (expected[field] === undefined) continue
      try {
        assert.deepEqual(actual[field], expected[field], `${name}.${field}`)
      } catch {
        problems.push(`new ${name}(${JSON.stringify(args).slice(1, -1)}).${field}: expected ${JSON.stringify(expected[field])}, got ${JSON.stringify(actual[field])}`)
      }
    }
    if (Array.isArray(expected.errors)) assert.deepEqual(actual.errors, expected.errors, `${name}.errors`)
    if (Array.isArray(expected.groups)) assert.deepEqual(actual.groups, expected.groups, `${name}.groups`)
  }
  assert.deepEqual(problems, [], `fields that differ from KafkaJS:\n${problems.join('\n')}`)
})

test('error classes: the same inheritance as KafkaJS (instanceof works the same way)', () => {
  const names = Object.keys(real).filter((n) => /^KafkaJS/.test(n) && typeof real[n] === 'function')
  const problems: string[] = []
  for (const a of names) {
    for (const b of names) {
      const RealA = real[a] as { prototype: object }
      const RealB = real[b] as new (...x: unknown[]) => unknown
      const MineA = mine[a] as { prototype: object } | undefined
      const MineB = mine[b] as (new (...x: unknown[]) => unknown) | undefined
      if (!MineA || !MineB) continue
      const expected = Object.prototype.isPrototypeOf.call(RealB.prototype, RealA.prototype) || a === b
      const actual = Object.prototype.isPrototypeOf.call(MineB.prototype, MineA.prototype) || a === b
      if (expected !== actual) problems.push(`${a} ${expected ? 'extends' : 'does not extend'} ${b} in KafkaJS`)
    }
  }
  assert.deepEqual(problems, [], `inheritance that differs from KafkaJS:\n${problems.join('\n')}`)
})

test('producer/consumer/admin .events name the same events as KafkaJS', () => {
  const realKafka = new realKafkajs.Kafka({ brokers: ['oracle.invalid:9092'], logLevel: realKafkajs.logLevel.NOTHING })
  const kafka = newKafka()
  const pairs: [string, object, object][] = [
    ['producer', realKafka.producer({ createPartitioner: realKafkajs.Partitioners.DefaultPartitioner }).events, kafka.producer().events],
    ['consumer', realKafka.consumer({ groupId: 'oracle' }).events, kafka.consumer({ groupId: 'oracle' }).events],
    ['admin', realKafka.admin().events, kafka.admin().events],
  ]
  for (const [what, expected, actual] of pairs) {
    assert.deepEqual({ ...actual }, { ...expected }, `${what}.events`)
  }
})

test('on() with an unknown event name throws KafkaJSNonRetriableError, as KafkaJS does', () => {
  const kafka = newKafka()
  const clients: [string, { on: (name: never, listener: () => void) => unknown }][] = [
    ['producer', kafka.producer() as never],
    ['consumer', kafka.consumer({ groupId: 'g' }) as never],
    ['admin', kafka.admin() as never],
  ]
  for (const [what, client] of clients) {
    assert.throws(
      () => client.on('no.such.event' as never, () => {}),
      (e: unknown) => e instanceof facade.KafkaJSNonRetriableError && /Event name should be one of/.test((e as Error).message),
      `${what}.on('no.such.event')`,
    )
  }
})

test('kafka.consumer() without a groupId throws KafkaJSNonRetriableError, as KafkaJS does', () => {
  const kafka = newKafka()
  assert.throws(
    () => kafka.consumer({} as never),
    (e: unknown) => e instanceof facade.KafkaJSNonRetriableError && /groupId/.test((e as Error).message),
    'consumer without groupId',
  )
})

test('kafka.consumer() with heartbeatInterval >= sessionTimeout throws KafkaJSNonRetriableError, as KafkaJS does', () => {
  const kafka = newKafka()
  assert.throws(
    () => kafka.consumer({ groupId: 'g', heartbeatInterval: 5000, sessionTimeout: 3000 }),
    (e: unknown) => e instanceof facade.KafkaJSNonRetriableError,
    'heartbeatInterval >= sessionTimeout is refused',
  )
})

test('Partitioners: DefaultPartitioner (murmur2), LegacyPartitioner and JavaCompatiblePartitioner pick KafkaJS\'s partitions', () => {
  const meta = (n: number) => Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }))
  const def = facade.Partitioners.DefaultPartitioner()
  const legacy = facade.Partitioners.LegacyPartitioner()
  const java = facade.Partitioners.JavaCompatiblePartitioner()
  for (let i = 0; i < 200; i++) {
    const key = i % 3 === 0 ? `user-${i}` : i % 3 === 1 ? `ключ-${i}-${'x'.repeat(i % 17)}` : Buffer.from([i, i * 7, 255 - i])
    const n = 1 + (i % 13)
    const message = { key, value: 'v' }
    assert.equal(def({ topic: 't', partitionMetadata: meta(n), message }), kafkajsDefaultPartition(key, n), `DefaultPartitioner ${String(key)} / ${n}`)
    assert.equal(java({ topic: 't', partitionMetadata: meta(n), message }), kafkajsDefaultPartition(key, n), `JavaCompatiblePartitioner ${String(key)} / ${n}`)
    assert.equal(legacy({ topic: 't', partitionMetadata: meta(n), message }), kafkajsLegacyPartition(key, n), `LegacyPartitioner ${String(key)} / ${n}`)
  }
  assert.equal(def({ topic: 't', partitionMetadata: meta(8), message: { key: 'k', value: 'v', partition: 5 } }), 5, 'an explicit partition wins')
  const seen = new Set<number>()
  for (let i = 0; i < 16; i++) seen.add(def({ topic: 't', partitionMetadata: meta(4), message: { value: 'v' } }))
  assert.equal(seen.size, 4, 'key-less messages go round-robin over the partitions')
})

test('AssignerProtocol encodes exactly as KafkaJS\'s (a member\'s metadata and assignment are wire bytes)', () => {
  const metadata = { version: 0, topics: ['a', 'b'], userData: Buffer.from('ud') }
  const assignment = { version: 1, assignment: { a: [0, 2], b: [1] }, userData: Buffer.alloc(0) }
  const encodedMeta = facade.AssignerProtocol.MemberMetadata.encode(metadata)
  const encodedAssignment = facade.AssignerProtocol.MemberAssignment.encode(assignment)
  assert.deepEqual(encodedMeta, realKafkajs.AssignerProtocol.MemberMetadata.encode(metadata), 'MemberMetadata bytes')
  assert.deepEqual(encodedAssignment, realKafkajs.AssignerProtocol.MemberAssignment.encode(assignment), 'MemberAssignment bytes')
  assert.deepEqual(facade.AssignerProtocol.MemberMetadata.decode(encodedMeta), realKafkajs.AssignerProtocol.MemberMetadata.decode(encodedMeta), 'MemberMetadata decode')
  assert.deepEqual(facade.AssignerProtocol.MemberAssignment.decode(encodedAssignment), realKafkajs.AssignerProtocol.MemberAssignment.decode(encodedAssignment), 'MemberAssignment decode')
})

test('PartitionAssigners.roundRobin: KafkaJS\'s RoundRobinAssigner (name, version, protocol bytes)', () => {
  const fakeCluster = { findTopicPartitionMetadata: () => [] } as never
  const logger = new realKafkajs.Kafka({ brokers: ['oracle.invalid:9092'], logLevel: 0 }).logger()
  const expected = realKafkajs.PartitionAssigners.roundRobin({ cluster: fakeCluster, groupId: 'g', logger })
  const actual = facade.PartitionAssigners.roundRobin({ cluster: fakeCluster, groupId: 'g', logger: logger as never })
  assert.equal(actual.name, expected.name, 'assigner name')
  assert.equal(actual.version, expected.version, 'assigner version')
  assert.deepEqual(actual.protocol({ topics: ['x', 'y'] }), expected.protocol({ topics: ['x', 'y'] }), 'protocol({ topics })')
})

test('kafka.logger() and logCreator: entries carry namespace, level, label and log.message', async () => {
  const entries: { namespace: string; level: number; label: string; message: string }[] = []
  const kafka = newKafka({
    logLevel: facade.logLevel.INFO,
    logCreator: (level: number) => {
      assert.equal(typeof level, 'number', 'logCreator gets the log level')
      return ({ namespace, level: lvl, label, log }: { namespace: string; level: number; label: string; log: { message: string; timestamp: string } }) => {
        assert.equal(typeof log.timestamp, 'string', 'log.timestamp is a string')
        entries.push({ namespace, level: lvl, label, message: log.message })
      }
    },
  })
  const logger = kafka.logger()
  logger.info('hello from test', { extra: 1 })
  logger.debug('hidden at INFO')
  logger.error('an error')
  assert.deepEqual(
    entries.map((e) => [e.level, e.label, e.message]),
    [
      [facade.logLevel.INFO, 'INFO', 'hello from test'],
      [facade.logLevel.ERROR, 'ERROR', 'an error'],
    ],
    'INFO and ERROR entries pass, DEBUG is filtered at logLevel INFO',
  )
  const child = logger.namespace('Child')
  child.warn('from child')
  assert.equal(entries.at(-1)?.namespace, 'Child', 'namespace() sets the entry namespace')
  assert.equal(entries.at(-1)?.label, 'WARN', 'warn label')
})
