// The snappy and lz4 codecs (src/storage/compression*.ts) and xxHash32: round trips over sizes around
// every block boundary, decoding of reference encodings (test/fixtures/compression-vectors.ts, made
// by libsnappy, liblz4, the lz4 tool and librdkafka), the structure of what we write, the size
// bounds producers rely on, and hostile input refused with DecodeError within its bounds (zip bombs
// at DECOMPRESSED_BYTES_MAX: record-batch.test.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { compress, compressedBound, decompress } from '../../../src/storage/compression.js'
import { LZ4_BLOCK_BYTES, lz4Bound, lz4Compress, lz4Decompress } from '../../../src/storage/compression-lz4.js'
import {
  XERIAL_BLOCK_BYTES, snappyBound, snappyCompress, snappyCompressRaw, snappyDecompress,
} from '../../../src/storage/compression-snappy.js'
import { DECOMPRESSED_BYTES_MAX } from '../../../src/storage/record-layout.js'
import { DecodeError } from '../../../src/storage/varint.js'
import { xxh32 } from '../../../src/util/xxhash32.js'
import { mulberry32 } from '../../fixtures/random.js'
import { LZ4_VECTORS, SNAPPY_VECTORS, XXH32_VECTORS, hex, text } from '../../fixtures/compression-vectors.js'

const LIMIT = DECOMPRESSED_BYTES_MAX

function randomBytes(n: number, seed: number): Buffer {
  const next = mulberry32(seed)
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (next() * 256) | 0
  return b
}

/** Random bytes with repeats of earlier pieces at random distances (matches of every length and offset). */
function repetitive(n: number, seed: number): Buffer {
  const next = mulberry32(seed)
  const b = randomBytes(n, seed ^ 0x5bd1e995)
  for (let p = 16; p < n; ) {
    const len = 1 + ((next() * (next() < 0.2 ? 300 : 20)) | 0)
    const from = Math.max(0, p - 1 - ((next() * (next() < 0.5 ? 70000 : 64)) | 0))
    for (let i = 0; i < len && p < n; i++) b[p++] = b[from + i]!
    p += (next() * 40) | 0
  }
  return b
}

const CODECS = [
  { name: 'snappy (xerial)', enc: snappyCompress, dec: (b: Buffer, limit = LIMIT) => snappyDecompress(b, limit), bound: snappyBound },
  { name: 'snappy (raw)', enc: snappyCompressRaw, dec: (b: Buffer, limit = LIMIT) => snappyDecompress(b, limit), bound: null },
  { name: 'lz4', enc: lz4Compress, dec: (b: Buffer, limit = LIMIT) => lz4Decompress(b, limit), bound: lz4Bound },
]

const SIZES = [
  0, 1, 2, 3, 4, 5, 11, 12, 13, 14, 15, 16, 17, 59, 60, 61, 62, 255, 256, 257, 4095, 4096,
  XERIAL_BLOCK_BYTES - 1, XERIAL_BLOCK_BYTES, XERIAL_BLOCK_BYTES + 1, LZ4_BLOCK_BYTES - 1, LZ4_BLOCK_BYTES,
  LZ4_BLOCK_BYTES + 1, 2 * LZ4_BLOCK_BYTES + 13, 300_000,
]

/** Inputs of `n` bytes: incompressible, text, one byte repeated, a 3-byte period (overlapping copies), repeats. */
function inputsOf(n: number): Array<[string, Buffer]> {
  return [
    ['random', randomBytes(n, n)],
    ['text', text(n)],
    ['zeros', Buffer.alloc(n)],
    ['period 3', Buffer.from('abc'.repeat(Math.ceil(n / 3))).subarray(0, n)],
    ['repetitive', repetitive(n, n + 1)],
  ]
}

// ----------------------------------------------------------------------------------- round trips

