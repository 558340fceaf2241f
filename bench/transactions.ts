// Transactional throughput next to plain acks 'all': one producer sending 100-record sends of
// 100-byte values, each awaited, against the same in transactions of 100 records (one send, then
// commit: Prepare, marker and Complete, each fsync'd). On a data dir in the OS temp dir.
// npm run bench:transactions [-- --quick]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Broker } from 'kafkalite'

const quick = process.argv.includes('--quick')
const BATCHES = quick ? 50 : 500
const PER_BATCH = 100
const value = Buffer.alloc(100, 7)
const dir = mkdtempSync(join(tmpdir(), 'kafkalite-bench-tx-'))
try {
  const broker = await Broker.open({ dir })
  await broker.createTopic('plain', { partitions: 1 })
  await broker.createTopic('tx', { partitions: 1 })
  const records = Array.from({ length: PER_BATCH }, (_, i) => ({ key: `k${i}`, value }))

  const plain = broker.producer({ acks: 'all' })
  let t0 = performance.now()
  for (let i = 0; i < BATCHES; i++) await plain.send('plain', records)
  const plainMs = performance.now() - t0

  const producer = broker.producer({ transactionalId: 'bench' })
  t0 = performance.now()
  for (let i = 0; i < BATCHES; i++) {
    const tx = await producer.transaction()
    await tx.send('tx', records)
    await tx.commit()
  }
  const txMs = performance.now() - t0
  await broker.close()

  const rate = (ms: number) => Math.round((BATCHES * PER_BATCH) / (ms / 1000))
  console.log(`${BATCHES} × ${PER_BATCH} records of ${value.length} bytes, one producer, each awaited`)
  console.table([
    { mode: "acks 'all', sends of 100", 'records/s': rate(plainMs), 'sends or transactions/s': Math.round(BATCHES / (plainMs / 1000)) },
    { mode: 'transactions of 100', 'records/s': rate(txMs), 'sends or transactions/s': Math.round(BATCHES / (txMs / 1000)) },
  ])
  console.log(`transactions: ${(rate(txMs) / rate(plainMs)).toFixed(2)}× the records/s of plain acks 'all'`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
