// Catch-up subscriptions: subscribeToAll from 'start' hands out the backlog in order and then live
// appends, with 'caughtUp' once the backlog is read; a blocked subscriber that falls more than 1000
// events behind gets 'fellBehind', reads everything from the log once and gets 'caughtUp' again;
// filters (streamPrefix, eventType as a string, a list or a RegExp); subscribeToStream from 'start',
// from a revision (exclusive, also one the stream has not reached yet) and from 'end'; several
// partitions (each partition's order, every event once); unsubscribe() (also from a 'caughtUp'
// listener), `break` and closing the store end the iteration without leaving a timer; resuming from
// subscription.checkpoint() continues right after the last event handed out; and the checkpoint
// store (save, load after a reopen, refusal of a checkpoint past the stored events, reset).
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { Broker, KafkaliteError } from '../../src/index.js'
import { EventStore, type Checkpoint, type EventData, type RecordedEvent, type Subscription, type SubscriptionFilter } from '../../src/eventstore/index.js'
import { deferred, tempDir, test, waitFor, withDeadline } from '../fixtures/helpers.js'

type After = Pick<TestContext, 'after'>

/** A store on an in-memory broker; both closed when the test ends. */
async function memStore(t: After, partitions = 1): Promise<{ broker: Broker; store: EventStore }> {
  const broker = await Broker.open()
  const store = await EventStore.open({ broker }, { partitions }).catch(async (err: unknown) => {
    await broker.close()
    throw err
  })
  t.after(async () => {
    await store.close()
    await broker.close()
  })
  return { broker, store }
}

/** A store on `dir` (it owns its broker), closed when the test ends unless closed before. */
async function dirStore(t: After, dir: string): Promise<EventStore> {
  const store = await EventStore.open({ dir })
  t.after(() => store.close())
  return store
}

const ev = (type: string, data: unknown = {}): EventData => ({ type, data })
const label = (e: RecordedEvent): string => `${e.streamId}@${e.revision}`

async function readAllEvents(store: EventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = []
  for await (const e of store.readAll()) out.push(e)
  return out
}

/**
 * Reads `sub` in the background: `events` fills as events are handed out, `phases` records each
 * 'caughtUp' / 'fellBehind' with the number of events handed out by then; `stop()` unsubscribes and
 * waits for the loop to end. `onEvent` may return a promise the loop waits on (a slow subscriber).
 */
function follow(sub: Subscription, onEvent?: (e: RecordedEvent, n: number) => Promise<void> | void) {
  const events: RecordedEvent[] = []
  const phases: string[] = []
  const caughtUp: Array<{ at: number; checkpoint: Checkpoint }> = []
  sub.on('caughtUp', (c: Checkpoint) => {
    phases.push(`caughtUp@${events.length}`)
    caughtUp.push({ at: events.length, checkpoint: c })
  })
  sub.on('fellBehind', () => phases.push(`fellBehind@${events.length}`))
  const loop = (async () => {
    for await (const e of sub) {
      events.push(e)
      await onEvent?.(e, events.length)
    }
  })()
  loop.catch(() => undefined)
  return {
    events,
    phases,
    caughtUp,
    loop,
    async stop(): Promise<void> {
      sub.unsubscribe()
      await withDeadline(loop, 5000, 'subscription loop ending after unsubscribe()')
    },
  }
}

/** Every event `sub` hands out until its first 'caughtUp'; then it is unsubscribed. */
async function backlog(sub: Subscription, what: string): Promise<RecordedEvent[]> {
  const f = follow(sub)
  await waitFor(() => f.caughtUp.length > 0, 5000, `${what}: caughtUp`)
  await f.stop()
  return f.events
}

/** Appends `n` one-event appends to the streams in turn, concurrently; returns the ids in append order. */
async function appendMany(store: EventStore, streams: string[], n: number, type = 'Tick'): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => store.appendToStream(streams[i % streams.length]!, ev(type, { i }))))
}

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

