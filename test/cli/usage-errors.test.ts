// What `kafkalite` does with bad input, as its exit codes promise: 2 and the command's usage line
// for bad usage (writing nothing), 1 and exactly one `kafkalite: ...` line on stderr when the
// operation fails (the stack only with DEBUG=kafkalite:*), 0 and examples for --help.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { assertExit, mapLimit, REPO_ROOT, runCli, show } from '../fixtures/cli.js'
import { tempDir, test } from '../fixtures/helpers.js'

/** Independent commands at once, but no more than the two cores can take. */
const PARALLEL = 4

test('bad usage exits 2 with the usage line on stderr and writes nothing', async (t) => {
  const data = join(tempDir(t, 'kafkalite-cli-'), 'data')
  const D = ['--dir', data]
  const cases: Array<[string[], string, RegExp?]> = [
    [['consume', ...D], 'kafkalite consume', /missing required argument 'topic'/],
    [['topics', 'create', 't', '--partitions', 'x', ...D], 'kafkalite topics create', /'--partitions <n>' argument 'x' is invalid/],
    [['topics', 'create', 't', '--config', 'retention.ms', ...D], 'kafkalite topics create', /expected name=value/],
    [['topics', 'list', '--bogus', ...D], 'kafkalite topics list', /unknown option '--bogus'/],
    [['topics', 'alter', 't', ...D], 'kafkalite topics alter', /nothing to alter/],
    [['topics'], 'kafkalite topics'],
    [[], 'kafkalite'],
    [['frobnicate'], 'kafkalite', /unknown command 'frobnicate'/],
    [['groups', 'reset-offsets', 'g', '--topic', 't', '--to', 'bogus', ...D], 'kafkalite groups reset-offsets', /argument 'bogus' is invalid/],
    [['groups', 'reset-offsets', 'g', '--to', 'earliest', ...D], 'kafkalite groups reset-offsets', /required option '--topic <topic>'/],
    [['produce', 't', '--format', 'xml', ...D], 'kafkalite produce', /Allowed choices are text, json/],
    [['consume', 't', '--max-messages', 'ten', ...D], 'kafkalite consume', /expected an integer/],
    [['consume', 't', '--timestamp', 'yesterday', ...D], 'kafkalite consume', /ISO 8601/],
    [['consume', 't', '--offset', '1', '--timestamp', '2', ...D], 'kafkalite consume', /not both/],
    [['consume', 't', '--group', 'g', '--partition', '0', ...D], 'kafkalite consume', /--group takes the group's partitions/],
  ]
  const results = await mapLimit(cases, PARALLEL, ([args]) => runCli(t, args))
  cases.forEach(([args, usage, message], i) => {
    const r = results[i]!
    const what = `kafkalite ${args.join(' ')}`
    assertExit(r, 2, what)
    assert.equal(r.stdout, '', `${what}: nothing on stdout`)
    assert.match(r.stderr, new RegExp(`^Usage: ${usage} \\[options\\]`, 'm'), `${what}: the usage line; ${show(r)}`)
    if (message) assert.match(r.stderr, message, `${what}: says what is wrong; ${show(r)}`)
    assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack; ${show(r)}`)
  })
  assert.ok(!existsSync(data), 'no command with bad usage created the data dir')
})

test('--help on every command exits 0 with its usage and examples; --version prints the package version', async (t) => {
  // The program, both command groups and a leaf of each kind (every leaf has its own examples).
  const commands = [
    [],
    ['topics'],
    ['topics', 'create'],
    ['topics', 'alter'],
    ['produce'],
    ['consume'],
    ['groups'],
    ['groups', 'lag'],
    ['groups', 'reset-offsets'],
    ['dump'],
    ['verify'],
    ['demo'],
  ]
  const results = await mapLimit(commands, PARALLEL, (cmd) => runCli(t, [...cmd, '--help']))
  commands.forEach((cmd, i) => {
    const r = results[i]!
    const what = `kafkalite ${[...cmd, '--help'].join(' ')}`
    assertExit(r, 0, what)
    assert.match(r.stdout, new RegExp(`^Usage: ${['kafkalite', ...cmd].join(' ')} `), `${what}: starts with its usage; ${show(r)}`)
    assert.match(r.stdout, /\nExamples:\n {2}\$ .*kafkalite /, `${what}: shows examples; ${show(r)}`)
    assert.equal(r.stderr, '', `${what}: nothing on stderr`)
  })
  // Every command that opens a data dir takes --dir (dump reads a file, not a dir).
  commands.forEach((cmd, i) => {
    const opensDir = cmd.length > 0 && cmd[0] !== 'dump' && !(cmd.length === 1 && (cmd[0] === 'topics' || cmd[0] === 'groups'))
    if (opensDir) assert.match(results[i]!.stdout, /--dir <path> +data directory/, `kafkalite ${cmd.join(' ')} --help documents --dir`)
  })
  const version = await runCli(t, ['--version'])
  assertExit(version, 0, '--version')
  assert.equal(version.stdout, `${(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`, 'the package version')
})

test('a failed operation prints exactly one line on stderr; DEBUG=kafkalite:* adds the stack', async (t) => {
  const data = join(tempDir(t, 'kafkalite-cli-'), 'data')
  assertExit(await runCli(t, ['topics', 'create', 'orders', '--dir', data]), 0, 'topics create')

  const plain = await runCli(t, ['topics', 'create', 'orders', '--dir', data])
  assertExit(plain, 1, 'creating an existing topic')
  assert.equal(plain.stderr, 'kafkalite: topic orders already exists\n', `exactly one line: ${show(plain)}`)

  const debug = await runCli(t, ['topics', 'create', 'orders', '--dir', data], { env: { DEBUG: 'kafkalite:*' } })
  assertExit(debug, 1, 'creating an existing topic with DEBUG')
  assert.match(debug.stderr, /^kafkalite: topic orders already exists$/m, `the same message: ${show(debug)}`)
  assert.match(debug.stderr, /^TopicExistsError: topic orders already exists\n(\s+at .+\n)+/m, `the stack follows: ${show(debug)}`)

  const [unknownTopic, unknownGroupTopic, produceUnknown] = await Promise.all([
    runCli(t, ['consume', 'nope', '--dir', data]),
    runCli(t, ['topics', 'describe', 'nope', '--dir', data]),
    runCli(t, ['produce', 'nope', '--dir', data], { input: 'x\n' }),
  ])
  for (const [r, what] of [[unknownTopic, 'consume'], [unknownGroupTopic, 'topics describe'], [produceUnknown, 'produce']] as const) {
    assertExit(r, 1, `${what} of an unknown topic`)
    assert.equal(r.stderr, 'kafkalite: unknown topic nope\n', `${what}: one line; ${show(r)}`)
  }
})

test('reading a data dir that does not exist exits 1 with a clear message and creates nothing', async (t) => {
  const tmp = tempDir(t, 'kafkalite-cli-')
  const missing = join(tmp, 'nonexistent', 'x')
  const reads = [
    ['consume', 'orders', '--from-beginning'],
    ['groups', 'lag', 'g'],
    ['verify'],
    ['produce', 'orders'],
  ]
  const results = await mapLimit(reads, PARALLEL, (args) => runCli(t, [...args, '--dir', missing]))
  reads.forEach((args, i) => {
    const r = results[i]!
    assertExit(r, 1, `${args.join(' ')} --dir <missing>`)
    assert.equal(r.stderr, `kafkalite: no kafkalite data dir at ${missing} (set --dir or KAFKALITE_DIR; topics create makes one)\n`, `${args.join(' ')}: one clear line; ${show(r)}`)
    assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`)
  })
  assert.ok(!existsSync(join(tmp, 'nonexistent')), 'reading commands and produce create nothing')
  const literal = await runCli(t, ['topics', 'list', '--dir', '/nonexistent/x'])
  assertExit(literal, 1, 'topics list --dir /nonexistent/x')
  assert.equal(literal.stderr, 'kafkalite: no kafkalite data dir at /nonexistent/x (set --dir or KAFKALITE_DIR; topics create makes one)\n', `one clear line: ${show(literal)}`)
  assert.equal(literal.stdout, '', 'nothing on stdout')
})
