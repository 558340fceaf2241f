// The broker's periodic background work (checkpoints, retention, the cleaner, tailing a writer's
// files): unref'd intervals, so they never keep the process alive, all stopped at once by close().
export class Timers {
  private timers: NodeJS.Timeout[] = []

  /** Runs `fn` every `ms`; a rejection goes to `onError` (the broker's health and 'error' event). */
  every(ms: number, fn: () => Promise<unknown> | void, onError: (err: unknown) => void): void {
    const t = setInterval(() => {
      try {
        const r = fn()
        if (r) r.catch(onError)
      } catch (err) {
        onError(err)
      }
    }, ms)
    t.unref()
    this.timers.push(t)
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
  }
}
