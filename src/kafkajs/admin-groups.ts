// The admin client's consumer-group operations: fetchOffsets, setOffsets, resetOffsets,
// describeGroups and deleteGroups, with KafkaJS's argument checks, its offset markers (-1 latest,
// -2 earliest) as committed offsets, and its errors. Called by admin.ts (the Admin class runs each
// check, then the operation on its broker).
import type { Broker, PartitionLag } from '../index.js'
import { asProtocolError, checkArray, EARLIEST, fail, LATEST, parseOffset, range } from './admin-checks.js'
import { describeGroupOf } from './describe-group.js'
import { KafkaJSDeleteGroupsError, toKafkaJSError } from './errors.js'
import type { DeleteGroupsResult, FetchOffsetsPartition, GroupDescription, SeekEntry } from './types.js'

export type FetchedOffsets = Array<{ topic: string; partitions: FetchOffsetsPartition[] }>
type GroupOffsets = Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>

const codeOf = (err: unknown): unknown => (err as { code?: unknown })?.code

/**
 * KafkaJS commits its markers as they are (resetOffsets: -2 earliest, -1 latest) and fetchOffsets shows
 * them; kafkalite commits only real offsets, so the marker is remembered beside the offset it stood for
 * and shown while that offset is still the committed one.
 */
const markers = new WeakMap<Broker, Map<string, { marker: number; offset: number }>>()
const markersOf = (broker: Broker) => markers.get(broker) ?? markers.set(broker, new Map()).get(broker)!
const markerKey = (groupId: string, topic: string, partition: number): string => JSON.stringify([groupId, topic, partition])
const forgetMarkers = (broker: Broker, groupId: string): void => {
  for (const key of markersOf(broker).keys()) if (JSON.parse(key)[0] === groupId) markersOf(broker).delete(key)
}

/** fetchOffsets' argument checks: the topics asked for (none: every topic the group has committed for). */
export function checkFetchOffsets(options: { groupId: string; topics?: string[] }): string[] {
  checkGroupId(options?.groupId)
  if (!Array.isArray(options.topics ?? [])) throw fail('Expected topics array to be set')
  return options.topics ?? []
}

/** Committed offsets ('-1' where none) of `topics`, or of every topic the group has committed for. */
export async function fetchOffsets(broker: Broker, groupId: string, topics: string[], resolve: boolean): Promise<FetchedOffsets> {
  let offsets = committedOffsets(broker, groupId, topics)
  if (resolve) offsets = await resolveOffsets(broker, groupId, offsets)
  // The metadata each commit carried (KafkaJS's commitOffsets takes it).
  const metadata = new Map(broker.group(groupId).committed().map((c) => [`${c.topic}\u0000${c.partition}`, c.metadata]))
  return offsets.map(({ topic, partitions }) => ({
    topic,
    partitions: partitions.map((p) => ({ ...p, metadata: metadata.get(`${topic}\u0000${p.partition}`) ?? null })),
  }))
}

/** setOffsets' argument checks. */
export function checkSetOffsets(options: { groupId: string; topic: string; partitions: SeekEntry[] }): void {
  checkGroupTopic(options)
  if (!options.partitions || options.partitions.length === 0) throw fail('Invalid partitions')
}

/** Commits offsets ('-1' the high watermark, '-2' the log start) of a group without running members. */
export async function setOffsets(broker: Broker, groupId: string, topic: string, partitions: SeekEntry[]): Promise<void> {
  broker.topic(topic)
  assertNotRunning(broker, groupId)
  await commitOffsets(broker, groupId, topic, partitions)
}

/** Commits every partition's log start (`earliest`) or high watermark, as KafkaJS's marker. */
export async function resetOffsets(broker: Broker, groupId: string, topic: string, earliest: boolean): Promise<void> {
  assertNotRunning(broker, groupId)
  const marker = earliest ? EARLIEST : LATEST
  const partitions = range(broker.topic(topic).partitions).map((partition) => ({ partition, offset: String(marker) }))
  await commitOffsets(broker, groupId, topic, partitions)
}

/** Kafka's DescribeGroups: a group it does not know is 'Dead' with no members. */
export function describeGroups(broker: Broker, ids: string[]): { groups: Array<GroupDescription & { errorCode: number }> } {
  return { groups: ids.map((id) => ({ errorCode: 0, ...describeGroupOf(broker, id) })) }
}

/** deleteGroups' argument checks. */
export function checkDeleteGroups(groupIds: string[]): string[] {
  const invalid = checkArray(groupIds, `Invalid groupIds array ${groupIds}`).find((g) => typeof g !== 'string')
  if (invalid !== undefined) throw fail(`Invalid groupId name: ${JSON.stringify(invalid)}`)
  return groupIds
}

