// Fuzz target for the snappy and lz4 decoders (storage/compression-snappy.ts, compression-lz4.ts):
// pure functions over Buffers whose only allowed error is DecodeError (a CorruptionError), whose
// output never passes the limit they are given, and whose allocations stay proportional to what the
// input can describe. Inputs: what our compressors write, reference encodings (libsnappy, liblz4,
// the lz4 tool, librdkafka), their truncations, byte edits, LZ4 frames edited below a recomputed
// header checksum, and random element streams (snappy) and sequences (lz4) with lengths and offsets
// at and past their bounds. A decoded output is compressed again and must come back the same.
import { gunzipSync } from 'node:zlib'
import { lz4Compress, lz4Decompress } from '../../src/storage/compression-lz4.js'
import { snappyCompress, snappyCompressRaw, snappyDecompress } from '../../src/storage/compression-snappy.js'
import { BATCH_HEADER_BYTES } from '../../src/storage/record-batch.js'
import { xxh32 } from '../../src/util/xxhash32.js'
import { LIBRDKAFKA_BATCHES, LZ4_VECTORS, SNAPPY_VECTORS, text } from '../fixtures/compression-vectors.js'
import { expect, mutate, Rng, type Probe } from './harness.js'
import { isCorruption, type Target } from './target.js'

/** Output bytes one input byte can describe at most: deflate ~1032, snappy 64/3, lz4 255 (a length byte). */
const RATIO_MAX: Record<number, number> = { 1: 1032, 2: 22, 3: 255 }
/** A small limit, so that limit checks are reached by small inputs too. */
const SMALL_LIMIT = 4096
const LIMIT = 1 << 20

/**
 * Bounds of a decompression of `packed` with codec 1-3 up to `limit` bytes: the bytes its output is
 * derived from (the input and the most it could describe; for gzip, whose ratio is large, what it
 * does decompress to), and the Buffer bytes it may allocate (gzip and snappy: 4 × that; lz4: 8 ×,
 * its output doubles as it grows).
 */
export function decompressBounds(codec: number, packed: Buffer, limit: number): { bytesIn: number; allocBytesMax: number } {
  const bound = Math.min(limit, RATIO_MAX[codec]! * packed.length + 1024)
  let plain = bound
  if (codec === 1) {
    try {
      plain = gunzipSync(packed, { maxOutputLength: limit }).length
    } catch {
      // not decompressible as a whole: bound by what deflate could produce
    }
  }
  return { bytesIn: packed.length + plain, allocBytesMax: (codec === 3 ? 8 : 4) * (bound + packed.length) + 256 * 1024 }
}

type Codec = 'snappy' | 'lz4'
interface Item { name: string; codec: Codec; packed: Buffer; plain: Buffer | null }

const decoders: Record<Codec, (b: Buffer, limit: number) => Buffer> = { snappy: snappyDecompress, lz4: lz4Decompress }

function decodeOnce(probe: Probe, codec: Codec, buf: Buffer, limit: number, expected: Buffer | null): Buffer | null {
  const id = codec === 'snappy' ? 2 : 3
  const r = probe.call(`${codec}Decompress(limit ${limit})`, buf, () => decoders[codec](buf, limit), {
    allowed: isCorruption,
    ...decompressBounds(id, buf, limit),
    check: (out) => {
      expect(Buffer.isBuffer(out), 'not a Buffer')
      expect(out.length <= limit, `${out.length} bytes above the limit ${limit}`)
      if (expected) expect(out.equals(expected), 'decodes to other bytes than were compressed')
    },
  })
  if (expected && !r.ok) probe.fail(`${codec}Decompress`, buf, `refused a valid encoding: ${(r.error as Error).message}`)
  return r.ok ? r.value : null
}

/**
 * Both limits; unless `quick`, what decodes is compressed again by every compressor of the codec and
 * must round-trip.
 */
export function decodeEverywhere(probe: Probe, codec: Codec, buf: Buffer, expected: Buffer | null = null, quick = false): void {
  const out = decodeOnce(probe, codec, buf, LIMIT, expected)
  decodeOnce(probe, codec, buf, SMALL_LIMIT, expected && expected.length <= SMALL_LIMIT ? expected : null)
  if (out === null || quick) return
  const encoders = codec === 'snappy' ? [snappyCompress, snappyCompressRaw] : [lz4Compress]
  for (const enc of encoders) {
    probe.call(`${codec} re-compress`, out, () => decoders[codec](enc(out), LIMIT), {
      allowed: () => false,
      allocBytesMax: 16 * out.length + 256 * 1024,
      check: (again) => expect(again.equals(out), 'compress then decompress changed the bytes'),
    })
  }
}

