// Catch-up subscriptions: events from a starting point, then live ones as they are appended, in
// order (per partition; with one partition, globally). The subscriber pulls at its own pace with
// `for await`: nothing is buffered beyond one read, so a slow subscriber is never cut off — it
// reads the backlog from the log ('fellBehind' when the backlog grows past `fellBehindEvents`,
// 'caughtUp' each time it reaches the end). `checkpoint()` is where a restart resumes: after the
// last event handed out, so save it once that event is processed.
import { EventEmitter } from 'node:events'
import type { Partition } from '../index.js'
import { committedRecords } from './partition-log.js'
import { DELETED, parseStored, TOMBSTONE, toRecordedEvent, type RecordedEvent } from './record-format.js'

/** Per partition, the next offset to read: what a subscription resumes from. */
export interface Checkpoint {
  offsets: number[]
}

export interface SubscriptionFilter {
  /** Only streams whose id starts with one of these. */
  streamPrefix?: string | string[]
  /** Only these event types (or those matching the RegExp). */
  eventType?: string | string[] | RegExp
}

/** Where events come from: the partitions to follow and, optionally, a per-record selection. */
export interface SubscriptionSource {
  partitions: Partition[]
  /** The partitions' numbers in the topic (default 0, 1, ...). */
  ids?: number[]
  /** Next offset per partition to start from. */
  start: number[]
  accept(streamId: string, type: string, revision: number): boolean
}

const READ_EVENTS_MAX = 512

export class Subscription extends EventEmitter implements AsyncIterableIterator<RecordedEvent> {
  private readonly positions: number[]
  private processed: number[]
  private buffer: Array<{ p: number; event: RecordedEvent; next: number }> = []
  private caughtUp = false
  private ended = false
  /** Ends the waits of pending next() calls (unsubscribe). */
  private wakers = new Set<() => void>()
  private rr = 0

  /** @internal use store.subscribeToAll / subscribeToStream */
  constructor(
    private readonly source: SubscriptionSource,
    private readonly fellBehindEvents = 1000,
  ) {
    super()
    this.positions = [...source.start]
    this.processed = [...source.start]
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** Where a restart resumes: after the last event handed out. */
  checkpoint(): Checkpoint {
    return { offsets: [...this.processed] }
  }

  async next(): Promise<IteratorResult<RecordedEvent>> {
    for (;;) {
      if (this.ended) return { done: true, value: undefined }
      const item = this.buffer.shift()
      if (item) {
        this.processed[item.p] = item.next
        return { done: false, value: item.event }
      }
      if (this.fill()) continue
      if (!this.caughtUp) {
        this.caughtUp = true
        this.emit('caughtUp', this.checkpoint())
        if (this.ended) continue // a listener unsubscribed
      }
      await this.waitForAppend()
    }
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    this.unsubscribe()
    return { done: true, value: undefined }
  }

  /** Ends the subscription: a pending `next()` resolves done. */
  unsubscribe(): void {
    if (this.ended) return
    this.ended = true
    for (const wake of [...this.wakers]) wake()
    this.emit('end')
    this.onEnd?.()
  }

  /** @internal the store forgets the subscription. */
  onEnd: (() => void) | null = null

  /** Reads the next events (a bounded read per partition, round robin); false at the end. */
  private fill(): boolean {
    const parts = this.source.partitions
    let backlog = 0
    for (let i = 0; i < parts.length; i++) backlog += Math.max(0, parts[i]!.lastStableOffset - this.positions[i]!)
    if (this.caughtUp && backlog > this.fellBehindEvents) {
      this.caughtUp = false
      this.emit('fellBehind', this.checkpoint())
    }
    for (let n = 0; n < parts.length; n++) {
      const p = (this.rr + n) % parts.length
      const partition = parts[p]!
      if (this.positions[p]! >= partition.lastStableOffset) continue
      let read = 0
      for (const r of committedRecords(partition, this.positions[p]!)) {
        this.positions[p] = r.offset + 1
        const s = parseStored(r.key, r.headers)
        if (s && s.type !== DELETED && s.type !== TOMBSTONE && this.source.accept(s.streamId, s.type, s.revision)) {
          this.buffer.push({ p, event: toRecordedEvent(r, this.source.ids?.[p] ?? p), next: r.offset + 1 })
        }
        if (++read >= READ_EVENTS_MAX) break
      }
      if (read < READ_EVENTS_MAX) this.positions[p] = Math.max(this.positions[p]!, partition.lastStableOffset)
      if (this.buffer.length === 0) {
        // Only skipped records: the processed position moves past them too.
        this.processed[p] = Math.max(this.processed[p]!, this.positions[p]!)
        continue
      }
      this.rr = p + 1
      return true
    }
    return false
  }

  private waitForAppend(): Promise<void> {
    if (this.ended) return Promise.resolve()
    return new Promise((resolve) => {
      const wakers = this.wakers
      const unsubs = this.source.partitions.map((p) => p.onAppend(done))
      const timer = setTimeout(done, 1000)
      function done(): void {
        for (const u of unsubs) u()
        clearTimeout(timer)
        wakers.delete(done)
        resolve()
      }
      wakers.add(done)
    })
  }
}

/** A filter as a predicate over (stream id, event type). */
export function filterOf(filter: SubscriptionFilter | undefined): (streamId: string, type: string, revision: number) => boolean {
  if (!filter) return () => true
  const prefixes = filter.streamPrefix === undefined ? null : Array.isArray(filter.streamPrefix) ? filter.streamPrefix : [filter.streamPrefix]
  const t = filter.eventType
  const types = t === undefined || t instanceof RegExp ? null : new Set(Array.isArray(t) ? t : [t])
  return (streamId, type) =>
    (!prefixes || prefixes.some((p) => streamId.startsWith(p))) && (t === undefined || (t instanceof RegExp ? type.search(t) !== -1 : types!.has(type)))
}

/** Where a subscription to all starts in each partition ('start', 'end', after a position, a checkpoint). */
export function startOffsets(partitions: Partition[], from: 'start' | 'end' | { partition: number; offset: number } | Checkpoint): number[] {
  return partitions.map((part, p) => {
    if (from === 'start') return part.logStartOffset
    if (from === 'end') return part.lastStableOffset
    if ('offsets' in from) return from.offsets[p] ?? part.logStartOffset
    return from.partition === p ? from.offset + 1 : part.logStartOffset
  })
}

/** Where a stream subscription starts reading its partition (the revision filter does the rest). */
export function streamStartOffset(
  partition: Partition,
  stream: { offsets: number[]; truncateBefore: number } | undefined,
  from: 'start' | 'end' | number | bigint,
): number {
  if (from === 'end') return partition.lastStableOffset
  if (!stream) return partition.logStartOffset
  if (from === 'start') return stream.offsets[stream.truncateBefore] ?? partition.lastStableOffset
  return (stream.offsets[Number(from)] ?? partition.lastStableOffset - 1) + 1
}
