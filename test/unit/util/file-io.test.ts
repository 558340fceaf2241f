import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as path from 'node:path'
import { StorageError } from '../../../src/errors.js'
import { MemoryFileIO, storageError, type FaultOp } from '../../../src/util/file-io.js'
import { bothIO } from '../../helpers/tmp.js'

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code

bothIO('write, read and size, including several buffers in one write and holes', ({ io, root }) => {
  const file = path.join(root, 'a.bin')
  const h = io.open(file, { create: true })
  assert.equal(h.size(), 0)
  h.write([Buffer.from('hello')], 0)
  h.write([Buffer.from(', '), Buffer.from('world'), Buffer.alloc(0), Buffer.from('!')], 5)
  assert.equal(h.size(), 13)
  const buf = Buffer.alloc(20, 0xee)
  assert.equal(h.read(buf, 2, 18, 0), 13, 'a read past the end returns what there is')
  assert.equal(buf.toString('latin1', 2, 15), 'hello, world!')
  assert.equal(buf[0], 0xee, 'bytes before the offset are untouched')
  assert.equal(h.read(buf, 0, 4, 13), 0)
  h.write([Buffer.from('Z')], 20)
  assert.equal(h.size(), 21)
  assert.deepEqual([...io.readFile(file).subarray(13)], [0, 0, 0, 0, 0, 0, 0, 0x5a], 'a hole reads as zeros')
  h.write([Buffer.from('J')], 0)
  assert.equal(io.readFile(file).toString('latin1', 0, 5), 'Jello')
  h.close()
})

bothIO('a write of thousands of buffers lands whole and in order', ({ io, root }) => {
  const file = path.join(root, 'many.bin')
  const h = io.open(file, { create: true })
  const bufs = Array.from({ length: 3000 }, (_, i) => Buffer.from(`<${i}>`))
  h.write(bufs, 3)
  const expected = Buffer.concat([Buffer.alloc(3), ...bufs])
  assert.equal(h.size(), expected.length)
  assert.deepEqual(io.readFile(file), expected)
  h.close()
})

bothIO('truncate shrinks and grows; bytes cut off never come back', ({ io, root }) => {
  const file = path.join(root, 't.bin')
  const h = io.open(file, { create: true })
  h.write([Buffer.from('abcdefgh')], 0)
  h.truncate(3)
  assert.equal(h.size(), 3)
  h.truncate(6)
  assert.deepEqual(io.readFile(file), Buffer.from([0x61, 0x62, 0x63, 0, 0, 0]))
  h.truncate(2)
  h.write([Buffer.from('X')], 5)
  assert.deepEqual(io.readFile(file), Buffer.from([0x61, 0x62, 0, 0, 0, 0x58]))
  h.truncate(0)
  assert.equal(io.readFile(file).length, 0)
  h.close()
})

bothIO('open: missing files, missing directories and read-only handles', ({ io, root }) => {
  const file = path.join(root, 'x.bin')
  assert.throws(() => io.open(file, { create: false }), (e) => code(e) === 'ENOENT')
  assert.throws(() => io.open(file, { create: false, readOnly: true }), (e) => code(e) === 'ENOENT')
  assert.throws(() => io.open(path.join(root, 'nope', 'x.bin'), { create: true }), (e) => code(e) === 'ENOENT')
  const w = io.open(file, { create: true })
  w.write([Buffer.from('data')], 0)
  w.close()
  const r = io.open(file, { create: false, readOnly: true })
  assert.equal(r.size(), 4)
  assert.throws(() => r.write([Buffer.from('more')], 4), (e) => code(e) === 'EBADF')
  assert.throws(() => r.truncate(0), (e) => code(e) === 'EINVAL')
  r.close()
  assert.equal(io.readFile(file).toString(), 'data')
})

bothIO('directories: mkdirp, readdir sorted, rename, unlink and rmrf', async ({ io, root }) => {
  const d = path.join(root, 'p', 'q')
  io.mkdirp(d)
  io.mkdirp(d)
  assert.ok(io.isDirectory(d) && io.exists(d))
  for (const n of ['b.log', 'a.log', 'c.index']) io.open(path.join(d, n), { create: true }).close()
  io.mkdirp(path.join(d, 'sub'))
  assert.deepEqual(io.readdir(d), ['a.log', 'b.log', 'c.index', 'sub'])
  assert.equal(io.isDirectory(path.join(d, 'a.log')), false)

  const w = io.open(path.join(d, 'a.log'), { create: true })
  w.write([Buffer.from('new')], 0)
  w.close()
  io.rename(path.join(d, 'a.log'), path.join(d, 'b.log'))
  assert.deepEqual(io.readdir(d), ['b.log', 'c.index', 'sub'])
  assert.equal(io.readFile(path.join(d, 'b.log')).toString(), 'new', 'rename replaces the target')

  io.rename(d, path.join(root, 'p', 'r'))
  assert.equal(io.exists(d), false)
  assert.deepEqual(io.readdir(path.join(root, 'p', 'r')), ['b.log', 'c.index', 'sub'])
  await io.syncDir(path.join(root, 'p', 'r'))

  io.unlink(path.join(root, 'p', 'r', 'c.index'))
  io.unlink(path.join(root, 'p', 'r', 'missing'))
  assert.deepEqual(io.readdir(path.join(root, 'p', 'r')), ['b.log', 'sub'])
  io.rmrf(path.join(root, 'p'))
  assert.equal(io.exists(path.join(root, 'p')), false)
  assert.equal(io.exists(path.join(root, 'p', 'r', 'b.log')), false)
  assert.deepEqual(io.readdir(root), [])
  assert.throws(() => io.readdir(path.join(root, 'p')), (e) => code(e) === 'ENOENT')
})

