// Fuzz targets above the codec: the metadata log replayed at open (MetadataLog.open:
// CorruptionError or UnsupportedVersionError, and a state the broker can open), __consumer_offsets
// keys, values and replay (CorruptionError), the consumer protocol bytes a group member sends
// (InvalidRecordError), a consumer's fetch decoding (CorruptionError), and a raw append from another
// process (Partition.appendBatch: InvalidRecordError / RecordTooLargeError, and what it accepts
// must decode).
import * as path from 'node:path'
import { pack } from 'msgpackr'
import { Broker } from '../../src/broker.js'
import { MetadataLog, type MetadataState } from '../../src/broker/metadata.js'
import type { Partition } from '../../src/broker/partition.js'
import { PARTITIONS_MAX, resolveTopicConfig, validateTopicName } from '../../src/broker/topic-config.js'
import { decodeFetch } from '../../src/client/fetch-decode.js'
import {
  decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription,
} from '../../src/client/group/consumer-protocol.js'
import {
  OffsetStore, decodeOffsetKey, decodeOffsetValue, encodeOffsetKey, encodeOffsetValue,
} from '../../src/client/group/offset-store.js'
import { resolveCodec } from '../../src/client/serde.js'
import { FencedError, InvalidRecordError, OutOfOrderSequenceError, RecordTooLargeError, UnsupportedVersionError } from '../../src/errors.js'
import { METADATA_DIR } from '../../src/storage/file-names.js'
import { LOG_OVERHEAD, checkBatch, decodeRecords, encodeRecordBatch, readBatchHeader } from '../../src/storage/record-batch.js'
import { MemoryFileIO } from '../../src/util/file-io.js'
import { T0, batchCorpus, frameAndResign, logOf, type NamedBatch } from './corpus.js'
import { Rng, expect, mutate, type Probe } from './harness.js'
import { isCorruption, type Target } from './target.js'
import { mutateRecords } from './targets-codec.js'

// -------------------------------------------------------------------------------- metadata log

const DATA_DIR = '/data'
const META_DIR = path.join(DATA_DIR, METADATA_DIR)

/** Checks that every topic the replay produced is one the broker can open. */
function checkMetadataState(state: MetadataState): void {
  expect(Number.isInteger(state.version), `metadata version ${String(state.version)}`)
  for (const [name, t] of state.topics) {
    expect(name === t.name, `topic stored under ${String(name)} is named ${String(t.name)}`)
    validateTopicName(t.name)
    expect(typeof t.id === 'string', `topic ${t.name} has id ${String(t.id)}`)
    expect(Number.isInteger(t.partitions) && t.partitions >= 1 && t.partitions <= PARTITIONS_MAX, `topic ${t.name} has ${String(t.partitions)} partitions`)
    expect(t.config !== null && typeof t.config === 'object', `topic ${t.name} has config ${String(t.config)}`)
    resolveTopicConfig(t.config as Record<string, unknown>)
  }
}

async function openMetadata(files: Map<string, Buffer>, rng: Rng): Promise<MetadataState> {
  const io = new MemoryFileIO()
  io.mkdirp(META_DIR)
  for (const [name, data] of files) {
    const h = io.open(path.join(META_DIR, name), { create: true })
    if (data.length > 0) h.write([data], 0)
    await h.sync()
    h.close()
  }
  const { meta, state } = await MetadataLog.open(io, DATA_DIR, {
    clean: rng.chance(0.3),
    recoveryPoint: rng.pick([0, 0, Number.MAX_SAFE_INTEGER]),
    readOnly: rng.chance(0.2),
    now: () => T0,
  })
  await meta.close().catch(() => undefined)
  return state
}

const metadataAllowed = (err: unknown) => isCorruption(err) || err instanceof UnsupportedVersionError

