// Side-by-side benchmark, one process, one run. Prints a table of figures and ratios against the
// targets and writes bench/results/latest.json.
//   1. produce and consume of 100-byte records in batches of 1000: kafkalite against a raw fs
//      append/read of the same encoded bytes (the physical ceiling here), SQLite (better-sqlite3)
//      and lmdb-js;
//   2. acks 'all': one awaiting producer against 100 producers with 10 sends in flight each;
//   3. end-to-end latency produce → eachMessage at a steady 10k msg/s;
//   4. reopen time of a 1 GB log after a clean close and after kill -9;
//   5. peak RSS of a process reading a 2 GB log from the beginning;
//   6. event-loop delay during 1 and 2.
// Each throughput is the best of a few rounds (machines are noisy); compare the ratios.
//   npm run bench              full sizes (about two minutes)
//   npm run bench -- --quick   small sizes, seconds (CI runs it so the bench never rots)
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
// The built package as users get it (npm run bench builds first).
import { Broker, checkBatch, decodeRecords, encodeRecordBatch, type RecordInput } from 'kafkalite'
import { SyncCounter, bestRate, fmt, percentile, row, withLoopDelay } from './lib/measure.js'

const LOG_OVERHEAD = 12
const quick = process.argv.includes('--quick')
const RECORDS = quick ? 100_000 : 1_000_000
const ROUNDS = quick ? 1 : 3
const BATCH = 1000
const KEYS = 1024
const VALUE_BYTES = 100
const REOPEN_BYTES = quick ? 64 * 2 ** 20 : 2 ** 30
const RSS_BYTES = quick ? 128 * 2 ** 20 : 2 * 2 ** 30
const LATENCY_SECONDS = quick ? 1 : 5

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kafkalite-bench-'))
const results: Record<string, number> = {}
const record = (key: string, value: number): number => (results[key] = Math.round(value * 1000) / 1000)

