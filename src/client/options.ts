// Validation of client options: a bad value is an InvalidConfigError naming the option.
import { InvalidConfigError } from '../errors.js'

/** An integer option of at least `min` (1 by default). */
export function intOption(v: unknown, name: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new InvalidConfigError(`${name} must be an integer ≥ ${min}`)
  return v
}

export interface RetryOptions {
  /** Attempts after the first one before the consumer gives up (default 5). */
  retries?: number
  /** First backoff in ms (default 100), multiplied by `multiplier` (default 2) up to `maxRetryTime`. */
  initialRetryTime?: number
  maxRetryTime?: number
  multiplier?: number
}

export function retryOptions(r: RetryOptions): Required<RetryOptions> {
  const multiplier = r.multiplier ?? 2
  if (typeof multiplier !== 'number' || !(multiplier >= 1)) throw new InvalidConfigError('retry.multiplier must be a number ≥ 1')
  return {
    retries: intOption(r.retries ?? 5, 'retry.retries', 0),
    initialRetryTime: intOption(r.initialRetryTime ?? 100, 'retry.initialRetryTime', 0),
    maxRetryTime: intOption(r.maxRetryTime ?? 30_000, 'retry.maxRetryTime', 0),
    multiplier,
  }
}
