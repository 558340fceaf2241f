// `kafkalite groups`: what kafka-consumer-groups.sh does for a data dir — list, describe, lag,
// reset-offsets, delete. Reading commands open the dir read-only (beside a running writer, whose
// live members they do not see: the coordinator lives in that process); changes take the lock.
import { InvalidArgumentError, Option, type Command } from 'commander'
import type { Broker, Isolation, PartitionLag, ResetTarget } from '../index.js'
import { collectPartitions, dirOption, jsonOption, printJson, table, withBroker, type DirOptions, type JsonOptions } from './common.js'

const isolationOption = (): Option =>
  new Option('--isolation <level>', 'measure lag to the high watermark, or to the last stable offset')
    .choices(['read_uncommitted', 'read_committed'])
    .default('read_uncommitted')

export function groupsCommand(program: Command): void {
  const groups = program
    .command('groups')
    .description('list consumer groups, show their lag, reset their offsets')
    .addHelpText(
      'after',
      `
Examples:
  $ kafkalite groups list
  $ kafkalite groups describe billing
  $ kafkalite groups lag billing --json
  $ kafkalite groups reset-offsets billing --topic orders --to earliest
  $ kafkalite groups reset-offsets billing --topic orders --to 2026-12-01T00:00:00Z --dry-run`,
    )

  groups
    .command('list')
    .description('every group with members or committed offsets')
    .addOption(jsonOption())
    .addOption(dirOption())
    .addHelpText('after', '\nExamples:\n  $ kafkalite groups list\n  $ kafkalite groups list --json')
    .action((o: DirOptions & JsonOptions) =>
      withBroker(o.dir, 'read', (broker) => {
        const list = broker.groups().map(({ groupId, state }) => {
          const d = broker.group(groupId).describe()
          const lag = broker.group(groupId).lag()
          return { groupId, state, members: d.members.length, lag: lag.reduce((n, l) => n + l.lag, 0) }
        })
        if (o.json) return printJson(list)
        process.stdout.write(
          list.length === 0 ? 'no groups\n' : table(['GROUP', 'STATE', 'MEMBERS', 'LAG'], list.map((g) => [g.groupId, g.state, g.members, g.lag])),
        )
      }),
    )

  groups
    .command('describe <group>')
    .description("a group's state, members and, per partition, committed offset, end and lag")
    .addOption(isolationOption())
    .addOption(jsonOption())
    .addOption(dirOption())
    .addHelpText('after', '\nExamples:\n  $ kafkalite groups describe billing\n  $ kafkalite groups describe billing --json')
    .action((groupId: string, o: DirOptions & JsonOptions & { isolation: Isolation }) =>
      withBroker(o.dir, 'read', (broker) => {
        const d = broker.group(groupId).describe()
        const lag = broker.group(groupId).lag({ isolation: o.isolation })
        if (o.json) return printJson({ ...d, lag })
        const owner = new Map<string, string>()
        for (const m of d.members) {
          for (const [topic, ps] of Object.entries(m.assignment)) for (const p of ps) owner.set(`${topic}-${p}`, m.memberId)
        }
        process.stdout.write(
          `group ${d.groupId}: ${d.state}, generation ${d.generation}, ${d.members.length} member${d.members.length === 1 ? '' : 's'}` +
            `${d.protocol ? `, assignor ${d.protocol}` : ''}\n\n`,
        )
        process.stdout.write(lagTable(lag, (l) => owner.get(`${l.topic}-${l.partition}`) ?? null))
      }),
    )

  groups
    .command('lag <group>')
    .description("the group's lag per partition and in total")
    .addOption(isolationOption())
    .addOption(jsonOption())
    .addOption(dirOption())
    .addHelpText('after', '\nExamples:\n  $ kafkalite groups lag billing\n  $ kafkalite groups lag billing --isolation read_committed --json')
    .action((groupId: string, o: DirOptions & JsonOptions & { isolation: Isolation }) =>
      withBroker(o.dir, 'read', (broker) => {
        const lag = broker.group(groupId).lag({ isolation: o.isolation })
        const total = lag.reduce((n, l) => n + l.lag, 0)
        if (o.json) return printJson({ groupId, total, partitions: lag })
        process.stdout.write(lagTable(lag) + `total lag ${total}\n`)
      }),
    )

  groups
    .command('reset-offsets <group>')
    .description("set the group's committed offsets for a topic (the group must have no running members)")
    .requiredOption('--topic <topic>', 'the topic whose offsets are reset')
    .requiredOption('--to <target>', 'earliest, latest, an offset, or a time (ISO 8601)', parseTarget)
    .option('--partition <n>', 'only these partitions (repeatable or comma-separated)', collectPartitions)
    .option('--dry-run', 'show the new offsets without committing them')
    .addOption(jsonOption())
    .addOption(dirOption())
    .addHelpText(
      'after',
      `
Examples:
  $ kafkalite groups reset-offsets billing --topic orders --to earliest
  $ kafkalite groups reset-offsets billing --topic orders --to 1500 --partition 2
  $ kafkalite groups reset-offsets billing --topic orders --to 2026-12-01T09:00:00Z --dry-run`,
    )
    .action(
      (groupId: string, o: DirOptions & JsonOptions & { topic: string; to: ResetTarget; partition?: number[]; dryRun?: boolean }) =>
        withBroker(o.dir, o.dryRun ? 'read' : 'write', async (broker: Broker) => {
          const before = new Map(broker.group(groupId).lag().filter((l) => l.topic === o.topic).map((l) => [l.partition, l.committed]))
          const offsets = await broker.group(groupId).resetOffsets({ topic: o.topic, partitions: o.partition, to: o.to, dryRun: o.dryRun })
          const rows = offsets.map(({ partition, offset }) => ({ topic: o.topic, partition, previous: before.get(partition) ?? null, offset }))
          if (o.json) return printJson({ groupId, dryRun: !!o.dryRun, offsets: rows })
          process.stdout.write(table(['TOPIC', 'PARTITION', 'PREVIOUS', 'NEW'], rows.map((r) => [r.topic, r.partition, r.previous, r.offset])))
          if (o.dryRun) process.stdout.write('dry run: nothing was committed\n')
        }),
    )

  groups
    .command('delete <group>')
    .description('delete a group and its committed offsets (it must have no running members)')
    .addOption(dirOption())
    .addHelpText('after', '\nExamples:\n  $ kafkalite groups delete billing')
    .action((groupId: string, o: DirOptions) =>
      withBroker(o.dir, 'write', async (broker) => {
        await broker.group(groupId).delete()
        process.stdout.write(`deleted group ${groupId}\n`)
      }),
    )
}

function parseTarget(value: string): ResetTarget {
  const v = value.trim()
  if (v === 'earliest' || v === 'latest') return v
  if (/^\d+$/.test(v)) return { offset: Number(v) }
  const ms = Date.parse(v)
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`expected earliest, latest, an offset or an ISO 8601 time, got '${value}'`)
  return { timestamp: ms }
}

function lagTable(lag: PartitionLag[], member?: (l: PartitionLag) => string | null): string {
  if (lag.length === 0) return 'no committed offsets or assigned partitions\n'
  const headers = ['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG']
  if (member) headers.push('MEMBER')
  return table(
    headers,
    lag.map((l) => {
      const row: Array<string | number | null> = [l.topic, l.partition, l.committed, l.end, l.lag]
      if (member) row.push(member(l))
      return row
    }),
  )
}
