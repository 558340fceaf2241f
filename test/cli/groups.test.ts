// `kafkalite consume --group` and `kafkalite groups list/describe/lag/reset-offsets/delete`: what a
// member prints it commits; the next member goes on from there (no duplicates, no gaps); lag in
// text and JSON; offsets reset to earliest, latest, an offset or a time, with --dry-run committing
// nothing and an offset out of range refused.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { assertExit, lines, runCli, show, type CliOptions, type CliResult } from '../fixtures/cli.js'
import { tempDir, test } from '../fixtures/helpers.js'

interface Lag {
  groupId: string
  total: number
  partitions: Array<{ topic: string; partition: number; committed: number | null; end: number; lag: number }>
}

/** Topic g1: partition 0 holds values 1..10, partition 1 values 11..16; value v has timestamp v * 1000. */
async function setup(t: TestContext): Promise<(args: string[], opts?: CliOptions) => Promise<CliResult>> {
  const data = join(tempDir(t, 'kafkalite-cli-'), 'data')
  const run = (args: string[], opts?: CliOptions): Promise<CliResult> => runCli(t, [...args, '--dir', data], opts)
  assertExit(await run(['topics', 'create', 'g1', '--partitions', '2']), 0, 'topics create')
  const input = Array.from({ length: 16 }, (_, i) => JSON.stringify({ value: String(i + 1), partition: i < 10 ? 0 : 1, timestamp: (i + 1) * 1000 }))
  assertExit(await run(['produce', 'g1', '--format', 'json'], { input: input.join('\n') }), 0, 'produce')
  return run
}

async function lagOf(run: (args: string[]) => Promise<CliResult>, group: string): Promise<Lag> {
  const r = await run(['groups', 'lag', group, '--json'])
  assertExit(r, 0, `groups lag ${group} --json`)
  return JSON.parse(r.stdout) as Lag
}

const committed = (lag: Lag): Array<number | null> => lag.partitions.map((p) => p.committed)

test('a group member commits what it printed; lag, list and describe show it; the next member goes on from there', async (t) => {
  const run = await setup(t)
  const first = await run(['consume', 'g1', '--group', 'billing', '--from-beginning', '--max-messages', '4'])
  assertExit(first, 0, 'consume --group --max-messages 4')
  const printed1 = lines(first.stdout)
  assert.equal(printed1.length, 4, `four records: ${show(first)}`)

  // Offsets follow from what was printed: value v is offset v-1 in partition 0, v-11 in partition 1.
  const from0 = printed1.map(Number).filter((v) => v <= 10)
  const from1 = printed1.map(Number).filter((v) => v > 10)
  const want = [from0.length === 0 ? 0 : Math.max(...from0), from1.length === 0 ? 0 : Math.max(...from1) - 10]
  assert.deepEqual(from0, Array.from({ length: from0.length }, (_, i) => i + 1), 'partition 0 from its start, in order')
  assert.deepEqual(from1, Array.from({ length: from1.length }, (_, i) => i + 11), 'partition 1 from its start, in order')

  const [lagText, lagJson, list, describe, describeJson] = await Promise.all([
    run(['groups', 'lag', 'billing']),
    lagOf(run, 'billing'),
    run(['groups', 'list']),
    run(['groups', 'describe', 'billing']),
    run(['groups', 'describe', 'billing', '--json']),
  ])
  assert.deepEqual(
    lagJson.partitions.map((p) => [p.topic, p.partition, p.committed, p.end, p.lag]),
    [['g1', 0, want[0], 10, 10 - want[0]!], ['g1', 1, want[1], 6, 6 - want[1]!]],
    `lag --json: committed offsets after the four printed records: ${JSON.stringify(lagJson)}`,
  )
  assert.equal(lagJson.total, 12, 'total lag: 16 records, 4 printed')
  assert.equal(lagJson.groupId, 'billing', 'lag --json names the group')
  assertExit(lagText, 0, 'groups lag')
  assert.deepEqual(
    lines(lagText.stdout).map((l) => l.trim().split(/\s+/)),
    [
      ['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG'],
      ['g1', '0', String(want[0]), '10', String(10 - want[0]!)],
      ['g1', '1', String(want[1]), '6', String(6 - want[1]!)],
      ['total', 'lag', '12'],
    ],
    `lag as a table: ${show(lagText)}`,
  )
  assertExit(list, 0, 'groups list')
  assert.deepEqual(lines(list.stdout).map((l) => l.trim().split(/\s+/)), [['GROUP', 'STATE', 'MEMBERS', 'LAG'], ['billing', 'Empty', '0', '12']], `list: ${show(list)}`)
  assertExit(describe, 0, 'groups describe')
  assert.match(describe.stdout, /^group billing: Empty, generation \d+, 0 members\n/, `describe: a summary line: ${show(describe)}`)
  assert.match(describe.stdout, /^TOPIC\s+PARTITION\s+COMMITTED\s+END\s+LAG\s+MEMBER$/m, `describe: the lag table with members: ${show(describe)}`)
  assert.match(describe.stdout, new RegExp(`^g1\\s+0\\s+${want[0]}\\s+10\\s+${10 - want[0]!}\\s+-$`, 'm'), `describe: partition 0 without a member: ${show(describe)}`)
  const dj = JSON.parse(describeJson.stdout) as { groupId: string; state: string; members: unknown[]; lag: Lag['partitions'] }
  assert.equal(dj.groupId, 'billing', 'describe --json: groupId')
  assert.deepEqual(dj.members, [], 'describe --json: no running members')
  assert.deepEqual(dj.lag.map((l) => l.committed), want, 'describe --json: committed offsets')

  // Without --from-beginning a group with committed offsets starts at them.
  const second = await run(['consume', 'g1', '--group', 'billing', '--max-messages', '5'])
  assertExit(second, 0, 'second member --max-messages 5')
  const third = await run(['consume', 'g1', '--group', 'billing', '--from-beginning'])
  assertExit(third, 0, 'third member to the end')
  const printed2 = lines(second.stdout)
  const printed3 = lines(third.stdout)
  assert.equal(printed2.length, 5, `the second member printed five: ${show(second)}`)
  assert.equal(printed3.length, 7, `the third member printed the remaining seven: ${show(third)}`)
  const all = [...printed1, ...printed2, ...printed3].map(Number).sort((a, b) => a - b)
  assert.deepEqual(all, Array.from({ length: 16 }, (_, i) => i + 1), 'the three members printed every record once: no duplicates, no gaps')
  const done = await lagOf(run, 'billing')
  assert.deepEqual([done.total, ...committed(done)], [0, 10, 6], 'caught up: committed at the end of both partitions')

  // A new group without --from-beginning starts at the end, as Kafka's default offset reset does.
  const fresh = await run(['consume', 'g1', '--group', 'latecomer'])
  assertExit(fresh, 0, 'a new group')
  assert.equal(fresh.stdout, '', 'a new group starts at the end')
})

