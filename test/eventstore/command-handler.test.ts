// CommandHandler and aggregateStream: load (fold the stream with evolve from initialState), decide,
// append expecting the loaded revision, and on WrongExpectedVersionError load and decide again up to
// `retries` times. A bank account: concurrent withdrawals where exactly one wins and the others fail
// with the business rule's error; aggregateStream's state and revision (null for a missing or
// soft-deleted stream); decide returning [] writes nothing; conflicts past `retries` reject with
// WrongExpectedVersionError; a rule's error is not retried. A conflict is reported only once the append
// it lost to is readable, so that the retry's reload sees it (one retry is enough for one conflict).
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { Broker } from '../../src/index.js'
import {
  CommandHandler,
  EventStore,
  StreamDeletedError,
  WrongExpectedVersionError,
  jsonEvent,
  type EventData,
  type RecordedEvent,
} from '../../src/eventstore/index.js'
import { test } from '../fixtures/helpers.js'

async function memStore(t: Pick<TestContext, 'after'>): Promise<EventStore> {
  const broker = await Broker.open()
  const store = await EventStore.open({ broker }).catch(async (err: unknown) => {
    await broker.close()
    throw err
  })
  t.after(async () => {
    await store.close()
    await broker.close()
  })
  return store
}

type Account = { opened: boolean; balance: number; history: string[] }
const initialState = (): Account => ({ opened: false, balance: 0, history: [] })
function evolve(s: Account, e: RecordedEvent): Account {
  const amount = (e.data as { amount?: number }).amount ?? 0
  const history = [...s.history, `${e.revision}:${e.type}`]
  if (e.type === 'AccountOpened') return { opened: true, balance: 0, history }
  if (e.type === 'Deposited') return { ...s, balance: s.balance + amount, history }
  if (e.type === 'Withdrawn') return { ...s, balance: s.balance - amount, history }
  return { ...s, history }
}

class InsufficientFundsError extends Error {
  constructor(
    readonly balance: number,
    readonly amount: number,
  ) {
    super(`insufficient funds: balance ${balance}, asked ${amount}`)
  }
}
class AccountAlreadyOpenError extends Error {}

const openAccount = (s: Account): EventData => {
  if (s.opened) throw new AccountAlreadyOpenError('the account is already open')
  return jsonEvent({ type: 'AccountOpened', data: {} })
}
const deposit = (amount: number) => (): EventData => jsonEvent({ type: 'Deposited', data: { amount } })
const withdraw = (amount: number) => (s: Account): EventData => {
  if (s.balance < amount) throw new InsufficientFundsError(s.balance, amount)
  return jsonEvent({ type: 'Withdrawn', data: { amount } })
}

async function streamTypes(store: EventStore, id: string): Promise<string[]> {
  const out: string[] = []
  for await (const e of store.readStream(id)) out.push(`${e.revision}:${e.type}`)
  return out
}

async function countAll(store: EventStore): Promise<number> {
  let n = 0
  for await (const _ of store.readAll()) n++
  return n
}

test('bank account: 10 concurrent withdrawals of 80 from 100 → exactly one succeeds, the others fail with the business rule', async (t) => {
  const store = await memStore(t)
  const handle = CommandHandler<Account>({ evolve, initialState })
  await handle(store, 'account-1', openAccount)
  const dep = await handle(store, 'account-1', deposit(100))
  assert.equal(dep.newState.balance, 100, 'deposited 100')
  assert.equal(dep.nextExpectedRevision, 1, 'two events: revision 1')

  let decisions = 0
  const results = await Promise.allSettled(
    Array.from({ length: 10 }, () =>
      handle(store, 'account-1', (s) => {
        decisions++
        return withdraw(80)(s)
      }),
    ),
  )
  const won = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof handle>>> => r.status === 'fulfilled')
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  assert.equal(won.length, 1, `exactly one withdrawal succeeds (${won.length})`)
  assert.equal(lost.length, 9, 'nine fail')
  for (const l of lost) {
    assert.ok(l.reason instanceof InsufficientFundsError, `a losing withdrawal fails with the business rule's error, not a conflict (got ${(l.reason as Error)?.name}: ${(l.reason as Error)?.message})`)
    assert.equal((l.reason as InsufficientFundsError).balance, 20, 'decided again on the balance after the winning withdrawal')
  }
  assert.ok(decisions >= 19, `every loser decided again after its conflict (${decisions} decisions)`)

  const w = won[0]!.value
  assert.equal(w.newState.balance, 20, "the winner's newState is the balance after its withdrawal")
  assert.equal(w.nextExpectedRevision, 2, 'the withdrawal is revision 2')
  assert.equal(w.events.length, 1, 'one event appended')
  assert.deepEqual(await streamTypes(store, 'account-1'), ['0:AccountOpened', '1:Deposited', '2:Withdrawn'], 'the stream holds one withdrawal')
  const stored = await store.aggregateStream('account-1', { evolve, initialState })
  assert.deepEqual(stored, { state: w.newState, revision: 2 }, "the stored stream folds to the winner's newState")
  let last: RecordedEvent | undefined
  for await (const e of store.readStream('account-1', { fromRevision: 'end', direction: 'backwards', maxCount: 1 })) last = e
  assert.deepEqual(w.position, last!.position, "the result's position is where the withdrawal is stored")
  assert.equal(last!.id, w.events[0]!.id, "the stored event has the result's event id")
})

