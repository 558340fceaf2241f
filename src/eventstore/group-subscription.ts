// A projection shared by a consumer group: every member gets some of the store's partitions (the
// group rebalances as members come and go) and reads them from the group's committed offsets, which
// the group commits as events are processed (an event counts once the next one is asked for) and
// when the subscription ends. For a store with one partition, one member at a time does the work.
import { EventEmitter } from 'node:events'
import type { Consumer, Message } from '../index.js'
import { DELETED, parseStored, TOMBSTONE, toRecordedEvent, type RecordedEvent } from './record-format.js'

export class GroupSubscription extends EventEmitter implements AsyncIterableIterator<RecordedEvent> {
  private readonly messages: AsyncIterator<Message>
  private ended = false

  /** @internal use store.subscribeToAll({ group }) */
  constructor(
    private readonly consumer: Consumer,
    private readonly accept: (streamId: string, type: string, revision: number) => boolean,
  ) {
    super()
    this.messages = consumer[Symbol.asyncIterator]()
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  async next(): Promise<IteratorResult<RecordedEvent>> {
    for (;;) {
      const r = await this.messages.next()
      if (r.done || this.ended) return { done: true, value: undefined }
      const m = r.value
      const headers = Object.entries(m.headers).flatMap(([key, v]) => (Array.isArray(v) ? v : [v]).map((value) => ({ key, value: value as Buffer | null })))
      const s = parseStored(m.key, headers)
      if (!s || s.type === DELETED || s.type === TOMBSTONE || !this.accept(s.streamId, s.type, s.revision)) continue
      return { done: false, value: toRecordedEvent({ offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value, headers }, m.partition) }
    }
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    await this.unsubscribe()
    return { done: true, value: undefined }
  }

  /** Leaves the group (committing what was processed); a pending next() resolves done. */
  async unsubscribe(): Promise<void> {
    if (this.ended) return
    this.ended = true
    await this.consumer.close()
    this.emit('end')
    this.onEnd?.()
  }

  /** @internal the store forgets the subscription. */
  onEnd: (() => void) | null = null
}
