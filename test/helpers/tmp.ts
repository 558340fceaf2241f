// Temp dirs removed after the test, and one test body run over both file layers: the real file
// system (a fresh dir under os.tmpdir()) and the in-memory MemoryFileIO. Both layers consult a fault
// injector the test can swap at any time (to fail an operation or just to count operations).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { test, type TestContext } from 'node:test'
import { MemoryFileIO, NodeFileIO, type FaultInjector, type FaultOp, type FileIO } from '../../src/util/file-io.js'

/** A fresh directory under the OS temp dir, removed when the test ends. */
export function makeTempDir(t: Pick<TestContext, 'after'>, prefix = 'kafkalite-unit-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export type IOKind = 'fs' | 'memory'

export interface IOEnv {
  kind: IOKind
  io: FileIO
  /** Set only for the in-memory layer (for crash()). */
  memory: MemoryFileIO | null
  /** An existing, empty directory in `io`. */
  root: string
  /** `<root>/topic-0`, not created: a partition directory for Log.open. */
  dir: string
  /** Replaces the fault injector (undefined: no faults). */
  setInjector(injector: FaultInjector | undefined): void
  /** Counts operations matching `match` from now on (the injector is replaced; faults are off). */
  countOps(match: (op: FaultOp, file: string) => boolean): { readonly count: number }
  /** Whole content of `file`, read with faults off. */
  readBytes(file: string): Buffer
  /** Replaces the content of `file` (creating it), with faults off. */
  writeBytes(file: string, data: Buffer): void
  /** Entry names in `dir`, sorted. */
  list(dir?: string): string[]
}

function makeEnv(kind: IOKind, t: TestContext): IOEnv {
  let injector: FaultInjector | undefined
  const dispatch: FaultInjector = (op, file) => injector?.(op, file)
  let io: FileIO
  let memory: MemoryFileIO | null = null
  let root: string
  if (kind === 'fs') {
    io = new NodeFileIO(dispatch)
    root = makeTempDir(t)
  } else {
    memory = new MemoryFileIO(dispatch)
    io = memory
    root = path.resolve('/kafkalite-memory/test')
    memory.mkdirp(root)
  }
  const quiet = <T>(fn: () => T): T => {
    const saved = injector
    injector = undefined
    try {
      return fn()
    } finally {
      injector = saved
    }
  }
  return {
    kind,
    io,
    memory,
    root,
    dir: path.join(root, 'topic-0'),
    setInjector(next) {
      injector = next
    },
    countOps(match) {
      const counter = { count: 0 }
      injector = (op, file) => {
        if (match(op, file)) counter.count++
        return undefined
      }
      return counter
    },
    readBytes: (file) => quiet(() => io.readFile(file)),
    writeBytes: (file, data) =>
      quiet(() => {
        const h = io.open(file, { create: true })
        try {
          h.truncate(0)
          if (data.length > 0) h.write([data], 0)
        } finally {
          h.close()
        }
      }),
    list: (d = path.join(root, 'topic-0')) => io.readdir(d),
  }
}

/** Registers `name [fs]` and `name [memory]`, each running `body` over a fresh file layer. */
export function bothIO(name: string, body: (env: IOEnv, t: TestContext) => Promise<void> | void): void {
  for (const kind of ['fs', 'memory'] as const) {
    test(`${name} [${kind}]`, (t) => body(makeEnv(kind, t), t))
  }
}
