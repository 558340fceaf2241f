// CRC-32C (Castagnoli; reflected polynomial 0x82F63B78), the checksum of Kafka's RecordBatch v2.
// Uses the native, SSE4.2-accelerated @node-rs/crc32 when its prebuilt binary loads (~13 GiB/s
// here); otherwise a pure-JS slicing-by-8 loop (~1.3 GiB/s): eight 256-entry tables let it consume
// 8 bytes per iteration with independent table lookups, no allocation per call.
import { createRequire } from 'node:module'
import { InvariantViolation } from '../errors.js'

type NativeCrc = (input: Buffer, initialState?: number) => number

function loadNative(): NativeCrc | null {
  if (process.env.KAFKALITE_PURE_JS_CRC) return null
  try {
    const req = createRequire(import.meta.url)
    const mod = req('@node-rs/crc32') as { crc32c?: NativeCrc }
    const f = mod.crc32c
    // Check it against the standard vector before trusting it.
    return typeof f === 'function' && f(Buffer.from('123456789')) === 0xe3069283 ? f : null
  } catch {
    return null
  }
}

const native = loadNative()
/** True when the native implementation is in use. */
export const CRC32C_NATIVE = native !== null

const POLY = 0x82f63b78

/** TABLE[k * 256 + b]: CRC of byte b followed by k zero bytes. */
const TABLE = buildTable()

function buildTable(): Int32Array {
  const t = new Int32Array(8 * 256)
  for (let b = 0; b < 256; b++) {
    let c = b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    t[b] = c
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b]
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8)
      t[k * 256 + b] = c
    }
  }
  return t
}

/**
 * CRC-32C of buf[start, end), as an unsigned 32-bit number. Pass a previous result as `crc` to
 * continue a checksum over consecutive pieces: crc32c(b, 0, n, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  if (!(0 <= start && start <= end && end <= buf.length)) {
    throw new InvariantViolation(`crc32c range [${start}, ${end}) outside 0..${buf.length}`)
  }
  if (native !== null && end - start >= 64) {
    return native(Buffer.from(buf.buffer, buf.byteOffset + start, end - start), crc) >>> 0
  }
  return crc32cJs(buf, start, end, crc)
}

/** The pure-JS implementation (also the reference the native one is tested against). */
export function crc32cJs(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  const t = TABLE
  let c = ~crc
  let i = start
  const end8 = end - 8
  while (i <= end8) {
    c ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)
    c =
      t[1792 + (c & 0xff)] ^
      t[1536 + ((c >>> 8) & 0xff)] ^
      t[1280 + ((c >>> 16) & 0xff)] ^
      t[1024 + (c >>> 24)] ^
      t[768 + buf[i + 4]] ^
      t[512 + buf[i + 5]] ^
      t[256 + buf[i + 6]] ^
      t[buf[i + 7]]
    i += 8
  }
  while (i < end) {
    c = t[(c ^ buf[i]) & 0xff] ^ (c >>> 8)
    i++
  }
  return ~c >>> 0
}
