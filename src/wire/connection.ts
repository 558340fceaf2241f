// One client connection: splits the byte stream into size-prefixed request frames, parses each
// request header, runs the API handler and writes the responses back in request order.
//
//   request  = int32 size, int16 api_key, int16 api_version, int32 correlation_id,
//              NULLABLE_STRING client_id, [TAGGED_FIELDS when the version is flexible], body
//   response = int32 size, int32 correlation_id, [TAGGED_FIELDS when flexible, never for ApiVersions], body
//
// Responses go out strictly in request order, as Kafka clients expect. Requests start in order too,
// each once the ones before it that it could observe are done, as if one ran at a time (Kafka's
// model) but without making a heartbeat wait for a long poll:
//   - a Fetch or a Produce starts once every earlier request other than Fetch and Produce is done
//     (a Produce appends synchronously when it starts, so pipelined produces keep their order and a
//     later Fetch sees them);
//   - any other request starts once every earlier request but the Fetches is done.
// At most maxInFlightRequests run at once, and nothing new starts while the socket's write buffer is
// full (a client that stops reading stops costing memory). A frame over maxRequestBytes, a malformed
// request, an unknown API key or an unsupported version closes this connection only.
import type { Socket } from 'node:net'
import createDebug from 'debug'
import { API_VERSIONS_KEY, apiSpec, unsupportedApiVersions } from './api/index.js'
import { NO_RESPONSE, type ConnectionState, type RequestInfo, type WireContext } from './context.js'
import { MalformedRequest, Reader, Writer } from './protocol.js'

const debug = createDebug('kafkalite:wire')

interface Slot {
  chunks: Buffer[] | null
  done: boolean
}

const PRODUCE_KEY = 0
const FETCH_KEY = 1

export class Connection {
  private readonly pending: Buffer[] = []
  private pendingBytes = 0
  private readonly slots: Slot[] = []
  private inFlight = 0
  /** Started requests other than Fetch (they hold back the next non-Fetch request). */
  private inFlightNotFetch = 0
  /** Started requests other than Fetch and Produce (they hold back everything after them). */
  private inFlightOther = 0
  private closed = false
  /** The socket is paused (no more bytes read) until pump() finds room again. */
  private paused = false
  /** drain() was called (the server is closing): no new request starts. */
  private draining = false
  /** The socket's write buffer is over its high-water mark: no new request starts until 'drain'. */
  private writeBlocked = false
  private readonly closeListeners = new Set<() => void>()
  /** abort() was called: no more requests are read; the connection closes once the started ones are answered. */
  private aborting = false
  private abortTimer: NodeJS.Timeout | null = null
  readonly state: ConnectionState
  /** Resolves when every started request has been answered (or the socket is gone). */
  private idleWaiters: Array<() => void> = []

