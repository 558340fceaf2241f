// The load–decide–append loop of event sourcing: fold the stream into its state, let `decide` turn
// the state into new events, append them expecting the revision that was loaded, and on a
// concurrent change (WrongExpectedVersionError) load and decide again, up to `retries` times.
import { WrongExpectedVersionError } from './errors.js'
import type { AppendResult, EventStore } from './event-store.js'
import { normalizeEvent, type EventData, type RecordedEvent } from './record-format.js'

export interface CommandHandlerOptions<State> {
  evolve: (state: State, event: RecordedEvent) => State
  initialState: () => State
  /** Loads and decides again this many times after a conflict (default 3). */
  retries?: number
}

export interface CommandResult<State> {
  /** The state after the new events. */
  newState: State
  /** The events appended (empty when `decide` returned none). */
  events: EventData[]
  /** The stream's revision after the append (null: the stream still has no events). */
  nextExpectedRevision: number | null
  position: AppendResult['position'] | null
}

/** A command handler: `handle(store, streamId, decide)`. */
export function CommandHandler<State>(options: CommandHandlerOptions<State>) {
  const retries = options.retries ?? 3
  return async (store: EventStore, streamId: string, decide: (state: State) => EventData | EventData[] | Promise<EventData | EventData[]>): Promise<CommandResult<State>> => {
    for (let attempt = 0; ; attempt++) {
      const { state, revision } = await store.aggregateStream(streamId, options)
      const decided = await decide(state)
      const events = (Array.isArray(decided) ? decided : [decided]).map(normalizeEvent)
      if (events.length === 0) return { newState: state, events: [], nextExpectedRevision: revision, position: null }
      try {
        const r = await store.appendToStream(streamId, events, { expectedRevision: revision === null ? 'no_stream' : revision })
        const first = r.nextExpectedRevision - events.length + 1
        const newState = events.reduce(
          (s, e, i) =>
            options.evolve(s, {
              streamId,
              revision: first + i,
              position: r.position,
              type: e.type,
              data: e.data,
              metadata: e.metadata ?? null,
              id: e.id,
              isJson: e.contentType !== 'application/octet-stream',
              created: new Date(),
            }),
          state,
        )
        return { newState, events, nextExpectedRevision: r.nextExpectedRevision, position: r.position }
      } catch (err) {
        if (!(err instanceof WrongExpectedVersionError) || attempt >= retries) throw err
      }
    }
  }
}
