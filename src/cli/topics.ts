// `kafkalite topics`: what kafka-topics.sh does for a data dir — list, create, describe, alter, delete.
import type { Command } from 'commander'
import { topicConfigFromEntries, topicConfigToEntries, type Broker, type TopicConfig, type TopicDescription } from '../index.js'
import { collect, collectPairs, dirOption, formatBytes, intArg, jsonOption, printJson, table, withBroker, type DirOptions, type JsonOptions } from './common.js'

export function topicsCommand(program: Command): void {
  const topics = program
    .command('topics')
    .description('list, create, describe, alter and delete topics')
    .addHelpText(
      'after',
      `
Examples:
  $ kafkalite topics create orders --partitions 3 --config retention.ms=86400000
  $ kafkalite topics list
  $ kafkalite topics describe orders --json
  $ kafkalite topics alter orders --config cleanup.policy=compact --partitions 6
  $ kafkalite topics delete orders`,
    )

  topics
    .command('list')
    .description('every topic with its partitions, records and size on disk')
    .option('--internal', 'include internal topics (__consumer_offsets, __transaction_state)')
    .addOption(jsonOption())
    .addOption(dirOption())
    .addHelpText('after', '\nExamples:\n  $ kafkalite topics list\n  $ kafkalite topics list --internal --json')
    .action((o: DirOptions & JsonOptions & { internal?: boolean }) =>
      withBroker(o.dir, 'read', (broker) => {
        const list = broker.topics({ internal: o.internal }).map((t) => summary(t.describe()))
        if (o.json) return printJson(list)
        process.stdout.write(
          list.length === 0
            ? 'no topics\n'
            : table(
                ['TOPIC', 'PARTITIONS', 'RECORDS', 'SIZE'],
                list.map((t) => [t.name, t.partitions, t.records, formatBytes(t.sizeBytes)]),
              ),
        )
      }),
    )

  topics
    .command('create <topic>')
    .description('create a topic')
    .option('--partitions <n>', 'number of partitions', intArg(1, 10_000), 1)
    .option('--config <name=value>', "a topic config, Kafka's name or camelCase (repeatable)", collectPairs, {})
    .option('--if-not-exists', 'succeed when the topic already exists')
    .addOption(dirOption())
    .addHelpText(
      'after',
      `
Configs (Kafka's names): segment.bytes, segment.ms, retention.ms, retention.bytes, max.message.bytes,
message.timestamp.type, cleanup.policy, index.interval.bytes, delete.retention.ms, min.cleanable.dirty.ratio

Examples:
  $ kafkalite topics create orders --partitions 3
  $ kafkalite topics create users --config cleanup.policy=compact --config segment.bytes=1048576`,
    )
    .action(async (name: string, o: DirOptions & { partitions: number; config: Record<string, string>; ifNotExists?: boolean }) => {
      const config = topicConfigFromEntries(o.config) as Partial<TopicConfig>
      await withBroker(o.dir, 'create', async (broker) => {
        if (o.ifNotExists && broker.hasTopic(name)) return
        await broker.createTopic(name, { partitions: o.partitions, ...config })
        process.stdout.write(`created topic ${name} with ${o.partitions} partition${o.partitions === 1 ? '' : 's'}\n`)
      })
    })

  topics
    .command('describe <topic>')
    .description("a topic's configs and, per partition, offsets, records, size and segments")
    .addOption(jsonOption())
    .addOption(dirOption())
    .addHelpText('after', '\nExamples:\n  $ kafkalite topics describe orders\n  $ kafkalite topics describe orders --json')
    .action((name: string, o: DirOptions & JsonOptions) =>
      withBroker(o.dir, 'read', (broker) => {
        const d = broker.describeTopic(name)
        const { records, sizeBytes } = summary(d) // not its partition count: d.partitions stays the per-partition list
        if (o.json) return printJson({ ...d, records, sizeBytes, configEntries: topicConfigToEntries(d.config) })
        printDescription(d)
      }),
    )

  topics
    .command('alter <topic>')
    .description("change a topic's configs or grow its partition count")
    .option('--config <name=value>', 'set a config (repeatable)', collectPairs, {})
    .option('--delete-config <name>', 'reset a config to its default (repeatable)', collect, [])
    .option('--partitions <n>', 'grow the topic to n partitions (keys may then map elsewhere)', intArg(1, 10_000))
    .addOption(dirOption())
    .addHelpText(
      'after',
      '\nExamples:\n  $ kafkalite topics alter orders --config retention.ms=3600000\n  $ kafkalite topics alter orders --delete-config retention.ms\n  $ kafkalite topics alter orders --partitions 6',
    )
    .action(async (name: string, o: DirOptions & { config: Record<string, string>; deleteConfig: string[]; partitions?: number }, cmd: Command) => {
      const entries: Record<string, string | null> = { ...o.config }
      for (const k of o.deleteConfig) entries[k] = null
      if (Object.keys(entries).length === 0 && o.partitions === undefined) cmd.error('error: nothing to alter: give --config, --delete-config or --partitions')
      const changes = topicConfigFromEntries(entries)
      await withBroker(o.dir, 'write', async (broker) => {
        broker.topic(name) // unknown topic: fail before changing anything
        if (o.partitions !== undefined && o.partitions !== broker.topic(name).partitions) await broker.createPartitions(name, o.partitions)
        if (Object.keys(changes).length > 0) await broker.alterTopicConfig(name, changes)
        printDescription(broker.describeTopic(name))
      })
    })

  topics
    .command('delete <topic>')
    .description('delete a topic, its data and its committed offsets')
    .option('--if-exists', 'succeed when the topic does not exist')
    .addOption(dirOption())
    .addHelpText('after', '\nExamples:\n  $ kafkalite topics delete orders')
    .action((name: string, o: DirOptions & { ifExists?: boolean }) =>
      withBroker(o.dir, 'write', async (broker: Broker) => {
        if (o.ifExists && !broker.hasTopic(name)) return
        await broker.deleteTopic(name)
        process.stdout.write(`deleted topic ${name}\n`)
      }),
    )
}

function summary(d: TopicDescription): { name: string; partitions: number; records: number; sizeBytes: number } {
  let records = 0
  let sizeBytes = 0
  for (const p of d.partitions) {
    records += p.latest - p.earliest
    sizeBytes += p.sizeBytes
  }
  return { name: d.name, partitions: d.partitions.length, records, sizeBytes }
}

function printDescription(d: TopicDescription): void {
  const s = summary(d)
  const overrides = topicConfigToEntries(d.overrides)
  const rows = Object.entries(topicConfigToEntries(d.config)).map(([k, v]) => [k, v, k in overrides ? 'topic' : 'default'])
  process.stdout.write(
    `topic ${d.name} (id ${d.id}): ${s.partitions} partition${s.partitions === 1 ? '' : 's'}, ${s.records} records, ${formatBytes(s.sizeBytes)}\n\n` +
      table(
        ['PARTITION', 'EARLIEST', 'LATEST', 'RECORDS', 'SIZE', 'SEGMENTS'],
        d.partitions.map((p) => [p.partition, p.earliest, p.latest, p.latest - p.earliest, formatBytes(p.sizeBytes), p.segments]),
      ) +
      '\n' +
      table(['CONFIG', 'VALUE', 'SOURCE'], rows),
  )
}
