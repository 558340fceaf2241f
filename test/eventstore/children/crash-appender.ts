// Child process for the event store crash loop (test/eventstore/crash.test.ts): opens the event
// store on the data dir the parent gives it and, until it is killed with SIGKILL, appends with exact
// expected revisions from several concurrent workers, each owning a few streams:
//   - appendToStream of 1–5 events to one of its streams,
//   - appendToStreams of 1–5 events each to two or three of its streams (one batch when they share a
//     partition, a transaction across partitions),
//   - now and then an append with a wrong expected revision, which must be refused,
// while (in some runs) the index checkpoints are written on a timer and a projection follows the
// store with subscribeToAll and saves its checkpoint in the checkpoint store every few events.
// Every event's data is { a: append id, n: events in the whole append, i: its index in the append,
// s: its stream }, so that the parent can tell a partial append; event ids are `<append id>.<i>`.
//
// It writes one JSON line to stdout per step, each only after the step resolved:
//   {"k":"opening"}                                   before EventStore.open
//   {"k":"ready","partitions":[...]}                   once open, with each stream's partition
//   {"k":"ack","a":id,"n":n,"parts":[{"s","from","to","ids","pos"}]}   an acknowledged append
//   {"k":"rejected","a":id,"s":stream}                  a wrong-expectation append that was refused
//   {"k":"saved","offsets":[...]}                       a projection checkpoint save that resolved
// argv: dir seed run partitions state, state = JSON { stream: last revision or null } as the parent
// verified it after the previous run; the child fails (exit 70) when the store disagrees on open.
import { EventStore, WrongExpectedVersionError, type EventData } from '../../../src/eventstore/index.js'
import { mulberry32 } from '../../fixtures/random.js'

const [dir, seedArg, runArg, partitionsArg, stateArg] = process.argv.slice(2)
const random = mulberry32(Number(seedArg))
const run = Number(runArg)
const pick = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))
const out = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`)
const fail = (err: unknown): never => {
  process.stderr.write(`crash-appender: ${(err as Error)?.stack ?? String(err)}\n`)
  process.exit(70)
}
const state = JSON.parse(stateArg!) as Record<string, number | null>
const streams = Object.keys(state)
const WORKERS = 4

out({ k: 'opening' })
const store = await EventStore.open({ dir }, { partitions: Number(partitionsArg) }).catch(fail)
for (const s of streams) {
  const rev = store.getStreamRevision(s)
  if (rev !== state[s]) fail(new Error(`reopened store: stream ${s} is at revision ${rev}, the parent verified ${state[s]}`))
}
out({ k: 'ready', partitions: streams.map((s) => store.partitionOf(s)) })

let appends = 0
function events(a: string, s: string, first: number, count: number, total: number): EventData[] {
  return Array.from({ length: count }, (_, j) => ({
    type: pick(0, 1) === 0 ? 'Deposited' : 'Withdrawn',
    id: `${a}.${first + j}`,
    data: { a, n: total, i: first + j, s, pad: 'x'.repeat(Math.floor(random() ** 3 * 800)) },
    metadata: { run },
  }))
}
const expectation = (s: string): number | 'no_stream' => state[s] ?? 'no_stream'

async function worker(w: number): Promise<never> {
  const own = streams.filter((_, i) => i % WORKERS === w)
  for (;;) {
    const a = `r${run}-w${w}-${appends++}`
    const roll = random()
    if (roll < 0.08) {
      // A wrong expectation: one revision ahead of the stream's end (or 'no_stream' when it has events).
      const s = own[pick(0, own.length - 1)]!
      const wrongRev = state[s] === null ? 5 : random() < 0.5 ? 'no_stream' : state[s]! + 1
      try {
        await store.appendToStream(s, events(a, s, 0, pick(1, 3), 3), { expectedRevision: wrongRev })
      } catch (err) {
        if (!(err instanceof WrongExpectedVersionError)) throw err
        out({ k: 'rejected', a, s })
        continue
      }
      throw new Error(`append ${a} to ${s} expecting ${wrongRev} (stream at ${state[s]}) was not refused`)
    } else if (roll < 0.68 || own.length < 2) {
      const s = own[pick(0, own.length - 1)]!
      const count = pick(1, 5)
      const list = events(a, s, 0, count, count)
      const r = await store.appendToStream(s, list, { expectedRevision: expectation(s) })
      const from = (state[s] ?? -1) + 1
      if (r.nextExpectedRevision !== from + count - 1) throw new Error(`append ${a} to ${s}: nextExpectedRevision ${r.nextExpectedRevision}, expected ${from + count - 1}`)
      state[s] = r.nextExpectedRevision
      out({ k: 'ack', a, n: count, parts: [{ s, from, to: r.nextExpectedRevision, ids: list.map((e) => e.id), pos: r.position }] })
    } else {
      const chosen = own.filter(() => random() < 0.75)
      if (chosen.length < 2) chosen.splice(0, chosen.length, ...own.slice(0, 2))
      const counts = chosen.map(() => pick(1, 5))
      const total = counts.reduce((x, y) => x + y, 0)
      let first = 0
      const batch = chosen.map((s, j) => {
        const list = events(a, s, first, counts[j]!, total)
        first += counts[j]!
        return { streamId: s, events: list, expectedRevision: expectation(s) }
      })
      const results = await store.appendToStreams(batch)
      const parts = chosen.map((s, j) => {
        const from = (state[s] ?? -1) + 1
        const r = results[j]!
        if (r.nextExpectedRevision !== from + counts[j]! - 1) throw new Error(`append ${a} to ${s}: nextExpectedRevision ${r.nextExpectedRevision}, expected ${from + counts[j]! - 1}`)
        state[s] = r.nextExpectedRevision
        return { s, from, to: r.nextExpectedRevision, ids: batch[j]!.events.map((e) => e.id), pos: r.position }
      })
      out({ k: 'ack', a, n: total, parts })
    }
  }
}

/** A projection: follows every event and saves its checkpoint every few events. */
async function projection(): Promise<void> {
  const sub = store.subscribeToAll({ fromPosition: store.checkpoints.load('crash-projection') ?? 'start' })
  const every = pick(5, 40)
  let seen = 0
  for await (const _ of sub) {
    if (++seen % every !== 0) continue
    const c = sub.checkpoint()
    await store.checkpoints.save('crash-projection', c)
    out({ k: 'saved', offsets: c.offsets })
  }
}

for (let w = 0; w < WORKERS; w++) worker(w).catch(fail)
if (random() < 0.7) projection().catch(fail)
if (random() < 0.5) {
  const ms = pick(5, 60)
  setInterval(() => {
    try {
      store.checkpointIndexes()
    } catch (err) {
      fail(err)
    }
  }, ms)
}
