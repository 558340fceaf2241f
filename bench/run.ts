// Side-by-side benchmark, one process, one run: kafkalite against a raw fs append/read of the same
// encoded bytes (the physical ceiling on this machine). Prints ratios; writes bench/results/latest.json.
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
await broker.close()
fs.rmSync(tmp, { recursive: true, force: true })

const ratios = {
  'produce / fs append': produce / fsAppend,
  'consume / fs read+decode': consume / fsRead,
  "produce acks 'all' / fs append": produceAll / fsAppend,
}
console.log('')
for (const [k, v] of Object.entries(ratios)) console.log(`${k.padEnd(34)} ${v.toFixed(2)}×`)
fs.mkdirSync(path.join(import.meta.dirname, 'results'), { recursive: true })
fs.writeFileSync(
  path.join(import.meta.dirname, 'results', 'latest.json'),
  JSON.stringify({ date: new Date().toISOString(), quick, records: RECORDS, batch: BATCH, valueBytes: VALUE_BYTES, results, ratios }, null, 2) + '\n',
)