test('retries: 1 is enough for concurrent withdrawals: a loser\'s one retry sees the winning withdrawal and fails with the business rule', async (t) => {
  const store = await memStore(t)
  const handle = CommandHandler<Account>({ evolve, initialState, retries: 1 })
  for (let round = 0; round < 3; round++) {
    const id = `account-r${round}`
    await handle(store, id, openAccount)
    await handle(store, id, deposit(100))
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => handle(store, id, withdraw(80))))
    const reasons = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).constructor.name)
    const tally = Object.entries(reasons.reduce<Record<string, number>>((m, n) => ({ ...m, [n]: (m[n] ?? 0) + 1 }), {}))
    assert.equal(results.length - reasons.length, 1, `round ${round}: exactly one withdrawal succeeds`)
    assert.deepEqual(tally, [['InsufficientFundsError', 29]], `round ${round}: after one conflict, the reload sees the winning withdrawal, so the retry fails with the rule (got ${JSON.stringify(tally)})`)
  }
})

test('a WrongExpectedVersionError names a revision the stream shows: the append it lost to is readable when it rejects', async (t) => {
  const store = await memStore(t)
  const mismatches: string[] = []
  let rejections = 0
  for (let round = 0; round < 5; round++) {
    const id = `race-${round}`
    await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        store.appendToStream(id, jsonEvent({ type: 'Opened', data: { i } }), { expectedRevision: 'no_stream' }).catch((err: unknown) => {
          assert.ok(err instanceof WrongExpectedVersionError, `a losing append rejects with WrongExpectedVersionError (got ${String(err)})`)
          rejections++
          const visible = store.getStreamRevision(id)
          if (visible !== err.actualRevision) mismatches.push(`${id}: actualRevision ${err.actualRevision}, getStreamRevision ${visible}`)
        }),
      ),
    )
  }
  assert.equal(rejections, 45, '9 losers in each of 5 rounds')
  assert.deepEqual(mismatches, [], `when the rejection arrives, the stream shows the revision it names (${mismatches.length} of ${rejections} did not)`)
})

test('concurrent commands on a new stream: the first appends with no_stream, the other decides again on the opened account', async (t) => {
  const store = await memStore(t)
  const handle = CommandHandler<Account>({ evolve, initialState })
  const results = await Promise.allSettled([handle(store, 'account-2', openAccount), handle(store, 'account-2', openAccount)])
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'], 'one open succeeds, one fails')
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!
  assert.ok(failed.reason instanceof AccountAlreadyOpenError, `the other fails with the rule's error (got ${(failed.reason as Error)?.message})`)
  assert.deepEqual(await streamTypes(store, 'account-2'), ['0:AccountOpened'], 'one AccountOpened stored')
})

