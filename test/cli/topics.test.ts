// `kafkalite topics create/list/describe/alter/delete` as kafka-topics.sh does them for a data dir:
// configs by Kafka's dotted names, text and --json, --if-not-exists/--if-exists, and failures that
// change nothing. Also where the data dir comes from: --dir, else $KAFKALITE_DIR, else ./kafkalite-data.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { assertExit, lines, runCli, show } from '../fixtures/cli.js'
import { listTree, tempDir, test } from '../fixtures/helpers.js'

interface Description {
  name: string
  id: string
  config: Record<string, unknown>
  overrides: Record<string, unknown>
  partitions: Array<{ partition: number; earliest: number; latest: number; sizeBytes: number; segments: number }>
  records: number
  sizeBytes: number
  configEntries: Record<string, string>
}

/** A text table as rows of cells (split on runs of spaces). */
function rows(text: string): string[][] {
  return lines(text).map((l) => l.trim().split(/\s{2,}/))
}

test('topics create, list, describe, alter and delete, in text and JSON', async (t) => {
  const data = join(tempDir(t, 'kafkalite-cli-'), 'data')
  const run = (args: string[], input?: string) => runCli(t, [...args, '--dir', data], { input })

  const created = await run(['topics', 'create', 'orders', '--partitions', '3', '--config', 'retention.ms=86400000', '--config', 'cleanup.policy=compact'])
  assertExit(created, 0, 'topics create orders')
  assert.equal(created.stdout, 'created topic orders with 3 partitions\n', `create says what it did: ${show(created)}`)
  const other = await run(['topics', 'create', 'audit'])
  assert.equal(other.stdout, 'created topic audit with 1 partition\n', `one partition by default: ${show(other)}`)
  assertExit(await run(['produce', 'orders', '--partition', '1', '--key-separator', '='], 'k=a\nk=b\n'), 0, 'produce keyed (the topic is compacted)')
  assert.ok(existsSync(join(data, 'orders-2', '00000000000000000000.log')), 'the partition dirs and segments exist')

  const [list, listJson, describe, describeJson] = await Promise.all([
    run(['topics', 'list']),
    run(['topics', 'list', '--json']),
    run(['topics', 'describe', 'orders']),
    run(['topics', 'describe', 'orders', '--json']),
  ])
  assertExit(list, 0, 'topics list')
  assert.deepEqual(rows(list.stdout).map((r) => r.slice(0, 3)), [['TOPIC', 'PARTITIONS', 'RECORDS'], ['audit', '1', '0'], ['orders', '3', '2']], `a table: ${show(list)}`)
  assertExit(listJson, 0, 'topics list --json')
  const listed = JSON.parse(listJson.stdout) as Array<{ name: string; partitions: number; records: number; sizeBytes: number }>
  assert.deepEqual(listed.map(({ name, partitions, records }) => ({ name, partitions, records })), [
    { name: 'audit', partitions: 1, records: 0 },
    { name: 'orders', partitions: 3, records: 2 },
  ], `--json: ${listJson.stdout}`)
  assert.ok(listed[1]!.sizeBytes > 0, 'orders takes bytes on disk')

  assertExit(describe, 0, 'topics describe')
  const text = describe.stdout
  assert.match(text, /^topic orders \(id [0-9a-f-]{36}\): 3 partitions, 2 records, \d+ B\n/, `a summary line: ${show(describe)}`)
  const table = rows(text)
  assert.ok(table.some((r) => r.join(' ') === 'retention.ms 86400000 topic'), `retention.ms set on the topic: ${text}`)
  assert.ok(table.some((r) => r.join(' ') === 'cleanup.policy compact topic'), `cleanup.policy set on the topic: ${text}`)
  assert.ok(table.some((r) => r.join(' ') === 'segment.bytes 1073741824 default'), `other configs are defaults: ${text}`)
  assert.ok(table.some((r) => r.slice(0, 4).join(' ') === '1 0 2 2'), `partition 1: earliest 0, latest 2, 2 records: ${text}`)

  assertExit(describeJson, 0, 'topics describe --json')
  const d = JSON.parse(describeJson.stdout) as Description
  assert.equal(d.name, 'orders', 'name')
  assert.deepEqual(d.overrides, { retentionMs: 86_400_000, cleanupPolicy: 'compact' }, 'the overrides, in camelCase')
  assert.equal(d.configEntries['retention.ms'], '86400000', "configEntries by Kafka's names")
  assert.equal(d.configEntries['cleanup.policy'], 'compact', 'cleanup.policy entry')
  assert.equal(d.records, 2, 'records in total')
  assert.ok(Array.isArray(d.partitions), `partitions is the per-partition list: ${describeJson.stdout}`)
  assert.deepEqual(d.partitions.map((p) => [p.partition, p.earliest, p.latest, p.segments]), [[0, 0, 0, 1], [1, 0, 2, 1], [2, 0, 0, 1]], 'offsets and segments per partition')

  const altered = await run(['topics', 'alter', 'orders', '--config', 'retention.ms=3600000', '--delete-config', 'cleanup.policy', '--config', 'segmentBytes=1048576', '--partitions', '5'])
  assertExit(altered, 0, 'topics alter')
  assert.match(altered.stdout, /^topic orders \(id [0-9a-f-]{36}\): 5 partitions, 2 records/, `alter prints the new description: ${show(altered)}`)
  const after = JSON.parse((await run(['topics', 'describe', 'orders', '--json'])).stdout) as Description
  assert.equal(after.id, d.id, 'the same topic')
  assert.equal(after.partitions.length, 5, '--partitions 5 grew the topic')
  assert.deepEqual(after.overrides, { retentionMs: 3_600_000, segmentBytes: 1_048_576 }, '--config set, --delete-config reset (camelCase names accepted too)')
  assert.equal(after.config.cleanupPolicy, 'delete', 'a deleted config is back to its default')
  const shrink = await run(['topics', 'alter', 'orders', '--partitions', '2'])
  assertExit(shrink, 1, 'alter --partitions lower')
  assert.equal(lines(shrink.stderr).length, 1, `one line: ${show(shrink)}`)
  assert.match(shrink.stderr, /^kafkalite: .*5 partitions/, `the error says how many there are: ${show(shrink)}`)

  const deleted = await run(['topics', 'delete', 'audit'])
  assertExit(deleted, 0, 'topics delete')
  assert.equal(deleted.stdout, 'deleted topic audit\n', `delete says what it did: ${show(deleted)}`)
  assert.ok(!existsSync(join(data, 'audit-0')), "the topic's directory is gone")
  assert.deepEqual((JSON.parse((await run(['topics', 'list', '--json'])).stdout) as Array<{ name: string }>).map((x) => x.name), ['orders'], 'audit is no longer listed')
  const again = await run(['topics', 'delete', 'audit'])
  assertExit(again, 1, 'deleting a topic that does not exist')
  assert.equal(again.stderr, 'kafkalite: unknown topic audit\n', `one line: ${show(again)}`)
  const ifExists = await run(['topics', 'delete', 'audit', '--if-exists'])
  assertExit(ifExists, 0, 'delete --if-exists of a missing topic')
  assert.equal(ifExists.stdout + ifExists.stderr, '', 'nothing printed')
})

