// KafkaJS's retry schedule for a failed handler: retries, then a backoff of initialRetryTime ×
// multiplier^attempt, capped at maxRetryTime, randomized by ±factor.
import { KafkaJSNumberOfRetriesExceeded } from './errors.js'
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

/**
 * Failed handlers per partition: each failure waits out the backoff before the batch is delivered
 * again; after `retries` failures the consumer crashes (KafkaJSNumberOfRetriesExceeded) and goes on
 * only when restartOnFailure allows (by default it does).
 */
export class HandlerRetries {
  private failures = new Map<string, number>()
  /** Ends the backoffs under way (stop()). */
  private sleepers = new Set<() => void>()

  constructor(private readonly retry: ResolvedRetry) {}

  succeeded(key: string): void {
    this.failures.delete(key)
  }

  /** 'retry' once the backoff is over; 'stop' when the retries ran out and no restart is wanted. */
  async failed(key: string, error: Error, crash: (error: Error, restart: boolean) => void): Promise<'retry' | 'stop'> {
    const attempt = (this.failures.get(key) ?? 0) + 1
    this.failures.set(key, attempt)
    if (attempt > this.retry.retries) {
      this.failures.delete(key)
      const restart = await (this.retry.restartOnFailure ?? (async () => true))(error).catch(() => false)
      crash(new KafkaJSNumberOfRetriesExceeded(error, { retryCount: this.retry.retries }), restart)
      if (!restart) return 'stop'
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t)
        this.sleepers.delete(done)
        resolve()
      }
      const t = setTimeout(done, backoffMs(this.retry, attempt))
      this.sleepers.add(done)
    })
    return 'retry'
  }

  /** Ends every backoff now. */
  wakeAll(): void {
    for (const wake of [...this.sleepers]) wake()
  }
}
