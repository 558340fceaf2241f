// What a KafkaJS consumer hands to eachMessage/eachBatch, made from kafkalite's batches: messages
// with string offsets and timestamps, and the batch with its lag helpers.
import type { Batch as CoreBatch, JoinInfo, Message as CoreMessage } from '../index.js'
import { protocolName } from './describe-group.js'
import { KafkaJSNonRetriableError } from './errors.js'
import type { Batch, IHeaders, KafkaMessage } from './types.js'

export function checkTopicPartitions(list: Array<{ topic: string; partitions?: number[] }>): Array<{ topic: string; partitions?: number[] }> {
  if (!Array.isArray(list)) throw new KafkaJSNonRetriableError('Invalid topics: expected an array of { topic, partitions? }')
  for (const t of list) {
    if (!t || typeof t.topic !== 'string') throw new KafkaJSNonRetriableError(`Invalid topic ${JSON.stringify(t?.topic)}`)
    if (t.partitions !== undefined && (!Array.isArray(t.partitions) || !t.partitions.every((p) => Number.isInteger(p)))) {
      throw new KafkaJSNonRetriableError(`Array of valid partitions required to pause specific partitions instead of ${JSON.stringify(t.partitions)}`)
    }
  }
  return list
}

function headersOf(h: CoreMessage['headers']): IHeaders {
  return h as IHeaders
}

function toMessage(m: CoreMessage): KafkaMessage {
  return { key: m.key, value: m.value, timestamp: String(m.timestamp), attributes: 0, offset: String(m.offset), headers: headersOf(m.headers) }
}

export function toBatch(b: CoreBatch): Batch {
  const messages = b.messages.map(toMessage)
  const hw = b.highWatermark
  const lastOffset = (): string => (messages.length > 0 ? messages[messages.length - 1]!.offset : String(hw - 1))
  return {
    topic: b.topic,
    partition: b.partition,
    highWatermark: String(hw),
    messages,
    isEmpty: () => messages.length === 0,
    firstOffset: () => (messages.length > 0 ? messages[0]!.offset : null),
    lastOffset,
    offsetLag: () => String(Math.max(0, hw - 1 - Number(lastOffset()))),
    offsetLagLow: () => String(Math.max(0, hw - 1 - Number(messages[0]?.offset ?? hw - 1))),
  }
}

export function batchInfo(batch: Batch) {
  return {
    topic: batch.topic,
    partition: batch.partition,
    highWatermark: batch.highWatermark,
    offsetLag: batch.offsetLag(),
    offsetLagLow: batch.offsetLagLow(),
    batchSize: batch.messages.length,
    firstOffset: batch.firstOffset() ?? '',
    lastOffset: batch.lastOffset(),
  }
}

/** The GROUP_JOIN event's payload for one join of the member. */
export function groupJoinPayload(j: JoinInfo) {
  return {
    duration: j.durationMs,
    groupId: j.groupId,
    isLeader: j.leaderId === j.memberId,
    leaderId: j.leaderId,
    groupProtocol: protocolName(j.protocol),
    memberId: j.memberId,
    memberAssignment: Object.fromEntries(j.assignment.map((t) => [t.topic, t.partitions])),
  }
}
