// Fuzz targets for the record batch codec (record-batch.ts, varint.ts, control-batch.ts): pure
// functions over Buffers whose only allowed error is CorruptionError (their DecodeError is one).
import {
  BATCH_HEADER_BYTES, DECOMPRESSED_BYTES_MAX, batchSizeAt, checkBatch, decodeRecords, forEachRecordKey, readBatchHeader,
  type DecodedRecord,
} from '../../src/storage/record-batch.js'
import { decodeControlRecordType } from '../../src/storage/control-batch.js'
import { VarintReader, readVarint, readVarlong, writeVarint, writeVarlong } from '../../src/storage/varint.js'
import {
  HEADER_FIELDS, batchCorpus, closeBatch, extremeFieldValues, extremeVarints, frameAndResign, openBatch, replaceField,
  resignBatch, varFields, writeField, type NamedBatch, type VarField,
} from './corpus.js'
import { expect, mutate, type Probe, type Rng } from './harness.js'
import { isCorruption, nothing, type Target } from './target.js'
import { decompressBounds } from './targets-compression.js'

const CHECK_RESULTS = new Set([null, 'truncated', 'bad length', 'bad magic', 'bad crc', 'unsupported compression', 'bad header'])
/**
 * Bytes the records of `buf` can decode into: the decompressed output (gzip, snappy, lz4), or the
 * bytes themselves.
 */
function recordBytesOf(buf: Buffer): { bytesIn: number; allocBytesMax: number } {
  const codec = buf.length > BATCH_HEADER_BYTES ? buf.readInt16BE(21) & 7 : 0
  if (codec >= 1 && codec <= 3) {
    const b = decompressBounds(codec, buf.subarray(BATCH_HEADER_BYTES), DECOMPRESSED_BYTES_MAX)
    return { bytesIn: BATCH_HEADER_BYTES + b.bytesIn, allocBytesMax: b.allocBytesMax + 4 * buf.length }
  }
  return { bytesIn: buf.length, allocBytesMax: 4 * buf.length + 64 * 1024 }
}

function checkRecords(records: DecodedRecord[], buf: Buffer): void {
  const h = readBatchHeader(buf, 0)
  expect(records.length === h.recordCount, `${records.length} records decoded, header says ${h.recordCount}`)
  for (const r of records) {
    expect(Number.isSafeInteger(r.offset), `record offset ${r.offset} is not a safe integer`)
    expect(Number.isSafeInteger(r.timestamp), `record timestamp ${r.timestamp} is not a safe integer`)
    expect(r.key === null || Buffer.isBuffer(r.key), 'key is neither null nor a Buffer')
    expect(r.value === null || Buffer.isBuffer(r.value), 'value is neither null nor a Buffer')
    for (const hd of r.headers) expect(typeof hd.key === 'string', 'header key is not a string')
  }
}

type KeyVisit = [offset: number, key: string | null, valueIsNull: boolean]

/** Every decoder of the codec on `buf`, and agreement between decodeRecords and forEachRecordKey. */
export function decodeBatchEverywhere(probe: Probe, buf: Buffer, expectValid = false): void {
  const bounds = recordBytesOf(buf)
  const checked = probe.call('checkBatch', buf, () => checkBatch(buf, 0), {
    allowed: nothing,
    check: (v) => expect(CHECK_RESULTS.has(v), `checkBatch returned ${String(v)}`),
  })
  probe.call('checkBatch(end)', buf, () => checkBatch(buf, 0, buf.length >> 1), {
    allowed: nothing,
    check: (v) => expect(CHECK_RESULTS.has(v), `checkBatch returned ${String(v)}`),
  })
  probe.call('batchSizeAt', buf, () => batchSizeAt(buf, 0), { allowed: isCorruption })
  const header = probe.call('readBatchHeader', buf, () => readBatchHeader(buf, 0), {
    allowed: isCorruption,
    check: (h) => {
      for (const k of ['baseOffset', 'baseTimestamp', 'maxTimestamp', 'producerId'] as const) {
        expect(Number.isSafeInteger(h[k]), `header ${k} ${h[k]} is not a safe integer`)
      }
    },
  })
  if (checked.ok && checked.value === null && !header.ok && !/baseOffset|last offset/.test((header.error as Error).message)) {
    probe.fail('checkBatch', buf, `accepts a batch whose header readBatchHeader refuses: ${(header.error as Error).message}`)
  }
  const dec = probe.call('decodeRecords', buf, () => decodeRecords(buf, 0), {
    allowed: isCorruption, ...bounds, check: (records) => checkRecords(records, buf),
  })
  const keys = probe.call('forEachRecordKey', buf, () => {
    const seen: KeyVisit[] = []
    forEachRecordKey(buf, 0, (offset, data, keyStart, keyLength, valueIsNull) => {
      seen.push([offset, keyLength < 0 ? null : data.toString('hex', keyStart, keyStart + keyLength), valueIsNull])
    })
    return seen
  }, { allowed: isCorruption, ...bounds, itemsMax: 8 * bounds.bytesIn + 64 })
  if (expectValid && !dec.ok) probe.fail('decodeRecords', buf, 'refused a valid batch')
  if (dec.ok && !keys.ok) probe.fail('forEachRecordKey', buf, 'refused a batch that decodeRecords accepts')
  if (dec.ok && keys.ok) {
    const want: KeyVisit[] = dec.value.map((r) => [r.offset, r.key ? r.key.toString('hex') : null, r.value === null])
    if (JSON.stringify(want) !== JSON.stringify(keys.value)) {
      probe.fail('forEachRecordKey', buf, 'visits other keys or offsets than decodeRecords returns')
    }
  }
}