  constructor(
    private readonly socket: Socket,
    private readonly ctx: WireContext,
    id: number,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.state = {
      id,
      localAddress: socket.localAddress ?? '127.0.0.1',
      remoteAddress: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
      members: new Set(),
      closed: false,
      abort: (reason: string) => this.abort(reason),
      hold: (p: Promise<unknown>) => this.hold(p),
      onClose: (fn: () => void) => {
        this.closeListeners.add(fn)
        return () => this.closeListeners.delete(fn)
      },
    }
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (err) => debug('connection %d (%s): %s', id, this.state.remoteAddress, err.message))
    socket.on('close', () => this.finish())
    socket.on('drain', () => {
      this.writeBlocked = false
      this.pump()
    })
  }

  /**
   * Closes the connection, logging why (the data and other connections are untouched): reads no
   * more requests, answers the ones already started, then closes. A connection still busy after
   * closeTimeoutMs is cut.
   */
  abort(reason: string): void {
    if (this.closed || this.aborting) return
    this.aborting = true
    debug('closing connection %d (%s): %s', this.state.id, this.state.remoteAddress, reason)
    this.pending.length = 0
    this.pendingBytes = 0
    this.socket.pause()
    this.abortTimer = setTimeout(() => this.destroy('still busy after closeTimeoutMs'), this.ctx.options.closeTimeoutMs)
    this.abortTimer.unref()
    this.flush()
  }

  private holding = false

  private hold(p: Promise<unknown>): void {
    this.holding = true
    void p
      .catch(() => undefined)
      .then(() => {
        this.holding = false
        this.pump()
      })
  }

  /** Cuts the connection at once, answered or not. */
  destroy(reason: string): void {
    if (this.closed) return
    debug('cutting connection %d (%s): %s', this.state.id, this.state.remoteAddress, reason)
    this.socket.destroy()
    this.finish()
  }

  /** Stops reading requests; resolves once the ones started are answered. */
  drain(): Promise<void> {
    this.draining = true
    this.socket.pause()
    this.paused = true
    if (this.inFlight === 0 || this.closed) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  end(): void {
    if (!this.closed) this.socket.end()
  }

  private finish(): void {
    if (this.closed) return
    this.closed = true
    if (this.abortTimer) clearTimeout(this.abortTimer)
    this.state.closed = true
    this.pending.length = 0
    for (const w of this.idleWaiters.splice(0)) w()
    for (const fn of [...this.closeListeners]) fn()
    this.closeListeners.clear()
    this.onClose(this)
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.aborting) return
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    this.pump()
  }

  /** Starts what may start now, then reads from the socket only while a request could follow. */
  private pump(): void {
    if (this.closed || this.aborting) return
    try {
      this.readFrames()
    } catch (err) {
      this.abort(err instanceof Error ? err.message : String(err))
      return
    }
    // Keep reading while no whole frame waits (a frame must arrive to be started); stop once one waits.
    const waiting = this.pendingBytes >= 4 && this.pendingBytes >= 4 + this.peekSize()
    const stop = this.draining || waiting
    if (stop && !this.paused) {
      this.paused = true
      this.socket.pause()
    } else if (!stop && this.paused) {
      this.paused = false
      this.socket.resume()
    }
  }

  /** Whether the next request (api key `apiKey`) may start now; see the comment at the top. */
  private mayStart(apiKey: number): boolean {
    if (this.draining || this.holding || this.writeBlocked || this.inFlight >= this.ctx.options.maxInFlightRequests) return false
    if (apiKey === FETCH_KEY || apiKey === PRODUCE_KEY) return this.inFlightOther === 0
    return this.inFlightNotFetch === 0
  }

  private readFrames(): void {
    while (!this.closed && !this.aborting && this.pendingBytes >= 4) {
      const size = this.peekSize()
      // The smallest request is 10 bytes: ApiVersions v0 with a null client id and an empty body.
      if (size < 10) throw new MalformedRequest(`request frame of ${size} bytes is too short`)
      if (size > this.ctx.options.maxRequestBytes) throw new MalformedRequest(`request frame of ${size} bytes exceeds maxRequestBytes ${this.ctx.options.maxRequestBytes}`)
      if (this.pendingBytes < 4 + size) return
      if (!this.mayStart(this.peekInt(4, 2))) return
      const frame = this.take(4 + size).subarray(4)
      this.startRequest(frame)
    }
  }

  private peekSize(): number {
    return this.peekInt(0, 4)
  }

  /** The big-endian int of `bytes` (2 or 4) at `at` in the pending bytes (which hold at least at + bytes). */
  private peekInt(at: number, bytes: 2 | 4): number {
    let buf = this.pending[0]!
    if (buf.length < at + bytes) buf = Buffer.concat(this.pending)
    return bytes === 4 ? buf.readInt32BE(at) : buf.readInt16BE(at)
  }

  /** The next `n` pending bytes (no copy when one chunk holds them). */
  private take(n: number): Buffer {
    const first = this.pending[0]!
    if (first.length >= n) {
      const out = first.subarray(0, n)
      if (first.length === n) this.pending.shift()
      else this.pending[0] = first.subarray(n)
      this.pendingBytes -= n
      return out
    }
    const all = Buffer.concat(this.pending)
    this.pending.length = 0
    if (all.length > n) this.pending.push(all.subarray(n))
    this.pendingBytes -= n
    return all.subarray(0, n)
  }

  private startRequest(frame: Buffer): void {
    const r = new Reader(frame)
    const apiKey = r.int16()
    const version = r.int16()
    const correlationId = r.int32()
    const spec = apiSpec(apiKey)
    if (!spec) throw new MalformedRequest(`unknown API key ${apiKey}`)
    const clientId = r.nullableString()
    const req: RequestInfo = { apiKey, version, correlationId, clientId, conn: this.state }
    const slot: Slot = { chunks: null, done: false }
    if (version < spec.minVersion || version > spec.maxVersion) {
      if (apiKey !== API_VERSIONS_KEY) throw new MalformedRequest(`${spec.name} v${version} is not supported (v${spec.minVersion}-v${spec.maxVersion})`)
      // Kafka answers a too-new ApiVersions with error 35 in the v0 layout, so the client retries lower.
      this.slots.push(slot)
      this.respond(slot, req, false, unsupportedApiVersions())
      return
    }
    const flexible = version >= spec.flexibleFrom
    if (flexible) r.taggedFields()
    this.slots.push(slot)
    const kind = apiKey === FETCH_KEY ? 'fetch' : apiKey === PRODUCE_KEY ? 'produce' : 'other'
    this.inFlight++
    if (kind !== 'fetch') this.inFlightNotFetch++
    if (kind === 'other') this.inFlightOther++
    const ended = (): void => {
      this.inFlight--
      if (kind !== 'fetch') this.inFlightNotFetch--
      if (kind === 'other') this.inFlightOther--
    }
    const w = new Writer()
    let result
    try {
      result = spec.handle(this.ctx, req, r, w)
    } catch (err) {
      result = Promise.reject(err)
    }
    // Handlers parse their whole request before their first await: a malformed one is known now, so
    // nothing read after it runs.
    const failed = (err: unknown): void => {
      ended()
      slot.done = true
      this.abort(`${spec.name} v${version} (correlation id ${correlationId}) failed: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (r.failure) {
      Promise.resolve(result).catch(() => undefined)
      failed(r.failure)
      return
    }
    Promise.resolve(result).then(
      (out) => {
        ended()
        if (out === NO_RESPONSE) {
          slot.done = true
          this.flush()
        } else {
          this.respond(slot, req, flexible && apiKey !== API_VERSIONS_KEY, w)
        }
      },
      failed,
    )
  }

  private respond(slot: Slot, req: RequestInfo, flexibleHeader: boolean, body: Writer): void {
    const header = new Writer().int32(0).int32(req.correlationId)
    if (flexibleHeader) header.taggedFields()
    const chunks = [...header.finish(), ...body.finish()]
    const size = chunks.reduce((n, c) => n + c.length, 0) - 4
    chunks[0]!.writeInt32BE(size, 0)
    slot.chunks = chunks
    slot.done = true
    this.flush()
  }

  private flush(): void {
    if (this.closed) return
    if (this.slots[0]?.done) this.socket.cork()
    let wrote = false
    while (this.slots[0]?.done) {
      const slot = this.slots.shift()!
      for (const c of slot.chunks ?? []) if (!this.socket.write(c)) this.writeBlocked = true
      wrote = true
    }
    if (wrote) this.socket.uncork()
    if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w()
    if (this.aborting) {
      // Every started request answered: close once the responses are written.
      if (this.slots.length === 0) this.socket.destroySoon()
      return
    }
    this.pump()
  }
}