for (const c of CODECS) {
  test(`${c.name}: round trip of random, text, zeros, periodic and repetitive input at every size around the block boundaries`, () => {
    for (const n of SIZES) {
      for (const [kind, plain] of inputsOf(n)) {
        const packed = c.enc(plain)
        assert.ok(c.dec(packed).equals(plain), `${kind} ${n}`)
        if (c.bound) assert.ok(packed.length <= c.bound(n), `${kind} ${n}: ${packed.length} bytes above the bound ${c.bound(n)}`)
        if (kind === 'zeros' && n >= 1024) assert.ok(packed.length < n / 15, `${kind} ${n} compresses (${packed.length} bytes)`)
        if (kind === 'random' && c.bound) assert.ok(packed.length <= n + n / 100 + 64, `random ${n} barely grows (${packed.length})`)
      }
    }
  })

  test(`${c.name}: round trip and size bound of arbitrary input (fast-check)`, () => {
    const piece = fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.nat({ max: 400 }).map((n) => new Uint8Array(n).fill(n & 0xff)))
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.nat({ max: 3 }), (pieces, copies) => {
        const parts = pieces.map((p) => Buffer.from(p))
        const plain = Buffer.concat(Array.from({ length: copies + 1 }, () => parts).flat())
        const packed = c.enc(plain)
        assert.ok(c.dec(packed).equals(plain))
        if (c.bound) assert.ok(packed.length <= c.bound(plain.length))
      }),
      { numRuns: 300 },
    )
  })
}

test('compress/decompress dispatch every codec; compressedBound holds for each', () => {
  for (const codec of ['gzip', 'snappy', 'lz4'] as const) {
    for (const n of [0, 1, 100, 70_000]) {
      for (const [kind, plain] of inputsOf(n)) {
        const packed = compress(codec, plain)
        assert.ok(decompress(codec, packed, 0).equals(plain), `${codec} ${kind} ${n}`)
        assert.ok(packed.length <= compressedBound(codec, n), `${codec} ${kind} ${n}: above compressedBound`)
      }
    }
  }
  assert.equal(compressedBound('none', 5), 5)
  assert.throws(() => decompress('snappy', Buffer.from('not snappy at all'), 77), (e: Error) => e instanceof DecodeError && /^snappy records do not decompress/.test(e.message) && (e as DecodeError).position === 77)
  assert.throws(() => decompress('gzip', Buffer.from('not gzip'), 0), DecodeError)
})

test('the snappy bound holds for long literal runs split by short far repeats', () => {
  // 61 fresh bytes (a 2-byte literal tag) then a 4-byte repeat of bytes more than 2048 back (a 3-byte copy)
  const fresh = randomBytes(400_000, 9)
  const parts: Buffer[] = [fresh.subarray(0, 4096)]
  for (let p = 4096, i = 0; p < 300_000; i++) {
    const run = fresh.subarray(p, p + 61)
    const far = parts[0]!.subarray((i * 4) % 4000, ((i * 4) % 4000) + 4)
    parts.push(run, far)
    p += 61
  }
  const plain = Buffer.concat(parts)
  const packed = snappyCompress(plain)
  assert.ok(packed.length <= snappyBound(plain.length), `${packed.length} > ${snappyBound(plain.length)}`)
  assert.ok(snappyDecompress(packed, LIMIT).equals(plain))
})

// ------------------------------------------------------------------------ reference encodings

test('xxHash32 matches the reference values (liblz4 content checksums)', () => {
  for (const [input, hash] of XXH32_VECTORS) assert.equal(xxh32(input), hash, `xxh32 of ${input.length} bytes`)
  const big = text(1000)
  assert.equal(xxh32(Buffer.concat([Buffer.from('xx'), big, Buffer.from('yy')]), 2, 1002), xxh32(big), 'a range of a larger buffer')
})

test('snappy decodes libsnappy raw blocks and the xerial framing', () => {
  for (const v of SNAPPY_VECTORS) assert.ok(snappyDecompress(v.packed, LIMIT).equals(v.plain), v.name)
})

test('lz4 decodes liblz4 frames: content size, HC, 256 KiB blocks, block and content checksums, linked blocks, stored blocks, empty', () => {
  for (const v of LZ4_VECTORS) assert.ok(lz4Decompress(v.packed, LIMIT).equals(v.plain), v.name)
})

