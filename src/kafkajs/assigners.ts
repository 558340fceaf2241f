// The partition assigners of a KafkaJS consumer on kafkalite's group coordinator.
import type { Broker, PartitionAssignor } from '../index.js'
import { AssignerProtocol, ROUND_ROBIN } from './constants.js'
import { KafkaJSNonRetriableError } from './errors.js'
import type { ConsumerConfig, Logger, PartitionAssigner } from './types.js'

/**
 * The group's assignors: KafkaJS's roundRobin runs as kafkalite's; a custom KafkaJS assigner is
 * adapted (its assign() gets the members' metadata in KafkaJS's format and a cluster that knows
 * the topics' partitions). userData from an assigner's protocol() is not carried.
 */
export function assignersOf(c: ConsumerConfig, broker: Broker, logger: Logger): Array<'roundrobin' | PartitionAssignor> {
  const list = c.partitionAssigners
  if (!list || list.length === 0) return ['roundrobin']
  return list.map((a) => ((a as unknown as Record<symbol, unknown>)[ROUND_ROBIN] ? 'roundrobin' : adaptAssigner(a, broker, c.groupId, logger)))
}

function adaptAssigner(factory: PartitionAssigner, broker: Broker, groupId: string, logger: Logger): PartitionAssignor {
  const partitionMetadata = (topic: string) =>
    Array.from({ length: broker.hasTopic(topic) ? broker.topic(topic).partitions : 0 }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
    }))
  const cluster = {
    getNodeIds: () => [0],
    isConnected: () => true,
    findTopicPartitionMetadata: partitionMetadata,
    metadata: async () => ({
      brokers: [{ nodeId: 0, host: 'localhost', port: 9092 }],
      topicMetadata: broker.topics().map((t) => ({ topicErrorCode: 0, topic: t.name, partitionMetadata: partitionMetadata(t.name) })),
    }),
  }
  const assigner = factory({ cluster, groupId, logger })
  if (!assigner || typeof assigner.name !== 'string' || typeof assigner.assign !== 'function') {
    throw new KafkaJSNonRetriableError('a partition assigner must return { name, version, assign, protocol }')
  }
  return {
    name: assigner.name,
    rebalanceProtocol: 'eager',
    async assign({ members }) {
      const topics = [...new Set(members.flatMap((m) => m.subscription.topics))]
      const result = await assigner.assign({
        members: members.map((m) => ({
          memberId: m.memberId,
          memberMetadata: AssignerProtocol.MemberMetadata.encode({ version: assigner.version ?? 0, topics: m.subscription.topics, userData: m.subscription.userData ?? Buffer.alloc(0) }),
        })),
        topics,
      })
      const out = new Map<string, Array<{ topic: string; partitions: number[] }>>()
      for (const { memberId, memberAssignment } of result) {
        const decoded = AssignerProtocol.MemberAssignment.decode(memberAssignment)
        out.set(memberId, Object.entries(decoded?.assignment ?? {}).map(([topic, partitions]) => ({ topic, partitions })))
      }
      return out
    },
  }
}