/** Odd values in place of a metadata record: wrong types, missing fields, bad names and counts. */
function oddMetadataValues(): unknown[] {
  const topic = { t: 'topic', name: 'fresh', id: 'id-1', partitions: 2, config: {}, createdMs: T0 }
  return [
    null, 5, 'topic', [], [1, 2], {}, { t: 5 }, { t: 'nope' }, { t: 'version' }, { t: 'version', version: 'x' },
    { t: 'version', version: 2 }, { t: 'version', version: -1 }, { t: 'version', version: 0.5 },
    { ...topic, name: 5 }, { ...topic, name: '' }, { ...topic, name: '../etc' }, { ...topic, name: 'x'.repeat(300) },
    { ...topic, name: '__proto__' }, { ...topic, name: 'constructor' }, { ...topic, id: null }, { ...topic, id: 7 },
    { ...topic, partitions: 0 }, { ...topic, partitions: -1 }, { ...topic, partitions: 1.5 }, { ...topic, partitions: 1e9 },
    { ...topic, partitions: '3' }, { ...topic, config: null }, { ...topic, config: 'x' }, { ...topic, config: [] },
    { ...topic, config: { retentionMs: 'x' } }, { ...topic, config: { nope: 1 } }, { ...topic, config: { segmentBytes: 1 } },
    { t: 'partitions', name: 'orders', partitions: 'x' }, { t: 'partitions', name: 'orders', partitions: 1 },
    { t: 'partitions', name: 'orders', partitions: 1e9 }, { t: 'partitions', name: 'missing', partitions: 4 },
    { t: 'partitions', name: { a: 1 }, partitions: 4 }, { t: 'config', name: 'orders', config: 5 },
    { t: 'config', name: 'orders', config: { retentionMs: -7 } }, { t: 'config', name: 'orders', config: null },
    { t: 'deleteTopic', name: {} }, { t: 'deleteTopic', name: 'missing', id: 'x' }, { t: 'deleteTopic' },
    { t: 'config', name: 'toString', config: {} }, new Map([['t', 'topic']]), new Date(0),
  ]
}

function metadataBatch(value: Buffer | null, offset: number): Buffer {
  return logOf([encodeRecordBatch([{ key: null, value, timestamp: T0 }])], offset)
}

export function metadataTarget(): Target {
  let files = new Map<string, Buffer>()
  let segment = ''
  let nextOffset = 0
  let records: Buffer[] = []
  const corpus: NamedBatch[] = batchCorpus()
  const withBatch = (batch: Buffer) => new Map(files).set(segment, Buffer.concat([files.get(segment)!, batch]))
  return {
    name: 'metadata log (metadata.ts: MetadataLog.open)',
    weight: 1.5,
    async setup() {
      const io = new MemoryFileIO()
      const { meta } = await MetadataLog.open(io, DATA_DIR, { clean: false, recoveryPoint: 0, readOnly: false, now: () => T0 })
      await meta.append({ t: 'topic', name: 'orders', id: 'a1', partitions: 3, config: { retentionMs: 1000 }, createdMs: T0 })
      await meta.append({ t: 'topic', name: 'gone', id: 'b2', partitions: 1, config: {}, createdMs: T0 })
      await meta.append({ t: 'config', name: 'orders', config: { cleanupPolicy: 'compact' } })
      await meta.append({ t: 'partitions', name: 'orders', partitions: 5 })
      await meta.append({ t: 'deleteTopic', name: 'gone', id: 'b2' })
      nextOffset = meta.log.nextOffset
      await meta.close()
      files = new Map(io.readdir(META_DIR).map((n) => [n, io.readFile(path.join(META_DIR, n))]))
      segment = [...files.keys()].find((n) => n.endsWith('.log'))!
      const log = files.get(segment)!
      records = []
      for (let pos = 0; pos < log.length; pos += LOG_OVERHEAD + log.readInt32BE(pos + 8)) {
        records.push(Buffer.from(decodeRecords(log, pos)[0]!.value!))
      }
    },
    async sweep(probe) {
      const spec = { allowed: metadataAllowed, check: checkMetadataState }
      for (const c of corpus) {
        probe.at = `sweep corpus batch ${c.name}`
        const batch = logOf([c.bytes], nextOffset)
        await probe.callAsync('MetadataLog.open', batch, () => openMetadata(withBatch(batch), new Rng(1)), spec)
      }
      for (const [i, v] of oddMetadataValues().entries()) {
        probe.at = `sweep odd record #${i} ${JSON.stringify(v)?.slice(0, 60)}`
        const batch = metadataBatch(pack(v), nextOffset)
        await probe.callAsync('MetadataLog.open', batch, () => openMetadata(withBatch(batch), new Rng(i)), spec)
      }
      probe.at = 'sweep null value'
      const nullValue = metadataBatch(null, nextOffset)
      await probe.callAsync('MetadataLog.open', nullValue, () => openMetadata(withBatch(nullValue), new Rng(2)), spec)
    },
    async randomBytes(probe, bytes, choice) {
      const batch = choice % 2 ? metadataBatch(bytes, nextOffset) : bytes
      const edited = choice % 2 ? withBatch(batch) : new Map(files).set(segment, bytes)
      await probe.callAsync('MetadataLog.open', batch, () => openMetadata(edited, new Rng(choice)), {
        allowed: metadataAllowed, check: checkMetadataState,
      })
    },
    async mutated(probe, rng) {
      let edited: Map<string, Buffer>
      let input: Buffer
      const mode = rng.int(4)
      if (mode === 0) {
        input = mutate(files.get(segment)!, rng)
        edited = new Map(files).set(segment, input)
      } else if (mode === 1) {
        input = metadataBatch(mutate(rng.pick(records), rng), nextOffset)
        edited = withBatch(input)
      } else if (mode === 2) {
        input = logOf([mutateRecords(metadataBatch(rng.pick(records), 0), rng)], nextOffset)
        edited = withBatch(input)
      } else {
        const name = rng.pick([...files.keys()])
        input = mutate(files.get(name)!, rng)
        edited = new Map(files).set(name, input)
      }
      await probe.callAsync('MetadataLog.open', input, () => openMetadata(edited, rng), {
        allowed: metadataAllowed, check: checkMetadataState,
      })
    },
  }
}