/** The LZ4 frame at the start of `f` with its header checksum recomputed (after editing FLG, BD or the content size). */
export function resealLz4(f: Buffer): Buffer {
  if (f.length < 7 || f.readUInt32LE(0) !== 0x184d2204) return f
  const end = 6 + (f[4]! & 0x08 ? 8 : 0) + (f[4]! & 0x01 ? 4 : 0)
  if (end < f.length) f[end] = (xxh32(f, 4, end) >>> 8) & 0xff
  return f
}

// --------------------------------------------------------------------------------- generators

function uvarint(n: number): number[] {
  const out: number[] = []
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80)
  out.push(n)
  return out
}

const le = (n: number, bytes: number): number[] => Array.from({ length: bytes }, (_, i) => Math.floor(n / 256 ** i) & 0xff)

/** A raw snappy block of random elements; lengths and offsets mostly valid, sometimes at or past their bounds. */
function randomSnappy(rng: Rng): Buffer {
  const body: number[] = []
  let produced = 0
  for (let i = rng.int(12); i >= 0; i--) {
    const kind = produced === 0 && rng.chance(0.8) ? 0 : rng.int(4)
    if (kind === 0) {
      const len = rng.pick([1, 2, 3, 59, 60, 61, 256, 257, rng.range(1, 80)])
      const width = len <= 60 && rng.chance(0.8) ? 0 : rng.range(1, 4)
      if (width === 0) body.push((len - 1) << 2)
      else body.push((59 + width) << 2, ...le(len - 1, width))
      const have = rng.chance(0.9) ? len : rng.int(len)
      for (let k = 0; k < have; k++) body.push(rng.chance(0.5) ? 0x61 : rng.int(256))
      produced += len
      continue
    }
    const offset = rng.chance(0.85) && produced > 0 ? rng.range(1, Math.min(produced, kind === 1 ? 2047 : 0xffff)) : rng.pick([0, produced + 1, 2047, 65535])
    if (kind === 1) {
      const len = rng.range(4, 11)
      body.push(1 | ((len - 4) << 2) | ((offset >> 8) << 5), offset & 0xff)
      produced += len
    } else {
      const len = rng.range(1, 64)
      body.push(kind | ((len - 1) << 2), ...le(offset, kind === 2 ? 2 : 4))
      produced += len
    }
  }
  const declared = rng.chance(0.8) ? produced : rng.pick([0, produced - 1, produced + 1, 0xffffffff, rng.int(1 << 20)])
  return Buffer.from([...uvarint(Math.max(0, declared)), ...body])
}

/** An LZ4 block of random sequences; lengths and offsets mostly valid, sometimes at or past their bounds. */
function randomLz4Block(rng: Rng): number[] {
  const body: number[] = []
  let produced = 0
  const ext = (n: number) => {
    for (; n >= 255; n -= 255) body.push(255)
    body.push(n)
  }
  for (let i = rng.int(8); i >= 0; i--) {
    const lit = rng.pick([0, 1, 4, 14, 15, 16, 270, rng.int(40)])
    const match = rng.pick([4, 18, 19, 20, 300, rng.range(4, 60)])
    const last = i === 0 && rng.chance(0.8)
    body.push(((lit >= 15 ? 15 : lit) << 4) | (last ? 0 : match - 4 >= 15 ? 15 : match - 4))
    if (lit >= 15) ext(lit - 15)
    for (let k = 0; k < lit; k++) body.push(rng.chance(0.5) ? 0x62 : rng.int(256))
    produced += lit
    if (last) break
    const offset = rng.chance(0.85) && produced > 0 ? rng.range(1, Math.min(produced, 0xffff)) : rng.pick([0, produced + 1, 0xffff])
    body.push(...le(offset, 2))
    if (match - 4 >= 15) ext(match - 19)
    produced += match
  }
  return body
}

/** An LZ4 frame of random blocks under random (mostly valid) flags, its header checksum right. */
function randomLz4(rng: Rng): Buffer {
  const flg = rng.chance(0.9) ? 0x40 | (rng.int(16) << 2) & 0x3c : rng.int(256)
  const bd = rng.chance(0.9) ? rng.range(4, 7) << 4 : rng.int(256)
  const blocks: number[][] = Array.from({ length: rng.int(3) }, () => randomLz4Block(rng))
  const head = [4, 0x22, 0x4d, 0x18, flg, bd]
  const produced = blocks.reduce((n, b) => n + b.length * 2, 0)
  if (flg & 0x08) head.push(...le(rng.chance(0.5) ? produced : rng.pick([0, 1, 0x7fffffff, rng.int(5000)]), 8))
  if (flg & 0x01) head.push(0, 0, 0, 0)
  head.push(0)
  const out = [...head]
  for (const b of blocks) {
    const stored = rng.chance(0.1)
    out.push(...le(stored ? b.length + 0x8000_0000 : b.length, 4), ...b)
    if (flg & 0x10) out.push(...le(rng.int(2 ** 32), 4))
  }
  out.push(0, 0, 0, 0)
  if (flg & 0x04) out.push(...le(rng.int(2 ** 32), 4))
  return resealLz4(Buffer.from(out))
}