test('creating an existing topic, an unknown config or a bad value fails with one line and changes nothing', async (t) => {
  const data = join(tempDir(t, 'kafkalite-cli-'), 'data')
  const run = (args: string[]) => runCli(t, [...args, '--dir', data])
  assertExit(await run(['topics', 'create', 'orders', '--partitions', '2']), 0, 'topics create')
  const tree = listTree(data).filter((p) => !p.includes('checkpoint') && !p.startsWith('__cluster_metadata'))

  const exists = await run(['topics', 'create', 'orders', '--partitions', '4'])
  assertExit(exists, 1, 'creating an existing topic')
  assert.equal(exists.stderr, 'kafkalite: topic orders already exists\n', `exactly one line starting kafkalite: ${show(exists)}`)
  assert.equal(exists.stdout, '', 'nothing on stdout')
  const ifNotExists = await run(['topics', 'create', 'orders', '--partitions', '4', '--if-not-exists'])
  assertExit(ifNotExists, 0, '--if-not-exists on an existing topic')
  assert.equal(ifNotExists.stdout + ifNotExists.stderr, '', 'nothing printed')

  const failures = []
  // One after the other: each would take the dir's lock.
  for (const args of [
    ['topics', 'create', 'bad1', '--config', 'no.such.config=1'],
    ['topics', 'create', 'bad2', '--config', 'retention.ms=abc'],
    ['topics', 'create', 'bad3', '--config', 'cleanup.policy=sometimes'],
    ['topics', 'create', 'bad/4'],
    ['topics', 'alter', 'orders', '--config', 'no.such.config=1'],
  ]) {
    failures.push({ args, r: await run(args) })
  }
  for (const { args, r } of failures) {
    assert.ok(r.code === 1 || r.code === 2, `${args.join(' ')}: exit 1 or 2; ${show(r)}`)
    assert.match(r.stderr, /^kafkalite: /, `${args.join(' ')}: the error on stderr; ${show(r)}`)
    assert.equal(lines(r.stderr).length, 1, `${args.join(' ')}: one line, no stack; ${show(r)}`)
  }
  assert.match(failures[0]!.r.stderr, /no\.such\.config/, 'the unknown config is named')
  assert.match(failures[1]!.r.stderr, /retention\.ms/, 'the config with a bad value is named')

  const d = JSON.parse((await run(['topics', 'describe', 'orders', '--json'])).stdout) as Description
  assert.equal(d.partitions.length, 2, 'orders still has 2 partitions')
  assert.deepEqual(d.overrides, {}, 'orders has no overrides')
  const names = (JSON.parse((await run(['topics', 'list', '--json'])).stdout) as Array<{ name: string }>).map((x) => x.name)
  assert.deepEqual(names, ['orders'], 'no topic was created')
  assert.deepEqual(listTree(data).filter((p) => !p.includes('checkpoint') && !p.startsWith('__cluster_metadata')), tree, 'no partition dir was made')
})

