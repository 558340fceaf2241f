// Side-by-side benchmark, one process, one run: kafkalite against a raw fs append/read of the same
// encoded bytes (the physical ceiling on this machine), SQLite (better-sqlite3) and lmdb-js. Prints
// ratios; writes bench/results/latest.json.
//   npm run bench              1M records of 100 bytes, batches of 1000
//   npm run bench -- --quick   100k records (seconds; used by CI so the bench never rots)
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
// The built package as users get it (npm run bench builds first).
import { Broker, checkBatch, decodeRecords, encodeRecordBatch, type RecordInput } from 'kafkalite'

const LOG_OVERHEAD = 12

const quick = process.argv.includes('--quick')
const RECORDS = quick ? 100_000 : 1_000_000
const BATCH = 1000
const KEYS = 1024
const VALUE_BYTES = 100

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kafkalite-bench-'))
const results: Record<string, number> = {}

function makeBatch(b: number): Array<{ key: Buffer; value: Buffer }> {
  const out = []
  for (let i = 0; i < BATCH; i++) {
    const n = b * BATCH + i
    const value = Buffer.from(String.fromCharCode(97 + (n % 26)).repeat(VALUE_BYTES))
    out.push({ key: Buffer.from(`key-${n % KEYS}`), value })
  }
  return out
}

const batches = Array.from({ length: RECORDS / BATCH }, (_, b) => makeBatch(b))

function time(label: string, records: number, fn: () => void | Promise<void>): Promise<number> {
  return (async () => {
    const t0 = process.hrtime.bigint()
    await fn()
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    const rate = (records / ms) * 1000
    results[label] = Math.round(rate)
    console.log(`${label.padEnd(34)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} rec/s  (${ms.toFixed(0)} ms)`)
    return rate
  })()
}

