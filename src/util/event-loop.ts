// Fairness for loops that never leave the microtask queue. A tight `for (...) await producer.send()`
// with acks 'leader', or a `for await` over a consumer with data waiting, resolves every promise
// without I/O: timers, sockets and the rest of the process would wait until the loop ends. The
// producer and the consumer ask `shouldYield()` once per send or fetch; once the event loop has not
// turned for YIELD_AFTER_MS they `await yieldToEventLoop()` and let it turn.

export const YIELD_AFTER_MS = 5

/** When the pending turn-marker was scheduled; -1 when none is pending (the loop has turned). */
let waitingSince = -1

function turned(): void {
  waitingSince = -1
}

/** True when the event loop has not turned for YIELD_AFTER_MS while this process kept calling. */
export function shouldYield(): boolean {
  const now = performance.now()
  if (waitingSince < 0) {
    waitingSince = now
    setImmediate(turned)
    return false
  }
  return now - waitingSince >= YIELD_AFTER_MS
}

/** Resolves on the event loop's next turn (after pending I/O callbacks and timers). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
