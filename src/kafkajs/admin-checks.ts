// What the admin client's helpers share: KafkaJS's special offsets, its argument checks for topics,
// arrays and offsets (failing with KafkaJSNonRetriableError), and the per-item protocol error.
// Used by admin.ts, admin-topics.ts, admin-configs.ts and admin-groups.ts.
import { KafkaJSNonRetriableError, KafkaJSProtocolError, toKafkaJSError } from './errors.js'

/** KafkaJS's special offsets (setOffsets, fetchOffsets; -1 is also DeleteRecords' "high watermark"). */
export const LATEST = -1
export const EARLIEST = -2

export const fail = (message: string): KafkaJSNonRetriableError => new KafkaJSNonRetriableError(message)
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

export function checkTopic(topic: unknown): string {
  if (!topic || typeof topic !== 'string') throw fail(`Invalid topic ${topic}`)
  return topic
}

export function checkArray<T>(value: T[] | undefined, message: string): T[] {
  if (!Array.isArray(value)) throw fail(message)
  return value
}

/** An offset given as a string (or number) of an integer. */
export function parseOffset(offset: unknown): number {
  const text = typeof offset === 'number' ? String(offset) : typeof offset === 'string' ? offset.trim() : ''
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw fail(`Invalid offset ${offset}`)
  return Number(text)
}

/** A per-item failure as Kafka's protocol error; anything else (a closed broker, storage) is rethrown. */
export function asProtocolError(err: unknown): KafkaJSProtocolError {
  const e = toKafkaJSError(err)
  if (e instanceof KafkaJSProtocolError) return e
  throw e
}