test('what we write has the reference layout: xerial header + 32 KiB blocks; LZ4 FLG 0x60 BD 0x40 HC, 64 KiB blocks', () => {
  const plain = text(XERIAL_BLOCK_BYTES * 2 + 5)
  const s = snappyCompress(plain)
  assert.equal(s.subarray(0, 16).toString('hex'), '82534e41505059000000000100000001')
  const sizes: number[] = []
  for (let p = 16; p < s.length; p += 4 + s.readInt32BE(p)) {
    const raw = s.subarray(p + 4, p + 4 + s.readInt32BE(p))
    sizes.push(snappyDecompress(raw, LIMIT).length) // each block is a raw snappy block on its own
  }
  assert.deepEqual(sizes, [XERIAL_BLOCK_BYTES, XERIAL_BLOCK_BYTES, 5])
  assert.equal(snappyCompressRaw(Buffer.from('hello')).toString('hex'), '051068656c6c6f')

  const l = lz4Compress(text(LZ4_BLOCK_BYTES + 10))
  assert.equal(l.subarray(0, 7).toString('hex'), '04224d18604082') // magic, FLG (v1, independent), BD 64 KiB, HC
  assert.equal(l.readUInt32LE(l.length - 4), 0, 'end mark, no content checksum')
  assert.equal(lz4Compress(Buffer.alloc(0)).toString('hex'), '04224d1860408200000000')
  // An incompressible block is stored with the high bit set
  const stored = lz4Compress(hex('8f3a1c77e2094bd6a05e3311c4f09d2a6b7e58c1'))
  assert.equal(stored.readUInt32LE(7), (0x8000_0000 | 20) >>> 0)
})

// ------------------------------------------------------------------------------ hostile input

function refused(fn: () => unknown, pattern: RegExp, what: string): void {
  assert.throws(fn, (e: Error) => e instanceof DecodeError && pattern.test(e.message), what)
}

/** The LZ4 frame `frame` with its header checksum recomputed (after an edit of FLG/BD/content size). */
function resealLz4(frame: Buffer): Buffer {
  const f = Buffer.from(frame)
  const descriptorEnd = 6 + (f[4]! & 0x08 ? 8 : 0) + (f[4]! & 0x01 ? 4 : 0)
  f[descriptorEnd] = (xxh32(f, 4, descriptorEnd) >>> 8) & 0xff
  return f
}

test('snappy refuses malformed input with DecodeError', () => {
  const raw = (s: string) => () => snappyDecompress(hex(s), LIMIT)
  refused(raw(''), /length varint runs past the end/, 'empty')
  refused(raw('ffffffff1f'), /exceeds 32 bits/, 'a 5th varint byte above 0x0f')
  refused(raw('8080808080'), /exceeds 32 bits/, 'a 6-byte varint')
  refused(raw('ffffffff0f00'), /declares 4294967295 bytes, more than/, 'a huge declared length is refused before allocating')
  refused(raw('0a0161'), /offset 97 points before the start/, 'a copy before any output')
  refused(raw('050c616263640105'), /offset 5 points before the start/, 'a copy-1 reaching before the start')
  refused(raw('080461620efe01'), /offset 510 points before the start/, 'a copy-2 reaching before the start')
  refused(raw('080461620ffeffffff'), /offset 4294967294 points before the start/, 'a copy-4 reaching before the start')
  refused(raw('080461620100'), /offset 0 points before the start/, 'a copy-1 of offset 0')
  refused(raw('080461620ffeff'), /copy runs past the end/, 'a cut copy-4')
  refused(raw('04'), /declares 4 bytes, more than its 0 bytes/, 'a length without elements')
  refused(raw('040061'), /decompresses to 1 bytes, declared 4/, 'output shorter than declared')
  refused(raw('020c616263'), /literal of 4 bytes runs past the end/, 'a literal past the end')
  refused(raw('0208616263'), /past its declared length/, 'output longer than declared')
  refused(raw('02f0'), /literal length runs past the end/, 'a 60+ literal tag without its length byte')
  refused(raw('10fe'), /snappy copy runs past the end/, 'a cut copy-2')
  assert.equal(snappyDecompress(hex('0a086162630d03'), LIMIT).toString(), 'abcabcabca', 'a copy overlapping its output repeats it')
  const xerial = SNAPPY_VECTORS[1]!.packed
  refused(() => snappyDecompress(xerial.subarray(0, 12), LIMIT), /truncated xerial snappy header/, 'a cut header')
  refused(() => snappyDecompress(Buffer.concat([xerial, hex('00')]), LIMIT), /truncated xerial snappy block length/, 'a cut block length')
  const long = Buffer.from(xerial)
  long.writeInt32BE(0x7fffffff, 16)
  refused(() => snappyDecompress(long, LIMIT), /runs past the end/, 'a block length past the end')
  const negative = Buffer.from(xerial)
  negative.writeInt32BE(-1, 16)
  refused(() => snappyDecompress(negative, LIMIT), /runs past the end/, 'a negative block length')
  const empty = Buffer.concat([xerial.subarray(0, 16), hex('00000000')])
  refused(() => snappyDecompress(empty, LIMIT), /varint runs past the end/, 'an empty block')
  assert.equal(snappyDecompress(xerial.subarray(0, 16), LIMIT).length, 0, 'a header without blocks is empty')
})