// -------------------------------------------------------------------------- __consumer_offsets

function checkOffsetKey(k: ReturnType<typeof decodeOffsetKey>): void {
  if (k === null) return
  expect(typeof k.group === 'string' && typeof k.topic === 'string', 'group or topic is not a string')
  expect((k.partition | 0) === k.partition, `partition ${k.partition} is not an int32`)
}

function checkOffsetValue(v: ReturnType<typeof decodeOffsetValue>): void {
  expect(Number.isSafeInteger(v.offset), `offset ${v.offset} is not a safe integer`)
  expect(Number.isSafeInteger(v.commitTimestamp), `commitTimestamp ${v.commitTimestamp} is not a safe integer`)
  expect(v.metadata === null || typeof v.metadata === 'string', 'metadata is neither null nor a string')
}

function decodeOffsetRecord(probe: Probe, key: Buffer, value: Buffer): void {
  probe.call('decodeOffsetKey', key, () => decodeOffsetKey(key), { allowed: isCorruption, check: checkOffsetKey })
  probe.call('decodeOffsetValue', value, () => decodeOffsetValue(value), { allowed: isCorruption, check: checkOffsetValue })
}

/** A stand-in for the __consumer_offsets partition: serves whole, CRC-checked batches from `log`. */
function offsetsPartition(log: Buffer): Partition {
  const batches: Array<{ pos: number; last: number; size: number }> = []
  let end = 0
  for (let pos = 0; pos + LOG_OVERHEAD <= log.length && checkBatch(log, pos) === null; ) {
    const h = readBatchHeader(log, pos)
    batches.push({ pos, last: h.baseOffset + h.lastOffsetDelta, size: LOG_OVERHEAD + h.batchLength })
    pos += LOG_OVERHEAD + h.batchLength
    end = h.baseOffset + h.lastOffsetDelta + 1
  }
  return {
    logStartOffset: 0,
    highWatermark: end,
    readBatches({ offset, maxBytes = 1 << 20 }: { offset: number; maxBytes?: number }) {
      const i = batches.findIndex((b) => b.last >= offset)
      if (i < 0) return { bytes: Buffer.alloc(0), highWatermark: end }
      let stop = i + 1
      while (stop < batches.length && batches[stop]!.pos + batches[stop]!.size - batches[i]!.pos <= maxBytes) stop++
      const last = batches[stop - 1]!
      return { bytes: log.subarray(batches[i]!.pos, last.pos + last.size), highWatermark: end }
    },
  } as unknown as Partition
}

