// `kafkalite consume --follow` beside a writer: the tail opens the dir read-only, so a separate
// `kafkalite produce` can append while it runs; Ctrl-C (SIGINT) or SIGTERM ends it with exit 0
// and everything printed. With --group it takes the dir's lock: another writer is refused, naming
// the holder, and what was printed is committed on exit. A closed stdout pipe ends it quietly.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { assertExit, jsonLines, lines, runCli, show, startCli } from '../fixtures/cli.js'
import { tempDir, test } from '../fixtures/helpers.js'

test('consume --follow prints what a separate produce appends, and exits 0 on SIGINT with every line printed', async (t) => {
  const data = join(tempDir(t, 'kafkalite-cli-'), 'data')
  const dir = ['--dir', data]
  assertExit(await runCli(t, ['topics', 'create', 'live', '--partitions', '2', ...dir]), 0, 'topics create')
  assertExit(await runCli(t, ['produce', 'live', '--key-separator', '=', ...dir], { input: 'a=1\nb=2\nc=3\n' }), 0, 'produce before the tail')

  const tail = startCli(t, ['consume', 'live', '--follow', '--from-beginning', '--print-key', ...dir])
  await tail.waitForStdout((s) => lines(s).length === 3, 10_000, 'the tail prints the three records already there')
  // The writer takes the lock beside the read-only tail.
  const more = Array.from({ length: 20 }, (_, i) => `k${i % 5}=live-${i}`)
  assertExit(await runCli(t, ['produce', 'live', '--key-separator', '=', ...dir], { input: more.slice(0, 10).join('\n') }), 0, 'produce while following')
  assertExit(await runCli(t, ['produce', 'live', '--key-separator', '=', '--acks', 'leader', ...dir], { input: more.slice(10).join('\n') }), 0, 'produce again')
  await tail.waitForStdout((s) => lines(s).length >= 23, 10_000, 'the tail prints the 20 records appended while it runs')

  assert.ok(tail.child.kill('SIGINT'), 'SIGINT sent')
  const r = await tail.exit(10_000)
  assertExit(r, 0, 'consume --follow after SIGINT')
  assert.equal(r.stderr, '', `nothing on stderr: ${show(r)}`)
  const expected = ['a\t1', 'b\t2', 'c\t3', ...more.map((l) => l.replace('=', '\t'))]
  assert.deepEqual(lines(r.stdout).sort(), [...expected].sort(), 'every record printed, none twice')
  // Per key (one partition each), the order of the appends.
  for (let k = 0; k < 5; k++) {
    const printed = lines(r.stdout).filter((l) => l.startsWith(`k${k}\t`))
    assert.deepEqual(printed, expected.filter((l) => l.startsWith(`k${k}\t`)), `key k${k} in order`)
  }
})

test('consume --group --follow holds the lock (a writer is refused, naming it) and commits what it printed on SIGTERM', async (t) => {
  const data = join(tempDir(t, 'kafkalite-cli-'), 'data')
  const dir = ['--dir', data]
  assertExit(await runCli(t, ['topics', 'create', 'jobs', '--partitions', '2', ...dir]), 0, 'topics create')
  assertExit(await runCli(t, ['produce', 'jobs', '--key-separator', ':', ...dir], { input: 'a:1\nb:2\nc:3\nd:4\ne:5\n' }), 0, 'produce')

  const member = startCli(t, ['consume', 'jobs', '--group', 'workers', '--follow', '--from-beginning', '--json', ...dir])
  await member.waitForStdout((s) => lines(s).length === 5, 10_000, 'the member prints the five records')
  const refused = await runCli(t, ['produce', 'jobs', ...dir], { input: 'x\n' })
  assertExit(refused, 1, 'produce while a group member holds the lock')
  assert.equal(lines(refused.stderr).length, 1, `one line: ${show(refused)}`)
  assert.match(refused.stderr, new RegExp(`^kafkalite: .*locked by pid ${member.child.pid}\\b`), `the error names the holder: ${show(refused)}`)
  // Reading beside it works.
  const lagWhile = await runCli(t, ['topics', 'list', '--json', ...dir])
  assertExit(lagWhile, 0, 'topics list beside the member')

  assert.ok(member.child.kill('SIGTERM'), 'SIGTERM sent')
  const r = await member.exit(10_000)
  assertExit(r, 0, 'consume --group --follow after SIGTERM')
  assert.deepEqual(jsonLines<{ value: string }>(r.stdout).map((m) => m.value).sort(), ['1', '2', '3', '4', '5'], 'all five printed once')

  const lag = await runCli(t, ['groups', 'lag', 'workers', '--json', ...dir])
  assertExit(lag, 0, 'groups lag')
  const report = JSON.parse(lag.stdout) as { total: number; partitions: Array<{ committed: number; end: number }> }
  assert.equal(report.total, 0, `what was printed was committed on exit: ${lag.stdout}`)
  assert.equal(report.partitions.reduce((n, p) => n + p.committed, 0), 5, 'the committed offsets add up to the five records')
  const again = await runCli(t, ['consume', 'jobs', '--group', 'workers', ...dir])
  assertExit(again, 0, 'consume --group again')
  assert.equal(again.stdout, '', 'the next member starts after what was committed')
})

test('a closed stdout pipe (consume | head) ends consume --follow quietly with exit 0', async (t) => {
  const tmp = tempDir(t, 'kafkalite-cli-')
  const dir = ['--dir', join(tmp, 'data')]
  assertExit(await runCli(t, ['topics', 'create', 'big', ...dir]), 0, 'topics create')
  // 10,000 lines of ~40 bytes: far more than a pipe holds, so the tail is still writing when the reader goes.
  const input = Array.from({ length: 10_000 }, (_, i) => `record ${String(i).padStart(8, '0')} ${'x'.repeat(24)}`).join('\n')
  assertExit(await runCli(t, ['produce', 'big', ...dir], { input }), 0, 'produce')
  const tail = startCli(t, ['consume', 'big', '--follow', '--from-beginning', ...dir])
  // What `| head` does when it has read enough: close the pipe after the first chunk.
  tail.child.stdout!.once('data', () => tail.child.stdout!.destroy())
  const r = await tail.exit(10_000)
  assertExit(r, 0, 'consume --follow after its reader went away')
  assert.equal(r.stderr, '', `no EPIPE error: ${show(r)}`)
  assert.ok(r.stdout.length > 0 && r.stdout.length < input.length, `the reader went away early (${r.stdout.length} of ${input.length} bytes read)`)
})
