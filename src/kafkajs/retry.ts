// KafkaJS's retry schedule for a failed handler: retries, then a backoff of initialRetryTime ×
// multiplier^attempt, capped at maxRetryTime, randomized by ±factor.
import type { RetryOptions } from './types.js'

const DEFAULTS = { retries: 5, initialRetryTime: 300, maxRetryTime: 30_000, multiplier: 2, factor: 0.2 }

export type ResolvedRetry = typeof DEFAULTS & Pick<RetryOptions, 'restartOnFailure'>

/** The Kafka instance's retry options, overridden by the client's. */
export function retryOptions(...layers: Array<RetryOptions | undefined>): ResolvedRetry {
  return Object.assign({ ...DEFAULTS }, ...layers.map((l) => l ?? {}))
}

/** The wait before retry number `attempt` (1-based). */
export function backoffMs(retry: ResolvedRetry, attempt: number): number {
  const base = Math.min(retry.maxRetryTime, retry.initialRetryTime * retry.multiplier ** Math.min(attempt - 1, 30))
  return Math.round(base * (1 - retry.factor + Math.random() * 2 * retry.factor))
}