async function loadOffsets(log: Buffer): Promise<OffsetStore> {
  const partition = offsetsPartition(log)
  const broker = { hasTopic: () => true, topic: () => ({ partition: () => partition }) }
  const store = new OffsetStore(broker as never, () => T0)
  await store.load()
  return store
}

export function offsetStoreTarget(): Target {
  const keys = [encodeOffsetKey('billing', 'orders', 0), encodeOffsetKey('g', 'ünï', 0x7fffffff), encodeOffsetKey('', '', 0)]
  const values = [
    encodeOffsetValue({ offset: 42, metadata: null, commitTimestamp: T0 }),
    encodeOffsetValue({ offset: 2 ** 53 - 1, metadata: 'meta', commitTimestamp: 0 }),
  ]
  const commit = (i: number, tombstone = false) =>
    encodeRecordBatch([{ key: keys[i % keys.length]!, value: tombstone ? null : values[i % values.length]!, timestamp: T0 }])
  const empty = batchCorpus().find((c) => c.name.startsWith('empty'))!.bytes
  return {
    name: '__consumer_offsets (offset-store.ts: keys, values, load)',
    async sweep(probe) {
      for (const [k, key] of keys.entries()) {
        for (let n = 0; n <= key.length; n++) {
          probe.at = `sweep key ${k} cut at ${n}`
          probe.call('decodeOffsetKey', key.subarray(0, n), () => decodeOffsetKey(key.subarray(0, n)), { allowed: isCorruption, check: checkOffsetKey })
        }
      }
      for (const [v, value] of values.entries()) {
        for (let n = 0; n <= value.length; n++) {
          probe.at = `sweep value ${v} cut at ${n}`
          probe.call('decodeOffsetValue', value.subarray(0, n), () => decodeOffsetValue(value.subarray(0, n)), { allowed: isCorruption, check: checkOffsetValue })
        }
      }
      const shapes: Array<[string, Buffer[]]> = [
        ['commits', [commit(0), commit(1), commit(2, true)]],
        ['an empty batch last (compacted)', [commit(0), empty]],
        ['an empty batch first (compacted)', [empty, commit(1)]],
        ['a cleaned batch that lost its last records', [commit(0), encodeRecordBatch(
          [{ key: keys[1]!, value: values[0]!, timestamp: T0, offsetDelta: 0 }], { lastOffsetDelta: 5 },
        )]],
        ['a control batch', [commit(0), batchCorpus().find((c) => c.name === 'commit marker')!.bytes]],
        ['a record without a key', [encodeRecordBatch([{ key: null, value: values[0]!, timestamp: T0 }])]],
      ]
      for (const [name, batches] of shapes) {
        probe.at = `sweep load: ${name}`
        const log = logOf(batches)
        await probe.callAsync('OffsetStore.load', log, () => loadOffsets(log), { allowed: isCorruption })
      }
    },
    async randomBytes(probe, bytes, choice) {
      decodeOffsetRecord(probe, bytes, bytes)
      const framed = Buffer.concat([Buffer.from([0, choice & 3]), bytes])
      decodeOffsetRecord(probe, framed, framed)
    },
    async mutated(probe, rng) {
      decodeOffsetRecord(probe, mutate(rng.pick(keys), rng), mutate(rng.pick(values), rng))
      const batches = [commit(rng.int(6)), commit(rng.int(6), rng.chance(0.3))]
      batches[rng.int(2)] = rng.chance(0.5)
        ? mutateRecords(batches[0]!, rng)
        : encodeRecordBatch([{ key: mutate(rng.pick(keys), rng), value: rng.chance(0.2) ? null : mutate(rng.pick(values), rng), timestamp: T0 }])
      if (rng.chance(0.2)) batches.push(empty)
      const log = logOf(batches)
      await probe.callAsync('OffsetStore.load', log, () => loadOffsets(log), { allowed: isCorruption })
    },
  }
}

// --------------------------------------------------------------------------- consumer protocol

const isInvalidRecord = (err: unknown) => err instanceof InvalidRecordError && err.code === 'INVALID_RECORD'

