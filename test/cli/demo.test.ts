// `kafkalite demo` (what `npm run demo` runs), kept small: it produces keyed orders into a
// 3-partition topic, consumes them back and prints the counts; a second run adds to the topic.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { assertExit, runCli, show } from '../fixtures/cli.js'
import { tempDir, test } from '../fixtures/helpers.js'

test('demo --orders 2000 produces and consumes the orders and prints counts per partition; a second run adds to them', async (t) => {
  const data = join(tempDir(t, 'kafkalite-cli-'), 'demo')
  const first = await runCli(t, ['demo', '--orders', '2000', '--dir', data])
  assertExit(first, 0, 'demo')
  const out = first.stdout
  assert.match(out, new RegExp(`^data dir ${data}: topic orders has 3 partitions, 0 records before this run$`, 'm'), `the start: ${show(first)}`)
  assert.match(out, /^produced 2000 orders in \d+ ms: [\d,]+ msg\/s/m, `the produced line: ${show(first)}`)
  assert.match(out, /^consumed 2000 orders in \d+ ms: [\d,]+ msg\/s/m, `the consumed line: ${show(first)}`)
  const perPartition = [...out.matchAll(/^ {2}partition (\d): (\d+) this run, offsets 0\.\.(\d+)$/gm)]
  assert.deepEqual(perPartition.map((m) => Number(m[1])), [0, 1, 2], `a line per partition: ${show(first)}`)
  assert.equal(perPartition.reduce((n, m) => n + Number(m[2]), 0), 2000, 'the per-partition counts add up to 2000')
  for (const m of perPartition) assert.equal(Number(m[3]), Number(m[2]) - 1, `partition ${m[1]}: this run's count is its offsets`)
  assert.match(out, /^topic orders now holds 2000 records$/m, `the total: ${show(first)}`)
  assert.equal(first.stderr, '', 'nothing on stderr')

  // DEMO_ORDERS is the default for --orders.
  const second = await runCli(t, ['demo', '--dir', data], { env: { DEMO_ORDERS: '500' } })
  assertExit(second, 0, 'demo again')
  assert.match(second.stdout, /, 2000 records before this run$/m, `the second run sees the first: ${show(second)}`)
  assert.match(second.stdout, /^consumed 500 orders/m, `the second run consumes only its own orders: ${show(second)}`)
  assert.match(second.stdout, /^topic orders now holds 2500 records$/m, `the topic grew: ${show(second)}`)
})