bothIO('every operation consults the fault injector', async ({ io, root, setInjector }) => {
  const file = path.join(root, 'f.bin')
  const h = io.open(file, { create: true })
  h.write([Buffer.from('abc')], 0)
  const seen: FaultOp[] = []
  let failing: FaultOp | null = null
  setInjector((op, f) => {
    seen.push(op)
    assert.ok(typeof f === 'string' && f.length > 0)
    return op === failing ? 'EIO' : undefined
  })
  const cases: Array<[FaultOp, () => unknown]> = [
    ['open', () => io.open(file, { create: false })],
    ['read', () => h.read(Buffer.alloc(3), 0, 3, 0)],
    ['read', () => io.readFile(file)],
    ['write', () => h.write([Buffer.from('x')], 0)],
    ['truncate', () => h.truncate(1)],
    ['rename', () => io.rename(file, file + '.2')],
    ['unlink', () => io.unlink(file)],
    ['unlink', () => io.rmrf(path.join(root, 'nothing'))],
    ['mkdir', () => io.mkdirp(path.join(root, 'd'))],
  ]
  for (const [op, run] of cases) {
    failing = op
    assert.throws(run, (e) => code(e) === 'EIO', op)
  }
  failing = 'sync'
  await assert.rejects(h.sync(), (e) => code(e) === 'EIO')
  failing = 'syncDir'
  await assert.rejects(io.syncDir(root), (e) => code(e) === 'EIO')
  failing = null
  assert.equal(io.readFile(file).toString(), 'abc', 'failed operations changed nothing')
  for (const op of ['open', 'read', 'write', 'truncate', 'rename', 'unlink', 'mkdir', 'sync', 'syncDir'] as const) {
    assert.ok(seen.includes(op), `${op} consulted the injector`)
  }
  setInjector(undefined)
  h.close()
})

test('storageError: a StorageError naming the file, retriable for ENOSPC and EAGAIN only', () => {
  const sysErr = (c: string): NodeJS.ErrnoException => Object.assign(new Error(c), { code: c })
  const full = storageError('append', '/d/x.log', sysErr('ENOSPC'))
  assert.ok(full instanceof StorageError)
  assert.equal(full.code, 'STORAGE')
  assert.equal(full.retriable, true)
  assert.match(full.message, /append failed on \/d\/x\.log: ENOSPC/)
  assert.equal((full.cause as NodeJS.ErrnoException).code, 'ENOSPC')
  assert.equal(storageError('append', 'f', sysErr('EAGAIN')).retriable, true)
  assert.equal(storageError('append', 'f', sysErr('EIO')).retriable, false)
  assert.match(storageError('append', 'f', new Error('no code')).message, /EIO/)
})

test('MemoryFileIO.crash keeps exactly the bytes made durable by sync', async () => {
  const io = new MemoryFileIO()
  io.mkdirp('/m')
  const a = io.open('/m/a', { create: true })
  a.write([Buffer.from('durable')], 0)
  await a.sync()
  a.write([Buffer.from('+lost')], 7)
  const b = io.open('/m/b', { create: true })
  b.write([Buffer.from('never synced')], 0)
  const c = io.open('/m/c', { create: true })
  c.write([Buffer.from('0123456789')], 0)
  await c.sync()
  c.truncate(4)
  io.crash()
  assert.equal(io.readFile('/m/a').toString(), 'durable')
  assert.equal(a.size(), 7, 'open handles see the crashed state')
  assert.equal(io.readFile('/m/b').length, 0, 'a created file survives empty (directory entries are durable)')
  assert.equal(io.readFile('/m/c').toString(), '0123456789', 'an unsynced truncate is undone')
  a.write([Buffer.from('!')], 7)
  await a.sync()
  io.crash()
  assert.equal(io.readFile('/m/a').toString(), 'durable!')
})
