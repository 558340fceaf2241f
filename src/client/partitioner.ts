// Kafka's default key partitioner: murmur2 of the key bytes, made non-negative, modulo the partition
// count. Bit-for-bit the Java client's Utils.murmur2 / Utils.toPositive, so a key lands on the same
// partition as with the Java client and KafkaJS's DefaultPartitioner.

import { InvariantViolation } from '../errors.js'

const SEED = 0x9747b28c
const M = 0x5bd1e995

/** Kafka's murmur2 (seed 0x9747b28c) of `key`, as a signed 32-bit int like Java's Utils.murmur2. */
export function murmur2(key: Uint8Array): number {
  const length = key.length
  let h = SEED ^ length
  const length4 = length & ~3
  for (let i = 0; i < length4; i += 4) {
    let k = key[i] | (key[i + 1] << 8) | (key[i + 2] << 16) | (key[i + 3] << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  const rest = length & 3
  if (rest !== 0) {
    if (rest === 3) h ^= key[length4 + 2] << 16
    if (rest >= 2) h ^= key[length4 + 1] << 8
    h ^= key[length4]
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

/** Java's Utils.toPositive: clears the sign bit (not Math.abs). */
export function toPositive(n: number): number {
  return n & 0x7fffffff
}

/** The partition Kafka's default partitioner picks for a non-null key. */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  if (!(Number.isInteger(partitionCount) && partitionCount >= 1)) {
    throw new InvariantViolation(`partition count ${partitionCount} must be >= 1`)
  }
  return toPositive(murmur2(key)) % partitionCount
}
