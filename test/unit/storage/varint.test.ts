import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  DecodeError, VarintReader, readVarint, readVarlong, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong,
} from '../../../src/storage/varint.js'

/** BigInt reference encoder: zigzag over 64 bits, then base-128 groups, low first. */
function referenceEncode(n: number): Buffer {
  let z = BigInt.asUintN(64, (BigInt(n) << 1n) ^ (BigInt(n) >> 63n))
  const out: number[] = []
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80)
    z >>= 7n
  }
  out.push(Number(z))
  return Buffer.from(out)
}

function encodeVarint(n: number): Buffer {
  const buf = Buffer.alloc(5)
  return buf.subarray(0, writeVarint(buf, 0, n))
}
function encodeVarlong(n: number): Buffer {
  const buf = Buffer.alloc(10)
  return buf.subarray(0, writeVarlong(buf, 0, n))
}

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex')

// From Kafka's ByteUtilsTest (the protocol's zigzag varint examples).
const VARINT_VECTORS: [number, string][] = [
  [0, '00'], [-1, '01'], [1, '02'], [63, '7e'], [-64, '7f'], [64, '80 01'], [-65, '81 01'],
  [8191, 'fe 7f'], [-8192, 'ff 7f'], [8192, '80 80 01'], [-8193, '81 80 01'],
  [1048575, 'fe ff 7f'], [-1048576, 'ff ff 7f'], [1048576, '80 80 80 01'], [-1048577, '81 80 80 01'],
  [134217727, 'fe ff ff 7f'], [-134217728, 'ff ff ff 7f'], [134217728, '80 80 80 80 01'],
  [-134217729, '81 80 80 80 01'], [2147483647, 'fe ff ff ff 0f'], [-2147483648, 'ff ff ff ff 0f'],
]
const VARLONG_VECTORS: [number, string][] = [
  ...VARINT_VECTORS,
  [2147483648, '80 80 80 80 10'], [-2147483649, '81 80 80 80 10'],
  [17179869183, 'fe ff ff ff 7f'], [-17179869184, 'ff ff ff ff 7f'], [17179869184, '80 80 80 80 80 01'],
  [Number.MAX_SAFE_INTEGER, 'fe ff ff ff ff ff ff 1f'], [Number.MIN_SAFE_INTEGER, 'fd ff ff ff ff ff ff 1f'],
]

const INT32_EDGES = [0, 1, -1, 63, 64, -64, -65, 2 ** 31 - 1, -(2 ** 31)]
const int32 = fc.oneof(fc.integer(), fc.constantFrom(...INT32_EDGES))
const EDGES: number[] = [...INT32_EDGES, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]
for (let k = 6; k < 53; k++) EDGES.push(2 ** k, 2 ** k - 1, -(2 ** k), -(2 ** k) - 1)
const safeInt = fc.oneof(fc.maxSafeInteger(), fc.integer(), fc.constantFrom(...EDGES))

test('varint known encodings', () => {
  for (const [n, bytes] of VARINT_VECTORS) {
    assert.deepEqual(encodeVarint(n), hex(bytes), `encode ${n}`)
    assert.deepEqual(readVarint(hex(bytes), 0), { value: n, next: hex(bytes).length }, `decode ${bytes}`)
    assert.equal(sizeOfVarint(n), hex(bytes).length)
  }
})

test('varlong known encodings', () => {
  for (const [n, bytes] of VARLONG_VECTORS) {
    assert.deepEqual(encodeVarlong(n), hex(bytes), `encode ${n}`)
    assert.deepEqual(referenceEncode(n), hex(bytes), `reference ${n}`)
    assert.deepEqual(readVarlong(hex(bytes), 0), { value: n, next: hex(bytes).length }, `decode ${bytes}`)
    assert.equal(sizeOfVarlong(n), hex(bytes).length)
  }
})

test('varint round trip over int32 (fast-check)', () => {
  fc.assert(
    fc.property(int32, fc.nat(8), (n, at) => {
      const buf = Buffer.alloc(at + 5)
      const next = writeVarint(buf, at, n)
      assert.deepEqual(buf.subarray(at, next), referenceEncode(n))
      assert.equal(next - at, sizeOfVarint(n))
      assert.deepEqual(readVarint(buf, at), { value: n, next })
    }),
    { numRuns: 2000 },
  )
})