function decodeProtocol(probe: Probe, buf: Buffer): void {
  probe.call('decodeSubscription', buf, () => decodeSubscription(buf), {
    allowed: isInvalidRecord,
    check: (s) => {
      expect(Number.isInteger(s.generationId), 'generationId is not an integer')
      for (const tp of s.ownedPartitions) for (const p of tp.partitions) expect((p | 0) === p, `partition ${p}`)
    },
  })
  probe.call('decodeAssignment', buf, () => decodeAssignment(buf), {
    allowed: isInvalidRecord,
    check: (a) => {
      for (const tp of a.assigned) for (const p of tp.partitions) expect((p | 0) === p, `partition ${p}`)
    },
  })
}

export function consumerProtocolTarget(): Target {
  const owned = [{ topic: 'orders', partitions: [0, 1, 2] }, { topic: 'ü', partitions: [] }]
  const corpus = [
    ...[0, 1, 2, 3].map((v) => encodeSubscription({ topics: ['orders', 'payments'], userData: Buffer.from('ud'), ownedPartitions: owned, generationId: 4, rackId: 'r1' }, v)),
    encodeSubscription({ topics: [] }, 0),
    encodeAssignment({ assigned: owned, userData: Buffer.from('x') }),
    encodeAssignment({ assigned: [] }),
  ]
  return {
    name: 'consumer protocol (consumer-protocol.ts)',
    weight: 0.5,
    sweep(probe) {
      for (const [i, c] of corpus.entries()) {
        for (let n = 0; n <= c.length; n++) {
          probe.at = `sweep #${i} cut at ${n}`
          decodeProtocol(probe, c.subarray(0, n))
        }
      }
    },
    randomBytes(probe, bytes) {
      decodeProtocol(probe, bytes)
    },
    mutated(probe, rng) {
      decodeProtocol(probe, mutate(rng.pick(corpus), rng))
    },
  }
}

// ------------------------------------------------------------------------------- fetch decoding

const bytesCodec = resolveCodec('bytes', 'value')

/** Header objects as decodeFetch should build them from decodeRecords' header lists. */
function expectedHeaders(headers: Array<{ key: string; value: Buffer | null }>): Array<[string, unknown]> {
  const out = new Map<string, Array<Buffer | null>>()
  for (const { key, value } of headers) out.set(key, [...(out.get(key) ?? []), value])
  return [...out].map(([k, vs]) => [k, vs.length === 1 ? vs[0] : vs])
}

function checkFetch(bytes: Buffer, from: number, result: ReturnType<typeof decodeFetch>): void {
  expect(result.nextOffset >= from, `nextOffset ${result.nextOffset} below ${from}`)
  const want: Array<{ offset: number; headers: Array<[string, unknown]> }> = []
  for (let pos = 0; pos < bytes.length; pos += LOG_OVERHEAD + bytes.readInt32BE(pos + 8)) {
    const h = readBatchHeader(bytes, pos)
    if (h.isControl || h.baseOffset + h.lastOffsetDelta < from) continue
    for (const r of decodeRecords(bytes, pos)) if (r.offset >= from) want.push({ offset: r.offset, headers: expectedHeaders(r.headers) })
  }
  expect(want.length === result.messages.length, `${result.messages.length} messages, expected ${want.length}`)
  result.messages.forEach((m, i) => {
    expect(m.offset === want[i]!.offset, `message ${i} has offset ${m.offset}, expected ${want[i]!.offset}`)
    const got = Object.keys(m.headers).map((k): [string, unknown] => [k, (m.headers as Record<string, unknown>)[k]])
    expect(Object.getPrototypeOf(m.headers) === Object.prototype, `message ${m.offset}: headers object lost its prototype`)
    const show = (hs: Array<[string, unknown]>) => JSON.stringify(hs.map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]))
    expect(show(got) === show(want[i]!.headers), `message ${m.offset}: headers ${show(got)}, expected ${show(want[i]!.headers)}`)
  })
}

function fetchOnce(probe: Probe, bytes: Buffer, from: number): void {
  probe.call('decodeFetch', bytes, () => decodeFetch('orders', 0, bytes, from, bytesCodec, bytesCodec), {
    allowed: isCorruption,
    itemsMax: 8 * bytes.length + 64,
    allocBytesMax: Infinity, // gzip batches: bounded in the record batch target
    check: (r) => checkFetch(bytes, from, r),
  })
}