test("subscribeToAll from 'start': the backlog in order, 'caughtUp' once it is read, then live appends", async (t) => {
  const { store } = await memStore(t)
  for (let i = 0; i < 10; i++) {
    await store.appendToStream(`order-${i % 3}`, ev('ItemAdded', { i }))
    if (i % 4 === 0) await store.appendToStream(`user-${i}`, [ev('Registered'), ev('Verified'), ev('LoggedIn')])
  }
  const stored = await readAllEvents(store)
  const f = follow(store.subscribeToAll({ fromPosition: 'start' }))
  t.after(() => f.stop())
  await waitFor(() => f.caughtUp.length === 1, 5000, 'caughtUp after the backlog')
  assert.equal(f.caughtUp[0]!.at, stored.length, `'caughtUp' comes once all ${stored.length} stored events were handed out`)
  assert.deepEqual(f.caughtUp[0]!.checkpoint, { offsets: [stored.length] }, "'caughtUp' carries the checkpoint at the end of the log")
  assert.deepEqual(f.events.map((e) => e.id), stored.map((e) => e.id), 'the backlog comes in the order readAll gives')
  assert.deepEqual(f.events.map((e) => e.position), stored.map((e) => e.position), 'with the same positions')

  await store.appendToStream('order-0', [ev('ItemAdded', { live: 1 }), ev('ItemAdded', { live: 2 })])
  await store.appendToStream('live-1', ev('Opened', { live: 3 }))
  await store.appendToStream('order-1', ev('ItemRemoved', { live: 4 }))
  await waitFor(() => f.events.length === stored.length + 4, 5000, 'the live events')
  const live = f.events.slice(stored.length)
  assert.deepEqual(live.map((e) => (e.data as { live: number }).live), [1, 2, 3, 4], 'live events come in append order')
  assert.deepEqual(live.map(label), ['order-0@4', 'order-0@5', 'live-1@0', 'order-1@3'], 'with their streams and revisions')
  const offsets = f.events.map((e) => e.position.offset)
  assert.deepEqual(offsets, offsets.map((_, i) => i), 'every position once, in order, nothing skipped')
  assert.deepEqual(f.phases, [`caughtUp@${stored.length}`], "'caughtUp' is emitted once while the subscriber keeps up")
  assert.deepEqual(f.events.at(-1)!.data, { live: 4 }, 'data as appended')
})

test("a blocked subscriber while 2000 events are appended: 'fellBehind', then every event once, in order, then 'caughtUp'", async (t) => {
  const { store } = await memStore(t)
  const streams = Array.from({ length: 8 }, (_, i) => `meter-${i}`)
  await appendMany(store, streams, 10)
  const gate = deferred()
  let blocked = false
  const f = follow(store.subscribeToAll({ fromPosition: 'start' }), async (_, n) => {
    if (n === 11) {
      blocked = true
      await gate.promise
    }
  })
  t.after(() => {
    gate.resolve()
    return f.stop()
  })
  await waitFor(() => f.caughtUp.length === 1, 5000, 'caughtUp after the first 10 events')
  await store.appendToStream('meter-0', ev('Tick', { first: true }))
  await waitFor(() => blocked, 5000, 'the subscriber blocking on its 11th event')
  // 2000 events while it is blocked: concurrent appends of 1–5 events to 8 streams.
  const appends: Array<Promise<unknown>> = []
  for (let n = 0, i = 0; n < 2000; i++) {
    const k = Math.min(1 + (i % 5), 2000 - n)
    appends.push(store.appendToStream(streams[i % streams.length]!, Array.from({ length: k }, (_, j) => ev('Tick', { i, j }))))
    n += k
  }
  await Promise.all(appends)
  assert.equal(f.events.length, 11, 'the blocked subscriber has taken nothing more meanwhile')
  // Released, it catches up while 300 more events are appended.
  gate.resolve()
  await appendMany(store, streams, 300)
  const stored = await readAllEvents(store)
  assert.equal(stored.length, 2311, '10 + 1 + 2000 + 300 events stored')
  await waitFor(() => f.events.length >= stored.length && f.phases.length >= 3, 10_000, 'the subscriber catching up')
  assert.equal(f.events.length, stored.length, 'no event is handed out twice')
  assert.equal(new Set(f.events.map((e) => e.id)).size, stored.length, 'every event id once')
  assert.deepEqual(f.events.map((e) => e.id), stored.map((e) => e.id), 'every stored event, in log order: nothing missed')
  assert.equal(f.phases[0], 'caughtUp@10', "'caughtUp' after the first backlog")
  assert.equal(f.phases[1], 'fellBehind@11', "'fellBehind' when it resumes 2000 events behind")
  assert.match(f.phases[2] ?? '', /^caughtUp@\d+$/, "'caughtUp' again once it has read the backlog")
  assert.ok(Number(f.phases[2]!.split('@')[1]) >= 2011, `the second 'caughtUp' comes after the 2000 events it fell behind by (${f.phases[2]})`)
  assert.equal(f.phases.length, 3, `no other phase events (${f.phases.join(', ')})`)
  for (const s of streams) {
    const revs = f.events.filter((e) => e.streamId === s).map((e) => e.revision)
    assert.deepEqual(revs, revs.map((_, i) => i), `${s}: revisions 0..${revs.length - 1} in order`)
  }
})

