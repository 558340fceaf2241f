import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as path from 'node:path'
import { CorruptionError } from '../../../src/errors.js'
import {
  decodeCheckpoint, encodeCheckpoint, readCheckpoint, writeCheckpoint, writeFileAtomic, type CheckpointEntry,
} from '../../../src/storage/checkpoint.js'
import { crc32c } from '../../../src/util/crc32c.js'
import { bothIO } from '../../helpers/tmp.js'

const ENTRIES: CheckpointEntry[] = [
  { topic: 'orders', partition: 0, offset: 0 },
  { topic: 'orders', partition: 7, offset: 123_456 },
  { topic: 'ünïcødé.topic-x', partition: 4_000_000_000, offset: 2 ** 40 + 17 },
  { topic: 'max', partition: 1, offset: Number.MAX_SAFE_INTEGER },
]

/** Re-signs a checkpoint after its bytes were edited, so only the edited field is wrong. */
function resign(buf: Buffer): Buffer {
  buf.writeUInt32BE(crc32c(buf, 0, buf.length - 4), buf.length - 4)
  return buf
}

test('encode/decode round-trips every entry, including unicode topics and 53-bit offsets', () => {
  assert.deepEqual(decodeCheckpoint(encodeCheckpoint(ENTRIES), 'cp'), ENTRIES)
  assert.deepEqual(decodeCheckpoint(encodeCheckpoint([]), 'cp'), [])
  const buf = encodeCheckpoint(ENTRIES.slice(0, 1))
  assert.equal(buf.toString('latin1', 0, 4), 'KLCP')
  assert.equal(buf[4], 1, 'version')
})

function corruption(buf: Buffer): CorruptionError {
  try {
    decodeCheckpoint(buf, '/data/recovery-point-offset-checkpoint')
  } catch (err) {
    assert.ok(err instanceof CorruptionError, String(err))
    assert.equal(err.file, '/data/recovery-point-offset-checkpoint')
    return err
  }
  assert.fail('decodeCheckpoint accepted a corrupt file')
}

test('a corrupt checkpoint raises CorruptionError, one message per cause: magic, version, crc, length', () => {
  const good = encodeCheckpoint(ENTRIES)
  const magic = Buffer.from(good)
  magic[0] ^= 0xff
  const version = resign(Buffer.from(good))
  version[4] = 2
  resign(version)
  const crc = Buffer.from(good)
  crc[20] ^= 0x01
  const count = Buffer.from(good)
  count.writeUInt32BE(ENTRIES.length + 1, 5)
  resign(count)
  const fewer = Buffer.from(good)
  fewer.writeUInt32BE(ENTRIES.length - 1, 5)
  resign(fewer)
  const topicLength = Buffer.from(good)
  topicLength.writeUInt16BE(60_000, 9)
  resign(topicLength)

  const messages = new Map<string, string>()
  const check = (name: string, buf: Buffer, re: RegExp): void => {
    const err = corruption(buf)
    assert.match(err.message, re, name)
    messages.set(name, err.message.replace(/ \(file .*$/, ''))
  }
  check('magic', magic, /magic/)
  check('version', version, /version 2/)
  check('crc', crc, /crc/)
  check('count too high', count, /length/)
  check('count too low', fewer, /length/)
  check('topic length', topicLength, /length/)
  check('header without crc', good.subarray(0, 9), /length/)
  check('magic and version only', good.subarray(0, 5), /length/)
  check('half a magic', good.subarray(0, 2), /magic/)
  check('empty file', Buffer.alloc(0), /magic/)
  const distinct = new Set([messages.get('magic'), messages.get('version'), messages.get('crc'), messages.get('count too high')])
  assert.equal(distinct.size, 4, `distinct messages: ${[...distinct].join(' | ')}`)
  // A file cut anywhere never decodes.
  for (let cut = 0; cut < good.length; cut++) assert.ok(corruption(good.subarray(0, cut)))
})

bothIO('writeCheckpoint then readCheckpoint; rewriting replaces it and leaves no .tmp', async ({ io, root }) => {
  const file = path.join(root, 'recovery-point-offset-checkpoint')
  assert.equal(readCheckpoint(io, file).size, 0, 'a missing checkpoint is empty')
  await writeCheckpoint(io, file, ENTRIES)
  const map = readCheckpoint(io, file)
  assert.equal(map.get('orders-7'), 123_456)
  assert.equal(map.get('ünïcødé.topic-x-4000000000'), 2 ** 40 + 17)
  assert.equal(map.size, ENTRIES.length)
  await writeCheckpoint(io, file, [{ topic: 'orders', partition: 0, offset: 99 }])
  assert.deepEqual([...readCheckpoint(io, file)], [['orders-0', 99]])
  assert.deepEqual(io.readdir(root), ['recovery-point-offset-checkpoint'])
})

bothIO('writeFileAtomic: durable at once, and a failed write leaves the old file and no .tmp', async (env) => {
  const { io, root } = env
  const file = path.join(root, 'cp')
  await writeFileAtomic(io, file, Buffer.from('old'))
  assert.equal(io.readFile(file).toString(), 'old')
  env.memory?.crash()
  assert.equal(io.readFile(file).toString(), 'old', 'the content was fsync\'d before the rename')

  for (const failing of ['write', 'sync', 'rename'] as const) {
    env.setInjector((op) => (op === failing ? 'EIO' : undefined))
    await assert.rejects(writeFileAtomic(io, file, Buffer.from('new')), (e) => (e as NodeJS.ErrnoException).code === 'EIO')
    env.setInjector(undefined)
    assert.equal(io.readFile(file).toString(), 'old', `after a failed ${failing}`)
    assert.deepEqual(io.readdir(root), ['cp'], `no .tmp left after a failed ${failing}`)
  }
  await writeFileAtomic(io, file, Buffer.alloc(0))
  assert.equal(io.readFile(file).length, 0)
  assert.deepEqual(io.readdir(root), ['cp'])
})

bothIO('readCheckpoint reports a corrupt file with its path', async ({ io, root, writeBytes }) => {
  const file = path.join(root, 'log-start-offset-checkpoint')
  const bytes = encodeCheckpoint(ENTRIES)
  bytes[bytes.length - 1] ^= 0x80
  writeBytes(file, bytes)
  assert.throws(() => readCheckpoint(io, file), (e) => e instanceof CorruptionError && e.file === file && /crc/.test(e.message))
})
