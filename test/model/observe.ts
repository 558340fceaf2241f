// How the broker model test reads a broker: through a Consumer (assign, iterate, seek) or through a
// partition's raw readBatches, turning what it gets into the model's record shape, and expecting the
// error a call must fail with. Reads stop at the high watermark with a deadline, never by sleeping.
import assert from 'node:assert/strict'
import { decodeRecords, readBatchHeader, type Broker, type Consumer, type DecodedRecord, type Message } from '../../src/index.js'
import type { Headers, PartitionView, Rec } from './model.js'

/** Kafka's LOG_OVERHEAD: the baseOffset and batchLength fields, which batchLength does not count. */
const LOG_OVERHEAD = 12

/** How long one read may take before the test fails instead of hanging. */
export const READ_DEADLINE_MS = 5000

function text(b: Buffer | null): string | null {
  return b === null ? null : b.toString('utf8')
}

/** A delivered message in the model's shape (headers grouped by key, in order). */
export function fromMessage(m: Message): Rec {
  const headers: Headers = {}
  for (const [k, v] of Object.entries(m.headers as Record<string, Buffer | null | Array<Buffer | null>>)) {
    headers[k] = (Array.isArray(v) ? v : [v]).map(text)
  }
  return { offset: m.offset, key: text(m.key), value: text(m.value), headers, timestamp: m.timestamp }
}

function fromDecoded(r: DecodedRecord): Rec {
  const headers: Headers = {}
  for (const { key, value } of r.headers) (headers[key] ??= []).push(text(value))
  return { offset: r.offset, key: text(r.key), value: text(r.value), headers, timestamp: r.timestamp }
}

/** Runs `fn` and checks that it fails with error code `code`, or succeeds when `code` is null. */
export async function expectOutcome<T>(what: string, code: string | null, fn: () => T | Promise<T>): Promise<T | undefined> {
  let value: T
  try {
    value = await fn()
  } catch (err) {
    const got = (err as { code?: string }).code
    if (code !== null && got === code) return undefined
    if (err instanceof assert.AssertionError) throw err
    throw new assert.AssertionError({ message: `${what}: expected ${code ?? 'success'}, got ${got ?? 'an error without code'}: ${(err as Error).message}` })
  }
  assert.equal(code, null, `${what}: expected ${code}, but it succeeded`)
  return value
}

/**
 * Every record of a partition from `from` up to the high watermark, through readBatches with
 * `maxBytes` (at least one whole batch comes back even when it is larger, KIP-74).
 */
export function readRaw(broker: Broker, topic: string, partition: number, from: number, maxBytes: number): Rec[] {
  const p = broker.topic(topic).partition(partition)
  const hw = p.highWatermark
  const out: Rec[] = []
  let offset = from
  // At least one read, so that an offset out of range is refused even at or past the high watermark.
  for (;;) {
    const r = p.readBatches({ offset, maxBytes })
    assert.equal(r.highWatermark, hw, `readBatches of ${topic}-${partition}: high watermark`)
    if (offset >= hw) {
      assert.equal(r.bytes.length, 0, `readBatches of ${topic}-${partition} at the high watermark ${hw} returned bytes`)
      return out
    }
    assert.ok(r.bytes.length > 0, `readBatches of ${topic}-${partition} at ${offset} returned nothing below the high watermark ${hw}`)
    const start = offset
    for (let pos = 0; pos < r.bytes.length; ) {
      const h = readBatchHeader(r.bytes, pos)
      const last = h.baseOffset + h.lastOffsetDelta
      assert.ok(last >= offset, `readBatches of ${topic}-${partition} at ${start}: batch ${h.baseOffset}..${last} is behind ${offset}`)
      assert.ok(last < hw, `readBatches of ${topic}-${partition}: batch ${h.baseOffset}..${last} is past the high watermark ${hw}`)
      for (const rec of decodeRecords(r.bytes, pos)) if (rec.offset >= offset) out.push(fromDecoded(rec))
      offset = last + 1
      pos += LOG_OVERHEAD + h.batchLength
    }
  }
}

