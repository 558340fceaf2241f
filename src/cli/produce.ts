// `kafkalite produce <topic>`: what kafka-console-producer.sh does — one record per line of stdin
// (or of --file, with a progress bar), optionally `key<sep>value`, Kafka's `h1:v1,h2:v2<TAB>` header
// prefix, or one JSON object per line (the shape `consume --format json` prints). Lines go out in
// batches as they arrive, with a few sends in flight; a bad line stops the command before its batch
// is sent and names its line number.
import { createReadStream, statSync } from 'node:fs'
import { Option, type Command } from 'commander'
import type { Acks, MessageHeaders, ProducerMessage } from '../index.js'
import { collectPairs, dirOption, ENCODINGS, intArg, wantProgress, withBroker, type DirOptions, type Encoding } from './common.js'
import { LineSplitter } from './lines.js'
import { Progress } from './progress.js'

interface ProduceOptions extends DirOptions {
  file?: string
  keySeparator?: string
  headers?: boolean
  header: Record<string, string>
  partition?: number
  acks: string
  format: 'text' | 'json'
  encoding: Encoding
  progress?: boolean
}

const ACKS: Record<string, Acks> = { all: 'all', '-1': 'all', leader: 'leader', '1': 'leader', none: 'none', '0': 'none' }
/** Sends (one per input chunk) in flight before more input is read. */
const SENDS_IN_FLIGHT_MAX = 4

export function produceCommand(program: Command): void {
  program
    .command('produce <topic>')
    .description('append one record per input line (stdin, or --file)')
    .option('--file <path>', 'read lines from a file instead of stdin (with a progress bar on a terminal)')
    .option('--key-separator <sep>', 'each line is key<sep>value')
    .option('--headers', "each line starts with headers k1:v1,k2:v2 and a TAB (Kafka's parse.headers format)")
    .option('--header <name=value>', 'add this header to every record (repeatable)', collectPairs, {})
    .option('--partition <n>', 'write every record to this partition (default: by key, murmur2)', intArg(0, 0x7fffffff))
    .addOption(new Option('--acks <acks>', 'all (fsync, default), leader (written) or none').choices(Object.keys(ACKS)).default('all'))
    .addOption(new Option('--format <format>', 'text lines, or JSON objects as consume --format json prints them').choices(['text', 'json']).default('text'))
    .addOption(new Option('--encoding <encoding>', 'how keys, values and headers are written in JSON input').choices(ENCODINGS).default('utf8'))
    .option('--progress', 'show a progress bar even when stderr is not a terminal (with --file)')
    .option('--no-progress', 'never show a progress bar')
    .addOption(dirOption())
    .addHelpText(
      'after',
      `
Examples:
  $ echo 'hello' | kafkalite produce greetings
  $ printf 'user-1\\t{"name":"Ada"}\\n' | kafkalite produce users --key-separator $'\\t'
  $ kafkalite produce orders --file orders.txt --key-separator ,
  $ kafkalite consume orders --from-beginning --format json | kafkalite produce orders-copy --format json`,
    )
    .action((topic: string, o: ProduceOptions) => produce(topic, o))
}

async function produce(topic: string, o: ProduceOptions): Promise<void> {
  const total = o.file ? statSync(o.file).size : 0
  const parse = lineParser(o)
  await withBroker(o.dir, 'write', async (broker) => {
    const partitions = broker.topic(topic).partitions
    if (o.partition !== undefined && o.partition >= partitions) {
      throw new Error(`topic ${topic} has ${partitions} partitions; --partition ${o.partition} does not exist`)
    }
    // Opened here, read at once below: a file that cannot be read fails the command (exit 1)
    // instead of emitting an 'error' that nothing listens to yet.
    const input = o.file ? createReadStream(o.file, { highWaterMark: 256 * 1024 }) : process.stdin
    const producer = broker.producer({ acks: ACKS[o.acks] })
    const progress = new Progress(o.file !== undefined && wantProgress(o.progress), total, 'records')
    const inFlight: Array<Promise<unknown>> = []
    const splitter = new LineSplitter()
    let lineNo = 0
    let records = 0
    let bytes = 0
    let batch: ProducerMessage[] = []
    const onLine = (buf: Buffer, start: number, end: number): void => {
      const m = parse(buf, start, end, ++lineNo)
      if (m) batch.push(m)
    }
    const send = async (): Promise<void> => {
      if (batch.length === 0) return
      const sent = producer.send(topic, batch)
      sent.catch(() => undefined) // awaited below; until then a failed send is not an unhandled rejection
      inFlight.push(sent)
      records += batch.length
      batch = []
      if (inFlight.length >= SENDS_IN_FLIGHT_MAX) await inFlight.shift()
    }
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        bytes += chunk.length
        splitter.push(chunk, onLine)
        await send()
        progress.update(bytes, records)
      }
      splitter.end(onLine)
      await send()
      await Promise.all(inFlight)
    } finally {
      // Sends already made finish (or fail) before the broker closes.
      await Promise.allSettled(inFlight)
      progress.stop()
      await producer.close()
    }
  })
}

