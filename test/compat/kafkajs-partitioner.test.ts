// Our key partitioner against KafkaJS 2.2.4's DefaultPartitioner (the Java-compatible murmur2 one),
// and murmur2 against the values in Kafka's own UtilsTest.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fc from 'fast-check'
import { murmur2, partitionForKey, toPositive } from '../../src/client/partitioner.js'

const require = createRequire(import.meta.url)
const { Partitioners } = require('kafkajs')
const kjsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2')

type KjsPartitioner = (args: {
  topic: string
  partitionMetadata: { partitionId: number; leader: number }[]
  message: { key: Buffer | string; value: Buffer | null }
}) => number

const metadata = Array.from({ length: 64 }, (_, n) => Array.from({ length: n + 1 }, (_, i) => ({ partitionId: i, leader: 0 })))

function kafkajsPartition(key: Buffer | string, partitionCount: number): number {
  const partitioner: KjsPartitioner = Partitioners.DefaultPartitioner()
  return partitioner({ topic: 't', partitionMetadata: metadata[partitionCount - 1], message: { key, value: null } })
}

test('murmur2 matches the values in Kafka\'s UtilsTest', () => {
  const cases: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [key, hash] of cases) {
    assert.equal(murmur2(Buffer.from(key)), hash, key)
    assert.equal(kjsMurmur2(Buffer.from(key)), hash, `KafkaJS ${key}`)
  }
})

test('fixed keys land on the same partitions as with KafkaJS', () => {
  const expected: [string, number, number][] = [
    ['21', 3, toPositive(-973932308) % 3],
    ['foobar', 10, toPositive(-790332482) % 10],
    ['user-1', 12, kafkajsPartition('user-1', 12)],
    ['', 7, kafkajsPartition('', 7)],
    ['ключ', 5, kafkajsPartition('ключ', 5)],
  ]
  for (const [key, n, partition] of expected) {
    assert.equal(partitionForKey(Buffer.from(key), n), partition, key)
    assert.equal(kafkajsPartition(key, n), partition, `KafkaJS ${key}`)
  }
  assert.equal(toPositive(-1), 0x7fffffff)
  assert.equal(toPositive(-2147483648), 0)
})

test('string keys: same partition as KafkaJS for 1..64 partitions (fast-check)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (key, n) => {
      assert.equal(partitionForKey(Buffer.from(key, 'utf8'), n), kafkajsPartition(key, n))
    }),
    { numRuns: 3000 },
  )
})

test('binary keys: same partition and hash as KafkaJS for 1..64 partitions (fast-check)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 64 }), (u, n) => {
      const key = Buffer.from(u)
      assert.equal(murmur2(key), kjsMurmur2(key))
      assert.equal(partitionForKey(key, n), kafkajsPartition(key, n))
    }),
    { numRuns: 3000 },
  )
})

test('every partition count from 1 to 64 for a fixed set of keys', () => {
  for (let n = 1; n <= 64; n++) {
    for (let k = 0; k < 50; k++) {
      const key = Buffer.from(`key-${k}`)
      assert.equal(partitionForKey(key, n), kafkajsPartition(key, n), `key-${k} over ${n}`)
    }
  }
})

test('a partition count below 1 is a programmer error', () => {
  assert.throws(() => partitionForKey(Buffer.from('k'), 0), { code: 'INVARIANT_VIOLATION' })
})
