// The Kafka wire protocol listener: `broker.listen()` loads this module lazily. One TCP server, a
// bounded set of connections, each answering Kafka requests from the same Broker, group coordinator
// and transaction coordinator the in-process clients use (node id 0, the only broker of its cluster).
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import createDebug from 'debug'
import { InvalidConfigError } from '../errors.js'
import { Connection } from './connection.js'
import type { ConnectionState, ListenOptions, ResolvedListenOptions, WireBackend, WireContext } from './context.js'

const debug = createDebug('kafkalite:wire')

export type { ListenOptions }

function resolveOptions(o: ListenOptions): ResolvedListenOptions {
  const int = (v: number | undefined, fallback: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const n = v ?? fallback
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidConfigError(`${name} must be an integer from ${min} to ${max}, got ${String(v)}`)
    return n
  }
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host.length === 0)) throw new InvalidConfigError('host must be a non-empty string')
  if (o.advertisedHost !== undefined && (typeof o.advertisedHost !== 'string' || o.advertisedHost.length === 0)) {
    throw new InvalidConfigError('advertisedHost must be a non-empty string')
  }
  return {
    port: int(o.port, 9092, 'port', 0, 65535),
    host: o.host ?? '127.0.0.1',
    advertisedHost: o.advertisedHost,
    advertisedPort: o.advertisedPort === undefined ? undefined : int(o.advertisedPort, 0, 'advertisedPort', 1, 65535),
    autoCreateTopics: o.autoCreateTopics ?? true,
    maxRequestBytes: int(o.maxRequestBytes, 100 * 1024 * 1024, 'maxRequestBytes', 1024, 2 ** 31 - 1),
    maxConnections: int(o.maxConnections, 1000, 'maxConnections', 1),
    maxInFlightRequests: int(o.maxInFlightRequests, 100, 'maxInFlightRequests', 1),
    closeTimeoutMs: int(o.closeTimeoutMs, 5000, 'closeTimeoutMs', 0),
  }
}

/** A running listener: `port` is the bound port (useful with `port: 0`); `close()` drains and stops it. */
export class WireServer {
  private readonly connections = new Set<Connection>()
  private nextId = 0
  private closingPromise: Promise<void> | null = null
  private readonly closeListeners = new Set<() => void>()
  private readonly ctx: WireContext
  private boundPort = 0

  private constructor(
    private readonly server: Server,
    backend: WireBackend,
    readonly options: ResolvedListenOptions,
    private readonly onClosed: () => void,
  ) {
    const self = this
    this.ctx = {
      ...backend,
      options,
      clusterId: clusterIdOf(backend.broker),
      onClosing: (fn) => {
        this.closeListeners.add(fn)
        return () => this.closeListeners.delete(fn)
      },
      get isClosing() {
        return self.closingPromise !== null
      },
      advertised: (conn: ConnectionState) => ({
        host: options.advertisedHost ?? advertisedAddress(options.host, conn.localAddress),
        port: options.advertisedPort ?? this.port,
      }),
    }
  }

  static async start(backend: WireBackend, options: ListenOptions, onClosed: () => void): Promise<WireServer> {
    const resolved = resolveOptions(options ?? {})
    const server = createServer({ noDelay: true })
    server.maxConnections = resolved.maxConnections
    const ws = new WireServer(server, backend, resolved, onClosed)
    server.on('connection', (socket) => ws.accept(socket))
    server.on('drop', (d) => debug('refused a connection from %s: maxConnections %d reached', d?.remoteAddress, resolved.maxConnections))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(resolved.port, resolved.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const a = server.address()
    ws.boundPort = typeof a === 'object' && a ? a.port : resolved.port
    server.on('error', (err) => debug('listener error: %s', err.message))
    debug('listening on %s:%d', resolved.host, ws.port)
    return ws
  }

  /** The port the listener is bound to. */
  get port(): number {
    return this.boundPort
  }

  get host(): string {
    return this.options.host
  }

  /** Open client connections. */
  get connectionCount(): number {
    return this.connections.size
  }

  private accept(socket: Socket): void {
    if (this.closingPromise) {
      socket.destroy()
      return
    }
    const conn = new Connection(socket, this.ctx, ++this.nextId, (c) => this.forget(c))
    this.connections.add(conn)
    debug('connection %d from %s', conn.state.id, conn.state.remoteAddress)
  }

  /** A closed connection's group members leave their groups at once (no wait for a session timeout). */
  private forget(c: Connection): void {
    this.connections.delete(c)
    for (const key of c.state.members) {
      const [groupId, memberId] = key.split('\u0000') as [string, string]
      try {
        this.ctx.groups.leaveGroup({ groupId, memberId })
      } catch (err) {
        debug('member %s of group %s could not leave: %s', memberId, groupId, (err as Error).message)
      }
    }
    c.state.members.clear()
  }

  /**
   * Stops accepting connections, lets the requests already read finish (long polls end early),
   * answers them, then closes every connection. Cuts connections still busy after closeTimeoutMs.
   */
  close(): Promise<void> {
    this.closingPromise ??= this.doClose()
    return this.closingPromise
  }

  private async doClose(): Promise<void> {
    for (const fn of [...this.closeListeners]) fn()
    this.closeListeners.clear()
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()))
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.closeTimeoutMs)))
    await Promise.race([Promise.all([...this.connections].map((c) => c.drain())), timeout])
    clearTimeout(timer)
    for (const c of [...this.connections]) c.end()
    const cut = setTimeout(() => {
      for (const c of [...this.connections]) c.destroy('server closed')
    }, 200)
    await stopped
    clearTimeout(cut)
    // The sockets are closed; their 'close' events may still be queued: forget them now.
    for (const c of [...this.connections]) c.destroy('server closed')
    debug('listener on port %d closed', this.port)
    this.onClosed()
  }
}

/** A wildcard bind advertises the address the client reached us on. */
function advertisedAddress(host: string, local: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host
  return local.startsWith('::ffff:') ? local.slice(7) : local
}

/** Kafka shows a 22-character cluster id: stable for a data dir, random for an in-memory broker. */
function clusterIdOf(broker: { dir: string; inMemory: boolean }): string {
  const bytes = broker.inMemory ? randomBytes(16) : createHash('sha256').update(`kafkalite:${broker.dir}`).digest().subarray(0, 16)
  return bytes.toString('base64url')
}