test('aggregateStream folds the events in order and returns the last revision; null for a missing or deleted stream', async (t) => {
  const store = await memStore(t)
  let initials = 0
  const options = {
    evolve,
    initialState: () => {
      initials++
      return initialState()
    },
  }
  const missing = await store.aggregateStream<Account>('account-9', options)
  assert.deepEqual(missing, { state: initialState(), revision: null }, 'a missing stream: the initial state and revision null')
  assert.equal(initials, 1, 'initialState is called once per load')

  await store.appendToStream('account-3', [jsonEvent({ type: 'AccountOpened', data: {} }), jsonEvent({ type: 'Deposited', data: { amount: 50 } })])
  await store.appendToStream('other', jsonEvent({ type: 'Deposited', data: { amount: 1000 } }))
  await store.appendToStream('account-3', jsonEvent({ type: 'Withdrawn', data: { amount: 20 } }))
  const seen: RecordedEvent[] = []
  const r = await store.aggregateStream<Account>('account-3', {
    evolve: (s, e) => {
      seen.push(e)
      return evolve(s, e)
    },
    initialState,
  })
  assert.deepEqual(r, { state: { opened: true, balance: 30, history: ['0:AccountOpened', '1:Deposited', '2:Withdrawn'] }, revision: 2 }, 'state folded in revision order, revision of the last event')
  assert.ok(seen.every((e) => e.streamId === 'account-3'), 'only the stream\'s own events are folded')
  assert.deepEqual(seen.map((e) => e.data), [{}, { amount: 50 }, { amount: 20 }], 'evolve gets the recorded events with their data')

  await store.deleteStream('account-3')
  assert.deepEqual(await store.aggregateStream<Account>('account-3', { evolve, initialState }), { state: initialState(), revision: null }, 'a soft-deleted stream folds to the initial state, revision null')
  const handle = CommandHandler<Account>({ evolve, initialState })
  const reopened = await handle(store, 'account-3', openAccount)
  assert.equal(reopened.nextExpectedRevision, 3, 'a command on the soft-deleted stream appends after its old revisions')
  assert.deepEqual(await store.aggregateStream<Account>('account-3', { evolve, initialState }), { state: reopened.newState, revision: 3 }, 'and the stream folds from the new event only')

  await store.tombstoneStream('account-3')
  await assert.rejects(store.aggregateStream<Account>('account-3', { evolve, initialState }), StreamDeletedError, 'a tombstoned stream: aggregateStream rejects with StreamDeletedError')
  await assert.rejects(handle(store, 'account-3', deposit(1)), StreamDeletedError, 'and so does a command on it')
})

test('decide returning [] appends nothing and returns the loaded state and revision', async (t) => {
  const store = await memStore(t)
  const handle = CommandHandler<Account>({ evolve, initialState })
  await handle(store, 'account-4', openAccount)
  await handle(store, 'account-4', deposit(10))
  const before = await countAll(store)
  const r = await handle(store, 'account-4', () => [])
  assert.deepEqual(r.events, [], 'no events')
  assert.equal(r.position, null, 'no position')
  assert.equal(r.nextExpectedRevision, 1, 'the revision loaded')
  assert.deepEqual(r.newState, { opened: true, balance: 10, history: ['0:AccountOpened', '1:Deposited'] }, 'the state loaded')
  assert.equal(await countAll(store), before, 'nothing was written')
  assert.equal(store.getStreamRevision('account-4'), 1, 'the stream is where it was')

  const none = await handle(store, 'account-5', () => [])
  assert.deepEqual(none, { newState: initialState(), events: [], nextExpectedRevision: null, position: null }, 'on a missing stream: the initial state, revision null')
  assert.equal(store.getStreamRevision('account-5'), null, 'the stream is still missing')
  assert.equal(await countAll(store), before, 'still nothing written')
})

test('decide may return one event or a promise; newState is the state after the new events, as a reload gives it', async (t) => {
  const store = await memStore(t)
  const handle = CommandHandler<Account>({ evolve, initialState })
  const one = await handle(store, 'account-6', openAccount)
  assert.equal(one.nextExpectedRevision, 0, 'a single event: revision 0')
  const two = await handle(store, 'account-6', async () => [jsonEvent({ type: 'Deposited', data: { amount: 5 } }), jsonEvent({ type: 'Deposited', data: { amount: 7 } })])
  assert.equal(two.nextExpectedRevision, 2, 'two events: revisions 1 and 2')
  assert.equal(two.events.length, 2, 'the result lists both events')
  assert.deepEqual(two.newState, { opened: true, balance: 12, history: ['0:AccountOpened', '1:Deposited', '2:Deposited'] }, 'newState folds the new events with their revisions')
  assert.deepEqual((await store.aggregateStream<Account>('account-6', { evolve, initialState })).state, two.newState, 'a reload gives the same state')
  const ids: string[] = []
  for await (const e of store.readStream('account-6', { fromRevision: 1 })) ids.push(e.id)
  assert.deepEqual(ids, two.events.map((e) => e.id), 'the stored events are the ones the result lists')
})

