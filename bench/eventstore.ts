// The event store's figures: appends/s with expectedRevision checks (one stream, appends one after
// another; 10k streams, each a chain of appends, all chains at once), and reading one 100-event
// stream from a store holding 1M events, through the stream index and by a full scan.
//   npm run bench:eventstore            1M events
//   npm run bench:eventstore -- --quick 100k events
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { EventStore } from 'kafkalite/eventstore'

const quick = process.argv.includes('--quick')
const TOTAL = quick ? 100_000 : 1_000_000
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafkalite-eventstore-'))
const store = await EventStore.open({ dir })
const rate = (n: number, ms: number): string => Math.round((n / ms) * 1000).toLocaleString('en-US')

// One stream, each append expecting the revision the previous one returned (fsync'd each time).
let t0 = performance.now()
const SINGLE = quick ? 300 : 2000
let rev: number | 'no_stream' = 'no_stream'
for (let i = 0; i < SINGLE; i++) rev = (await store.appendToStream('single', { type: 'Counted', data: { i } }, { expectedRevision: rev })).nextExpectedRevision
console.log(`one stream, ${SINGLE} appends one after another with expectedRevision: ${rate(SINGLE, performance.now() - t0)} appends/s`)

// 10k streams, each a chain of appends expecting its previous revision; all chains run at once.
const STREAMS = 10_000
const PER_STREAM = quick ? 2 : 5
t0 = performance.now()
await Promise.all(
  Array.from({ length: STREAMS }, async (_, s) => {
    let r: number | 'no_stream' = 'no_stream'
    for (let i = 0; i < PER_STREAM; i++) r = (await store.appendToStream(`account-${s}`, { type: 'Deposited', data: { amount: i } }, { expectedRevision: r })).nextExpectedRevision
  }),
)
console.log(`${STREAMS} streams × ${PER_STREAM} appends with expectedRevision, all at once: ${rate(STREAMS * PER_STREAM, performance.now() - t0)} appends/s`)

// Fill to TOTAL events; the stream 'target' gets 100 of them, spread over the whole log.
const have = SINGLE + STREAMS * PER_STREAM
const fill = TOTAL - have - 100
const every = Math.floor(fill / 100)
t0 = performance.now()
let targetRev: number | 'no_stream' = 'no_stream'
for (let i = 0; i < fill; i += 5000) {
  const chunk = Array.from({ length: Math.min(5000, fill - i) }, (_, j) => store.appendToStream(`bulk-${(i + j) % 50_000}`, { type: 'Filled', data: { n: i + j } }))
  await Promise.all(chunk)
  if ((targetRev === 'no_stream' || targetRev < 99) && (Math.floor((i + 5000) / every) > Math.floor(i / every) || i === 0)) {
    targetRev = (await store.appendToStream('target', { type: 'Target', data: { at: i } }, { expectedRevision: targetRev })).nextExpectedRevision
  }
}
while (targetRev === 'no_stream' || targetRev < 99) targetRev = (await store.appendToStream('target', { type: 'Target', data: {} }, { expectedRevision: targetRev })).nextExpectedRevision
console.log(`filled ${fill.toLocaleString('en-US')} events in ${((performance.now() - t0) / 1000).toFixed(1)} s (${rate(fill, performance.now() - t0)} appends/s, 5000 at once, 'any')`)

let n = 0
t0 = performance.now()
for await (const e of store.readStream('target')) if (e.streamId === 'target') n++
const indexed = performance.now() - t0
let m = 0
t0 = performance.now()
for await (const e of store.readAll()) if (e.streamId === 'target') m++
const scanned = performance.now() - t0
console.log(`read the ${n}-event stream 'target' from ${TOTAL.toLocaleString('en-US')} events: ${indexed.toFixed(2)} ms through the stream index, ${scanned.toFixed(0)} ms by a full scan (${m} found): ${(scanned / indexed).toFixed(0)}× faster`)

t0 = performance.now()
await store.close()
const closed = performance.now() - t0
t0 = performance.now()
const again = await EventStore.open({ dir })
console.log(`close (index checkpoint written) ${closed.toFixed(0)} ms, reopen ${(performance.now() - t0).toFixed(0)} ms`)
await again.close()
fs.rmSync(dir, { recursive: true, force: true })
