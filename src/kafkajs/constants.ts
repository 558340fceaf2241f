// KafkaJS's enums and helper objects: logLevel, compression types, the config/ACL enums, the
// partitioners (DefaultPartitioner = the Java client's murmur2, LegacyPartitioner = KafkaJS 1.x's
// murmur2 in JavaScript number arithmetic), the round-robin assigner and AssignerProtocol.
import { randomBytes } from 'node:crypto'
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, murmur2 } from '../index.js'
import { KafkaJSNotImplemented } from './errors.js'
import type { ICustomPartitioner, MemberAssignment, MemberMetadata, PartitionAssigner, PartitionerArgs } from './types.js'

export enum logLevel {
  NOTHING = 0,
  ERROR = 1,
  WARN = 2,
  INFO = 4,
  DEBUG = 5,
}

export enum CompressionTypes {
  None = 0,
  GZIP = 1,
  Snappy = 2,
  LZ4 = 3,
  ZSTD = 4,
}

/** Codecs a KafkaJS user can register. kafkalite compresses with gzip itself; others are refused. */
export const CompressionCodecs: { [type in CompressionTypes]?: () => unknown } = {
  [CompressionTypes.GZIP]: () => ({}),
  [CompressionTypes.Snappy]: () => {
    throw new KafkaJSNotImplemented('Snappy compression not implemented')
  },
  [CompressionTypes.LZ4]: () => {
    throw new KafkaJSNotImplemented('LZ4 compression not implemented')
  },
  [CompressionTypes.ZSTD]: () => {
    throw new KafkaJSNotImplemented('ZSTD compression not implemented')
  },
}

export enum ConfigResourceTypes {
  UNKNOWN = 0,
  TOPIC = 2,
  BROKER = 4,
  BROKER_LOGGER = 8,
}

export enum ConfigSource {
  UNKNOWN = 0,
  TOPIC_CONFIG = 1,
  DYNAMIC_BROKER_CONFIG = 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG = 3,
  STATIC_BROKER_CONFIG = 4,
  DEFAULT_CONFIG = 5,
  DYNAMIC_BROKER_LOGGER_CONFIG = 6,
}

export enum AclResourceTypes {
  UNKNOWN = 0,
  ANY = 1,
  TOPIC = 2,
  GROUP = 3,
  CLUSTER = 4,
  TRANSACTIONAL_ID = 5,
  DELEGATION_TOKEN = 6,
}

export enum AclPermissionTypes {
  UNKNOWN = 0,
  ANY = 1,
  DENY = 2,
  ALLOW = 3,
}

export enum AclOperationTypes {
  UNKNOWN = 0,
  ANY = 1,
  ALL = 2,
  READ = 3,
  WRITE = 4,
  CREATE = 5,
  DELETE = 6,
  ALTER = 7,
  DESCRIBE = 8,
  CLUSTER_ACTION = 9,
  DESCRIBE_CONFIGS = 10,
  ALTER_CONFIGS = 11,
  IDEMPOTENT_WRITE = 12,
}

export enum ResourcePatternTypes {
  UNKNOWN = 0,
  ANY = 1,
  MATCH = 2,
  LITERAL = 3,
  PREFIXED = 4,
}

const toPositive = (x: number): number => x & 0x7fffffff

/** KafkaJS 1.x's murmur2: the same steps in double arithmetic (differs from Java's for some keys). */
function legacyMurmur2(key: Buffer | string): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key))
  const length = data.length
  const M = 0x5bd1e995
  let h = 0x9747b28c ^ length
  for (let i = 0; i < length / 4; i++) {
    const i4 = i * 4
    let k = (data[i4]! & 0xff) + ((data[i4 + 1]! & 0xff) << 8) + ((data[i4 + 2]! & 0xff) << 16) + ((data[i4 + 3]! & 0xff) << 24)
    k *= M
    k ^= k >>> 24
    k *= M
    h *= M
    h ^= k
  }
  const tail = length & ~3
  const rest = length % 4
  if (rest >= 3) h ^= (data[tail + 2]! & 0xff) << 16
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8
  if (rest >= 1) {
    h ^= data[tail]! & 0xff
    h *= M
  }
  h ^= h >>> 13
  h *= M
  h ^= h >>> 15
  return h
}