/** A decide that appends a conflicting event to the same stream first (another writer), `conflicts` times. */
function conflicting(store: EventStore, id: string, conflicts: number, calls: Array<{ revisionSeen: number; balance: number }>) {
  return async (s: Account): Promise<EventData> => {
    calls.push({ revisionSeen: s.history.length - 1, balance: s.balance })
    if (calls.length <= conflicts) await store.appendToStream(id, jsonEvent({ type: 'Deposited', data: { amount: 1 } }))
    return jsonEvent({ type: 'Withdrawn', data: { amount: 1 } })
  }
}

for (const retries of [0, 2, undefined] as const) {
  const attempts = (retries ?? 3) + 1
  test(`retries ${retries ?? '(default 3)'}: a conflict on each of the ${attempts} attempts rejects with WrongExpectedVersionError`, async (t) => {
    const store = await memStore(t)
    const handle = CommandHandler<Account>({ evolve, initialState, ...(retries === undefined ? {} : { retries }) })
    await handle(store, 'account-7', openAccount)
    const calls: Array<{ revisionSeen: number; balance: number }> = []
    const err = await handle(store, 'account-7', conflicting(store, 'account-7', Infinity, calls)).then(
      () => null,
      (e: unknown) => e,
    )
    assert.ok(err instanceof WrongExpectedVersionError, `rejects with WrongExpectedVersionError (got ${String(err)})`)
    assert.equal(calls.length, attempts, `decide ran ${attempts} times (load and decide again after each conflict)`)
    assert.deepEqual(calls.map((c) => c.revisionSeen), Array.from({ length: attempts }, (_, i) => i), 'each attempt loaded the stream as the other writer left it')
    assert.equal(err.streamId, 'account-7', "the error names the stream")
    assert.equal(err.expectedRevision, attempts - 1, 'expected the revision of the last load')
    assert.equal(err.actualRevision, attempts, 'the stream had moved on by one')
    assert.deepEqual(
      await streamTypes(store, 'account-7'),
      ['0:AccountOpened', ...Array.from({ length: attempts }, (_, i) => `${i + 1}:Deposited`)],
      "only the other writer's events are stored: no attempt of the handler was written",
    )
  })
}

test('conflicts fewer than retries: the command succeeds on the state the other writer left', async (t) => {
  const store = await memStore(t)
  const handle = CommandHandler<Account>({ evolve, initialState, retries: 3 })
  await handle(store, 'account-8', openAccount)
  const calls: Array<{ revisionSeen: number; balance: number }> = []
  const r = await handle(store, 'account-8', conflicting(store, 'account-8', 2, calls))
  assert.equal(calls.length, 3, 'decided three times: two conflicts, then the append')
  assert.deepEqual(calls.map((c) => c.balance), [0, 1, 2], 'each decision saw the deposits made meanwhile')
  assert.equal(r.nextExpectedRevision, 3, 'appended after the two conflicting events')
  assert.equal(r.newState.balance, 1, 'newState: two deposits of 1, one withdrawal of 1')
  assert.deepEqual(await streamTypes(store, 'account-8'), ['0:AccountOpened', '1:Deposited', '2:Deposited', '3:Withdrawn'], 'one withdrawal stored, after the deposits')
})

test("a business rule's error from decide is not retried and writes nothing", async (t) => {
  const store = await memStore(t)
  const handle = CommandHandler<Account>({ evolve, initialState, retries: 5 })
  await handle(store, 'account-10', openAccount)
  const before = await countAll(store)
  let calls = 0
  await assert.rejects(
    handle(store, 'account-10', (s) => {
      calls++
      return withdraw(1)(s)
    }),
    InsufficientFundsError,
    'the rule error rejects the command',
  )
  assert.equal(calls, 1, 'decide ran once: a rule error is not a conflict')
  assert.equal(await countAll(store), before, 'nothing was written')
})
