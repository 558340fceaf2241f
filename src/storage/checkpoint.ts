// Offset checkpoint files (recovery points, log start offsets): one offset per topic-partition.
// Written to a temp file, fsync'd, renamed over the old one, then the directory fsync'd, so a crash
// leaves either the old or the new file whole.
//
// Layout, big-endian:
//   magic "KLCP" (4) | version u8 = 1 | count u32
//   count × ( topicLength u16 | topic utf8 | partition u32 | offset int64 )
//   crc32c u32 over every byte before it
import * as path from 'node:path'
import { CorruptionError, InvariantViolation } from '../errors.js'
import { crc32c } from '../util/crc32c.js'
import type { FileIO } from '../util/file-io.js'

const MAGIC = 0x4b4c4350 // "KLCP"
const VERSION = 1

export interface CheckpointEntry {
  topic: string
  partition: number
  offset: number
}

export function encodeCheckpoint(entries: readonly CheckpointEntry[]): Buffer {
  let size = 4 + 1 + 4 + 4
  const names = entries.map((e) => Buffer.from(e.topic, 'utf8'))
  for (const n of names) size += 2 + n.length + 4 + 8
  const buf = Buffer.allocUnsafe(size)
  let p = buf.writeUInt32BE(MAGIC, 0)
  p = buf.writeUInt8(VERSION, p)
  p = buf.writeUInt32BE(entries.length, p)
  entries.forEach((e, i) => {
    const n = names[i]!
    // pair assertion with decodeCheckpoint: write only what it accepts back
    if (!Number.isSafeInteger(e.offset) || e.offset < 0 || n.length > 0xffff) {
      throw new InvariantViolation(`checkpoint entry ${e.topic}-${e.partition} at offset ${e.offset} cannot be written`)
    }
    p = buf.writeUInt16BE(n.length, p)
    p += n.copy(buf, p)
    p = buf.writeUInt32BE(e.partition, p)
    p = buf.writeInt32BE(Math.floor(e.offset / 0x100000000), p)
    p = buf.writeUInt32BE(e.offset >>> 0, p)
  })
  buf.writeUInt32BE(crc32c(buf, 0, p), p)
  return buf
}

/**
 * Parses a checkpoint; checks magic, then version, then length, then CRC, one error per cause, then
 * each entry (lengths within the file, offset a safe integer ≥ 0). Throws only CorruptionError.
 */
export function decodeCheckpoint(buf: Buffer, file: string): CheckpointEntry[] {
  if (buf.length < 4 || buf.readUInt32BE(0) !== MAGIC) throw new CorruptionError('bad checkpoint magic', file, 0)
  if (buf.length > 4 && buf.readUInt8(4) !== VERSION) {
    throw new CorruptionError(`unsupported checkpoint version ${buf.readUInt8(4)}`, file, 4)
  }
  if (buf.length < 13) throw new CorruptionError('bad checkpoint length', file, buf.length)
  const crcAt = buf.length - 4
  if (buf.readUInt32BE(crcAt) !== crc32c(buf, 0, crcAt)) throw new CorruptionError('bad checkpoint crc', file, crcAt)
  const count = buf.readUInt32BE(5)
  const out: CheckpointEntry[] = []
  let p = 9
  for (let i = 0; i < count; i++) {
    if (p + 2 > crcAt) throw new CorruptionError('bad checkpoint length', file, p)
    const n = buf.readUInt16BE(p)
    if (p + 2 + n + 12 > crcAt) throw new CorruptionError('bad checkpoint length', file, p)
    const topic = buf.toString('utf8', p + 2, p + 2 + n)
    p += 2 + n
    const partition = buf.readUInt32BE(p)
    const offset = buf.readInt32BE(p + 4) * 0x100000000 + buf.readUInt32BE(p + 8)
    // offsets are JS numbers: beyond 2^53 (or negative) only a bug could have written them
    if (!Number.isSafeInteger(offset) || offset < 0) throw new CorruptionError(`bad checkpoint offset ${offset}`, file, p + 4)
    p += 12
    out.push({ topic, partition, offset })
  }
  if (p !== crcAt) throw new CorruptionError('bad checkpoint length', file, p)
  return out
}

/**
 * Writes `data` to `file` atomically: temp file, fsync, rename, fsync of the directory. On failure
 * the old file is untouched and the temp file removed (best effort).
 */
export async function writeFileAtomic(io: FileIO, file: string, data: Buffer): Promise<void> {
  const tmp = file + '.tmp'
  try {
    const h = io.open(tmp, { create: true })
    try {
      h.truncate(0)
      if (data.length > 0) h.write([data], 0)
      await h.sync()
    } finally {
      h.close()
    }
    io.rename(tmp, file)
  } catch (err) {
    try {
      io.unlink(tmp)
    } catch {
      // The write error is the one to report; a stale .tmp is overwritten by the next write.
    }
    throw err
  }
  await io.syncDir(path.dirname(file))
}

export async function writeCheckpoint(io: FileIO, file: string, entries: readonly CheckpointEntry[]): Promise<void> {
  await writeFileAtomic(io, file, encodeCheckpoint(entries))
}

/** Reads a checkpoint file; a missing file is an empty checkpoint. */
export function readCheckpoint(io: FileIO, file: string): Map<string, number> {
  const map = new Map<string, number>()
  if (!io.exists(file)) return map
  for (const e of decodeCheckpoint(io.readFile(file), file)) map.set(`${e.topic}-${e.partition}`, e.offset)
  return map
}