// The inputs repeat with a period of 13,312 records (1024 keys × 26 values): records are shared
// objects, so the inputs add few objects to the heap every system's garbage collector walks.
const PERIOD = 13_312
const shared = Array.from({ length: PERIOD }, (_, n) => ({ key: Buffer.from(`key-${n % KEYS}`), value: Buffer.alloc(VALUE_BYTES, 97 + (n % 26)) }))
const batches = Array.from({ length: RECORDS / BATCH }, (_, b) => Array.from({ length: BATCH }, (_, i) => shared[(b * BATCH + i) % PERIOD]!))
const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` }
console.log(`kafkalite bench${quick ? ' (quick)' : ''}: ${fmt(RECORDS)} records of ${VALUE_BYTES} bytes, batches of ${BATCH}, best of ${ROUNDS}`)
console.log(`machine: ${machine.cpus} × ${machine.cpu}, ${machine.memGiB} GiB, Node ${machine.node}, ${machine.platform}\n`)

async function rate(label: string, key: string, records: number, fn: (round: number) => void | Promise<void>, rounds = ROUNDS): Promise<number> {
  const { rate: r, ms } = await bestRate(records, rounds, fn)
  record(key, r)
  row(label, `${fmt(r)} rec/s`, `(${ms.toFixed(0)} ms)`)
  return r
}

// ------------------------------------------------------------------ 1. produce and consume
console.log('1. produce and consume')
const now = Date.now()
const encoded = batches.map((b) => encodeRecordBatch(b.map((m): RecordInput => ({ ...m, timestamp: now }))))
const rawFile = path.join(tmp, 'raw.log')
const fsAppend = await rate('fs append (pre-encoded bytes)', 'fsAppend', RECORDS, () => {
  fs.rmSync(rawFile, { force: true })
  const fd = fs.openSync(rawFile, 'a')
  let pos = 0
  for (const e of encoded) {
    fs.writeSync(fd, e, 0, e.length, pos)
    pos += e.length
  }
  fs.closeSync(fd)
})
const fsRead = await rate('fs read + CRC + decode', 'fsRead', RECORDS, () => {
  const fd = fs.openSync(rawFile, 'r')
  const buf = Buffer.allocUnsafe(1024 * 1024)
  let filePos = 0
  let count = 0
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, filePos)
    if (n === 0) break
    let p = 0
    while (p + LOG_OVERHEAD <= n) {
      const size = LOG_OVERHEAD + buf.readInt32BE(p + 8)
      if (p + size > n) break
      if (checkBatch(buf, p)) throw new Error('bad batch')
      count += decodeRecords(buf, p).length
      p += size
    }
    filePos += p
  }
  fs.closeSync(fd)
  if (count !== RECORDS) throw new Error(`read ${count}`)
})

const broker = await Broker.open({ dir: path.join(tmp, 'kafkalite') })
const producer = broker.producer({ acks: 'leader' })
for (let r = 0; r < ROUNDS; r++) await broker.createTopic(`bench-${r}`, { partitions: 1 })
const produceRun = await withLoopDelay(() =>
  rate("kafkalite produce (acks 'leader')", 'produce', RECORDS, async (round) => {
    for (const b of batches) await producer.send(`bench-${round}`, b)
  }),
)
const consumeRun = await withLoopDelay(() =>
  rate('kafkalite consume (for await)', 'consume', RECORDS, async () => {
    const consumer = broker.consumer({ fromBeginning: true })
    await consumer.subscribe(['bench-0'])
    let n = 0
    for await (const _ of consumer) if (++n === RECORDS) break
    await consumer.close()
  }),
)
await rate('kafkalite consume (eachBatch)', 'consumeBatch', RECORDS, async () => {
  const consumer = broker.consumer({ fromBeginning: true })
  await consumer.subscribe(['bench-0'])
  let n = 0
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: ({ messages }) => {
        n += messages.length
        if (n === RECORDS) resolve()
      },
    })
  })
  await consumer.close()
})

const { default: Database } = await import('better-sqlite3')
const sqliteProduce = await rate('SQLite insert (WAL, txn per batch)', 'sqliteProduce', RECORDS, (round) => {
  const db = new Database(path.join(tmp, `bench-${round}.db`))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec('CREATE TABLE records (id INTEGER PRIMARY KEY, key BLOB, value BLOB, ts INTEGER)')
  const insert = db.prepare('INSERT INTO records (key, value, ts) VALUES (?, ?, ?)')
  const insertBatch = db.transaction((b: Array<{ key: Buffer; value: Buffer }>) => {
    for (const m of b) insert.run(m.key, m.value, now)
  })
  for (const b of batches) insertBatch(b)
  db.close()
})
await rate('SQLite select (rowid order, pages of 1000)', 'sqliteConsume', RECORDS, () => {
  const db = new Database(path.join(tmp, 'bench-0.db'), { readonly: true })
  const page = db.prepare('SELECT id, key, value, ts FROM records WHERE id > ? ORDER BY id LIMIT 1000')
  let last = 0
  let n = 0
  for (;;) {
    const rows = page.all(last) as Array<{ id: number }>
    if (rows.length === 0) break
    n += rows.length
    last = rows[rows.length - 1]!.id
  }
  db.close()
  if (n !== RECORDS) throw new Error(`SQLite read ${n} rows`)
})

const { open: openLmdb } = await import('lmdb')
const lmdbProduce = await rate('lmdb-js put (txn per batch)', 'lmdbProduce', RECORDS, async (round) => {
  const db = openLmdb({ path: path.join(tmp, `lmdb-${round}`), encoding: 'binary', keyEncoding: 'uint32' })
  let id = 0
  for (const b of batches) {
    await db.transaction(() => {
      for (const m of b) db.put(++id, Buffer.concat([m.key, m.value]))
    })
  }
  await db.close()
})
const lmdbConsume = await rate('lmdb-js range scan', 'lmdbConsume', RECORDS, async () => {
  const db = openLmdb({ path: path.join(tmp, 'lmdb-0'), encoding: 'binary', keyEncoding: 'uint32' })
  let n = 0
  for (const { value } of db.getRange({ start: 1 })) if ((value as Buffer).length > 0) n++
  await db.close()
  if (n !== RECORDS) throw new Error(`lmdb read ${n} entries`)
})

// ------------------------------------------------------------------ 2. acks 'all' group commit
console.log("\n2. acks 'all': group commit")
await broker.createTopic('bench-gc', { partitions: 1 })
const value = Buffer.alloc(VALUE_BYTES, 1)
const syncs = new SyncCounter()
async function fsyncRate(label: string, key: string, records: number, fn: () => Promise<void>): Promise<number> {
  syncs.count = 0
  syncs.enable()
  const t0 = performance.now()
  try {
    await fn()
  } finally {
    syncs.disable()
  }
  const s = (performance.now() - t0) / 1000
  record(key, records / s)
  record(`${key}FsyncsPerSec`, syncs.count / s)
  row(label, `${fmt(records / s)} rec/s`, `${fmt(syncs.count / s)} fsyncs/s, ${(records / syncs.count).toFixed(1)} records per fsync`)
  return records / s
}
const one = broker.producer({ acks: 'all' })
const SINGLE = quick ? 300 : 2000
const singleRate = await fsyncRate('1 producer, each send awaited', 'single', SINGLE, async () => {
  for (let i = 0; i < SINGLE; i++) await one.send('bench-gc', { value })
})
const many = Array.from({ length: 100 }, () => broker.producer({ acks: 'all' }))
const PER_PRODUCER = quick ? 30 : 300
const concurrentSends = (perProducer: number) => async (): Promise<void> => {
  await Promise.all(
    many.map(async (p) => {
      const lanes = Array.from({ length: 10 }, async (_, lane) => {
        for (let i = lane; i < perProducer; i += 10) await p.send('bench-gc', { value })
      })
      await Promise.all(lanes)
    }),
  )
}
// A warm-up round first: the producers get their ids and the code its optimizations.
await concurrentSends(20)()
const groupRun = await withLoopDelay(() => fsyncRate('100 producers × 10 sends in flight', 'groupCommit', many.length * PER_PRODUCER, concurrentSends(PER_PRODUCER)))
const groupRate = groupRun.result

// ------------------------------------------------------------------ 3. end-to-end latency
console.log('\n3. end-to-end latency, produce → eachMessage at 10k msg/s')
await broker.createTopic('bench-latency', { partitions: 1 })
const latencies: number[] = []
{
  const consumer = broker.consumer({ fromBeginning: false })
  await consumer.subscribe('bench-latency')
  await consumer.run({
    eachMessage: (m) => {
      latencies.push(performance.now() - (m.value as Buffer).readDoubleLE(0))
    },
  })
  const p = broker.producer({ acks: 'leader', lingerMs: 0 })
  const total = 10_000 * LATENCY_SECONDS
  const t0 = performance.now()
  let sent = 0
  // Paced on the event loop: each turn sends what the schedule (one every 100 µs) says is due.
  await new Promise<void>((resolve, reject) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor((performance.now() - t0) / 0.1))
      const sends: Promise<unknown>[] = []
      for (; sent < due; sent++) {
        const v = Buffer.alloc(VALUE_BYTES)
        v.writeDoubleLE(performance.now(), 0)
        sends.push(p.send('bench-latency', { value: v }))
      }
      Promise.all(sends).then(() => (sent < total ? setImmediate(tick) : resolve()), reject)
    }
    setImmediate(tick)
  })
  const deadline = Date.now() + 10_000
  while (latencies.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
  await consumer.close()
  latencies.sort((a, b) => a - b)
  const [p50, p99, p999] = [50, 99, 99.9].map((q) => percentile(latencies, q))
  record('latencyP50Ms', p50!)
  record('latencyP99Ms', p99!)
  record('latencyP999Ms', p999!)
  row(`${fmt(latencies.length)} messages`, `p50 ${p50!.toFixed(3)} ms`, `p99 ${p99!.toFixed(3)} ms, p99.9 ${p999!.toFixed(3)} ms`)
}
await broker.close()

// ------------------------------------------------------------------ 4. reopen time
console.log(`\n4. reopen of a ${fmt(REOPEN_BYTES / 2 ** 20)} MiB log`)
const bigDir = path.join(tmp, 'big')
async function fill(bytes: number): Promise<void> {
  const b = await Broker.open({ dir: bigDir })
  if (!b.hasTopic('big')) await b.createTopic('big', { partitions: 1 })
  const p = b.producer({ acks: 'leader', idempotent: false })
  const part = b.topic('big').partition(0)
  const recordBytes = encoded[0]!.length / BATCH
  while (part.highWatermark * recordBytes < bytes) await p.send('big', batches[part.highWatermark / BATCH % batches.length]!)
  await b.close()
}
async function reopenMs(): Promise<number> {
  const t0 = performance.now()
  const b = await Broker.open({ dir: bigDir })
  const ms = performance.now() - t0
  await b.close()
  return ms
}
await fill(REOPEN_BYTES)
await reopenMs() // the first open after the fill writes nothing new; time the next ones
const clean = Math.min(await reopenMs(), await reopenMs(), await reopenMs())
record('reopenCleanMs', clean)
row('after a clean close', `${clean.toFixed(1)} ms`)
const killed = await killedWriter(bigDir)
const unclean = await reopenMs()
record('reopenKilledMs', unclean)
row('after kill -9 of a writing process', `${unclean.toFixed(1)} ms`, `(killed after ${fmt(killed)} ms of appends)`)

/** Starts a writer child on `dir`, waits until appends flow, kill -9s it; returns how long it wrote. */
function killedWriter(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'lib', 'writer-child.ts'), dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    let t0 = 0
    child.stdout.on('data', (d: Buffer) => {
      if (!d.toString().includes('ready') || t0) return
      t0 = performance.now()
      setTimeout(() => child.kill('SIGKILL'), 300)
    })
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(performance.now() - t0) : reject(new Error(`writer exited with ${code ?? signal}`))))
  })
}

// ------------------------------------------------------------------ 5. memory while reading
console.log(`\n5. peak RSS of a process reading a ${fmt(RSS_BYTES / 2 ** 20)} MiB log from the beginning`)
await fill(RSS_BYTES)
const rss = await new Promise<{ records: number; bytes: number; ms: number; peakRss: number; maxRss: number }>((resolve, reject) => {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'lib', 'rss-child.ts'), bigDir], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`reader exited with ${code}`))))
})
record('readRssMiB', rss.maxRss / 2 ** 20)
row(`${fmt(rss.records)} records read`, `${fmt(rss.maxRss / 2 ** 20)} MiB RSS`, `(${fmt(rss.records / rss.ms * 1000)} rec/s)`)

// ------------------------------------------------------------------ 6. event-loop delay
console.log('\n6. event-loop delay p99 (max)')
record('loopDelayProduceP99Ms', produceRun.p99Ms)
record('loopDelayConsumeP99Ms', consumeRun.p99Ms)
record('loopDelayGroupCommitP99Ms', groupRun.p99Ms)
row("during produce (acks 'leader')", `${produceRun.p99Ms.toFixed(1)} ms`, `(max ${produceRun.maxMs.toFixed(1)} ms)`)
row('during consume (for await)', `${consumeRun.p99Ms.toFixed(1)} ms`, `(max ${consumeRun.maxMs.toFixed(1)} ms)`)
row("during acks 'all' group commit", `${groupRun.p99Ms.toFixed(1)} ms`, `(max ${groupRun.maxMs.toFixed(1)} ms)`)
fs.rmSync(tmp, { recursive: true, force: true })

// ------------------------------------------------------------------ targets
const p = results
const targets: Array<{ name: string; value: number; unit: string; target: number; atLeast: boolean }> = [
  { name: 'produce / fs append', value: p.produce! / fsAppend, unit: '×', target: 0.75, atLeast: true },
  { name: 'produce / SQLite', value: p.produce! / sqliteProduce, unit: '×', target: 1.5, atLeast: true },
  { name: 'produce / lmdb-js', value: p.produce! / lmdbProduce, unit: '×', target: 1.5, atLeast: true },
  { name: 'consume / fs read+decode', value: p.consume! / fsRead, unit: '×', target: 0.75, atLeast: true },
  { name: 'consume / lmdb-js', value: p.consume! / lmdbConsume, unit: '×', target: 3, atLeast: true },
  { name: "acks 'all' 100 producers / 1", value: groupRate / singleRate, unit: '×', target: 50, atLeast: true },
  { name: 'p99 produce → eachMessage', value: p.latencyP99Ms!, unit: ' ms', target: 1, atLeast: false },
  { name: `reopen ${fmt(REOPEN_BYTES / 2 ** 20)} MiB after clean close`, value: clean, unit: ' ms', target: 100, atLeast: false },
  { name: `RSS reading ${fmt(RSS_BYTES / 2 ** 20)} MiB`, value: p.readRssMiB!, unit: ' MiB', target: 200, atLeast: false },
  { name: 'event-loop delay p99', value: Math.max(produceRun.p99Ms, consumeRun.p99Ms, groupRun.p99Ms), unit: ' ms', target: 20, atLeast: false },
]
console.log('\ntargets')
for (const t of targets) {
  const met = t.atLeast ? t.value >= t.target : t.value < t.target
  row(t.name, `${t.value.toFixed(2)}${t.unit}`, `${met ? 'met' : 'MISSED'} (target ${t.atLeast ? '≥' : '<'} ${t.target}${t.unit})`)
}
fs.mkdirSync(path.join(import.meta.dirname, 'results'), { recursive: true })
fs.writeFileSync(
  path.join(import.meta.dirname, 'results', 'latest.json'),
  JSON.stringify(
    {
      date: new Date().toISOString(), quick, machine, records: RECORDS, batch: BATCH, valueBytes: VALUE_BYTES, rounds: ROUNDS, results,
      targets: targets.map((t) => ({ ...t, value: Math.round(t.value * 1000) / 1000, met: t.atLeast ? t.value >= t.target : t.value < t.target })),
    },
    null,
    2,
  ) + '\n',
)
