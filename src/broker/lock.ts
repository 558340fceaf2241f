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
const CANDIDATE_PREFIX = 'candidate-'
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

/** Processes that announced they were about to take the lock (`candidate-<pid>.json`). */
function candidates(ownerDir: string): Owner[] {
  const out: Owner[] = []
  for (const name of fs.readdirSync(ownerDir)) {
    if (!name.startsWith(CANDIDATE_PREFIX) || !name.endsWith('.json')) continue
    try {
      const o = JSON.parse(fs.readFileSync(path.join(ownerDir, name), 'utf8')) as Owner
      if (typeof o.pid === 'number' && typeof o.host === 'string') out.push(o)
    } catch {
      // half written: its process died while writing it, or is writing it now (then it is alive)
    }
  }
  return out
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
  // Announced before the lock is taken: a holder killed between taking it and writing owner.json
  // is still known by its candidate file, so its lock can be taken over at once too.
  const me: Owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() }
  const candidate = path.join(ownerDir, `${CANDIDATE_PREFIX}${process.pid}.json`)
  fs.writeFileSync(candidate, JSON.stringify(me))
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(real, opts)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') {
      fs.rmSync(candidate, { force: true })
      throw new LockError(`cannot lock ${dir}: ${(err as Error).message}`, undefined, { cause: err })
    }
    const owner = readOwner(ownerDir)
    const here = os.hostname()
    // Our own pid is stale here: this process holds no open of the dir (checked by the caller).
    const dead = (o: Owner): boolean => o.host === here && (o.pid === process.pid || !isRunning(o.pid))
    const others = candidates(ownerDir).filter((c) => c.pid !== process.pid)
    const stale = owner !== null ? dead(owner) : others.every(dead)
    if (!stale) {
      fs.rmSync(candidate, { force: true })
      const who = owner ? `pid ${owner.pid} on ${owner.host}` : 'another process'
      throw new LockError(`data dir ${dir} is locked by ${who}`, owner?.pid, { cause: err })
    }
    debug('taking over the lock of %s left by dead pid %s', dir, owner?.pid ?? others.map((o) => o.pid).join(', '))
    for (const o of others) fs.rmSync(path.join(ownerDir, `${CANDIDATE_PREFIX}${o.pid}.json`), { force: true })
    fs.rmSync(lockPath, { recursive: true, force: true })
    try {
      release = await lockfile.lock(real, opts)
    } catch (err2) {
      fs.rmSync(candidate, { force: true })
      throw new LockError(`data dir ${dir} is locked by another process`, undefined, { cause: err2 })
    }
  }
  fs.renameSync(candidate, path.join(ownerDir, OWNER_FILE))
  return release
}
