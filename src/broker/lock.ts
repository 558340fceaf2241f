// The writer's lock on a data dir: proper-lockfile's lock directory `<dir>/.lock/writer`, with the
// holder's pid and host recorded beside it in `<dir>/.lock/owner.json` (not inside it: proper-lockfile
// keeps the lock alive by its directory's mtime, which a file created in it would change, and then
// declares the lock compromised). A lock whose holder ran on this host and
// is gone (kill -9) is taken over at once; a recorded pid equal to ours that this process does not
// hold is stale too (containers restart with the same pid). Another live holder → LockError.
import * as os from 'node:os'
import * as fs from 'node:fs'
import * as path from 'node:path'
import lockfile from 'proper-lockfile'
import createDebug from 'debug'
import { LockError } from '../errors.js'

const debug = createDebug('kafkalite:lock')
const LOCK_DIR = '.lock'
const HELD_DIR = 'writer'
const OWNER_FILE = 'owner.json'
/** proper-lockfile refreshes the lock's mtime every stale/2 ms; a lock older than this is stale. */
const STALE_MS = 10_000

interface Owner {
  pid: number
  host: string
  since: string
}

/** Dirs this process holds, shared by every copy (ESM and CJS) of the package. */
function heldDirs(): Set<string> {
  const key = Symbol.for('kafkalite.heldDirs')
  const g = globalThis as unknown as Record<symbol, Set<string> | undefined>
  return (g[key] ??= new Set<string>())
}

function readOwner(lockPath: string): Owner | null {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(lockPath, OWNER_FILE), 'utf8')) as Owner
    return typeof o.pid === 'number' && typeof o.host === 'string' ? o : null
  } catch {
    return null
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface DirLock {
  release(): Promise<void>
}

export async function lockDir(dir: string, onCompromised: (err: Error) => void, staleMs = STALE_MS): Promise<DirLock> {
  const real = fs.realpathSync(dir)
  const held = heldDirs()
  if (held.has(real)) throw new LockError(`data dir ${dir} is already open in this process (pid ${process.pid})`, process.pid)
  // Claimed before the first await, so concurrent opens in this process cannot both get through.
  held.add(real)
  try {
    const release = await acquire(dir, real, onCompromised, staleMs)
    return {
      async release() {
        held.delete(real)
        fs.rmSync(path.join(real, LOCK_DIR, OWNER_FILE), { force: true })
        try {
          await release()
        } catch (err) {
          debug('releasing the lock of %s: %s', dir, (err as Error).message)
        }
      },
    }
  } catch (err) {
    held.delete(real)
    throw err
  }
}

/** Takes proper-lockfile's lock (over a dead holder's on this host) and records this process as owner. */
async function acquire(dir: string, real: string, onCompromised: (err: Error) => void, stale: number): Promise<() => Promise<void>> {
  const ownerDir = path.join(real, LOCK_DIR)
  const lockPath = path.join(ownerDir, HELD_DIR)
  fs.mkdirSync(ownerDir, { recursive: true })
  const opts = { lockfilePath: lockPath, realpath: false, stale, retries: 0, onCompromised }
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(real, opts)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw new LockError(`cannot lock ${dir}: ${(err as Error).message}`, undefined, { cause: err })
    const owner = readOwner(ownerDir)
    // Our own pid is stale here: this process holds no open of the dir (checked by the caller).
    const stale = owner !== null && owner.host === os.hostname() && (owner.pid === process.pid || !isRunning(owner.pid))
    if (!stale) {
      const who = owner ? `pid ${owner.pid} on ${owner.host}` : 'another process'
      throw new LockError(`data dir ${dir} is locked by ${who}`, owner?.pid, { cause: err })
    }
    debug('taking over the lock of %s left by dead pid %d', dir, owner!.pid)
    fs.rmSync(lockPath, { recursive: true, force: true })
    try {
      release = await lockfile.lock(real, opts)
    } catch (err2) {
      throw new LockError(`data dir ${dir} is locked by another process`, undefined, { cause: err2 })
    }
  }
  const owner: Owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() }
  const tmp = path.join(ownerDir, `${OWNER_FILE}.${process.pid}.tmp`)
  fs.writeFileSync(tmp, JSON.stringify(owner))
  fs.renameSync(tmp, path.join(ownerDir, OWNER_FILE))
  return release
}