/** KafkaJS's partitioning: the message's partition, else a hash of its key, else round robin. */
function partitionerWith(hash: (key: Buffer | string) => number): ICustomPartitioner {
  return () => {
    const counters: Record<string, number> = {}
    return ({ topic, partitionMetadata, message }: PartitionerArgs) => {
      if (!(topic in counters)) counters[topic] = randomBytes(4).readUInt32BE(0)
      if (message.partition !== null && message.partition !== undefined) return message.partition
      if (message.key !== null && message.key !== undefined) return toPositive(hash(message.key)) % partitionMetadata.length
      const available = partitionMetadata.filter((p) => p.leader >= 0)
      counters[topic] = counters[topic]! + 1
      if (available.length > 0) return available[toPositive(counters[topic]!) % available.length]!.partitionId
      return toPositive(counters[topic]!) % partitionMetadata.length
    }
  }
}

const DefaultPartitioner = partitionerWith((key) => murmur2(Buffer.isBuffer(key) ? key : Buffer.from(String(key))))

export const Partitioners: {
  DefaultPartitioner: ICustomPartitioner
  LegacyPartitioner: ICustomPartitioner
  /** @deprecated Use DefaultPartitioner instead */
  JavaCompatiblePartitioner: ICustomPartitioner
} = {
  DefaultPartitioner,
  LegacyPartitioner: partitionerWith(legacyMurmur2),
  JavaCompatiblePartitioner: DefaultPartitioner,
}

/** Marks KafkaJS's built-in assigner: the facade runs it as kafkalite's round-robin assignor. */
export const ROUND_ROBIN = Symbol.for('kafkalite.kafkajs.roundRobin')

/**
 * KafkaJS's RoundRobinAssigner: members sorted by id take the topics' partitions in turn. A consumer
 * given it runs kafkalite's round-robin assignor in the group coordinator, which assigns the same way.
 */
const roundRobin: PartitionAssigner = Object.assign(
  ({ cluster }: { cluster: { findTopicPartitionMetadata(topic: string): Array<{ partitionId: number }> } }) => ({
    name: 'RoundRobinAssigner',
    version: 0,
    async assign({ members, topics }: { members: Array<{ memberId: string }>; topics: string[] }) {
      const sorted = members.map((m) => m.memberId).sort()
      const assignment: Record<string, Record<string, number[]>> = {}
      const pairs = topics.flatMap((topic) => cluster.findTopicPartitionMetadata(topic).map((m) => [topic, m.partitionId] as const))
      pairs.forEach(([topic, partition], i) => {
        const member = sorted[i % sorted.length]!
        assignment[member] ??= {}
        ;(assignment[member]![topic] ??= []).push(partition)
      })
      return Object.keys(assignment).map((memberId) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: assignment[memberId]!, userData: Buffer.alloc(0) }),
      }))
    },
    protocol({ topics }: { topics: string[] }) {
      return { name: 'RoundRobinAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) }
    },
  }),
  { [ROUND_ROBIN]: true },
)

export const PartitionAssigners: { roundRobin: PartitionAssigner } = { roundRobin }

/** The consumer protocol's member metadata and assignment (Kafka's ConsumerProtocol v0 layout). */
export const AssignerProtocol: {
  MemberMetadata: { encode(m: MemberMetadata): Buffer; decode(b: Buffer): MemberMetadata | null }
  MemberAssignment: { encode(a: MemberAssignment): Buffer; decode(b: Buffer): MemberAssignment | null }
} = {
  MemberMetadata: {
    encode: ({ version, topics, userData }) => encodeSubscription({ topics, userData: userData ?? Buffer.alloc(0) }, version),
    decode: (buffer) => {
      if (buffer.length < 2) return null
      const s = decodeSubscription(buffer)
      return { version: buffer.readInt16BE(0), topics: s.topics, userData: s.userData ?? Buffer.alloc(0) }
    },
  },
  MemberAssignment: {
    encode: ({ version, assignment, userData }) =>
      encodeAssignment(
        { assigned: Object.entries(assignment).map(([topic, partitions]) => ({ topic, partitions })), userData: userData ?? Buffer.alloc(0) },
        version,
      ),
    decode: (buffer) => {
      if (buffer.length < 2) return null
      const a = decodeAssignment(buffer)
      const assignment: Record<string, number[]> = {}
      for (const { topic, partitions } of a.assigned) assignment[topic] = partitions
      return { version: buffer.readInt16BE(0), assignment, userData: a.userData ?? Buffer.alloc(0) }
    },
  },
}
