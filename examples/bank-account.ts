// Event sourcing with kafkalite/eventstore: bank accounts as event streams, a command handler with a
// business rule (no overdraft), concurrent withdrawals where exactly one wins, and a read model of
// balances that survives a restart (its state and checkpoint are saved together).
// Run: `npx tsx examples/bank-account.ts` (twice: the balances and the projection carry on).
import { readFileSync, renameSync, writeFileSync, existsSync, mkdirSync } from 'node:fs'
import * as path from 'node:path'
import { CommandHandler, EventStore, jsonEvent, type Checkpoint, type RecordedEvent } from '../src/eventstore/index.js'

const dir = process.env.KAFKALITE_DIR ?? './kafkalite-data/bank'

type Account = { opened: boolean; balance: number }
const evolve = (s: Account, e: RecordedEvent): Account => {
  const amount = (e.data as { amount?: number }).amount ?? 0
  if (e.type === 'AccountOpened') return { opened: true, balance: 0 }
  if (e.type === 'Deposited') return { ...s, balance: s.balance + amount }
  if (e.type === 'Withdrawn') return { ...s, balance: s.balance - amount }
  return s
}
const handle = CommandHandler<Account>({ evolve, initialState: () => ({ opened: false, balance: 0 }) })

const open = (store: EventStore, id: string) =>
  handle(store, id, (s) => {
    if (s.opened) throw new Error(`${id} is already open`)
    return jsonEvent({ type: 'AccountOpened', data: { id } })
  })
const deposit = (store: EventStore, id: string, amount: number) => handle(store, id, () => jsonEvent({ type: 'Deposited', data: { amount } }))
const withdraw = (store: EventStore, id: string, amount: number) =>
  handle(store, id, (s) => {
    if (!s.opened) throw new Error(`${id} is not open`)
    if (s.balance < amount) throw new Error(`insufficient funds: ${id} has ${s.balance}, asked ${amount}`)
    return jsonEvent({ type: 'Withdrawn', data: { amount } })
  })

// The read model: balances of every account, saved with the checkpoint it is up to date with.
const modelFile = path.join(dir, 'balances.json')
type Model = { checkpoint: Checkpoint | null; balances: Record<string, number> }
const loadModel = (): Model => (existsSync(modelFile) ? JSON.parse(readFileSync(modelFile, 'utf8')) : { checkpoint: null, balances: {} })
function saveModel(m: Model): void {
  writeFileSync(`${modelFile}.tmp`, JSON.stringify(m))
  renameSync(`${modelFile}.tmp`, modelFile)
}

mkdirSync(dir, { recursive: true })
const store = await EventStore.open({ dir })
const id = `account-${Date.now().toString(36)}`
await open(store, id)
await deposit(store, id, 100)
const attempts = await Promise.allSettled([60, 60, 60, 60, 60].map((amount) => withdraw(store, id, amount)))
const won = attempts.filter((a) => a.status === 'fulfilled').length
console.log(`${id}: 5 concurrent withdrawals of 60 from 100 → ${won} succeeded, ${5 - won} refused (${(attempts.find((a) => a.status === 'rejected') as PromiseRejectedResult)?.reason?.message})`)
for await (const e of store.readStream(id)) console.log(`  #${e.revision} ${e.type} ${JSON.stringify(e.data)}`)

// Catch the projection up from where it stopped (the previous run, or the beginning).
const model = loadModel()
const sub = store.subscribeToAll({ fromPosition: model.checkpoint ?? 'start', filter: { streamPrefix: 'account-' } })
let applied = 0
const caughtUp = new Promise<void>((resolve) => sub.once('caughtUp', () => resolve()))
const projecting = (async () => {
  for await (const e of sub) {
    model.balances[e.streamId] = evolve({ opened: true, balance: model.balances[e.streamId] ?? 0 }, e).balance
    model.checkpoint = sub.checkpoint()
    applied++
    saveModel(model)
  }
})()
await caughtUp
sub.unsubscribe()
await projecting
console.log(`projection: applied ${applied} new events; ${Object.keys(model.balances).length} accounts, total ${Object.values(model.balances).reduce((a, b) => a + b, 0)}`)
await store.close()
