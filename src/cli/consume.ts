// `kafkalite consume <topic>`: what kafka-console-consumer.sh does. Without --follow it reads up to
// the end of each partition as it was at the start (the last stable offset under read_committed)
// and exits; with --follow it tails until Ctrl-C or SIGTERM and exits cleanly. Without --group it
// opens the data dir read-only, so it can run beside the process that writes. With --group it
// joins the group (taking the dir's lock: the coordinator lives in the writing process) and
// commits what it printed, after printing it.
import { InvalidArgumentError, Option, type Command } from 'commander'
import type { Broker, Isolation, Message } from '../index.js'
import { collectPartitions, dirOption, ENCODINGS, intArg, Output, parseTime, withBroker, type DirOptions, type Encoding } from './common.js'
import { formatter, type Format } from './format.js'

interface ConsumeOptions extends DirOptions {
  fromBeginning?: boolean
  group?: string
  partition?: number[]
  offset?: number | 'earliest' | 'latest'
  timestamp?: number
  maxMessages?: number
  follow?: boolean
  format: Format
  json?: boolean
  encoding: Encoding
  isolation: Isolation
  printKey?: boolean
  printHeaders?: boolean
  printOffset?: boolean
  printPartition?: boolean
  printTimestamp?: boolean
}

/** How often the end of the log is checked and pending output flushed, and group commits in --follow. */
const END_CHECK_MS = 20
const COMMIT_INTERVAL_MS = 5_000

export function consumeCommand(program: Command): void {
  program
    .command('consume <topic>')
    .description('print records of a topic (to the end, or live with --follow)')
    .option('--from-beginning', 'start at the earliest offset (default: the end; a group starts at its committed offsets)')
    .option('--group <id>', 'consume as a member of this consumer group and commit what was printed')
    .option('--partition <n>', 'only these partitions (repeatable or comma-separated)', collectPartitions)
    .option('--offset <offset>', 'start every chosen partition at this offset (or earliest, latest)', parseOffset)
    .option('--timestamp <time>', 'start at the first record at or after this time (ISO 8601 or epoch ms)', parseTime)
    .option('--max-messages <n>', 'exit after printing n records', intArg(0))
    .option('-f, --follow', 'keep printing new records until Ctrl-C')
    .addOption(new Option('--format <format>', 'text, json (one object per line) or raw (value bytes only)').choices(['text', 'json', 'raw']).default('text'))
    .option('--json', 'same as --format json')
    .addOption(new Option('--encoding <encoding>', 'how keys, values and headers are printed').choices(ENCODINGS).default('utf8'))
    .addOption(
      new Option('--isolation <level>', 'read_committed skips aborted transactions and stops at open ones')
        .choices(['read_committed', 'read_uncommitted'])
        .default('read_committed'),
    )
    .option('--print-key', 'text: print the key before the value')
    .option('--print-headers', 'text: print the headers (h1:v1,h2:v2) before the key')
    .option('--print-offset', 'text: print Offset:n')
    .option('--print-partition', 'text: print Partition:n')
    .option('--print-timestamp', 'text: print CreateTime:ms (or LogAppendTime:ms)')
    .addOption(dirOption())
    .addHelpText(
      'after',
      `
Examples:
  $ kafkalite consume orders --from-beginning
  $ kafkalite consume orders --from-beginning --print-key --print-offset --max-messages 10
  $ kafkalite consume orders --group billing --follow
  $ kafkalite consume orders --partition 0 --offset 42 --format json
  $ kafkalite consume orders --timestamp 2026-12-01T00:00:00Z --json | jq .value`,
    )
    .action((topic: string, o: ConsumeOptions, cmd: Command) => {
      if (o.group && (o.partition || o.offset !== undefined || o.timestamp !== undefined)) {
        cmd.error('error: --group takes the group\'s partitions and committed offsets: drop --partition, --offset and --timestamp')
      }
      if (o.offset !== undefined && o.timestamp !== undefined) cmd.error('error: give --offset or --timestamp, not both')
      if (o.json) o.format = 'json'
      return withBroker(o.dir, o.group ? 'write' : 'read', (broker) => consume(broker, topic, o))
    })
}

