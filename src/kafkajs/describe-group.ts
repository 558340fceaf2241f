// A group as KafkaJS's describeGroup()/describeGroups() show it: members with their assignment in
// the consumer protocol's bytes, the assignor as its protocol, Kafka's state names.
import type { Broker } from '../index.js'
import { AssignerProtocol } from './constants.js'
import type { GroupDescription } from './types.js'

/** KafkaJS's name for kafkalite's assignor protocols. */
export function protocolName(protocol: string | null): string {
  return protocol === 'roundrobin' ? 'RoundRobinAssigner' : (protocol ?? '')
}

export function describeGroupOf(broker: Broker, groupId: string): GroupDescription {
  let d
  try {
    d = broker.group(groupId).describe()
  } catch (err) {
    // Kafka answers an unknown group as Dead with no members.
    if ((err as { code?: string })?.code !== 'GROUP_NOT_FOUND') throw err
    return { groupId, members: [], protocol: '', protocolType: '', state: 'Dead' }
  }
  return {
    groupId,
    members: d.members.map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      clientHost: '/127.0.0.1',
      memberMetadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics: Object.keys(m.assignment), userData: Buffer.alloc(0) }),
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: m.assignment, userData: Buffer.alloc(0) }),
    })),
    protocol: protocolName(d.protocol),
    protocolType: 'consumer',
    state: d.state as GroupDescription['state'],
  }
}