test('filters: streamPrefix (one or several), eventType (a string, a list, a RegExp), and both', async (t) => {
  const { store } = await memStore(t)
  const plan: Array<[string, string]> = [
    ['order-1', 'OrderPlaced'],
    ['user-1', 'UserRegistered'],
    ['order-1', 'ItemAdded'],
    ['cart-1', 'ItemAdded'],
    ['order-2', 'OrderPlaced'],
    ['orders', 'OrderPlaced'],
    ['order-2', 'OrderShipped'],
    ['user-1', 'UserRenamed'],
    ['cart-1', 'CartOrdered'],
    ['xorder-1', 'OrderPlaced'],
  ]
  for (const [s, type] of plan) await store.appendToStream(s, ev(type))
  const cases: Array<[string, SubscriptionFilter, (s: string, type: string) => boolean]> = [
    ["streamPrefix 'order-'", { streamPrefix: 'order-' }, (s) => s.startsWith('order-')],
    ["streamPrefix ['user-', 'cart-']", { streamPrefix: ['user-', 'cart-'] }, (s) => s.startsWith('user-') || s.startsWith('cart-')],
    ["eventType 'ItemAdded'", { eventType: 'ItemAdded' }, (_, type) => type === 'ItemAdded'],
    ["eventType ['OrderPlaced', 'UserRenamed']", { eventType: ['OrderPlaced', 'UserRenamed'] }, (_, type) => type === 'OrderPlaced' || type === 'UserRenamed'],
    ['eventType /^Order/', { eventType: /^Order/ }, (_, type) => /^Order/.test(type)],
    ['eventType /Ordered$|Shipped$/', { eventType: /Ordered$|Shipped$/ }, (_, type) => /Ordered$|Shipped$/.test(type)],
    ["streamPrefix 'order-' and eventType 'OrderPlaced'", { streamPrefix: 'order-', eventType: 'OrderPlaced' }, (s, type) => s.startsWith('order-') && type === 'OrderPlaced'],
  ]
  const stored = await readAllEvents(store)
  for (const [what, filter, match] of cases) {
    const expected = stored.filter((e) => match(e.streamId, e.type)).map((e) => `${label(e)} ${e.type}`)
    assert.ok(expected.length > 0 && expected.length < stored.length, `${what}: the case selects some events`)
    const got = await backlog(store.subscribeToAll({ fromPosition: 'start', filter }), what)
    assert.deepEqual(got.map((e) => `${label(e)} ${e.type}`), expected, `${what}: exactly the matching events, in order`)
  }
  // Live events are filtered too.
  const sub = store.subscribeToAll({ fromPosition: 'end', filter: { streamPrefix: 'order-', eventType: /Shipped$/ } })
  const f = follow(sub)
  t.after(() => f.stop())
  await waitFor(() => f.caughtUp.length === 1, 5000, 'caughtUp from the end')
  await store.appendToStream('order-3', ev('OrderPlaced'))
  await store.appendToStream('cart-3', ev('CartShipped'))
  await store.appendToStream('order-3', ev('OrderShipped', { n: 1 }))
  await waitFor(() => f.events.length === 1, 5000, 'the matching live event')
  assert.equal(`${label(f.events[0]!)} ${f.events[0]!.type}`, 'order-3@1 OrderShipped', 'only the live event matching both filters is handed out')
})