// ------------------------------------------------------------------------------------- target

function corpus(): Item[] {
  const rng = new Rng(0x5eed)
  const plains: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)], ['one byte', Buffer.from('a')], ['text(100)', text(100)], ['text(3000)', text(3000)],
    ['period 3', Buffer.from('abc'.repeat(700))], ['random 300', rng.bytes(300)], ['zeros 70000', Buffer.alloc(70_000)],
    ['text(40000)', text(40_000)],
  ]
  const items: Item[] = []
  for (const [name, plain] of plains) {
    items.push({ name: `xerial ${name}`, codec: 'snappy', packed: snappyCompress(plain), plain })
    if (plain.length <= 3000) items.push({ name: `raw ${name}`, codec: 'snappy', packed: snappyCompressRaw(plain), plain })
    items.push({ name: `lz4 ${name}`, codec: 'lz4', packed: lz4Compress(plain), plain })
  }
  for (const v of SNAPPY_VECTORS) items.push({ name: v.name, codec: 'snappy', packed: v.packed, plain: v.plain })
  for (const v of LZ4_VECTORS) items.push({ name: v.name, codec: 'lz4', packed: v.packed, plain: v.plain })
  for (const b of LIBRDKAFKA_BATCHES) items.push({ name: `librdkafka ${b.codec} section`, codec: b.codec, packed: b.batch.subarray(BATCH_HEADER_BYTES), plain: null })
  return items
}

export function compressionTarget(): Target {
  let items: Item[] = []
  return {
    name: 'snappy and lz4 (compression-snappy.ts, compression-lz4.ts)',
    weight: 1.5,
    setup() {
      items = corpus()
    },
    sweep(probe) {
      for (const { name, codec, packed, plain } of items) {
        probe.at = `sweep ${name} as is`
        decodeEverywhere(probe, codec, packed, plain)
        // every cut of small encodings; of big ones, both ends and every 31st byte
        for (let n = 0; n < packed.length; n++) {
          if (n > 512 && n < packed.length - 64 && n % 31 !== 0) continue
          probe.at = `sweep ${name} cut at ${n}`
          decodeEverywhere(probe, codec, Buffer.from(packed.subarray(0, n)), null, true)
        }
        // every byte changed, in small encodings of small outputs
        if (packed.length > 400 || (plain?.length ?? 0) > 8192) continue
        for (let i = 0; i < packed.length; i++) {
          for (const x of [0x01, 0x80, 0xff]) {
            probe.at = `sweep ${name} byte ${i} ^ ${x}`
            const f = Buffer.from(packed)
            f[i] ^= x
            decodeEverywhere(probe, codec, codec === 'lz4' && i >= 4 && i < 14 ? resealLz4(f) : f, null, true)
          }
        }
      }
    },
    randomBytes(probe, bytes, choice) {
      if (choice % 4 === 0) decodeEverywhere(probe, 'snappy', bytes)
      else if (choice % 4 === 1) decodeEverywhere(probe, 'lz4', bytes)
      else if (choice % 4 === 2) {
        // one xerial block of random bytes
        const head = Buffer.from('82534e41505059000000000100000001', 'hex')
        const len = Buffer.alloc(4)
        len.writeInt32BE(choice & 4 ? bytes.length : bytes.length + 1)
        decodeEverywhere(probe, 'snappy', Buffer.concat([head, len, bytes]))
      } else {
        // one LZ4 block of random bytes in a valid frame
        const size = Buffer.alloc(4)
        size.writeUInt32LE(bytes.length)
        const frame = Buffer.concat([Buffer.from('04224d18604082', 'hex'), size, bytes, Buffer.alloc(4)])
        if (choice & 4) frame[4] = 0x40 // linked blocks
        decodeEverywhere(probe, 'lz4', resealLz4(frame))
      }
    },
    mutated(probe, rng) {
      const mode = rng.int(10)
      if (mode < 2) return decodeEverywhere(probe, 'snappy', randomSnappy(rng))
      if (mode < 4) return decodeEverywhere(probe, 'lz4', randomLz4(rng))
      const item = rng.pick(items)
      let buf = mutate(item.packed, rng)
      if (item.codec === 'lz4' && rng.chance(0.7)) buf = resealLz4(buf)
      if (mode === 9) buf = Buffer.concat([buf, rng.pick(items.filter((i) => i.codec === item.codec)).packed])
      decodeEverywhere(probe, item.codec, buf)
    },
  }
}
