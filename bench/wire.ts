// Produce and consume through the Kafka wire listener, side by side with the in-process API on the
// same records: 100-byte values with 8-byte keys, acks all (fsync'd), one partition, a data dir in
// the OS temp dir. Clients: the real kafkajs package (sends of 1000, 4 in flight; eachBatch), in
// this process (as a test double runs) and in a child process (the listener alone on this event
// loop), and kcat/librdkafka (-P from a file, -C to /dev/null) when installed.
// npm run bench:wire [-- --quick]
import { execFileSync, spawn } from 'node:child_process'
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Broker } from 'kafkalite'
import { VALUE, keyOf, kafkajsConsume, kafkajsProduce } from './lib/kafkajs-client.js'

const { Kafka, logLevel } = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs')
const quick = process.argv.includes('--quick')
const N = quick ? 20_000 : 200_000
const PER_SEND = 1000
const IN_FLIGHT = 4
const value = VALUE

const dir = mkdtempSync(join(tmpdir(), 'kafkalite-bench-wire-'))
const rows: Array<{ client: string; 'produce msg/s': number; 'consume msg/s': number }> = []
const rate = (ms: number): number => Math.round(N / (ms / 1000))

function hasKcat(): boolean {
  try {
    execFileSync('kcat', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function inProcess(broker: Broker): Promise<void> {
  await broker.createTopic('inproc', { partitions: 1 })
  const producer = broker.producer({ acks: 'all' })
  const t0 = performance.now()
  for (let base = 0; base < N; base += PER_SEND * IN_FLIGHT) {
    const sends = []
    for (let s = base; s < Math.min(N, base + PER_SEND * IN_FLIGHT); s += PER_SEND) {
      sends.push(producer.send('inproc', Array.from({ length: Math.min(PER_SEND, N - s) }, (_, i) => ({ key: keyOf(s + i), value }))))
    }
    await Promise.all(sends)
  }
  const produceMs = performance.now() - t0
  await producer.close()
  const consumer = broker.consumer({ fromBeginning: true })
  consumer.assign([{ topic: 'inproc', partition: 0 }])
  const t1 = performance.now()
  let n = 0
  for await (const _ of consumer) if (++n === N) break
  const consumeMs = performance.now() - t1
  await consumer.close()
  rows.push({ client: 'in-process API', 'produce msg/s': rate(produceMs), 'consume msg/s': rate(consumeMs) })
}

async function kafkajs(port: number, broker: Broker): Promise<void> {
  await broker.createTopic('kafkajs', { partitions: 1 })
  const kafka = new Kafka({ clientId: 'bench', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING })
  const produceMs = await kafkajsProduce(kafka, 'kafkajs', N)
  const consumeMs = await kafkajsConsume(kafka, 'kafkajs', N)
  rows.push({ client: 'kafkajs over TCP, same process', 'produce msg/s': rate(produceMs), 'consume msg/s': rate(consumeMs) })
}

/** kafkajs in a child process: the listener alone on this process's event loop. */
async function kafkajsChild(port: number, broker: Broker): Promise<void> {
  await broker.createTopic('kafkajs-child', { partitions: 1 })
  const child = (mode: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', new URL('./lib/kafkajs-child.ts', import.meta.url).pathname, mode, String(port), 'kafkajs-child', String(N)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let out = ''
      p.stdout.on('data', (d: Buffer) => (out += d.toString()))
      p.on('error', reject)
      p.on('exit', (code) => (code === 0 ? resolve((JSON.parse(out) as { ms: number }).ms) : reject(new Error(`kafkajs child exited with ${code}`))))
    })
  const produceMs = await child('produce')
  const consumeMs = await child('consume')
  rows.push({ client: 'kafkajs over TCP, another process', 'produce msg/s': rate(produceMs), 'consume msg/s': rate(consumeMs) })
}

function run(cmd: string, args: string[], stdinFile?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(cmd, args, { stdio: [stdinFile ? 'pipe' : 'ignore', 'ignore', 'inherit'] })
    if (stdinFile) createReadStream(stdinFile).pipe(child.stdin!)
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${cmd} exited with ${code}`))))
  })
}

async function kcat(port: number, broker: Broker): Promise<void> {
  await broker.createTopic('kcat', { partitions: 1 })
  const file = join(dir, 'lines.txt')
  const lines: string[] = []
  for (let i = 0; i < N; i++) lines.push(`${keyOf(i)}\t${value.toString()}`)
  writeFileSync(file, lines.join('\n') + '\n')
  const b = `127.0.0.1:${port}`
  const produceMs = await run('kcat', ['-b', b, '-P', '-t', 'kcat', '-K', '\t', '-X', 'acks=all', '-X', 'linger.ms=5', '-X', 'batch.num.messages=10000', '-q'], file)
  const stored = broker.topic('kcat').partition(0).highWatermark
  if (stored !== N) throw new Error(`kcat stored ${stored} records, not ${N}`)
  const consumeMs = await run('kcat', ['-b', b, '-C', '-t', 'kcat', '-o', 'beginning', '-e', '-q', '-c', String(N), '-f', '%k%s\n'])
  rows.push({ client: 'kcat (librdkafka) over TCP', 'produce msg/s': rate(produceMs), 'consume msg/s': rate(consumeMs) })
}

try {
  const broker = await Broker.open({ dir: join(dir, 'data') })
  const server = await broker.listen({ port: 0 })
  await inProcess(broker)
  await kafkajs(server.port, broker)
  await kafkajsChild(server.port, broker)
  if (hasKcat()) await kcat(server.port, broker)
  else console.log('kcat is not installed: its row is left out (apt-get install kcat)')
  await broker.close()
  console.log(`${N} records, ${value.length}-byte values, 8-byte keys, one partition, acks all (fsync'd); the kafkajs consume includes its group join, the kcat times their process start`)
  console.table(rows)
  const base = rows[0]!
  for (const r of rows.slice(1)) {
    console.log(`${r.client}: produce ${(r['produce msg/s'] / base['produce msg/s']).toFixed(2)}× and consume ${(r['consume msg/s'] / base['consume msg/s']).toFixed(2)}× the in-process API`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
