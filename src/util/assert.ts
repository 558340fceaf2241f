import { InvariantViolation } from '../errors.js'

/** Throws InvariantViolation when `cond` is false: for conditions that only a kafkalite bug can break. */
export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new InvariantViolation(`invariant violated: ${message}`)
}

/** Expensive invariant checks run only when KAFKALITE_VERIFY is set (the test runner sets it). */
export const VERIFY = !!process.env.KAFKALITE_VERIFY && process.env.KAFKALITE_VERIFY !== '0'