test('varlong round trip over the safe-integer range (fast-check)', () => {
  fc.assert(
    fc.property(safeInt, fc.nat(8), (n, at) => {
      const buf = Buffer.alloc(at + 10)
      const next = writeVarlong(buf, at, n)
      assert.deepEqual(buf.subarray(at, next), referenceEncode(n))
      assert.equal(next - at, sizeOfVarlong(n))
      assert.deepEqual(readVarlong(buf, at), { value: n, next })
    }),
    { numRuns: 3000 },
  )
})

test('VarintReader reads consecutive values', () => {
  const values = [0, -1, 300, 2 ** 40, -(2 ** 33), 7]
  const buf = Buffer.alloc(64)
  let p = 0
  for (let i = 0; i < values.length; i++) p = i % 2 ? writeVarlong(buf, p, values[i]) : writeVarint(buf, p, values[i] | 0)
  const r = new VarintReader(buf, 0, p)
  const back = values.map((_, i) => (i % 2 ? r.varlong() : r.varint()))
  assert.deepEqual(back, values.map((v, i) => (i % 2 ? v : v | 0)))
  assert.equal(r.pos, p)
  assert.throws(() => r.varint(), DecodeError)
  assert.throws(() => r.int8(), DecodeError)
})

test('encoders refuse values outside their range', () => {
  const buf = Buffer.alloc(16)
  assert.throws(() => writeVarint(buf, 0, 2 ** 31), { code: 'INVARIANT_VIOLATION' })
  assert.throws(() => writeVarint(buf, 0, 1.5), { code: 'INVARIANT_VIOLATION' })
  assert.throws(() => writeVarlong(buf, 0, 2 ** 53), { code: 'INVARIANT_VIOLATION' })
  assert.throws(() => writeVarlong(buf, 0, NaN), { code: 'INVARIANT_VIOLATION' })
})

test('malformed varints throw DecodeError', () => {
  const cases: [string, Buffer, number?][] = [
    ['empty', Buffer.alloc(0)],
    ['unterminated', hex('80')],
    ['unterminated 4 bytes', hex('ff ff ff ff')],
    ['six bytes', hex('80 80 80 80 80 01')],
    ['fifth byte with a continuation bit', hex('ff ff ff ff ff')],
    ['more than 32 bits', hex('ff ff ff ff 1f')],
    ['runs past `end`', hex('80 01'), 1],
  ]
  for (const [name, bytes, end] of cases) {
    assert.throws(() => readVarint(bytes, 0, end ?? bytes.length), DecodeError, name)
  }
  const err = (() => { try { readVarint(hex('00 80'), 1) } catch (e) { return e } })()
  assert.ok(err instanceof DecodeError && err.position === 1)
})

test('malformed varlongs throw DecodeError', () => {
  const cases: [string, Buffer, number?][] = [
    ['empty', Buffer.alloc(0)],
    ['unterminated', hex('80 80 80')],
    ['eleven bytes', hex('80 80 80 80 80 80 80 80 80 80 01')],
    ['ten continuation bytes', hex('ff ff ff ff ff ff ff ff ff ff')],
    ['2^63 (beyond safe integers)', hex('80 80 80 80 80 80 80 80 80 01')],
    ['2^53 (beyond safe integers)', hex('80 80 80 80 80 80 80 20')],
    ['-2^53 (beyond safe integers)', hex('ff ff ff ff ff ff ff 1f')],
    ['runs past `end`', hex('80 80 01'), 2],
  ]
  for (const [name, bytes, end] of cases) {
    assert.throws(() => readVarlong(bytes, 0, end ?? bytes.length), DecodeError, name)
  }
})

test('random bytes decode to a value or DecodeError, within the length bound (fast-check)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
      const buf = Buffer.from(bytes)
      for (const [read, max] of [[readVarint, 5], [readVarlong, 10]] as const) {
        try {
          const { value, next } = read(buf, 0)
          assert.ok(next >= 1 && next <= Math.min(max, buf.length))
          assert.ok(Number.isSafeInteger(value))
          if (max === 5) assert.equal(value | 0, value)
        } catch (err) {
          assert.ok(err instanceof DecodeError, String(err))
        }
      }
    }),
    { numRuns: 3000 },
  )
})