test("subscribeToStream: from 'start', from a revision (the events after it), from 'end'; other streams are not handed out", async (t) => {
  const { store } = await memStore(t)
  for (let i = 0; i < 5; i++) {
    await store.appendToStream('acct-1', ev('Deposited', { i }))
    if (i < 3) await store.appendToStream('acct-2', ev('Deposited', { i }))
  }
  const subs = {
    start: store.subscribeToStream('acct-1', { fromRevision: 'start' }),
    default: store.subscribeToStream('acct-1'),
    rev2: store.subscribeToStream('acct-1', { fromRevision: 2 }),
    rev2n: store.subscribeToStream('acct-1', { fromRevision: 2n }),
    rev0: store.subscribeToStream('acct-1', { fromRevision: 0 }),
    last: store.subscribeToStream('acct-1', { fromRevision: 4 }),
    end: store.subscribeToStream('acct-1', { fromRevision: 'end' }),
    fresh: store.subscribeToStream('acct-9', { fromRevision: 'start' }),
  }
  const followers = Object.fromEntries(Object.entries(subs).map(([k, s]) => [k, follow(s)])) as Record<keyof typeof subs, ReturnType<typeof follow>>
  t.after(async () => {
    for (const f of Object.values(followers)) await f.stop()
  })
  await waitFor(() => Object.values(followers).every((f) => f.caughtUp.length === 1), 5000, 'every subscription caught up')
  const got = (k: keyof typeof subs): string[] => followers[k].events.map(label)
  assert.deepEqual(got('start'), ['acct-1@0', 'acct-1@1', 'acct-1@2', 'acct-1@3', 'acct-1@4'], "'start': every event of the stream, in order")
  assert.deepEqual(got('default'), got('start'), "no fromRevision is 'start'")
  assert.deepEqual(got('rev2'), ['acct-1@3', 'acct-1@4'], 'fromRevision 2: the events after revision 2')
  assert.deepEqual(got('rev2n'), ['acct-1@3', 'acct-1@4'], 'fromRevision 2n (bigint): the same')
  assert.deepEqual(got('rev0'), ['acct-1@1', 'acct-1@2', 'acct-1@3', 'acct-1@4'], 'fromRevision 0: all but the first')
  assert.deepEqual(got('last'), [], 'fromRevision of the last event: nothing from the backlog')
  assert.deepEqual(got('end'), [], "'end': nothing from the backlog")
  assert.deepEqual(got('fresh'), [], 'a stream with no events yet: nothing')

  await store.appendToStream('acct-2', ev('Deposited', { live: true }))
  await store.appendToStream('acct-9', ev('Opened'))
  await store.appendToStream('acct-1', [ev('Withdrawn', { live: 1 }), ev('Withdrawn', { live: 2 })])
  await waitFor(() => followers.end.events.length === 2 && followers.fresh.events.length === 1, 5000, 'live events')
  await waitFor(() => (['start', 'default', 'rev2', 'rev2n', 'rev0', 'last'] as const).every((k) => followers[k].events.at(-1)?.revision === 6), 5000, 'live events on every subscription')
  for (const k of ['start', 'default', 'rev2', 'rev2n', 'rev0', 'last', 'end'] as const) {
    assert.deepEqual(got(k).slice(-2), ['acct-1@5', 'acct-1@6'], `${k}: the live events of acct-1, none of acct-2 or acct-9`)
  }
  assert.deepEqual(got('end'), ['acct-1@5', 'acct-1@6'], "'end': only the events appended after subscribing")
  assert.deepEqual(got('fresh'), ['acct-9@0'], 'the new stream: its first event once appended')
  assert.ok(Object.values(followers).every((f) => f.events.every((e) => e.streamId === (f === followers.fresh ? 'acct-9' : 'acct-1'))), 'no subscription hands out another stream')
})