// --- raw fs append of the same encoded bytes -------------------------------------------------
const now = Date.now()
const encoded = batches.map((b) => encodeRecordBatch(b.map((m): RecordInput => ({ ...m, timestamp: now }))))
const rawFile = path.join(tmp, 'raw.log')
const fsAppend = await time('fs append (pre-encoded)', RECORDS, () => {
  const fd = fs.openSync(rawFile, 'a')
  let pos = 0
  for (const e of encoded) {
    fs.writeSync(fd, e, 0, e.length, pos)
    pos += e.length
  }
  fs.closeSync(fd)
})
const fsRead = await time('fs read + CRC + decode', RECORDS, () => {
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

// --- kafkalite ----------------------------------------------------------------------------------
const broker = await Broker.open({ dir: path.join(tmp, 'kafkalite') })
await broker.createTopic('bench', { partitions: 1 })
const producer = broker.producer({ acks: 'leader' })
const produce = await time("kafkalite produce (acks 'leader')", RECORDS, async () => {
  for (const b of batches) await producer.send('bench', b)
})
const consumer = broker.consumer({ fromBeginning: true })
await consumer.subscribe(['bench'])
const consume = await time('kafkalite consume (for await)', RECORDS, async () => {
  let n = 0
  for await (const _ of consumer) if (++n === RECORDS) break
})
await consumer.close()

await broker.createTopic('bench-all', { partitions: 1 })
const durable = broker.producer({ acks: 'all' })
const produceAll = await time("kafkalite produce (acks 'all')", RECORDS, async () => {
  for (const b of batches) await durable.send('bench-all', b)
})
// Group commit: one producer awaiting each single-record send, against 100 producers each keeping
// 10 single-record sends in flight (their fsyncs are shared).
await broker.createTopic('bench-gc', { partitions: 1 })
const value = Buffer.alloc(VALUE_BYTES, 1)
const one = broker.producer({ acks: 'all' })
const SINGLE = quick ? 300 : 2000
const singleRate = await time("acks 'all': 1 producer, each awaited", SINGLE, async () => {
  for (let i = 0; i < SINGLE; i++) await one.send('bench-gc', { value })
})
const many = Array.from({ length: 100 }, () => broker.producer({ acks: 'all' }))
const PER_PRODUCER = quick ? 30 : 200
const groupRate = await time("acks 'all': 100 producers × 10 in flight", many.length * PER_PRODUCER, async () => {
  await Promise.all(
    many.map(async (p) => {
      const lanes = Array.from({ length: 10 }, async (_, lane) => {
        for (let i = lane; i < PER_PRODUCER; i += 10) await p.send('bench-gc', { value })
      })
      await Promise.all(lanes)
    }),
  )
})
await broker.close()
fs.rmSync(tmp, { recursive: true, force: true })

// --- SQLite (better-sqlite3: WAL, synchronous=NORMAL, one transaction per batch) ------------------
const { default: Database } = await import('better-sqlite3')
const sqliteDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafkalite-bench-sqlite-'))
const db = new Database(path.join(sqliteDir, 'bench.db'))
db.pragma('journal_mode = WAL')
db.pragma('synchronous = NORMAL')
db.exec('CREATE TABLE records (id INTEGER PRIMARY KEY, key BLOB, value BLOB, ts INTEGER)')
const insert = db.prepare('INSERT INTO records (key, value, ts) VALUES (?, ?, ?)')
const insertBatch = db.transaction((b: Array<{ key: Buffer; value: Buffer }>) => {
  for (const m of b) insert.run(m.key, m.value, now)
})
const sqliteProduce = await time('SQLite insert (txn per batch)', RECORDS, () => {
  for (const b of batches) insertBatch(b)
})
const page = db.prepare('SELECT id, key, value, ts FROM records WHERE id > ? ORDER BY id LIMIT 1000')
const sqliteConsume = await time('SQLite select (pages of 1000)', RECORDS, () => {
  let last = 0
  let n = 0
  for (;;) {
    const rows = page.all(last) as Array<{ id: number }>
    if (rows.length === 0) break
    n += rows.length
    last = rows[rows.length - 1]!.id
  }
  if (n !== RECORDS) throw new Error(`SQLite read ${n} rows`)
})
db.close()

// --- lmdb-js (one write transaction per batch, range scan) -----------------------------------------
const { open: openLmdb } = await import('lmdb')
const lmdb = openLmdb({ path: path.join(sqliteDir, 'lmdb'), encoding: 'binary', keyEncoding: 'uint32' })
const lmdbProduce = await time('lmdb-js put (txn per batch)', RECORDS, async () => {
  let id = 0
  for (const b of batches) {
    await lmdb.transaction(() => {
      for (const m of b) lmdb.put(++id, Buffer.concat([m.key, m.value]))
    })
  }
})
const lmdbConsume = await time('lmdb-js range scan', RECORDS, () => {
  let n = 0
  for (const { value } of lmdb.getRange({ start: 1 })) if ((value as Buffer).length > 0) n++
  if (n !== RECORDS) throw new Error(`lmdb read ${n} entries`)
})
await lmdb.close()
fs.rmSync(sqliteDir, { recursive: true, force: true })

const ratios = {
  'produce / fs append': produce / fsAppend,
  'produce / SQLite': produce / sqliteProduce,
  'produce / lmdb-js': produce / lmdbProduce,
  'consume / fs read+decode': consume / fsRead,
  'consume / SQLite': consume / sqliteConsume,
  'consume / lmdb-js': consume / lmdbConsume,
  "produce acks 'all' / fs append": produceAll / fsAppend,
  "acks 'all' 100 producers / 1 producer": groupRate / singleRate,
}
console.log('')
for (const [k, v] of Object.entries(ratios)) console.log(`${k.padEnd(34)} ${v.toFixed(2)}×`)
fs.mkdirSync(path.join(import.meta.dirname, 'results'), { recursive: true })
fs.writeFileSync(
  path.join(import.meta.dirname, 'results', 'latest.json'),
  JSON.stringify({ date: new Date().toISOString(), quick, records: RECORDS, batch: BATCH, valueBytes: VALUE_BYTES, results, ratios }, null, 2) + '\n',
)