/** A partition as the broker shows it: offsets and every readable record (raw reads). */
export function viewPartition(broker: Broker, topic: string, partition: number, maxBytes = 1 << 20): PartitionView {
  const t = broker.topic(topic)
  const earliest = t.earliestOffset(partition)
  const latest = t.latestOffset(partition)
  return { earliest, latest, records: readRaw(broker, topic, partition, earliest, maxBytes) }
}

/**
 * Pulls messages from a consumer's async iterator one at a time. `idle` tells a wait at the end of
 * the log apart from a message on its way: a fetch from the in-memory log completes within one turn
 * of the event loop, so a next() still pending after a setImmediate is waiting for appends. A next()
 * left pending is kept for the following call, so no message is lost between calls.
 */
export class MessagePump {
  private readonly it: AsyncIterator<Message>
  private pending: Promise<IteratorResult<Message>> | null = null

  constructor(readonly consumer: Consumer) {
    this.it = consumer[Symbol.asyncIterator]()
  }

  /** The next message, or 'idle' when none came within a turn of the event loop. */
  async next(): Promise<Message | 'idle'> {
    this.pending ??= this.it.next()
    const tick = new Promise<'idle'>((resolve) => setImmediate(() => resolve('idle')))
    const r = await Promise.race([this.pending, tick])
    if (r === 'idle') return 'idle'
    this.pending = null
    assert.ok(!r.done, 'the consumer iterator ended while open')
    return r.value
  }

  /** Exactly `n` messages (they must be there already). */
  async take(n: number, what: string): Promise<Rec[]> {
    const out: Rec[] = []
    const deadline = Date.now() + READ_DEADLINE_MS
    while (out.length < n) {
      assert.ok(Date.now() < deadline, `${what}: only ${out.length} of ${n} messages within ${READ_DEADLINE_MS} ms`)
      const m = await this.next()
      if (m !== 'idle') out.push(fromMessage(m))
    }
    return out
  }

  /**
   * Messages until every target partition's position reaches its end offset (the high watermark),
   * keyed by partition. Positions count only once the partition is assigned (a group member joins
   * on its first fetch).
   */
  async drain(topic: string, ends: ReadonlyMap<number, number>, what: string): Promise<Map<number, Rec[]>> {
    const out = new Map<number, Rec[]>()
    for (const p of ends.keys()) out.set(p, [])
    const seen = new Map<number, number>()
    const progress = (p: number): number => {
      let pos = -1
      try {
        pos = this.consumer.position(topic, p)
      } catch {
        // Not assigned yet.
        return -1
      }
      return Math.max(pos, seen.get(p) ?? -1)
    }
    const deadline = Date.now() + READ_DEADLINE_MS
    for (;;) {
      if ([...ends].every(([p, end]) => progress(p) >= end)) {
        // The last message counts as processed once the loop asks for the next one: ask, so that
        // position() moves past it, then every position must be exactly the high watermark.
        if ([...ends].some(([p, end]) => this.consumer.position(topic, p) < end)) {
          assert.equal(await this.next(), 'idle', `${what}: a message past the high watermark`)
        }
        for (const [p, end] of ends) assert.equal(this.consumer.position(topic, p), end, `${what}: position of partition ${p} after reading it all`)
        return out
      }
      assert.ok(Date.now() < deadline, `${what}: not at the high watermark within ${READ_DEADLINE_MS} ms (positions ${[...ends.keys()].map((p) => `${p}:${progress(p)}/${ends.get(p)}`).join(' ')})`)
      const m = await this.next()
      if (m === 'idle') continue
      assert.equal(m.topic, topic, `${what}: message of another topic`)
      const list = out.get(m.partition)
      assert.ok(list, `${what}: message of partition ${m.partition}, which is not read`)
      list.push(fromMessage(m))
      seen.set(m.partition, m.offset + 1)
    }
  }
}
