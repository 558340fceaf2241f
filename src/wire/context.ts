// What the API handlers see: the broker and its coordinators, the listener's options, and the
// connection a request came on. Created by the server (server.ts); handlers never touch sockets.
import type { Broker } from '../broker.js'
import type { TransactionCoordinator } from '../broker/txn-coordinator.js'
import type { GroupCoordinator } from '../client/group/coordinator.js'
import type { Reader, Writer } from './protocol.js'

export interface ListenOptions {
  /** TCP port (default 9092); 0 picks a free one (see `server.port`). */
  port?: number
  /** Address to bind (default '127.0.0.1': only this machine can connect). */
  host?: string
  /** Host name given to clients in Metadata and FindCoordinator (default: the address they connected to). */
  advertisedHost?: string
  /** Port given to clients (default: the bound port). */
  advertisedPort?: number
  /** Create a topic when a client's Metadata request asks for it and allows it (default true, as Kafka). */
  autoCreateTopics?: boolean
  /** A request frame larger than this closes its connection (default 100 MiB, as Kafka's socket.request.max.bytes). */
  maxRequestBytes?: number
  /** Connections beyond this are refused (default 1000). */
  maxConnections?: number
  /** Requests read ahead on one connection before its socket is paused (default 100). */
  maxInFlightRequests?: number
  /** How long close() waits for in-flight requests before it cuts connections (default 5000 ms). */
  closeTimeoutMs?: number
}

export type ResolvedListenOptions = Required<Omit<ListenOptions, 'advertisedHost' | 'advertisedPort'>> & Pick<ListenOptions, 'advertisedHost' | 'advertisedPort'>

export interface WireBackend {
  broker: Broker
  groups: GroupCoordinator
  transactions: TransactionCoordinator | null
}

export interface ConnectionState {
  readonly id: number
  readonly localAddress: string
  readonly remoteAddress: string
  /** Group members that joined through this connection ("group\0member"): they leave when it closes. */
  readonly members: Set<string>
  /** Set when the socket is gone (a join that completes afterwards leaves again at once). */
  closed: boolean
  /** Closes the connection after answering the requests already started (logged with `reason`). */
  abort(reason: string): void
  /** Starts no further request on this connection until `p` settles (an acks=0 Produce's appends). */
  hold(p: Promise<unknown>): void
  /** Calls `fn` when the connection closes (a long poll stops waiting); returns the unsubscribe function. */
  onClose(fn: () => void): () => void
}

export interface WireContext extends WireBackend {
  readonly options: ResolvedListenOptions
  readonly clusterId: string
  /** The host and port clients are told to connect to. */
  advertised(conn: ConnectionState): { host: string; port: number }
  /** Calls `fn` when the server starts closing (long polls end early); returns the unsubscribe function. */
  onClosing(fn: () => void): () => void
  readonly isClosing: boolean
}

export interface RequestInfo {
  apiKey: number
  version: number
  correlationId: number
  clientId: string | null
  conn: ConnectionState
}

/** Returned by a handler that sends no response (Produce with acks 0). */
export const NO_RESPONSE = Symbol('no response')

export type Handler = (ctx: WireContext, req: RequestInfo, r: Reader, w: Writer) => Promise<void | typeof NO_RESPONSE> | void | typeof NO_RESPONSE

export interface ApiSpec {
  name: string
  minVersion: number
  maxVersion: number
  /**
   * The lowest version ApiVersions advertises, when lower than minVersion: Produce is advertised from
   * v0 (as Kafka does since KAFKA-18659) because librdkafka compresses gzip/snappy/lz4 batches only
   * for brokers listing Produce v0; clients pick their highest version, so v0-v2 are never sent.
   */
  advertisedMin?: number
  /** First version with flexible (tagged-field) encoding; Infinity when none served is flexible. */
  flexibleFrom: number
  handle: Handler
}
