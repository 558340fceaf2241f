// One file-I/O interface with two implementations: the real file system (`nodeFileIO`) and an
// in-memory one (`MemoryFileIO`) that can simulate a crash (drop what was never fsync'd) and inject
// faults. Storage code only ever talks to `FileIO`, so the same code paths serve both.
//
// Reads, writes and metadata operations are synchronous: on a page-cache file they take
// microseconds, and a hop through libuv's thread pool per append would cost more than the write.
// fsync/fdatasync are asynchronous because they wait on the device.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { StorageError } from '../errors.js'

export interface FileHandle {
  readonly path: string
  /** Current length of the file in bytes. */
  size(): number
  /** Reads up to `length` bytes at `position` into `buf[offset..]`; returns the bytes read. */
  read(buf: Buffer, offset: number, length: number, position: number): number
  /** Writes all of `bufs` contiguously at `position`. */
  write(bufs: readonly Buffer[], position: number): void
  truncate(length: number): void
  /** fdatasync: resolves once everything written so far is durable. */
  sync(): Promise<void>
  close(): void
  /** Identity of the open file (device and inode): differs from `FileIO.fileId(path)` once the path names another file. */
  id(): string
}

export type FaultOp = 'open' | 'read' | 'write' | 'sync' | 'truncate' | 'rename' | 'unlink' | 'mkdir' | 'syncDir'
/** Returns an errno code (e.g. 'ENOSPC', 'EIO') to fail the operation, or undefined to let it run. */
export type FaultInjector = (op: FaultOp, file: string) => string | undefined

export interface FileIO {
  /** True for the in-memory implementation (no lock, no directory on disk). */
  readonly inMemory: boolean
  open(file: string, opts: { create: boolean; readOnly?: boolean }): FileHandle
  exists(file: string): boolean
  readFile(file: string): Buffer
  mkdirp(dir: string): void
  /** Entry names in `dir` (files and directories), sorted. */
  readdir(dir: string): string[]
  isDirectory(file: string): boolean
  rename(from: string, to: string): void
  unlink(file: string): void
  /** Removes a directory and everything under it. */
  rmrf(dir: string): void
  /** fsync of a directory, making creations, renames and deletions in it durable. */
  syncDir(dir: string): Promise<void>
  /** Identity of the file at `file` now (see FileHandle.id), or null when there is none. */
  fileId(file: string): string | null
}

/**
 * Writes each file whole (created, or cut to nothing first), then fsyncs them together with the
 * handles in `alsoSync`; every handle is closed at the end, also on failure.
 */
export async function writeFilesDurably(io: FileIO, files: ReadonlyArray<readonly [string, Buffer]>, alsoSync: FileHandle[] = []): Promise<void> {
  const handles = [...alsoSync]
  try {
    for (const [file, bytes] of files) {
      const h = io.open(file, { create: true })
      handles.push(h)
      h.truncate(0)
      if (bytes.length > 0) h.write([bytes], 0)
    }
    await Promise.all(handles.map((h) => h.sync()))
  } finally {
    for (const h of handles) h.close()
  }
}

/** Converts a system error into a StorageError (ENOSPC is retriable once space frees up). */
export function storageError(op: string, file: string, err: unknown): StorageError {
  const code = (err as NodeJS.ErrnoException)?.code ?? 'EIO'
  return new StorageError(`${op} failed on ${file}: ${code}`, code === 'ENOSPC' || code === 'EAGAIN', { cause: err })
}