test('groups reset-offsets to earliest, latest, an offset and a time; --dry-run commits nothing; out of range is refused', async (t) => {
  const run = await setup(t)
  assertExit(await run(['consume', 'g1', '--group', 'billing', '--from-beginning']), 0, 'consume everything')
  assert.deepEqual(committed(await lagOf(run, 'billing')), [10, 6], 'committed at the end')

  const dry = await run(['groups', 'reset-offsets', 'billing', '--topic', 'g1', '--to', 'earliest', '--dry-run'])
  assertExit(dry, 0, 'reset --dry-run')
  assert.deepEqual(
    lines(dry.stdout).map((l) => l.trim().split(/\s+/)),
    [['TOPIC', 'PARTITION', 'PREVIOUS', 'NEW'], ['g1', '0', '10', '0'], ['g1', '1', '6', '0'], ['dry', 'run:', 'nothing', 'was', 'committed']],
    `the plan, and that nothing was committed: ${show(dry)}`,
  )
  assert.deepEqual(committed(await lagOf(run, 'billing')), [10, 6], '--dry-run committed nothing')

  // Each reset prints what it committed (--json); the lag below and the member after it show it was.
  const steps: Array<[string[], Array<[number, number]>, string]> = [
    [['--to', 'earliest'], [[0, 0], [1, 0]], 'earliest'],
    [['--to', 'latest'], [[0, 10], [1, 6]], 'latest'],
    [['--to', '3', '--partition', '0'], [[0, 3]], 'an offset, on partition 0 only'],
    // 5.5 s: partition 0's first record at or after it is value 6 (offset 5); partition 1's is its first.
    [['--to', '1970-01-01T00:00:05.500Z'], [[0, 5], [1, 0]], 'an ISO 8601 time'],
    [['--to', '2', '--partition', '1'], [[1, 2]], 'an offset, on partition 1 only'],
  ]
  for (const [args, offsets, what] of steps) {
    const r = await run(['groups', 'reset-offsets', 'billing', '--topic', 'g1', ...args, '--json'])
    assertExit(r, 0, `reset --to ${what}`)
    const out = JSON.parse(r.stdout) as { dryRun: boolean; offsets: Array<{ partition: number; offset: number }> }
    assert.equal(out.dryRun, false, `${what}: not a dry run`)
    assert.deepEqual(out.offsets.map((o) => [o.partition, o.offset]), offsets, `reset to ${what}: the new offsets`)
  }
  assert.deepEqual(committed(await lagOf(run, 'billing')), [5, 2], 'the last resets were committed')

  // The next member starts at the reset offsets: values 6..10 of partition 0 and 13..16 of partition 1.
  const resumed = await run(['consume', 'g1', '--group', 'billing'])
  assertExit(resumed, 0, 'consume after the reset')
  assert.deepEqual(lines(resumed.stdout).map(Number).sort((a, b) => a - b), [6, 7, 8, 9, 10, 13, 14, 15, 16], `from the reset offsets on: ${show(resumed)}`)

  const beyond = await run(['groups', 'reset-offsets', 'billing', '--topic', 'g1', '--to', '50'])
  assertExit(beyond, 1, 'reset --to an offset beyond the end')
  assert.equal(beyond.stderr, 'kafkalite: offset 50 is out of range [0, 10] for g1-0\n', `one line: ${show(beyond)}`)
  const unknown = await run(['groups', 'reset-offsets', 'billing', '--topic', 'nope', '--to', 'earliest'])
  assertExit(unknown, 1, 'reset on an unknown topic')
  assert.equal(unknown.stderr, 'kafkalite: unknown topic nope\n', `one line: ${show(unknown)}`)
  assert.deepEqual(committed(await lagOf(run, 'billing')), [10, 6], 'the failed resets changed nothing')

  const deleted = await run(['groups', 'delete', 'billing'])
  assertExit(deleted, 0, 'groups delete')
  assert.equal(deleted.stdout, 'deleted group billing\n', `delete says what it did: ${show(deleted)}`)
  const list = await run(['groups', 'list'])
  assert.equal(list.stdout, 'no groups\n', `no groups left: ${show(list)}`)
})
