// Turns the raw batches a partition returns into delivered messages: skips control batches and
// records before the requested offset, converts headers into an object of Buffers and applies codecs.
import { LOG_OVERHEAD, decodeRecords, readBatchHeader } from '../storage/record-batch.js'
import type { ResolvedCodec } from './serde.js'

export interface DeliveredMessage<K = Buffer | null, V = Buffer | null> {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: K
  value: V
  /** Header values as Buffers (an array when a key repeats). */
  headers: Record<string, Buffer | null | Array<Buffer | null>>
}

export interface DecodedFetch {
  messages: DeliveredMessage<unknown, unknown>[]
  /** Offset after the last batch returned: the next position to read. */
  nextOffset: number
}

export function decodeFetch(
  topic: string,
  partition: number,
  bytes: Buffer,
  fromOffset: number,
  keyCodec: ResolvedCodec,
  valueCodec: ResolvedCodec,
): DecodedFetch {
  const messages: DeliveredMessage<unknown, unknown>[] = []
  let next = fromOffset
  let pos = 0
  while (pos < bytes.length) {
    const h = readBatchHeader(bytes, pos)
    const size = LOG_OVERHEAD + h.batchLength
    const last = h.baseOffset + h.lastOffsetDelta
    if (!h.isControl && last >= fromOffset) {
      for (const r of decodeRecords(bytes, pos)) {
        if (r.offset < fromOffset) continue
        let headers: DeliveredMessage['headers'] = {}
        if (r.headers.length > 0) {
          headers = {}
          for (const { key, value } of r.headers) {
            const prev = headers[key]
            if (prev === undefined) headers[key] = value
            else if (Array.isArray(prev)) prev.push(value)
            else headers[key] = [prev, value]
          }
        }
        messages.push({
          topic,
          partition,
          offset: r.offset,
          timestamp: r.timestamp,
          key: keyCodec.decode(r.key),
          value: valueCodec.decode(r.value),
          headers,
        })
      }
    }
    if (last + 1 > next) next = last + 1
    pos += size
  }
  return { messages, nextOffset: next }
}