/** A message from the line at buf[start, end), or null for a line that holds none (blank JSON lines). */
type LineParser = (buf: Buffer, start: number, end: number, lineNo: number) => ProducerMessage | null

function lineParser(o: ProduceOptions): LineParser {
  const fixedHeaders = Object.keys(o.header).length > 0 ? o.header : null
  const partition = o.partition
  if (o.format === 'json') {
    return (buf, start, end, lineNo) => {
      const text = buf.toString('utf8', start, end).trim()
      if (text === '') return null
      return withFixed(jsonMessage(text, o.encoding, lineNo), fixedHeaders, partition)
    }
  }
  const sep = o.keySeparator !== undefined ? Buffer.from(o.keySeparator, 'utf8') : null
  if (sep && sep.length === 0) throw new Error('--key-separator cannot be empty')
  return (buf, start, end, lineNo) => {
    let headers: MessageHeaders | undefined
    if (o.headers) {
      const tab = buf.indexOf(9, start)
      if (tab === -1 || tab >= end) throw new Error(`line ${lineNo}: no TAB after the headers (--headers expects k1:v1,k2:v2<TAB>...)`)
      headers = parseHeaders(buf.toString('utf8', start, tab), lineNo)
      start = tab + 1
    }
    let key: Buffer | null = null
    if (sep) {
      const i = buf.indexOf(sep, start)
      if (i === -1 || i + sep.length > end) throw new Error(`line ${lineNo}: no key separator '${o.keySeparator}'`)
      key = buf.subarray(start, i)
      start = i + sep.length
    }
    const value = buf.subarray(start, end)
    if (!headers && !fixedHeaders && partition === undefined) return { key, value }
    return withFixed({ key, value, headers }, fixedHeaders, partition)
  }
}

function withFixed(m: ProducerMessage, fixed: Record<string, string> | null, partition: number | undefined): ProducerMessage {
  if (fixed) m.headers = { ...fixed, ...m.headers }
  if (partition !== undefined) m.partition = partition
  return m
}

function parseHeaders(text: string, lineNo: number): MessageHeaders {
  const headers: Record<string, string> = {}
  if (text === '') return headers
  for (const pair of text.split(',')) {
    const i = pair.indexOf(':')
    if (i <= 0) throw new Error(`line ${lineNo}: header '${pair}' is not name:value`)
    headers[pair.slice(0, i)] = pair.slice(i + 1)
  }
  return headers
}

function jsonMessage(text: string, encoding: Encoding, lineNo: number): ProducerMessage {
  let o: unknown
  try {
    o = JSON.parse(text)
  } catch (err) {
    throw new Error(`line ${lineNo}: not JSON (${(err as Error).message})`)
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error(`line ${lineNo}: expected a JSON object with a value`)
  const r = o as Record<string, unknown>
  const bytes = (v: unknown, what: string): Buffer | null => {
    if (v === null || v === undefined) return null
    if (typeof v === 'string') return Buffer.from(v, encoding)
    if (encoding !== 'utf8') throw new Error(`line ${lineNo}: ${what} must be a ${encoding} string`)
    return Buffer.from(JSON.stringify(v), 'utf8')
  }
  const m: ProducerMessage = { key: bytes(r.key, 'key'), value: bytes(r.value, 'value') }
  if (r.headers !== undefined && r.headers !== null) {
    if (typeof r.headers !== 'object' || Array.isArray(r.headers)) throw new Error(`line ${lineNo}: headers must be an object`)
    const headers: Record<string, Buffer> = {}
    for (const [k, v] of Object.entries(r.headers)) {
      const b = bytes(v, `header ${k}`)
      if (b) headers[k] = b
    }
    m.headers = headers
  }
  if (r.partition !== undefined) {
    if (!Number.isInteger(r.partition)) throw new Error(`line ${lineNo}: partition must be an integer`)
    m.partition = r.partition as number
  }
  if (r.timestamp !== undefined) {
    if (!Number.isSafeInteger(r.timestamp)) throw new Error(`line ${lineNo}: timestamp must be epoch milliseconds`)
    m.timestamp = r.timestamp as number
  }
  return m
}
