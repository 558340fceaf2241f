// The consumer group commands of the broker model test: admin commits (resetOffsets), a member's
// commitOffsets, a member reading a whole topic from its committed offsets and committing, and
// deleting a group. Each compares what the broker returns and then shows (lag(), groups(),
// describe()) with the model's committed offsets.
import assert from 'node:assert/strict'
import type { Cmd } from './commands.js'
import { count, expectOutcome } from './coverage.js'
import { MessagePump } from './observe.js'
import type { Runner } from './runner.js'

/**
 * broker.group(id).resetOffsets, an admin commit of one partition or all: to an offset (which must
 * be in [log start, high watermark] in each), the log start or end, or the first offset at a
 * timestamp (the end when there is none).
 */
export async function resetOffsets(r: Runner, cmd: Extract<Cmd, { t: 'resetOffsets' }>): Promise<void> {
  const { group } = cmd
  const topic = r.topicName(cmd.topic)
  const t = r.model.topic(topic)
  const partitions = cmd.partition === 'all' ? t?.partitions.map((_, i) => i) ?? [0] : [r.partitionIndex(topic, cmd.partition)]
  const first = partitions[0]!
  let to: { offset: number } | { timestamp: number } | 'earliest' | 'latest'
  if ('at' in cmd.to) to = { offset: r.offset(topic, first, cmd.to) }
  else if ('to' in cmd.to) to = cmd.to.to
  else to = { timestamp: r.timestamp(topic, first, cmd.to) }
  let code: string | null = null
  const want = partitions.map((i) => {
    code ??= r.partitionError(topic, i)
    const p = r.part(topic, i)
    if (!p) return { partition: i, offset: -1 }
    let offset: number
    if (to === 'earliest') offset = p.logStart
    else if (to === 'latest') offset = p.next
    else if ('timestamp' in to) offset = p.offsetForTimestamp(to.timestamp) ?? p.next
    else {
      offset = to.offset
      code ??= r.model.offsetError(topic, i, offset)
    }
    return { partition: i, offset }
  })
  const what = `resetOffsets of ${group} for ${topic} ${cmd.partition === 'all' ? 'all partitions' : `partition ${first}`} to ${JSON.stringify(to)}`
  const args = cmd.partition === 'all' ? { topic, to } : { topic, partitions, to }
  const got = await expectOutcome(what, code, () => r.broker.group(group).resetOffsets(args))
  if (got) {
    assert.deepEqual(got, want, what)
    for (const { partition, offset } of want) r.model.commit(group, topic, partition, offset)
    count('admin commits')
  }
  r.checkGroups()
}

/** broker.group(id).delete(): the group's offsets go; a group unknown to the broker is GROUP_NOT_FOUND. */
export async function deleteGroup(r: Runner, group: string): Promise<void> {
  const known = r.model.commits.has(group) || r.groupsWithMembers.has(group)
  await expectOutcome(`delete group ${group}`, known ? null : 'GROUP_NOT_FOUND', () => r.broker.group(group).delete())
  r.model.deleteGroup(group)
  r.groupsWithMembers.delete(group)
  r.checkGroups()
}

/** A member's commitOffsets: any offset ≥ 0 of an existing partition (as Kafka's OffsetCommit). */
export async function commitOffsets(r: Runner, cmd: Extract<Cmd, { t: 'commitOffsets' }>): Promise<void> {
  const { group } = cmd
  const { topic, partition } = r.target(cmd)
  const offset = r.offset(topic, partition, cmd.offset)
  const what = `commitOffsets of a ${group} member for ${topic}-${partition} at ${offset}`
  const consumer = r.broker.consumer({ groupId: group, autoCommit: false })
  try {
    const subscribed = await expectOutcome(`${what}: subscribe`, r.model.topic(topic) ? null : 'UNKNOWN_TOPIC', async () => {
      await consumer.subscribe(topic)
      return true
    })
    if (!subscribed) return
    r.groupsWithMembers.add(group)
    await consumer.run({ eachMessage: () => {} })
    const code = r.partitionError(topic, partition) ?? (offset < 0 ? 'INVALID_CONFIG' : null)
    const ok = await expectOutcome(what, code, async () => {
      await consumer.commitOffsets([{ topic, partition, offset }])
      return true
    })
    if (ok) r.model.commit(group, topic, partition, offset)
    if (ok) count('member commits')
  } finally {
    await consumer.close()
  }
  r.checkGroups()
}

/**
 * A group member reads a whole topic and commits: each partition from its committed offset (reset
 * to the log start when out of range), else from the log start (fromBeginning); commit() then
 * records the high watermark of every partition.
 */
export async function groupConsume(r: Runner, cmd: Extract<Cmd, { t: 'groupConsume' }>): Promise<void> {
  const { group } = cmd
  const topic = r.topicName(cmd.topic)
  const what = `${group} member reading ${topic}`
  const consumer = r.broker.consumer({ groupId: group, fromBeginning: true, autoCommit: false })
  try {
    const subscribed = await expectOutcome(`${what}: subscribe`, r.model.topic(topic) ? null : 'UNKNOWN_TOPIC', async () => {
      await consumer.subscribe(topic)
      return true
    })
    if (!subscribed) return
    r.groupsWithMembers.add(group)
    const parts = r.model.topic(topic)!.partitions
    const got = await new MessagePump(consumer).drain(topic, new Map(parts.map((p, i) => [i, p.next])), what)
    parts.forEach((p, i) => {
      const c = r.model.committed(group, topic, i)
      const start = c !== undefined && c >= p.logStart && c <= p.next ? c : p.logStart
      assert.deepEqual(got.get(i), p.from(start), `${what}: partition ${i} from ${start} (committed ${c})`)
    })
    count('records read by group members', [...got.values()].reduce((n, l) => n + l.length, 0))
    await consumer.commit()
    parts.forEach((p, i) => r.model.commit(group, topic, i, p.next))
  } finally {
    await consumer.close()
  }
  r.checkGroups()
}
