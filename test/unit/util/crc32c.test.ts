import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CRC32C_NATIVE, crc32c, crc32cJs } from '../../../src/util/crc32c.js'

/** Bitwise reference: one polynomial step per bit, no tables. */
function reference(buf: Uint8Array): number {
  let c = 0xffffffff
  for (const b of buf) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return (c ^ 0xffffffff) >>> 0
}

test('known vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283)
  assert.equal(crc32c(new Uint8Array(0)), 0)
  // RFC 3720 (iSCSI) B.4 test patterns
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa)
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43)
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e)
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c)
})

test('result is an unsigned 32-bit integer', () => {
  const v = crc32c(new Uint8Array(32).fill(0xff))
  assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)
})

test('start/end select a range', () => {
  const buf = Buffer.from('xx123456789yy')
  assert.equal(crc32c(buf, 2, 11), 0xe3069283)
})

test('a range outside the buffer is a programmer error', () => {
  assert.throws(() => crc32c(new Uint8Array(4), 0, 5), { code: 'INVARIANT_VIOLATION' })
  assert.throws(() => crc32c(new Uint8Array(4), 3, 2), { code: 'INVARIANT_VIOLATION' })
})

test('matches the bitwise reference (fast-check)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      assert.equal(crc32c(bytes), reference(bytes))
    }),
    { numRuns: 500 },
  )
})

test('incremental equals one-shot for every split (fast-check)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const cut1 = a % (bytes.length + 1)
      const cut2 = cut1 + (b % (bytes.length - cut1 + 1))
      const one = crc32c(bytes)
      let c = crc32c(bytes, 0, cut1)
      c = crc32c(bytes, cut1, cut2, c)
      c = crc32c(bytes, cut2, bytes.length, c)
      assert.equal(c, one)
    }),
    { numRuns: 500 },
  )
})

test('unaligned starts and lengths around the 8-byte stride', () => {
  const buf = Uint8Array.from({ length: 100 }, (_, i) => (i * 131 + 7) & 0xff)
  for (let start = 0; start < 17; start++) {
    for (let end = start; end <= start + 40; end++) {
      assert.equal(crc32c(buf, start, end), reference(buf.subarray(start, end)), `[${start}, ${end})`)
    }
  }
})

test('the native and the pure-JS implementations agree (incl. continuation)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length === 0 ? 0 : a % bytes.length
      const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1))
      const seed = crc32cJs(bytes, 0, start)
      assert.equal(crc32c(bytes, start, end, seed), crc32cJs(bytes, start, end, seed))
    }),
  )
  assert.equal(typeof CRC32C_NATIVE, 'boolean')
})