export function fetchTarget(): Target {
  const corpus = batchCorpus().filter((c) => !c.name.startsWith('many') && !c.name.includes('2^53'))
  return {
    name: 'fetch decoding (fetch-decode.ts: decodeFetch)',
    sweep(probe) {
      const all = logOf(corpus.map((c) => c.bytes))
      for (let from = 0; from < 60; from++) {
        probe.at = `sweep whole corpus from ${from}`
        fetchOnce(probe, all, from)
      }
    },
    randomBytes(probe, bytes, choice) {
      const header = Buffer.from(corpus[choice % corpus.length]!.bytes.subarray(0, 61))
      fetchOnce(probe, frameAndResign(Buffer.concat([header, bytes])), choice)
    },
    mutated(probe, rng) {
      const picked = Array.from({ length: rng.range(1, 4) }, () => rng.pick(corpus).bytes)
      const i = rng.int(picked.length)
      if (rng.chance(0.7)) picked[i] = mutateRecords(picked[i]!, rng)
      const bytes = logOf(picked, rng.pick([0, 5, 1000]))
      const first = readBatchHeader(bytes, 0)
      fetchOnce(probe, bytes, first.baseOffset + rng.int(first.lastOffsetDelta + 2))
    },
  }
}

// ---------------------------------------------------------------- raw appends (Produce from a client)

export function appendBatchTarget(): Target {
  let broker: Broker | null = null
  let partitions: Partition[] = []
  let appends = 0
  const corpus = batchCorpus().filter((c) => !c.name.includes('2^53'))
  const fresh = async () => {
    await broker?.close()
    broker = await Broker.open({})
    partitions = [
      (await broker.createTopic('plain', { partitions: 1 })).partition(0),
      (await broker.createTopic('compacted', { partitions: 1, cleanupPolicy: 'compact' })).partition(0),
      (await broker.createTopic('stamped', { partitions: 1, messageTimestampType: 'LogAppendTime', maxMessageBytes: 2000 })).partition(0),
    ]
  }
  const appendAndRead = async (which: number, bytes: Buffer): Promise<number> => {
    if (++appends % 2000 === 0) await fresh() // keeps the in-memory logs small
    const p = partitions[which % partitions.length]!
    const info = await p.appendBatch(Buffer.from(bytes), { acks: 'leader' })
    if (info.duplicate) return 0 // a retry of an idempotent batch: its original offsets, nothing written
    const r = p.readBatches({ offset: info.baseOffset, maxBytes: 1 << 20 })
    const dec = decodeFetch(p.topic, 0, r.bytes, info.baseOffset, bytesCodec, bytesCodec)
    expect(dec.nextOffset === info.lastOffset + 1, `accepted batch read back up to ${dec.nextOffset}, appended up to ${info.lastOffset}`)
    return dec.messages.length
  }
  const allowed = (err: unknown) =>
    (err instanceof InvalidRecordError && err.code === 'INVALID_RECORD') ||
    (err instanceof RecordTooLargeError && err.code === 'RECORD_TOO_LARGE') ||
    // an idempotent or transactional batch out of sequence, or of an older epoch
    (err instanceof OutOfOrderSequenceError && err.code === 'OUT_OF_ORDER_SEQUENCE') ||
    (err instanceof FencedError && err.code === 'FENCED')
  return {
    name: 'raw appends from another process (Partition.appendBatch, then read back)',
    async setup() {
      await fresh()
    },
    async teardown() {
      await broker?.close()
    },
    async randomBytes(probe, bytes, choice) {
      const header = Buffer.from(corpus[choice % corpus.length]!.bytes.subarray(0, 61))
      const buf = choice % 2 ? frameAndResign(Buffer.concat([header, bytes])) : bytes
      await probe.callAsync('appendBatch', buf, () => appendAndRead(choice, buf), { allowed })
    },
    async mutated(probe, rng) {
      const base = rng.pick(corpus).bytes
      const mode = rng.int(4)
      const buf = mode === 0 ? mutate(base, rng) : mode === 1 ? frameAndResign(mutate(base, rng)) : mutateRecords(base, rng)
      const which = rng.int(3)
      await probe.callAsync('appendBatch', buf, () => appendAndRead(which, buf), { allowed })
    },
  }
}