test('lz4 refuses malformed frames and blocks with DecodeError', () => {
  const good = lz4Compress(text(3000))
  const frame = (edit: (f: Buffer) => void, reseal = true) => () => {
    const f = Buffer.from(good)
    edit(f)
    return lz4Decompress(reseal ? resealLz4(f) : f, LIMIT)
  }
  refused(() => lz4Decompress(Buffer.alloc(0), LIMIT), /truncated lz4 frame magic/, 'empty')
  refused(frame((f) => (f[0] = 0x05), false), /bad lz4 frame magic/, 'magic')
  refused(frame((f) => (f[6] ^= 1), false), /header checksum mismatch/, 'HC')
  refused(frame((f) => (f[4] = 0xa0)), /version 2/, 'FLG version')
  refused(frame((f) => (f[4] |= 0x02)), /reserved bits/, 'FLG reserved bit')
  refused(frame((f) => (f[5] |= 0x01)), /reserved bits/, 'BD reserved bits')
  refused(frame((f) => (f[5] = 0x30)), /block max size id 3/, 'BD size id')
  refused(frame((f) => (f[4] |= 0x01)), /needs a dictionary/, 'dictionary id')
  refused(frame((f) => f.writeUInt32LE(0x7fff_ffff, 7)), /exceeds the frame's block max/, 'a block above the block max')
  refused(frame((f) => f.writeUInt32LE(65_000, 7)), /runs past the end/, 'a block past the end')
  refused(() => lz4Decompress(good.subarray(0, good.length - 2), LIMIT), /truncated lz4 block size/, 'no end mark')
  // Blocks: one sequence each, in a frame with 64 KiB independent blocks.
  const block = (h: string) => () => {
    const data = hex(h)
    const size = Buffer.alloc(4)
    size.writeUInt32LE(data.length)
    return lz4Decompress(Buffer.concat([hex('04224d18604082'), size, data, hex('00000000')]), LIMIT)
  }
  assert.equal(block('30616263')().toString(), 'abc', 'a block may end after literals only')
  assert.equal(block('1f610100ff0b30626364')().toString(), 'a'.repeat(1 + 4 + 15 + 255 + 11) + 'bcd', 'an overlapping match with length extensions')
  refused(block('f0'), /literal length runs past the block/, 'a literal length extension past the block')
  refused(block('f0ff'), /literal length runs past the block/, 'a literal length extension of 255s past the block')
  refused(block('2061'), /literals of 2 bytes run past the block/, 'literals past the block')
  refused(block('106101'), /match offset runs past the block/, 'a cut offset')
  refused(block('10610200'), /offset 2 points before the start/, 'an offset before the start')
  refused(block('10610000'), /offset 0 points before the start/, 'offset 0')
  refused(block('1f610100'), /match length runs past the block/, 'a match length extension past the block')
  refused(block('10610100'), /ends inside a sequence/, 'a block ending after a match')
  refused(block(`1f610100${'ff'.repeat(257)}00`), /past its bound/, 'a block decoding past the 64 KiB block max')
  const stored = Buffer.concat([hex('04224d18604082'), hex('03000080'), hex('78797a'), hex('00000000')])
  assert.equal(lz4Decompress(stored, LIMIT).toString(), 'xyz', 'a stored block')
  refused(() => lz4Decompress(Buffer.concat([good, hex('0102')]), LIMIT), /truncated lz4 frame magic/, 'trailing garbage')

  const [, checksums, cli, linked] = LZ4_VECTORS
  const flip = (v: Buffer, at: number) => {
    const f = Buffer.from(v)
    f[at] ^= 0x40
    return f
  }
  refused(() => lz4Decompress(flip(checksums!.packed, 30), LIMIT), /block checksum mismatch/, 'block checksum')
  refused(() => lz4Decompress(flip(cli!.packed, cli!.packed.length - 1), LIMIT), /content checksum mismatch/, 'content checksum')
  refused(() => lz4Decompress(cli!.packed.subarray(0, cli!.packed.length - 2), LIMIT), /truncated lz4 content checksum/, 'cut content checksum')
  const sized = Buffer.from(LZ4_VECTORS[0]!.packed)
  sized.writeUInt32LE(999, 6) // content size 1000 → 999
  refused(() => lz4Decompress(resealLz4(sized), LIMIT), /declared 999|past its/, 'content size smaller than the content')
  sized.writeUInt32LE(1001, 6)
  refused(() => lz4Decompress(resealLz4(sized), LIMIT), /decompresses to 1000 bytes, declared 1001/, 'content size larger than the content')
  // Linked blocks reach into the previous block; declared independent, the same frame is refused.
  const independent = Buffer.from(linked!.packed)
  independent[4] |= 0x20
  refused(() => lz4Decompress(resealLz4(independent), LIMIT), /points before the start/, 'a match across independent blocks')
  // Skippable frames are skipped, frames back to back are concatenated.
  const skippable = Buffer.concat([hex('5a2a4d18'), hex('03000000'), hex('aabbcc')])
  assert.ok(lz4Decompress(Buffer.concat([skippable, good, LZ4_VECTORS[2]!.packed]), LIMIT).equals(Buffer.concat([text(3000), text(500)])))
  refused(() => lz4Decompress(skippable.subarray(0, 9), LIMIT), /skippable frame runs past the end/, 'a cut skippable frame')
})

test('output above the limit is refused before it is produced, and a declared size is trusted only as far as the input backs it', () => {
  const plain = text(50_000)
  for (const c of CODECS) {
    const packed = c.enc(plain)
    assert.equal(c.dec(packed, 50_000).length, 50_000, `${c.name} at the limit`)
    refused(() => c.dec(packed, 49_999), /limit|past its/, `${c.name} one byte above the limit`)
  }
  // An lz4 frame declaring 60 MiB with a few bytes of data: refused, without allocating 60 MiB
  const claim = Buffer.concat([hex('04224d186840'), Buffer.alloc(8), hex('00'), hex('00000000')])
  claim.writeUInt32LE(60 << 20, 6)
  refused(() => lz4Decompress(resealLz4(claim), LIMIT), /decompresses to 0 bytes, declared 62914560/, 'an unbacked content size')
  refused(() => lz4Decompress(resealLz4(claim), 1000), /above the limit of 1000/, 'a content size above the limit')
})

test('every truncation and every single-byte change of the reference encodings decodes or throws DecodeError', () => {
  const all = [...SNAPPY_VECTORS.map((v) => ({ ...v, dec: snappyDecompress })), ...LZ4_VECTORS.map((v) => ({ ...v, dec: lz4Decompress }))]
  for (const v of all) {
    const tries: Buffer[] = []
    for (let n = 0; n < v.packed.length; n++) tries.push(v.packed.subarray(0, n))
    for (let i = 0; i < v.packed.length; i++) {
      for (const x of [0x01, 0x80, 0xff]) {
        const f = Buffer.from(v.packed)
        f[i] ^= x
        tries.push(f)
      }
    }
    for (const input of tries) {
      try {
        const out = v.dec(input, 1 << 20)
        assert.ok(out.length <= 1 << 20)
      } catch (err) {
        if (!(err instanceof DecodeError)) throw new Error(`${v.name}: ${input.toString('hex')} threw ${String(err)}`, { cause: err })
      }
    }
  }
})