test('subscribeToStream from a revision the stream has not reached: only the events after that revision', async (t) => {
  const { store } = await memStore(t)
  await store.appendToStream('acct-1', [ev('A'), ev('B'), ev('C')])
  const ahead = follow(store.subscribeToStream('acct-1', { fromRevision: 4 }))
  const missing = follow(store.subscribeToStream('acct-7', { fromRevision: 1 }))
  t.after(async () => {
    await ahead.stop()
    await missing.stop()
  })
  await waitFor(() => ahead.caughtUp.length === 1 && missing.caughtUp.length === 1, 5000, 'both caught up')
  await store.appendToStream('acct-1', [ev('D'), ev('E'), ev('F'), ev('G')]) // revisions 3..6
  await store.appendToStream('acct-7', [ev('A'), ev('B'), ev('C')]) // revisions 0..2
  await store.appendToStream('end-marker', ev('Z'))
  await waitFor(() => ahead.events.length >= 2 && missing.events.length >= 1, 5000, 'events after the revisions')
  assert.deepEqual(
    { ahead: ahead.events.map(label), missing: missing.events.map(label) },
    { ahead: ['acct-1@5', 'acct-1@6'], missing: ['acct-7@2'] },
    'acct-1 from revision 4 (ahead of its end, 2): revisions 5 and 6 only; acct-7 (no events yet) from revision 1: revision 2 only',
  )
})

