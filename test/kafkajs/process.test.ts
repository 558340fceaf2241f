// No open handles: a plain `node` process that connects a producer and a consumer through the
// facade, produces, consumes one message and disconnects exits by itself — with and without the
// kafkalite-only closeSharedBrokers(). It also reports the time from process start to the first
// consumed message (printed, not asserted).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { facadeOnly } from '../fixtures/kafkajs.js'

// The child script uses the facade in process (no server to start or stop).
const test = facadeOnly('process exit of a script using the facade in process')

const root = fileURLToPath(new URL('../..', import.meta.url))
const script = 'test/kafkajs/fixtures/produce-consume-exit.ts'

interface Outcome {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** ms from the child's "disconnected" line to its exit (null when it never printed it). */
  exitAfterDisconnectMs: number | null
  timedOut: boolean
}

/** Runs the script; kills it (and reports timedOut) when it has not exited within `ms`. */
function runChild(args: string[], ms: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let disconnectedAt: number | null = null
    let timedOut = false
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      if (disconnectedAt === null && stdout.includes('disconnected')) disconnectedAt = Date.now()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, ms)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, timedOut, exitAfterDisconnectMs: disconnectedAt === null ? null : Date.now() - disconnectedAt })
    })
  })
}

function check(outcome: Outcome, what: string): void {
  assert.equal(outcome.timedOut, false, `${what}: the process exited by itself (stdout: ${outcome.stdout.trim()}; stderr: ${outcome.stderr.trim().slice(0, 2000)})`)
  assert.equal(outcome.code, 0, `${what}: exit code 0 (stderr: ${outcome.stderr.trim().slice(0, 2000)})`)
  assert.ok(outcome.exitAfterDisconnectMs !== null && outcome.exitAfterDisconnectMs < 3000, `${what}: exit within 3 s of the last disconnect (took ${outcome.exitAfterDisconnectMs} ms)`)
  const line = outcome.stdout.split('\n').find((l) => l.startsWith('{'))
  assert.ok(line, `${what}: a JSON line with the timing`)
  const report = JSON.parse(line) as { value: string; firstMessageMs: number; uptimeMs: number }
  assert.equal(report.value, 'hello', `${what}: the message was consumed`)
  assert.equal(typeof report.firstMessageMs, 'number', `${what}: firstMessageMs is a number`)
  assert.ok(Number.isFinite(report.firstMessageMs) && report.firstMessageMs > 0, `${what}: firstMessageMs is a positive number`)
  console.log(`# ${what}: first message ${report.firstMessageMs} ms after process start; exit ${outcome.exitAfterDisconnectMs} ms after disconnect`)
}

test('a KafkaJS-style script (connect, produce, consume one, disconnect) exits by itself', async () => {
  check(await runChild([], 15_000), 'disconnect only')
}, 20_000)

test('the same script that also calls closeSharedBrokers() exits by itself', async () => {
  check(await runChild(['close'], 15_000), 'disconnect + closeSharedBrokers')
}, 20_000)
