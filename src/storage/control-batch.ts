// Kafka's transaction markers: a control batch (transactional, control bit set) holding one record
// whose key is version int16 = 0 | type int16 (0 abort, 1 commit) and whose value is
// version int16 = 0 | coordinatorEpoch int32.
import { InvariantViolation } from '../errors.js'
import { encodeRecordBatch } from './record-batch.js'
import { DecodeError } from './varint.js'

export interface ControlBatchOptions {
  commit: boolean
  producerId: number
  producerEpoch: number
  coordinatorEpoch: number
  timestamp: number
  baseOffset?: number
  partitionLeaderEpoch?: number
}

/** A transactional control batch holding one commit or abort marker (baseSequence -1, as Kafka). */
export function encodeControlBatch(o: ControlBatchOptions): Buffer {
  if (!Number.isInteger(o.coordinatorEpoch) || o.coordinatorEpoch < -0x80000000 || o.coordinatorEpoch > 0x7fffffff) {
    throw new InvariantViolation(`coordinatorEpoch ${o.coordinatorEpoch} is not an int32`)
  }
  const key = Buffer.allocUnsafe(4)
  key.writeInt16BE(0, 0)
  key.writeInt16BE(o.commit ? 1 : 0, 2)
  const value = Buffer.allocUnsafe(6)
  value.writeInt16BE(0, 0)
  value.writeInt32BE(o.coordinatorEpoch, 2)
  return encodeRecordBatch([{ key, value, timestamp: o.timestamp }], {
    baseOffset: o.baseOffset ?? 0,
    partitionLeaderEpoch: o.partitionLeaderEpoch ?? 0,
    producerId: o.producerId,
    producerEpoch: o.producerEpoch,
    baseSequence: -1,
    transactional: true,
    control: true,
  })
}

/** The marker type of a record from a control batch. Throws DecodeError for anything else. */
export function decodeControlRecordType(record: { key: Buffer | null }): 'commit' | 'abort' {
  const key = record.key
  if (key === null || key.length < 4) throw new DecodeError('control record key shorter than 4 bytes')
  const version = key.readInt16BE(0)
  if (version < 0) throw new DecodeError(`bad control record version ${version}`)
  const type = key.readInt16BE(2)
  if (type === 0) return 'abort'
  if (type === 1) return 'commit'
  throw new DecodeError(`control record type ${type} is not a transaction marker`)
}