function parseOffset(value: string): number | 'earliest' | 'latest' {
  if (value === 'earliest' || value === 'latest') return value
  try {
    return intArg(0)(value)
  } catch {
    throw new InvalidArgumentError(`expected an offset, earliest or latest, got '${value}'`)
  }
}

async function consume(broker: Broker, name: string, o: ConsumeOptions): Promise<void> {
  const topic = broker.topic(name)
  const partitions = o.partition ?? Array.from({ length: topic.partitions }, (_, i) => i)
  for (const p of partitions) topic.partition(p) // a partition that does not exist fails here
  // Where "the end" is: fixed at the start, so that a busy topic does not keep us reading.
  const end = new Map<number, number>()
  for (const p of partitions) {
    const part = topic.partition(p)
    end.set(p, o.isolation === 'read_committed' ? part.lastStableOffset : part.highWatermark)
  }
  const consumer = broker.consumer({
    groupId: o.group,
    clientId: 'kafkalite-cli',
    autoCommit: false,
    fromBeginning: !!o.fromBeginning,
    isolation: o.isolation,
  })
  if (o.group) await consumer.subscribe(name)
  else consumer.assign(partitions.map((p) => ({ topic: name, partition: p, offset: startOffset(broker, name, p, o) })))

  const out = new Output()
  const format = formatter({ ...o, timestampType: topic.config.messageTimestampType })
  /** Next offset after the last record printed, per partition (what a group commits). */
  const printed = new Map<number, number>()
  const caughtUp = (): boolean => {
    if (o.follow) return false
    const assigned = consumer.assignment()
    if (assigned.length === 0) return false
    return assigned.every(({ partition }) => Math.max(consumer.position(name, partition), printed.get(partition) ?? 0) >= (end.get(partition) ?? 0))
  }
  const commit = async (): Promise<void> => {
    if (!o.group) return
    await out.flush()
    const offsets = consumer.assignment().map(({ partition }) => ({
      topic: name,
      partition,
      offset: Math.max(consumer.position(name, partition), printed.get(partition) ?? 0),
    }))
    if (offsets.length > 0) await consumer.commitOffsets(offsets)
  }

  let count = 0
  // Stopping (caught up, Ctrl-C, SIGTERM, a closed pipe, or --max-messages): flush what was
  // printed, commit it (groups), then close the consumer, which ends the loop below.
  let finishing: Promise<void> | null = null
  const finish = (): Promise<void> =>
    (finishing ??= (async () => {
      await out.flush()
      await commit()
      await consumer.close()
    })())
  const onSignal = (): void => void finish().catch(() => undefined)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const watch = setInterval(() => {
    if (caughtUp() || out.closed) onSignal()
    // What was printed reaches the reader within END_CHECK_MS, not when 64 KiB have piled up (--follow).
    else void out.flush()
  }, END_CHECK_MS)
  let lastCommit = Date.now()
  try {
    if (o.maxMessages !== 0 && !(o.group === undefined && caughtUp())) {
      for await (const m of consumer as AsyncIterable<Message>) {
        const text = format(m)
        if (typeof text === 'string') out.write(text)
        else out.writeBytes(text)
        printed.set(m.partition, m.offset + 1)
        count++
        if (count === o.maxMessages || out.closed || (m.offset + 1 >= (end.get(m.partition) ?? 0) && caughtUp())) break
        if (out.full) await out.ready()
        if (o.group && o.follow && Date.now() - lastCommit >= COMMIT_INTERVAL_MS) {
          await commit()
          lastCommit = Date.now()
        }
      }
    }
    await finish()
  } finally {
    clearInterval(watch)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await consumer.close()
  }
  if (process.stderr.isTTY) process.stderr.write(`Processed a total of ${count} messages\n`)
}

/** Start offset of one partition from --offset, --timestamp, --from-beginning, or the end. */
function startOffset(broker: Broker, name: string, p: number, o: ConsumeOptions): number | undefined {
  const topic = broker.topic(name)
  if (o.offset === 'earliest') return topic.earliestOffset(p)
  if (o.offset === 'latest') return topic.latestOffset(p)
  if (typeof o.offset === 'number') return o.offset
  if (o.timestamp !== undefined) return topic.offsetForTimestamp(p, o.timestamp) ?? topic.latestOffset(p)
  return undefined
}