function oneOf(corpus: NamedBatch[], rng: Rng): Buffer {
  return rng.pick(corpus).bytes
}

/** A corpus batch edited below its CRC: records section mutated or a field set to an extreme. */
export function mutateRecords(batch: Buffer, rng: Rng): Buffer {
  const o = openBatch(batch)
  const count = batch.readInt32BE(57)
  let fields: VarField[] = []
  try {
    fields = varFields(o.records, Math.max(0, count))
  } catch {
    // records of a batch that was already edited: no field map, mutate blindly
  }
  if (rng.chance(0.5) && fields.length > 0) {
    o.records = replaceField(o.records, rng.pick(fields), rng.pick(extremeVarints(o.records.length)))
  } else {
    o.records = mutate(o.records, rng)
  }
  if (rng.chance(0.2)) o.header.writeInt32BE(rng.pick([0, 1, count - 1, count + 1, 0x7fffffff, -1]), 57)
  if (rng.chance(0.1)) o.codec = rng.int(4)
  o.header.writeInt16BE((o.header.readInt16BE(21) & ~7) | o.codec, 21)
  return closeBatch(o)
}

export function recordBatchTarget(): Target {
  let corpus: NamedBatch[] = []
  return {
    name: 'record batch (record-batch.ts)',
    weight: 4,
    setup() {
      corpus = batchCorpus()
    },
    sweep(probe) {
      for (const { name, bytes } of corpus) {
        probe.at = `sweep ${name} as is`
        decodeBatchEverywhere(probe, bytes, true)
        for (let n = 0; n < bytes.length; n++) {
          // every length of small batches; of big ones, the header, both ends and every 13th byte
          if (n > 1024 && n < bytes.length - 256 && n % 13 !== 0) continue
          probe.at = `sweep ${name} cut at ${n}`
          const cut = Buffer.from(bytes.subarray(0, n))
          decodeBatchEverywhere(probe, cut)
          if (n >= BATCH_HEADER_BYTES && n % 3 === 0) decodeBatchEverywhere(probe, frameAndResign(cut))
        }
        for (const f of HEADER_FIELDS) {
          for (const v of extremeFieldValues(f.bytes, bytes.length)) {
            probe.at = `sweep ${name} ${f.name}=${v}`
            const raw = Buffer.from(bytes)
            writeField(raw, f.at, f.bytes, v)
            decodeBatchEverywhere(probe, raw)
            if (f.at >= 21) decodeBatchEverywhere(probe, resignBatch(raw))
          }
        }
        const o = openBatch(bytes)
        if (o.records.length > 600) continue
        const fields = varFields(o.records, bytes.readInt32BE(57))
        for (const f of fields) {
          for (const enc of extremeVarints(o.records.length)) {
            probe.at = `sweep ${name} ${f.name}@${f.pos}=${enc.toString('hex')}`
            decodeBatchEverywhere(probe, closeBatch({ ...o, records: replaceField(o.records, f, enc) }))
          }
        }
      }
    },
    randomBytes(probe, bytes, choice) {
      let buf = bytes
      if (choice % 4 !== 0) {
        // a plausible header in front, so the random bytes reach the record parser
        const header = Buffer.from(corpus[choice % corpus.length]!.bytes.subarray(0, BATCH_HEADER_BYTES))
        // random bytes as a gzip (choice 2), snappy (6) or lz4 (3) records section
        const codec = choice === 2 ? 1 : choice === 6 ? 2 : choice === 3 ? 3 : -1
        if (codec > 0) header.writeInt16BE((header.readInt16BE(21) & ~7) | codec, 21)
        header.writeInt32BE(choice % 2 ? bytes.length >> 3 : choice, 57)
        buf = frameAndResign(Buffer.concat([header, bytes]))
      }
      decodeBatchEverywhere(probe, buf)
    },
    mutated(probe, rng) {
      let base = oneOf(corpus, rng)
      if (rng.chance(0.1)) base = Buffer.concat([base, oneOf(corpus, rng)])
      const mode = rng.int(10)
      let buf: Buffer
      if (mode < 3) buf = mutate(base, rng)
      else if (mode < 5) buf = frameAndResign(mutate(base, rng))
      else if (mode < 6) buf = resignBatch(mutate(base, rng))
      else if (mode < 9) buf = mutateRecords(base, rng)
      else {
        buf = Buffer.from(base)
        const f = rng.pick(HEADER_FIELDS)
        writeField(buf, f.at, f.bytes, rng.pick(extremeFieldValues(f.bytes, buf.length)))
        if (rng.chance(0.7)) resignBatch(buf)
      }
      decodeBatchEverywhere(probe, buf)
    },
  }
}

