// What a run of the broker model test exercised: counts of commands, of the errors they were
// expected to fail with, and of records sent, read, lost in crashes and removed by retention and
// compaction, printed by the test. A model test whose commands all fail or change nothing would
// pass without proving anything; the counts show that it does not.
import { expectOutcome as expectBare } from './observe.js'

export const coverage = new Map<string, number>()

export function count(what: string, n = 1): void {
  if (n > 0) coverage.set(what, (coverage.get(what) ?? 0) + n)
}

/** The command running, for counting its expected errors. */
let current = ''

export function setCommand(name: string): void {
  current = name
}

/** observe.ts's expectOutcome, counting the expected errors per command. */
export function expectOutcome<T>(what: string, code: string | null, fn: () => T | Promise<T>): Promise<T | undefined> {
  if (code) count(`${current} ${code}`)
  return expectBare(what, code, fn)
}
