// `for await (const m of consumer)`: messages one by one. Written by hand rather than as an async
// generator: a generator's `yield` costs several promise turns per message, this costs one. A
// message counts as processed once the loop asks for the next one; a loop that ends (break, return,
// throw, or the consumer closing) leaves the fetched but unprocessed messages to be read again.
import type { Message } from './consumer-options.js'
import type { Chunk } from './fetch-decode.js'

/** What the iterator needs from its consumer. */
export interface IteratorHost {
  /** The next fetched chunks, waiting for appends when caught up; null once the consumer closed. */
  nextChunks(): Promise<Chunk[] | null>
  /** The chunk's messages may still be handed out (partition assigned, unmoved, not paused). */
  deliverable(c: Chunk): boolean
  /** The chunk's partition is still assigned and unmoved (its position may move). */
  isCurrent(c: Chunk): boolean
  /** Called before the first message is asked for, and once when the iteration ends. */
  start(): void
  finish(): void
}

const DONE: IteratorResult<Message, undefined> = Object.freeze({ done: true, value: undefined })

export class MessageIterator implements AsyncIterableIterator<Message> {
  private started = false
  private ended = false
  private chunks: Chunk[] = []
  private index = 0
  private chunk: Chunk | null = null
  private records: Iterator<Message> | null = null
  /** The message handed out last: processed once next() is called again. */
  private last: Message | null = null
  /** A next() waiting for a fetch; later calls queue behind it, as an async generator's do. */
  private pending: Promise<IteratorResult<Message, undefined>> | null = null

  constructor(private readonly host: IteratorHost) {}

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<Message, undefined>> {
    if (this.pending) return (this.pending = this.pending.then(() => this.step()))
    return this.step()
  }

  /** Ends the iteration (what `break` in a for await calls). */
  return(): Promise<IteratorResult<Message, undefined>> {
    this.end()
    return Promise.resolve(DONE)
  }

  /** Ends the iteration and rejects with `err`. */
  throw(err?: unknown): Promise<IteratorResult<Message, undefined>> {
    this.end()
    return Promise.reject(err)
  }

  private step(): Promise<IteratorResult<Message, undefined>> {
    if (this.ended) return Promise.resolve(DONE)
    if (!this.started) {
      this.started = true
      try {
        this.host.start()
      } catch (err) {
        this.ended = true
        return Promise.reject(err)
      }
    }
    try {
      const m = this.take()
      if (m) return Promise.resolve({ done: false, value: m })
    } catch (err) {
      this.end()
      return Promise.reject(err)
    }
    const fetched = this.fetch()
    this.pending = fetched
    return fetched
  }

  /** The next message from what was fetched; null when a fetch is needed. */
  private take(): Message | null {
    const host = this.host
    if (this.last) {
      if (this.chunk && host.isCurrent(this.chunk)) this.chunk.a.delivered = this.last.offset + 1
      this.last = null
    }
    for (;;) {
      const c = this.chunk
      if (c) {
        if (host.deliverable(c)) {
          const r = this.records!.next()
          if (!r.done) return (this.last = r.value)
          if (host.isCurrent(c)) c.a.delivered = c.records.nextOffset
        }
        // Undeliverable (paused, sought, revoked): the rest of the chunk is dropped unprocessed.
        this.chunk = null
        this.records = null
      }
      if (this.index >= this.chunks.length) return null
      this.chunk = this.chunks[this.index++]!
      this.records = (this.chunk.records as Iterable<Message>)[Symbol.iterator]()
    }
  }

  private async fetch(): Promise<IteratorResult<Message, undefined>> {
    try {
      for (;;) {
        const chunks = await this.host.nextChunks()
        if (this.ended) return DONE
        if (!chunks) {
          this.end()
          return DONE
        }
        this.chunks = chunks
        this.index = 0
        const m = this.take()
        if (m) return { done: false, value: m }
      }
    } catch (err) {
      this.end()
      throw err
    } finally {
      this.pending = null
    }
  }

  private end(): void {
    if (this.ended) return
    this.ended = true
    this.chunks = []
    this.chunk = null
    this.records = null
    this.last = null
    if (this.started) this.host.finish()
  }
}