// ------------------------------------------------------------------------------------ varints

function decodeVarints(probe: Probe, buf: Buffer, pos: number): void {
  probe.call('readVarint', buf, () => readVarint(buf, pos), {
    allowed: isCorruption,
    check: (d) => {
      expect((d.value | 0) === d.value, `varint ${d.value} is not an int32`)
      expect(d.next > pos && d.next <= Math.min(buf.length, pos + 5), `varint read up to ${d.next} from ${pos}`)
    },
  })
  probe.call('readVarlong', buf, () => readVarlong(buf, pos), {
    allowed: isCorruption,
    check: (d) => {
      expect(Number.isSafeInteger(d.value), `varlong ${d.value} is not a safe integer`)
      expect(d.next > pos && d.next <= Math.min(buf.length, pos + 10), `varlong read up to ${d.next} from ${pos}`)
    },
  })
  probe.call('VarintReader', buf, () => {
    const r = new VarintReader(buf, pos, buf.length)
    const out: number[] = []
    for (let i = 0; i < 64 && r.pos < buf.length; i++) out.push(i % 3 === 0 ? r.varlong() : i % 3 === 1 ? r.varint() : r.int8())
    expect(r.pos <= buf.length, `reader moved to ${r.pos} past ${buf.length}`)
    return out
  }, { allowed: isCorruption })
}

export function varintTarget(): Target {
  return {
    name: 'varints (varint.ts)',
    weight: 0.5,
    randomBytes(probe, bytes, choice) {
      decodeVarints(probe, bytes, bytes.length === 0 ? 0 : choice % bytes.length)
    },
    mutated(probe, rng) {
      const buf = Buffer.alloc(32)
      let p = 0
      const n = rng.range(1, 3)
      for (let i = 0; i < n; i++) {
        p = rng.chance(0.5)
          ? writeVarint(buf, p, rng.chance(0.5) ? rng.range(-0x80000000, 0x7fffffff) : rng.range(-300, 300))
          : writeVarlong(buf, p, rng.chance(0.5) ? Math.floor((rng.float() - 0.5) * 2 ** 54) : rng.range(-1e6, 1e6))
      }
      decodeVarints(probe, mutate(buf.subarray(0, p), rng), 0)
    },
  }
}

// ----------------------------------------------------------------------------- control records

function decodeMarker(probe: Probe, key: Buffer | null): void {
  const input = key ?? Buffer.alloc(0)
  probe.call('decodeControlRecordType', input, () => decodeControlRecordType({ key }), {
    allowed: isCorruption,
    check: (t) => expect(t === 'commit' || t === 'abort', `marker type ${String(t)}`),
  })
}

export function controlBatchTarget(): Target {
  const markers = batchCorpus().filter((c) => c.name.endsWith('marker'))
  return {
    name: 'transaction markers (control-batch.ts)',
    weight: 0.5,
    randomBytes(probe, bytes, choice) {
      decodeMarker(probe, choice === 7 ? null : bytes)
    },
    mutated(probe, rng) {
      const batch = mutateRecords(rng.pick(markers).bytes, rng)
      decodeBatchEverywhere(probe, batch)
      let records: DecodedRecord[] = []
      try {
        records = decodeRecords(batch, 0)
      } catch {
        // judged by decodeBatchEverywhere
      }
      for (const r of records) decodeMarker(probe, r.key)
    },
  }
}