test('the data dir is --dir, else $KAFKALITE_DIR, else ./kafkalite-data in the working directory', async (t) => {
  const tmp = tempDir(t, 'kafkalite-cli-')
  const envDir = join(tmp, 'from-env')
  const cwdDir = join(tmp, 'kafkalite-data')

  assertExit(await runCli(t, ['topics', 'create', 'in-cwd'], { cwd: tmp }), 0, 'create with neither --dir nor env')
  assert.ok(existsSync(join(cwdDir, 'in-cwd-0')), './kafkalite-data is the default')
  assertExit(await runCli(t, ['topics', 'create', 'in-env'], { cwd: tmp, env: { KAFKALITE_DIR: envDir } }), 0, 'create with KAFKALITE_DIR')
  assert.ok(existsSync(join(envDir, 'in-env-0')), 'KAFKALITE_DIR names the data dir')
  assertExit(await runCli(t, ['produce', 'in-env'], { cwd: tmp, env: { KAFKALITE_DIR: envDir }, input: 'via env\n' }), 0, 'produce with KAFKALITE_DIR')

  const [viaEnv, viaDir] = await Promise.all([
    runCli(t, ['consume', 'in-env', '--from-beginning'], { cwd: tmp, env: { KAFKALITE_DIR: envDir } }),
    runCli(t, ['topics', 'list', '--json', '--dir', cwdDir], { cwd: tmp, env: { KAFKALITE_DIR: envDir } }),
  ])
  assert.equal(viaEnv.stdout, 'via env\n', `consume reads the KAFKALITE_DIR dir: ${show(viaEnv)}`)
  assert.deepEqual((JSON.parse(viaDir.stdout) as Array<{ name: string }>).map((x) => x.name), ['in-cwd'], '--dir wins over KAFKALITE_DIR')
})