function faultError(code: string, op: string, file: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: injected fault, ${op} '${file}'`)
  e.code = code
  return e
}

class NodeFileHandle implements FileHandle {
  private fd: number
  constructor(readonly path: string, fd: number, private readonly io: NodeFileIO) {
    this.fd = fd
  }
  size(): number {
    return fs.fstatSync(this.fd).size
  }
  id(): string {
    const st = fs.fstatSync(this.fd)
    return `${st.dev}:${st.ino}`
  }
  read(buf: Buffer, offset: number, length: number, position: number): number {
    this.io.fault('read', this.path)
    let done = 0
    while (done < length) {
      const n = fs.readSync(this.fd, buf, offset + done, length - done, position + done)
      if (n === 0) break
      done += n
    }
    return done
  }
  write(bufs: readonly Buffer[], position: number): void {
    this.io.fault('write', this.path)
    if (bufs.length === 1) {
      const b = bufs[0]!
      let done = 0
      while (done < b.length) done += fs.writeSync(this.fd, b, done, b.length - done, position + done)
      return
    }
    let total = 0
    for (const b of bufs) total += b.length
    let done = fs.writevSync(this.fd, bufs as Buffer[], position)
    if (done === total) return
    // Short writev: finish buffer by buffer.
    let pos = position
    for (const b of bufs) {
      if (done >= b.length) {
        done -= b.length
        pos += b.length
        continue
      }
      let off = done
      done = 0
      while (off < b.length) off += fs.writeSync(this.fd, b, off, b.length - off, pos + off)
      pos += b.length
    }
  }
  truncate(length: number): void {
    this.io.fault('truncate', this.path)
    fs.ftruncateSync(this.fd, length)
  }
  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      const code = this.io.injector?.('sync', this.path)
      if (code) return reject(faultError(code, 'sync', this.path))
      fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve()))
    })
  }
  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd)
    this.fd = -1
  }
}

export class NodeFileIO implements FileIO {
  readonly inMemory = false
  constructor(readonly injector?: FaultInjector) {}
  fault(op: FaultOp, file: string): void {
    const code = this.injector?.(op, file)
    if (code) throw faultError(code, op, file)
  }
  open(file: string, opts: { create: boolean; readOnly?: boolean }): FileHandle {
    this.fault('open', file)
    const flags = opts.readOnly ? 'r' : opts.create ? fs.constants.O_RDWR | fs.constants.O_CREAT : 'r+'
    return new NodeFileHandle(file, fs.openSync(file, flags, 0o644), this)
  }
  exists(file: string): boolean {
    return fs.existsSync(file)
  }
  readFile(file: string): Buffer {
    this.fault('read', file)
    return fs.readFileSync(file)
  }
  mkdirp(dir: string): void {
    this.fault('mkdir', dir)
    fs.mkdirSync(dir, { recursive: true })
  }
  readdir(dir: string): string[] {
    return fs.readdirSync(dir).sort()
  }
  isDirectory(file: string): boolean {
    try {
      return fs.statSync(file).isDirectory()
    } catch {
      return false
    }
  }
  fileId(file: string): string | null {
    const st = fs.statSync(file, { throwIfNoEntry: false })
    return st ? `${st.dev}:${st.ino}` : null
  }
  rename(from: string, to: string): void {
    this.fault('rename', from)
    fs.renameSync(from, to)
  }
  unlink(file: string): void {
    this.fault('unlink', file)
    fs.rmSync(file, { force: true })
  }
  rmrf(dir: string): void {
    this.fault('unlink', dir)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  syncDir(dir: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const code = this.injector?.('syncDir', dir)
      if (code) return reject(faultError(code, 'syncDir', dir))
      fs.open(dir, 'r', (err, fd) => {
        if (err) return reject(err)
        fs.fsync(fd, (err2) => {
          fs.close(fd, () => (err2 ? reject(err2) : resolve()))
        })
      })
    })
  }
}

export const nodeFileIO: FileIO = new NodeFileIO()

// ---------------------------------------------------------------------------------------------
// In-memory implementation. Each file keeps the bytes written (`data`) and the bytes known durable
// (`durable`, set by sync). `crash()` reverts every file to its durable bytes, which is what a
// power loss does to data that was never fsync'd. Directory entries are treated as durable at once.

interface MemFile {
  id: number
  data: Buffer
  length: number
  durable: Buffer
}

function enoent(file: string): NodeJS.ErrnoException {
  return faultError('ENOENT', 'open', file)
}

/** Bound to the file object, as a descriptor is to an inode: it survives renames and unlinks of its path. */
class MemoryFileHandle implements FileHandle {
  private closed = false
  constructor(readonly path: string, private readonly io: MemoryFileIO, private readonly readOnly: boolean, private readonly f: MemFile) {}
  private file(): MemFile {
    if (this.closed) throw faultError('EBADF', 'fd', this.path)
    return this.f
  }
  id(): string {
    return String(this.f.id)
  }
  /** Fails as Linux does on a descriptor opened read-only (write: EBADF, ftruncate: EINVAL). */
  private writable(op: 'write' | 'truncate'): MemFile {
    if (this.readOnly) throw faultError(op === 'write' ? 'EBADF' : 'EINVAL', `${op} on read-only fd`, this.path)
    return this.file()
  }
  size(): number {
    return this.file().length
  }
  read(buf: Buffer, offset: number, length: number, position: number): number {
    this.io.fault('read', this.path)
    const f = this.file()
    const n = Math.max(0, Math.min(length, f.length - position))
    f.data.copy(buf, offset, position, position + n)
    return n
  }
  write(bufs: readonly Buffer[], position: number): void {
    this.io.fault('write', this.path)
    const f = this.writable('write')
    let total = 0
    for (const b of bufs) total += b.length
    const end = position + total
    if (end > f.data.length) {
      const grown = Buffer.alloc(Math.max(end, f.data.length * 2, 4096))
      f.data.copy(grown, 0, 0, f.length)
      f.data = grown
    }
    if (position > f.length) f.data.fill(0, f.length, position)
    let pos = position
    for (const b of bufs) {
      b.copy(f.data, pos)
      pos += b.length
    }
    f.length = Math.max(f.length, end)
  }
  truncate(length: number): void {
    this.io.fault('truncate', this.path)
    const f = this.writable('truncate')
    if (length > f.data.length) {
      const grown = Buffer.alloc(length)
      f.data.copy(grown, 0, 0, f.length)
      f.data = grown
    } else if (length > f.length) {
      f.data.fill(0, f.length, length)
    }
    f.length = length
  }
  sync(): Promise<void> {
    const code = this.io.injector?.('sync', this.path)
    if (code) return Promise.reject(faultError(code, 'sync', this.path))
    try {
      const f = this.file()
      f.durable = Buffer.from(f.data.subarray(0, f.length))
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err)
    }
  }
  close(): void {
    this.closed = true
  }
}

export class MemoryFileIO implements FileIO {
  readonly inMemory = true
  readonly files = new Map<string, MemFile>()
  readonly dirs = new Set<string>()
  injector: FaultInjector | undefined
  private nextId = 0
  constructor(injector?: FaultInjector) {
    this.injector = injector
  }
  fileId(file: string): string | null {
    const f = this.files.get(path.resolve(file))
    return f ? String(f.id) : null
  }
  fault(op: FaultOp, file: string): void {
    const code = this.injector?.(op, file)
    if (code) throw faultError(code, op, file)
  }
  /** Simulates a power loss: every file goes back to the bytes last made durable by sync(). */
  crash(): void {
    for (const f of this.files.values()) {
      f.data = Buffer.from(f.durable)
      f.length = f.durable.length
    }
  }
  open(file: string, opts: { create: boolean; readOnly?: boolean }): FileHandle {
    this.fault('open', file)
    file = path.resolve(file)
    if (!this.files.has(file)) {
      if (!opts.create || opts.readOnly) throw enoent(file)
      if (!this.dirs.has(path.dirname(file))) throw enoent(path.dirname(file))
      this.files.set(file, { id: ++this.nextId, data: Buffer.alloc(0), length: 0, durable: Buffer.alloc(0) })
    }
    return new MemoryFileHandle(file, this, opts.readOnly === true, this.files.get(file)!)
  }
  exists(file: string): boolean {
    file = path.resolve(file)
    return this.files.has(file) || this.dirs.has(file)
  }
  readFile(file: string): Buffer {
    this.fault('read', file)
    const f = this.files.get(path.resolve(file))
    if (!f) throw enoent(file)
    return Buffer.from(f.data.subarray(0, f.length))
  }
  mkdirp(dir: string): void {
    this.fault('mkdir', dir)
    let d = path.resolve(dir)
    while (!this.dirs.has(d)) {
      this.dirs.add(d)
      const parent = path.dirname(d)
      if (parent === d) break
      d = parent
    }
  }
  readdir(dir: string): string[] {
    dir = path.resolve(dir)
    if (!this.dirs.has(dir)) throw enoent(dir)
    const out = new Set<string>()
    for (const p of [...this.files.keys(), ...this.dirs]) {
      if (path.dirname(p) === dir && p !== dir) out.add(path.basename(p))
    }
    return [...out].sort()
  }
  isDirectory(file: string): boolean {
    return this.dirs.has(path.resolve(file))
  }
  rename(from: string, to: string): void {
    this.fault('rename', from)
    from = path.resolve(from)
    to = path.resolve(to)
    const f = this.files.get(from)
    if (f) {
      this.files.delete(from)
      this.files.set(to, f)
      return
    }
    if (!this.dirs.has(from)) throw enoent(from)
    const prefix = from + path.sep
    for (const d of [...this.dirs]) {
      if (d === from || d.startsWith(prefix)) {
        this.dirs.delete(d)
        this.dirs.add(to + d.slice(from.length))
      }
    }
    for (const [p, file] of [...this.files]) {
      if (p.startsWith(prefix)) {
        this.files.delete(p)
        this.files.set(to + p.slice(from.length), file)
      }
    }
  }
  unlink(file: string): void {
    this.fault('unlink', file)
    this.files.delete(path.resolve(file))
  }
  rmrf(dir: string): void {
    this.fault('unlink', dir)
    dir = path.resolve(dir)
    const prefix = dir + path.sep
    this.files.delete(dir)
    this.dirs.delete(dir)
    for (const p of [...this.files.keys()]) if (p.startsWith(prefix)) this.files.delete(p)
    for (const d of [...this.dirs]) if (d.startsWith(prefix)) this.dirs.delete(d)
  }
  syncDir(dir: string): Promise<void> {
    const code = this.injector?.('syncDir', dir)
    return code ? Promise.reject(faultError(code, 'syncDir', dir)) : Promise.resolve()
  }
}
