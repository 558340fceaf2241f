// `kafkalite dump <file>`: what kafka-dump-log.sh does. For a segment (.log): every batch with its
// position, offsets, timestamps, producer id/epoch/sequence, attributes and whether its CRC holds;
// with --records, each record too. A batch whose length is readable but whose bytes are bad is
// shown and skipped; a bad length or a torn tail ends the dump there (nothing after it can be
// found). For .index and .timeindex files: their entries. Exits 1 when something is bad.
// Reads the file directly (no data dir is opened, so it works on a copied or damaged file).
import { closeSync, openSync, readSync, fstatSync } from 'node:fs'
import * as path from 'node:path'
import { Option, type Command } from 'commander'
import { checkBatch, decodeRecords, readBatchHeader, type BatchHeader } from '../index.js'
import { ENCODINGS, jsonOption, Output, type Encoding, type JsonOptions } from './common.js'

/** Bytes of a batch up to and including its magic byte; the rest of its header follows. */
const LOG_OVERHEAD = 12
const HEADER_BYTES = 61
/** A batch claiming more than this is treated as a bad length (Kafka's batches stay far below). */
const BATCH_BYTES_MAX = 1 << 30

interface DumpOptions extends JsonOptions {
  records?: boolean
  encoding: Encoding
}

export function dumpCommand(program: Command): void {
  program
    .command('dump <file>')
    .description('print the batches of a segment (.log) or the entries of an .index/.timeindex file')
    .option('--records', 'print every record of each batch too (offset, timestamp, key, value, headers)')
    .addOption(new Option('--encoding <encoding>', 'how keys and values are printed with --records').choices(ENCODINGS).default('utf8'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Exits 1 when a batch is bad (CRC, header, length) or the file ends inside a batch.

Examples:
  $ kafkalite dump kafkalite-data/orders-0/00000000000000000000.log
  $ kafkalite dump kafkalite-data/orders-0/00000000000000000000.log --records --json
  $ kafkalite dump kafkalite-data/orders-0/00000000000000000000.index`,
    )
    .action(async (file: string, o: DumpOptions) => {
      const out = new Output()
      const ok = file.endsWith('.index') || file.endsWith('.timeindex') ? dumpIndex(file, o, out) : dumpLog(file, o, out)
      await out.flush()
      if (!ok) process.exitCode = 1
    })
}

function dumpLog(file: string, o: DumpOptions, out: Output): boolean {
  const fd = openSync(file, 'r')
  try {
    const size = fstatSync(fd).size
    if (!o.json) out.write(`Dumping ${file} (${size} bytes)\n`)
    let position = 0
    let ok = true
    while (position < size) {
      const head = Buffer.alloc(Math.min(HEADER_BYTES, size - position))
      readSync(fd, head, 0, head.length, position)
      const length = head.length >= LOG_OVERHEAD ? LOG_OVERHEAD + head.readInt32BE(8) : -1
      if (head.length < LOG_OVERHEAD || length < HEADER_BYTES || length > BATCH_BYTES_MAX || position + length > size) {
        const reason = head.length < LOG_OVERHEAD || position + length > size ? 'truncated batch (torn tail)' : `bad batch length ${length - LOG_OVERHEAD}`
        problem(out, o, file, position, `${reason}; ${size - position} bytes not dumped`)
        return false
      }
      const bytes = Buffer.alloc(length)
      readSync(fd, bytes, 0, length, position)
      const bad = checkBatch(bytes, 0, length)
      let header: BatchHeader | null = null
      try {
        header = readBatchHeader(bytes, 0)
      } catch {
        header = null
      }
      if (bad || !header) ok = false
      // (printBatch reports a batch without a readable header itself)
      if (bad && header) process.stderr.write(`kafkalite: ${file} position ${position}: ${bad}\n`)
      printBatch(out, o, file, position, length, header, bytes, bad)
      position += length
    }
    if (!o.json) out.write(ok ? 'every batch is valid\n' : 'some batches are bad\n')
    return ok
  } finally {
    closeSync(fd)
  }
}

function printBatch(out: Output, o: DumpOptions, file: string, position: number, size: number, h: BatchHeader | null, bytes: Buffer, bad: string | null): void {
  const crc = bytes.readUInt32BE(17)
  if (!h) {
    problem(out, o, file, position, `${bad ?? 'bad header'} (crc ${crc}, ${size} bytes)`)
    return
  }
  const records = o.records && !bad ? decodeRecords(bytes, 0) : null
  const lastSequence = h.baseSequence < 0 ? -1 : h.baseSequence + h.lastOffsetDelta
  if (o.json) {
    const json: Record<string, unknown> = {
      position,
      baseOffset: h.baseOffset,
      lastOffset: h.baseOffset + h.lastOffsetDelta,
      count: h.recordCount,
      size,
      baseSequence: h.baseSequence,
      lastSequence,
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      partitionLeaderEpoch: h.partitionLeaderEpoch,
      isTransactional: h.isTransactional,
      isControl: h.isControl,
      timestampType: h.timestampType,
      baseTimestamp: h.baseTimestamp,
      maxTimestamp: h.maxTimestamp,
      compression: h.compression,
      crc,
      valid: !bad,
      problem: bad,
    }
    if (records) {
      json.records = records.map((r) => ({
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key?.toString(o.encoding) ?? null,
        value: r.value?.toString(o.encoding) ?? null,
        headers: Object.fromEntries(r.headers.map((x) => [x.key, x.value?.toString(o.encoding) ?? null])),
      }))
    }
    out.write(JSON.stringify(json) + '\n')
    return
  }
  out.write(
    `baseOffset: ${h.baseOffset} lastOffset: ${h.baseOffset + h.lastOffsetDelta} count: ${h.recordCount} ` +
      `baseSequence: ${h.baseSequence} lastSequence: ${lastSequence} producerId: ${h.producerId} producerEpoch: ${h.producerEpoch} ` +
      `partitionLeaderEpoch: ${h.partitionLeaderEpoch} isTransactional: ${h.isTransactional} isControl: ${h.isControl} ` +
      `position: ${position} ${h.timestampType}: ${h.maxTimestamp} size: ${size} magic: ${h.magic} ` +
      `compresscodec: ${h.compression} crc: ${crc} isvalid: ${!bad}${bad ? ` (${bad})` : ''}\n`,
  )
  for (const r of records ?? []) {
    const headers = r.headers.map((x) => `${x.key}:${x.value?.toString(o.encoding) ?? 'null'}`).join(',')
    out.write(
      `| offset: ${r.offset} ${h.timestampType}: ${r.timestamp} keySize: ${r.key?.length ?? -1} valueSize: ${r.value?.length ?? -1} ` +
        `headerKeys: [${r.headers.map((x) => x.key).join(',')}]${headers ? ` headers: ${headers}` : ''} ` +
        `key: ${r.key?.toString(o.encoding) ?? 'null'} payload: ${r.value?.toString(o.encoding) ?? 'null'}\n`,
    )
  }
}

function problem(out: Output, o: DumpOptions, file: string, position: number, reason: string): void {
  if (o.json) out.write(JSON.stringify({ position, valid: false, problem: reason }) + '\n')
  else out.write(`position: ${position} isvalid: false (${reason})\n`)
  process.stderr.write(`kafkalite: ${file} position ${position}: ${reason}\n`)
}

/**
 * Offset index: 8-byte entries (offset relative to the segment's base offset, file position), both
 * int32. Time index: 12-byte entries (timestamp int64, relative offset int32). Preallocated,
 * zero-filled space at the end is not an entry.
 */
function dumpIndex(file: string, o: DumpOptions, out: Output): boolean {
  const fd = openSync(file, 'r')
  try {
    const size = fstatSync(fd).size
    const buf = Buffer.alloc(size)
    readSync(fd, buf, 0, size, 0)
    const base = Number(path.basename(file).split('.')[0])
    const time = file.endsWith('.timeindex')
    const entry = time ? 12 : 8
    if (!o.json) out.write(`Dumping ${file} (${size} bytes, base offset ${base})\n`)
    let ok = true
    let last = -1
    for (let pos = 0; pos + entry <= size; pos += entry) {
      const rel = time ? buf.readInt32BE(pos + 8) : buf.readInt32BE(pos)
      const value = time ? Number(buf.readBigInt64BE(pos)) : buf.readInt32BE(pos + 4)
      if (pos > 0 && rel === 0 && value === 0) break
      if (rel < last) {
        ok = false
        problem(out, o, file, pos, `offset ${base + rel} goes backwards (after ${base + last})`)
      }
      last = rel
      const offset = base + rel
      if (o.json) out.write(JSON.stringify(time ? { timestamp: value, offset } : { offset, position: value }) + '\n')
      else out.write(time ? `timestamp: ${value} offset: ${offset}\n` : `offset: ${offset} position: ${value}\n`)
    }
    if (size % entry !== 0) {
      ok = false
      problem(out, o, file, size - (size % entry), `${size % entry} trailing bytes (entries are ${entry} bytes)`)
    }
    return ok
  } finally {
    closeSync(fd)
  }
}