/** Deletes each group it can; the others fail together in a KafkaJSDeleteGroupsError. */
export async function deleteGroups(broker: Broker, ids: string[]): Promise<DeleteGroupsResult[]> {
  const [deleted, failed]: DeleteGroupsResult[][] = [[], []]
  for (const groupId of ids) {
    const error = await broker.group(groupId).delete().then(() => null, asProtocolError)
    if (error) failed.push({ groupId, errorCode: error.code, error })
    else {
      deleted.push({ groupId, errorCode: 0 })
      forgetMarkers(broker, groupId)
    }
  }
  if (failed.length > 0) throw new KafkaJSDeleteGroupsError('Error in DeleteGroups', failed)
  return deleted
}

function checkGroupId(groupId: unknown): void {
  if (!groupId) throw fail(`Invalid groupId ${groupId}`)
}

export function checkGroupTopic(options: { groupId: string; topic: string }): void {
  checkGroupId(options?.groupId)
  if (!options.topic) throw fail(`Invalid topic ${options.topic}`)
}

/** KafkaJS's condition for committing a group's offsets from the admin: no member is running. */
function assertNotRunning(broker: Broker, groupId: string): void {
  const { state } = describeGroupOf(broker, groupId)
  if (state !== 'Empty' && state !== 'Dead') throw fail(`The consumer group must have no running instances, current state: ${state}`)
}

/** Every partition of `topics` ('-1' without a commit), or without topics every partition committed for. */
function committedOffsets(broker: Broker, groupId: string, topics: string[]): GroupOffsets {
  let lag: PartitionLag[] = []
  try {
    lag = broker.group(groupId).lag().filter((l) => l.committed !== null)
  } catch (err) {
    if (codeOf(err) !== 'GROUP_NOT_FOUND') throw err
  }
  const committed = (topic: string, partition: number): number => {
    const offset = lag.find((l) => l.topic === topic && l.partition === partition)?.committed ?? null
    const marker = markersOf(broker).get(markerKey(groupId, topic, partition))
    return offset === null ? LATEST : marker?.offset === offset ? marker.marker : offset
  }
  const partitionsOf = (topic: string): number[] =>
    topics.length > 0 ? range(broker.topic(topic).partitions) : lag.filter((l) => l.topic === topic).map((l) => l.partition)
  return (topics.length > 0 ? topics : [...new Set(lag.map((l) => l.topic))]).map((topic) => ({
    topic,
    partitions: partitionsOf(topic).map((partition) => ({ partition, offset: String(committed(topic, partition)) })),
  }))
}

/** KafkaJS's resolveOffsets: -1 becomes the high watermark and -2 the log start, and these are committed. */
async function resolveOffsets(broker: Broker, groupId: string, offsets: GroupOffsets): Promise<GroupOffsets> {
  const out: GroupOffsets = []
  for (const { topic, partitions } of offsets) {
    const t = broker.topic(topic)
    const resolve = (p: number, n: number, offset: string): string =>
      n === LATEST ? String(t.latestOffset(p)) : n === EARLIEST ? String(t.earliestOffset(p)) : offset
    const resolved = partitions.map(({ partition, offset }) => ({ partition, offset: resolve(partition, Number(offset), offset) }))
    assertNotRunning(broker, groupId)
    await commitOffsets(broker, groupId, topic, resolved.filter((p, i) => p.offset !== partitions[i]!.offset))
    out.push({ topic, partitions: resolved })
  }
  return out
}

/**
 * Commits each partition's offset with group.resetOffsets, all checked (dry run) before any is
 * committed; KafkaJS's markers '-2' and '-1' commit the log start and the high watermark.
 */
async function commitOffsets(broker: Broker, groupId: string, topic: string, partitions: SeekEntry[]): Promise<void> {
  const group = broker.group(groupId)
  const resets = partitions.map(({ partition, offset }) => {
    const n = parseOffset(offset)
    const to = n === EARLIEST ? ('earliest' as const) : n === LATEST ? ('latest' as const) : { offset: n }
    const reset = (dryRun: boolean) => group.resetOffsets({ topic, partitions: [partition], to, dryRun }).catch(asKafkaJSError(topic, partition))
    return { partition, marker: typeof to === 'string' ? n : null, reset }
  })
  for (const { reset } of resets) await reset(true)
  for (const { partition, marker, reset } of resets) {
    const [{ offset }] = await reset(false)
    if (marker === null) markersOf(broker).delete(markerKey(groupId, topic, partition))
    else markersOf(broker).set(markerKey(groupId, topic, partition), { marker, offset })
  }
}

function asKafkaJSError(topic: string, partition: number): (err: unknown) => Promise<never> {
  return (err) => Promise.reject(toKafkaJSError(err, { topic, partition }))
}
