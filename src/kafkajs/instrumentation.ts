// KafkaJS's instrumentation events (`client.on(client.events.X, listener)`) and logger
// (`logLevel`, `logCreator`). kafkalite prints nothing itself: without a logCreator, log entries
// go to the `kafkalite:kafkajs` debug namespace.
import { randomUUID } from 'node:crypto'
import createDebug from 'debug'
import { logLevel } from './constants.js'
import { KafkaJSNonRetriableError } from './errors.js'
import type { InstrumentationEvent, LogEntry, Logger, logCreator, RemoveInstrumentationEventListener } from './types.js'

const debug = createDebug('kafkalite:kafkajs')

export class Instrumentation<Events extends Record<string, string>> {
  private listeners = new Map<string, Set<(event: InstrumentationEvent<any>) => void>>()
  private readonly known: Set<string>

  constructor(readonly events: Events) {
    this.known = new Set(Object.values(events))
  }

  on(eventName: string, listener: (event: InstrumentationEvent<any>) => void): RemoveInstrumentationEventListener<string> {
    if (!this.known.has(eventName)) {
      throw new KafkaJSNonRetriableError(`Event name should be one of ${[...this.known].join(', ')}`)
    }
    if (!this.listeners.has(eventName)) this.listeners.set(eventName, new Set())
    this.listeners.get(eventName)!.add(listener)
    return () => void this.listeners.get(eventName)?.delete(listener)
  }

  emit(type: string, payload: unknown): void {
    const set = this.listeners.get(type)
    if (!set || set.size === 0) return
    const event: InstrumentationEvent<unknown> = { id: randomUUID(), type, timestamp: Date.now(), payload }
    for (const l of [...set]) {
      try {
        l(event)
      } catch (err) {
        debug('instrumentation listener for %s threw: %s', type, (err as Error)?.message)
      }
    }
  }
}

const LABELS: Record<number, string> = { [logLevel.ERROR]: 'ERROR', [logLevel.WARN]: 'WARN', [logLevel.INFO]: 'INFO', [logLevel.DEBUG]: 'DEBUG' }

/** The default log creator: entries to `DEBUG=kafkalite:kafkajs`, never to the console. */
const debugLogCreator: logCreator = () => (entry: LogEntry) => debug('[%s] %s %s %o', entry.label, entry.namespace, entry.log.message, entry.log)

export function createLogger(level: logLevel = logLevel.INFO, creator: logCreator = debugLogCreator): Logger {
  let current = level
  const write = creator(level)
  const make = (namespace: string, namespaceLevel?: logLevel): Logger => {
    const log =
      (l: logLevel) =>
      (message: string, extra: object = {}): void => {
        if (l > (namespaceLevel ?? current)) return
        write({ namespace, level: l, label: LABELS[l] ?? 'INFO', log: { timestamp: new Date().toISOString(), logger: 'kafkajs', message, ...extra } })
      }
    return {
      info: log(logLevel.INFO),
      error: log(logLevel.ERROR),
      warn: log(logLevel.WARN),
      debug: log(logLevel.DEBUG),
      namespace: (ns: string, nsLevel?: logLevel) => make(ns, nsLevel ?? namespaceLevel),
      setLogLevel: (l: logLevel) => {
        current = l
      },
    }
  }
  return make('')
}
