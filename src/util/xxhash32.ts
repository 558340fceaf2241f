// xxHash32 (Yann Collet; github.com/Cyan4973/xxHash, doc/xxhash_spec.md), the checksum of the LZ4
// frame format: its header checksum byte, optional block checksums and optional content checksum.
// 32-bit arithmetic through Math.imul and `| 0`; input words are little-endian.
//   short input (< 16 bytes): acc = seed + P5
//   else: four lanes v1..v4 = seed + P1 + P2, seed + P2, seed, seed - P1; each 16-byte stripe feeds
//         one word per lane: v = rotl(v + word * P2, 13) * P1; acc = rotl(v1,1) + rotl(v2,7) +
//         rotl(v3,12) + rotl(v4,18)
//   acc += total length; remaining words: acc = rotl(acc + word * P3, 17) * P4; remaining bytes:
//   acc = rotl(acc + byte * P5, 11) * P1; avalanche: ^>>15, *P2, ^>>13, *P3, ^>>16.

const P1 = 0x9e3779b1
const P2 = 0x85ebca77
const P3 = 0xc2b2ae3d
const P4 = 0x27d4eb2f
const P5 = 0x165667b1

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r))
const word = (b: Uint8Array, p: number): number => b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)
const round = (acc: number, input: number): number => Math.imul(rotl((acc + Math.imul(input, P2)) | 0, 13), P1)

/** xxHash32 of b[start, end) with `seed`, as an unsigned 32-bit number. */
export function xxh32(b: Uint8Array, start = 0, end = b.length, seed = 0): number {
  let p = start
  let h: number
  if (end - start >= 16) {
    let v1 = (seed + P1 + P2) | 0
    let v2 = (seed + P2) | 0
    let v3 = seed | 0
    let v4 = (seed - P1) | 0
    for (const limit = end - 16; p <= limit; p += 16) {
      v1 = round(v1, word(b, p))
      v2 = round(v2, word(b, p + 4))
      v3 = round(v3, word(b, p + 8))
      v4 = round(v4, word(b, p + 12))
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0
  } else {
    h = (seed + P5) | 0
  }
  h = (h + (end - start)) | 0
  for (; p + 4 <= end; p += 4) h = Math.imul(rotl((h + Math.imul(word(b, p), P3)) | 0, 17), P4)
  for (; p < end; p++) h = Math.imul(rotl((h + Math.imul(b[p]!, P5)) | 0, 11), P1)
  h = Math.imul(h ^ (h >>> 15), P2)
  h = Math.imul(h ^ (h >>> 13), P3)
  return (h ^ (h >>> 16)) >>> 0
}