test('partitions: 3: every event once, each partition in offset order, each stream in revision order, backlog and live', async (t) => {
  const { store } = await memStore(t, 3)
  const pool = Array.from({ length: 100 }, (_, i) => `device-${i}`)
  // Four streams on each partition.
  const streams = [0, 1, 2].flatMap((p) => pool.filter((s) => store.partitionOf(s) === p).slice(0, 4))
  assert.equal(streams.length, 12, 'four streams on each of the three partitions')
  // Over 512 events per partition: the subscription reads each in several bounded reads.
  await appendMany(store, streams, 1800)
  const f = follow(store.subscribeToAll({ fromPosition: 'start' }))
  t.after(() => f.stop())
  await appendMany(store, streams, 600)
  const stored = await readAllEvents(store)
  assert.equal(stored.length, 2400, '2400 events stored')
  await waitFor(() => f.events.length >= stored.length, 10_000, `every event handed out (${f.events.length} of ${stored.length} so far)`)
  assert.equal(f.events.length, stored.length, 'no event twice')
  assert.deepEqual(f.events.map((e) => e.id).sort(), stored.map((e) => e.id).sort(), 'every stored event is handed out')
  for (let p = 0; p < 3; p++) {
    const offsets = f.events.filter((e) => e.position.partition === p).map((e) => e.position.offset)
    assert.ok(offsets.length > 512, `partition ${p} holds more than one read (${offsets.length} events)`)
    assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${p}: every offset once, in order`)
  }
  for (const s of streams) {
    const mine = f.events.filter((e) => e.streamId === s)
    assert.deepEqual(mine.map((e) => e.revision), mine.map((_, i) => i), `${s}: revisions in order`)
    assert.ok(mine.every((e) => e.position.partition === store.partitionOf(s)), `${s}: on its own partition`)
  }
  assert.ok(f.caughtUp.length >= 1, "'caughtUp' was emitted")
})

test("unsubscribe() and 'break' end the iteration and leave no timer", async (t) => {
  const { store } = await memStore(t)
  await appendMany(store, ['s-1', 's-2'], 10)
  const baseline = timers()

  // break during the backlog
  const a = store.subscribeToAll({ fromPosition: 'start' })
  let ended = 0
  a.on('end', () => ended++)
  const seen: string[] = []
  for await (const e of a) {
    seen.push(e.id)
    if (seen.length === 3) break
  }
  assert.equal(seen.length, 3, 'break after 3 events ends the loop')
  assert.equal(ended, 1, "'end' is emitted once")
  assert.deepEqual(await a.next(), { done: true, value: undefined }, 'next() after break is done')
  assert.equal(timers(), baseline, 'no timer is left after break')

  // unsubscribe() while next() waits for an append
  const b = store.subscribeToAll({ fromPosition: 'start' })
  const caught = deferred()
  b.once('caughtUp', () => caught.resolve())
  let pending: Promise<IteratorResult<RecordedEvent>>
  for (;;) {
    pending = b.next()
    if ((await Promise.race([pending, caught.promise.then(() => 'caught' as const)])) === 'caught') break
  }
  const started = Date.now()
  b.unsubscribe()
  assert.deepEqual(await withDeadline(pending, 2000, 'pending next()'), { done: true, value: undefined }, 'a pending next() resolves done')
  assert.ok(Date.now() - started < 500, `the waiting next() ends at once, not on a poll (${Date.now() - started} ms)`)
  assert.equal(timers(), baseline, 'no timer is left after unsubscribe() of a waiting subscription')

  // unsubscribe() before the first next()
  const c = store.subscribeToAll({ fromPosition: 'start' })
  c.unsubscribe()
  assert.deepEqual(await withDeadline(c.next(), 1000, 'next() after unsubscribe()'), { done: true, value: undefined }, 'next() after unsubscribe() is done')
  assert.equal(timers(), baseline, 'no timer after unsubscribe() before reading')

  // break from a subscribeToStream loop while it waits for live events
  const d = store.subscribeToStream('s-1')
  let n = 0
  const loop = (async () => {
    for await (const _ of d) if (++n === 6) break
  })()
  await waitFor(() => n === 5, 5000, 's-1 backlog')
  await store.appendToStream('s-1', ev('Tick'))
  await withDeadline(loop, 2000, 'subscribeToStream loop ending on break')
  assert.equal(timers(), baseline, 'no timer is left after break from a live wait')
})

test("unsubscribe() from a 'caughtUp' listener ends the iteration at once and leaves no timer", async (t) => {
  const { store } = await memStore(t)
  await appendMany(store, ['s-1'], 5)
  const baseline = timers()
  const sub = store.subscribeToAll({ fromPosition: 'start' })
  sub.on('caughtUp', () => sub.unsubscribe())
  const started = Date.now()
  let n = 0
  await withDeadline(
    (async () => {
      for await (const _ of sub) n++
    })(),
    3000,
    'iteration ending',
  )
  const ms = Date.now() - started
  assert.equal(n, 5, 'the backlog is handed out first')
  assert.ok(ms < 250, `the loop ends as soon as the listener unsubscribes, not on the next poll (took ${ms} ms)`)
  assert.equal(timers(), baseline, 'no timer is left behind')
})

test('closing a store (on its own data dir) ends the subscriptions waiting on it and leaves no timer', async (t) => {
  const dir = tempDir(t, 'kafkalite-es-sub-close-')
  const baseline = timers()
  const store = await dirStore(t, dir)
  await store.appendToStream('s-1', [ev('A'), ev('B')])
  const sub = store.subscribeToAll({ fromPosition: 'start' })
  const f = follow(sub)
  t.after(() => sub.unsubscribe())
  await waitFor(() => f.caughtUp.length === 1, 5000, 'caughtUp')
  await store.close()
  const outcome = await withDeadline(
    f.loop.then(
      () => 'ended',
      (err: Error) => `rejected: ${err.message}`,
    ),
    2000,
    'loop',
  ).catch((err: Error) => `still running: ${err.message}`)
  assert.ok(!outcome.startsWith('still running'), `the for await loop of a closed store's subscription ends (done or an error): ${outcome}`)
  assert.equal(timers(), baseline, 'no timer keeps the process alive once the store is closed (as many as before it was opened)')
})

test('resuming from subscription.checkpoint() continues right after the last event handed out', async (t) => {
  const { store } = await memStore(t)
  await appendMany(store, ['a-1', 'a-2', 'b-1'], 50)
  const stored = await readAllEvents(store)
  const first = store.subscribeToAll({ fromPosition: 'start' })
  const taken: RecordedEvent[] = []
  for await (const e of first) {
    taken.push(e)
    if (taken.length === 20) break
  }
  const c = first.checkpoint()
  assert.deepEqual(c, { offsets: [20] }, 'the checkpoint is the offset after the 20th event (not what the subscription had read ahead)')
  const rest = await backlog(store.subscribeToAll({ fromPosition: c }), 'resumed')
  assert.deepEqual([...taken, ...rest].map((e) => e.id), stored.map((e) => e.id), 'resumed: the rest exactly, no gap, no repeat')
  const fromPos = await backlog(store.subscribeToAll({ fromPosition: taken.at(-1)!.position }), 'from a position')
  assert.deepEqual(fromPos.map((e) => e.id), rest.map((e) => e.id), 'from the last event\'s position: the same events (a position is exclusive)')

  // With a filter: the checkpoint also moves over the events the filter skips.
  const filter = { streamPrefix: 'a-' }
  const matching = stored.filter((e) => e.streamId.startsWith('a-'))
  const fa = store.subscribeToAll({ fromPosition: 'start', filter })
  const part: RecordedEvent[] = []
  for await (const e of fa) {
    part.push(e)
    if (part.length === 7) break
  }
  const cf = fa.checkpoint()
  assert.ok(cf.offsets[0]! > part.at(-1)!.position.offset && cf.offsets[0]! <= stored.length, `the filtered checkpoint is after the last event handed out (${cf.offsets[0]})`)
  const restF = await backlog(store.subscribeToAll({ fromPosition: cf, filter }), 'resumed with the filter')
  assert.deepEqual([...part, ...restF].map((e) => e.id), matching.map((e) => e.id), 'resumed with the filter: every matching event once')

  // Live: the checkpoint after the last live event resumes with the next one.
  const liveSub = store.subscribeToAll({ fromPosition: 'start' })
  const live = follow(liveSub)
  t.after(() => live.stop())
  await waitFor(() => live.caughtUp.length === 1, 5000, 'caughtUp')
  await store.appendToStream('a-1', ev('Live', { n: 1 }))
  await waitFor(() => live.events.length === stored.length + 1, 5000, 'the live event')
  await live.stop()
  assert.deepEqual(liveSub.checkpoint(), { offsets: [stored.length + 1] }, 'the checkpoint after the live event')
  await store.appendToStream('a-1', ev('Live', { n: 2 }))
  const after = await backlog(store.subscribeToAll({ fromPosition: liveSub.checkpoint() }), 'after live')
  assert.deepEqual(after.map((e) => e.data), [{ n: 2 }], 'resumed after the last live event: the next one only')
})

test('partitions: 3: resuming from a checkpoint hands out the rest, each event once', async (t) => {
  const { store } = await memStore(t, 3)
  const streams = Array.from({ length: 9 }, (_, i) => `s-${i}`)
  await appendMany(store, streams, 900)
  const stored = await readAllEvents(store)
  const first = store.subscribeToAll({ fromPosition: 'start' })
  const taken: RecordedEvent[] = []
  for await (const e of first) {
    taken.push(e)
    if (taken.length === 400) break
  }
  const c = first.checkpoint()
  assert.equal(c.offsets.length, 3, 'an offset per partition')
  for (let p = 0; p < 3; p++) {
    const mine = taken.filter((e) => e.position.partition === p)
    const expected = mine.length === 0 ? 0 : mine.at(-1)!.position.offset + 1
    assert.equal(c.offsets[p], expected, `partition ${p}: the checkpoint is after its last event handed out`)
  }
  const rest = await backlog(store.subscribeToAll({ fromPosition: c }), 'resumed')
  const all = [...taken, ...rest].map((e) => e.id)
  assert.equal(all.length, stored.length, `${taken.length} + ${rest.length} events: each once`)
  assert.deepEqual(all.sort(), stored.map((e) => e.id).sort(), 'together every stored event')
})

test('checkpoint store: save, close, reopen, load; a projection resumed from it sees every event exactly once', async (t) => {
  const dir = tempDir(t, 'kafkalite-es-checkpoints-')
  const name = 'balances'
  const seen = new Map<string, number>()
  const apply = (e: RecordedEvent): void => void seen.set(e.id, (seen.get(e.id) ?? 0) + 1)
  let saved: Checkpoint

  {
    const store = await dirStore(t, dir)
    assert.equal(store.checkpoints.load(name), null, 'a projection with no saved checkpoint loads null')
    await appendMany(store, ['account-1', 'account-2', 'account-3'], 30)
    const sub = store.subscribeToAll({ fromPosition: store.checkpoints.load(name) ?? 'start' })
    let n = 0
    for await (const e of sub) {
      apply(e)
      if (++n === 20) break
    }
    saved = sub.checkpoint()
    await store.checkpoints.save(name, saved)
    assert.deepEqual(store.checkpoints.load(name), saved, 'load gives back what was saved')
    await store.checkpoints.save('other', { offsets: [5] })
    await store.close()
  }
  {
    const store = await dirStore(t, dir)
    assert.deepEqual(store.checkpoints.load(name), saved, 'after a reopen, load gives the saved checkpoint')
    assert.deepEqual(store.checkpoints.load('other'), { offsets: [5] }, 'each projection has its own checkpoint')
    await appendMany(store, ['account-1', 'account-4'], 10)
    const events = await backlog(store.subscribeToAll({ fromPosition: store.checkpoints.load(name) ?? 'start' }), 'resumed projection')
    for (const e of events) apply(e)
    const stored = await readAllEvents(store)
    assert.equal(stored.length, 40, '40 events stored')
    assert.deepEqual([...seen.keys()].sort(), stored.map((e) => e.id).sort(), 'the projection saw every event across the restart')
    assert.ok([...seen.values()].every((k) => k === 1), 'and each exactly once')

    // A checkpoint past the stored events is refused and changes nothing.
    const end = stored.length
    for (const bad of [{ offsets: [end + 1] }, { offsets: [end, 0] }, { offsets: [-1] }, { offsets: [1.5] }, { offsets: [] }]) {
      await assert.rejects(store.checkpoints.save(name, bad), (err: unknown) => err instanceof KafkaliteError, `save(${JSON.stringify(bad)}) rejects with a KafkaliteError`)
      assert.deepEqual(store.checkpoints.load(name), saved, `a refused save(${JSON.stringify(bad)}) leaves the checkpoint as it was`)
    }
    await store.checkpoints.save(name, { offsets: [end] })
    assert.deepEqual(store.checkpoints.load(name), { offsets: [end] }, 'a checkpoint at the end of the log is accepted')
    await store.close()
  }
  {
    const store = await dirStore(t, dir)
    assert.deepEqual(store.checkpoints.load(name), { offsets: [40] }, 'the refused saves were not stored; the last good one was')
    await store.checkpoints.reset(name)
    assert.equal(store.checkpoints.load(name), null, 'reset forgets the checkpoint')
    await store.close()
  }
  {
    const store = await dirStore(t, dir)
    assert.equal(store.checkpoints.load(name), null, 'a reset survives a reopen')
    assert.deepEqual(store.checkpoints.load('other'), { offsets: [5] }, 'other projections keep theirs')
    const rebuilt = await backlog(store.subscribeToAll({ fromPosition: store.checkpoints.load(name) ?? 'start' }), 'rebuild')
    assert.equal(rebuilt.length, 40, 'a rebuild from the start reads every event again')
    await store.close()
  }
})
