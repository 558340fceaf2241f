// Shared by the event store tests: stores that are closed when the test ends, reading an async
// iterable to an array, catching an error from a call whether it throws or rejects, the topic's end
// offsets (to prove a refused call wrote nothing), and the store's index checkpoint files.
import assert from 'node:assert/strict'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { Broker, KafkaliteError } from '../../src/index.js'
import { tempDir } from '../fixtures/helpers.js'
import { EventStore, type RecordedEvent } from '../../src/eventstore/index.js'

type After = Pick<TestContext, 'after'>

/**
 * Cleanup that runs last-in first-out in one after-hook. node:test runs after-hooks in the order they
 * were added, so this one must be added before `tempDir`'s: stores and brokers are closed (closing
 * writes checkpoints into the dir) before the dir is removed.
 */
export function closer(t: After): (fn: () => unknown) => void {
  const fns: Array<() => unknown> = []
  t.after(async () => {
    let first: unknown = null
    for (const fn of fns.reverse()) {
      try {
        await fn()
      } catch (err) {
        first ??= err
      }
    }
    if (first) throw first
  })
  return (fn) => {
    fns.push(fn)
  }
}

/** A store opened on `dir` (options as EventStore.open's), closed by the test's cleanup unless closed before. */
export async function openOn(
  defer: (fn: () => unknown) => void,
  dir: string,
  options?: { topic?: string; partitions?: number },
): Promise<{ store: EventStore; close: () => Promise<void> }> {
  const store = await EventStore.open({ dir }, options)
  let closing: Promise<void> | null = null
  const close = () => (closing ??= store.close())
  defer(close)
  return { store, close }
}

/** A temp dir, and `defer` for closing what is opened on it before the dir is removed. */
export function storeDir(t: After, prefix?: string): { dir: string; defer: (fn: () => unknown) => void } {
  const defer = closer(t)
  return { dir: tempDir(t, prefix), defer }
}

/** An in-memory broker with a store on it, both closed when the test ends. */
export async function memoryStore(t: After, options?: { topic?: string; partitions?: number }): Promise<{ broker: Broker; store: EventStore }> {
  const broker = await Broker.open()
  let store: EventStore | undefined
  t.after(async () => {
    try {
      await store?.close()
    } finally {
      await broker.close()
    }
  })
  store = await EventStore.open({ broker }, options)
  return { broker, store }
}

/** A broker on `dir` with a store on it; `close()` closes both (the store first). */
export async function dirStore(dir: string, options?: { topic?: string; partitions?: number }): Promise<{ broker: Broker; store: EventStore; close: () => Promise<void> }> {
  const broker = await Broker.open({ dir })
  let store: EventStore
  try {
    store = await EventStore.open({ broker }, options)
  } catch (err) {
    await broker.close()
    throw err
  }
  let closed = false
  return {
    broker,
    store,
    close: async () => {
      if (closed) return
      closed = true
      try {
        await store.close()
      } finally {
        await broker.close()
      }
    },
  }
}

/** Every item of an async iterable. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** The error of `call`, whether it throws synchronously or rejects; fails when it succeeds. */
export async function failure(what: string, call: () => unknown): Promise<any> {
  try {
    await call()
  } catch (err) {
    return err
  }
  assert.fail(`${what}: succeeded, expected an error`)
}

/** The error of `call`, which must return a promise that rejects (no synchronous throw). */
export async function rejection(what: string, call: () => unknown): Promise<any> {
  let p: unknown
  try {
    p = call()
  } catch (err) {
    assert.fail(`${what}: threw synchronously (${(err as Error)?.name}: ${(err as Error)?.message}) instead of returning a rejected promise`)
  }
  assert.equal(typeof (p as Promise<unknown>)?.then, 'function', `${what}: returns a promise`)
  try {
    await p
  } catch (err) {
    return err
  }
  assert.fail(`${what}: resolved, expected a rejection`)
}

/** Asserts a KafkaliteError with one of `codes`. */
export function assertCode(err: unknown, codes: string | string[], what: string): void {
  const list = Array.isArray(codes) ? codes : [codes]
  assert.ok(err instanceof KafkaliteError, `${what}: a KafkaliteError, got ${(err as Error)?.name}: ${(err as Error)?.message}`)
  assert.ok(list.includes((err as KafkaliteError).code), `${what}: code ${(err as KafkaliteError).code} is one of ${list.join(', ')} (${(err as Error).message})`)
}

/** The end offset of every partition of `topic`: any record written shows up as a difference. */
export function endOffsets(broker: Broker, topic = 'events'): number[] {
  const t = broker.topic(topic)
  return Array.from({ length: t.partitions }, (_, p) => t.latestOffset(p))
}

/** Every file under `dir` ending in `.index` inside a `__eventstore` directory (absolute paths, sorted). */
export function checkpointFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string, inside: boolean): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p, inside || name === '__eventstore')
      else if (inside && name.endsWith('.index')) out.push(p)
    }
  }
  walk(dir, false)
  return out
}

/** An event as read, in a form deepEqual can compare (data Buffers as hex, created as ms). */
export function plain(e: RecordedEvent): Record<string, unknown> {
  const bytes = (v: unknown) => (Buffer.isBuffer(v) ? `bytes:${v.toString('hex')}` : v)
  return {
    streamId: e.streamId,
    revision: e.revision,
    position: { partition: e.position.partition, offset: e.position.offset },
    type: e.type,
    data: bytes(e.data),
    metadata: bytes(e.metadata ?? null),
    id: e.id,
    isJson: e.isJson,
    created: e.created instanceof Date ? e.created.getTime() : `not a Date: ${String(e.created)}`,
  }
}

/** A stream read to the end as plain events, or the code of the error reading it raised. */
export async function readPlain(store: EventStore, streamId: string, options?: Parameters<EventStore['readStream']>[1]): Promise<Array<Record<string, unknown>> | string> {
  try {
    return (await collect(store.readStream(streamId, options))).map(plain)
  } catch (err) {
    if (err instanceof KafkaliteError) return err.code
    throw err
  }
}

/** A deterministic UUID-shaped event id. */
export function uuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`
}

/**
 * Waits until the store has handled every call made before: an append that must be refused (a new
 * stream cannot 'stream_exists') goes through the same path as appends and writes nothing. Checking
 * "nothing written" after it also catches a write that lands after the refused call's rejection.
 */
export async function barrier(store: EventStore): Promise<void> {
  const err = await failure('barrier append', () => store.appendToStream('barrier-stream-never-written', { type: 'Barrier', data: 0 }, { expectedRevision: 'stream_exists' }))
  assert.equal((err as { code?: string })?.code, 'WRONG_EXPECTED_VERSION', `the barrier append is refused as expected (${String(err)})`)
}
