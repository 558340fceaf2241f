// How `kafkalite consume` prints a message. text: Kafka's console-consumer layout, the chosen
// fields TAB-separated (`CreateTime:…`, `Partition:…`, `Offset:…`, `h1:v1,h2:v2`, key) before the
// value, one line per record. json: one object per line (DESIGN.md: topic, partition, offset,
// timestamp, key, value, headers; key/value in --encoding, null kept). raw: the value's bytes alone.
import type { Message } from '../index.js'
import type { Encoding } from './common.js'

export type Format = 'text' | 'json' | 'raw'

export interface FormatOptions {
  format: Format
  encoding: Encoding
  printKey?: boolean
  printHeaders?: boolean
  printOffset?: boolean
  printPartition?: boolean
  printTimestamp?: boolean
  /** CreateTime or LogAppendTime (the topic's message.timestamp.type), for --print-timestamp. */
  timestampType: string
}

/** A function from a message to what is printed for it (a string, or bytes for raw). */
export function formatter(o: FormatOptions): (m: Message) => string | Buffer {
  const enc = o.encoding
  const str = (b: Buffer | null): string | null => (b === null ? null : b.toString(enc))
  if (o.format === 'raw') return (m) => m.value ?? Buffer.alloc(0)
  if (o.format === 'json') {
    return (m) => {
      const headers: Record<string, string | null | Array<string | null>> = {}
      for (const k in m.headers) {
        const v = m.headers[k] ?? null
        headers[k] = Array.isArray(v) ? v.map(str) : str(v)
      }
      return (
        JSON.stringify({ topic: m.topic, partition: m.partition, offset: m.offset, timestamp: m.timestamp, key: str(m.key), value: str(m.value), headers }) +
        '\n'
      )
    }
  }
  return (m) => {
    let line = ''
    if (o.printTimestamp) line += `${o.timestampType}:${m.timestamp}\t`
    if (o.printPartition) line += `Partition:${m.partition}\t`
    if (o.printOffset) line += `Offset:${m.offset}\t`
    if (o.printHeaders) {
      const parts: string[] = []
      for (const k in m.headers) {
        const v = m.headers[k] ?? null
        for (const one of Array.isArray(v) ? v : [v]) parts.push(`${k}:${str(one)}`)
      }
      line += (parts.length > 0 ? parts.join(',') : 'NO_HEADERS') + '\t'
    }
    if (o.printKey) line += `${str(m.key)}\t`
    return `${line}${str(m.value)}\n`
  }
}
