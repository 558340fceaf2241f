// A write group of the event store: appends that arrived while the previous group was written go
// out together. Each is checked in arrival order against the streams as the earlier ones of the
// group leave them (retries and duplicates resolve with the first result, a wrong expectation is
// refused), and the group is one send (one batch per partition, one fsync). Refusals are delivered
// after the write, so what an append lost to is readable by then. Only EventStore calls it.
import type { ProducerMessage, RecordMetadata } from '../index.js'
import { StreamDeletedError, type ExpectedRevision } from './errors.js'
import type { AppendResult } from './event-store.js'
import { checkExpectation } from './expectations.js'
import { eventRecord, type NormalizedEvent } from './record-format.js'
import type { PartitionIndex } from './stream-index.js'

export interface PendingAppend {
  streamId: string
  expected: ExpectedRevision
  events: NormalizedEvent[]
  bytes: number
  resolve(r: AppendResult): void
  reject(err: unknown): void
}

export interface AppendHost {
  partitionOf(streamId: string): number
  /** The partition's index, caught up with the log. */
  catchUp(p: number): PartitionIndex
  /** The first result of an append of these event ids, when the stream holds them. */
  findRetry(p: number, streamId: string, ids: string[]): AppendResult | null
  send(records: ProducerMessage[]): Promise<RecordMetadata[]>
}

/** An event's share of a batch: data, metadata and headers. */
export function eventBytes(e: NormalizedEvent): number {
  return e.dataBytes.length + (e.metadataBytes?.length ?? 0) + 160
}

/** Takes the next group off `queue`: at least one append, at most `bytesMax` of them together. */
export function takeGroup(queue: PendingAppend[], bytesMax: number): PendingAppend[] {
  let take = 0
  for (let bytes = 0; take < queue.length && (take === 0 || bytes + queue[take]!.bytes <= bytesMax); take++) bytes += queue[take]!.bytes
  return queue.splice(0, take)
}

export async function writeAppendGroup(host: AppendHost, group: PendingAppend[]): Promise<void> {
  const reserved = new Map<string, number>()
  const records: ProducerMessage[] = []
  const planned: Array<{ req: PendingAppend; p: number; at: number; last: number }> = []
  /** Appends of this group by stream and event ids: a duplicate resolves with the first one's result. */
  const byIds = new Map<string, { req: PendingAppend; p: number; at: number; last: number }>()
  const duplicates: Array<{ req: PendingAppend; of: { req: PendingAppend; p: number; at: number; last: number } }> = []
  const refused: Array<{ req: PendingAppend; err: unknown }> = []
  for (const req of group) {
    try {
      const p = host.partitionOf(req.streamId)
      const index = host.catchUp(p)
      if (index.streams.get(req.streamId)?.tombstoned) throw new StreamDeletedError(req.streamId)
      const retry = host.findRetry(p, req.streamId, req.events.map((e) => e.id))
      if (retry) {
        req.resolve(retry)
        continue
      }
      const idsKey = `${req.streamId}\u0000${req.events.map((e) => e.id).join('\u0000')}`
      const same = byIds.get(idsKey)
      if (same) {
        duplicates.push({ req, of: same })
        continue
      }
      const last = reserved.get(req.streamId) ?? index.lastRevision(req.streamId)
      const visible = reserved.has(req.streamId) || index.visible(req.streamId)
      checkExpectation(req.streamId, req.expected, visible ? last : null)
      // Encoded before anything of the append joins the group: one bad event refuses it whole.
      const recs = req.events.map((e, i) => eventRecord(req.streamId, last + 1 + i, e, p))
      const plan = { req, p, at: records.length + recs.length - 1, last }
      planned.push(plan)
      byIds.set(idsKey, plan)
      records.push(...recs)
      reserved.set(req.streamId, last + req.events.length)
    } catch (err) {
      refused.push({ req, err })
    }
  }
  // A refusal is delivered once the group is written: what it lost to is readable by then.
  const refuse = (): void => {
    for (const { req, err } of refused) req.reject(err)
  }
  if (records.length === 0) return refuse()
  let metas
  try {
    metas = await host.send(records)
  } catch (err) {
    // Nothing of the group was written: every append in it fails with the write's error (a
    // refusal measured against the group's unwritten appends would name revisions that do not exist).
    for (const { req } of [...planned, ...duplicates, ...refused]) req.reject(err)
    return
  }
  for (const p of new Set(planned.map((x) => x.p))) host.catchUp(p)
  const result = ({ req, p, at, last }: { req: PendingAppend; p: number; at: number; last: number }): AppendResult => ({
    success: true,
    nextExpectedRevision: last + req.events.length,
    position: { partition: p, offset: metas[at]!.offset },
  })
  for (const plan of planned) plan.req.resolve(result(plan))
  for (const { req, of } of duplicates) req.resolve(result(of))
  refuse()
}
