// One client connection: splits the byte stream into size-prefixed request frames, parses each
// request header, runs the API handler and writes the responses back in request order.
//
//   request  = int32 size, int16 api_key, int16 api_version, int32 correlation_id,
//              NULLABLE_STRING client_id, [TAGGED_FIELDS when the version is flexible], body
//   response = int32 size, int32 correlation_id, [TAGGED_FIELDS when flexible, never for ApiVersions], body
//
// Requests are started as they arrive (a heartbeat reaches the coordinator while a Fetch long-polls)
// but answered strictly in order, as Kafka clients expect. A frame over maxRequestBytes, a malformed
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

export class Connection {
  private readonly pending: Buffer[] = []
  private pendingBytes = 0
  private readonly slots: Slot[] = []
  private inFlight = 0
  private closed = false
  private paused = false
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
    }
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (err) => debug('connection %d (%s): %s', id, this.state.remoteAddress, err.message))
    socket.on('close', () => this.finish())
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
        if (this.closed || this.aborting) return
        try {
          this.readFrames()
        } catch (err) {
          this.abort(err instanceof Error ? err.message : String(err))
        }
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
    this.onClose(this)
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.aborting) return
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    try {
      this.readFrames()
    } catch (err) {
      this.abort(err instanceof Error ? err.message : String(err))
    }
  }

  private readFrames(): void {
    while (!this.closed && !this.aborting && !this.holding && this.pendingBytes >= 4) {
      const size = this.peekSize()
      // The smallest request is 10 bytes: ApiVersions v0 with a null client id and an empty body.
      if (size < 10) throw new MalformedRequest(`request frame of ${size} bytes is too short`)
      if (size > this.ctx.options.maxRequestBytes) throw new MalformedRequest(`request frame of ${size} bytes exceeds maxRequestBytes ${this.ctx.options.maxRequestBytes}`)
      if (this.pendingBytes < 4 + size) return
      const frame = this.take(4 + size).subarray(4)
      this.startRequest(frame)
      if (this.inFlight >= this.ctx.options.maxInFlightRequests && !this.paused) {
        this.paused = true
        this.socket.pause()
      }
    }
  }

  private peekSize(): number {
    const first = this.pending[0]!
    if (first.length >= 4) return first.readInt32BE(0)
    return Buffer.concat(this.pending).readInt32BE(0)
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
    this.inFlight++
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
      this.inFlight--
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
        this.inFlight--
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
      for (const c of slot.chunks ?? []) this.socket.write(c)
      wrote = true
    }
    if (wrote) this.socket.uncork()
    if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w()
    if (this.aborting) {
      // Every started request answered: close once the responses are written.
      if (this.slots.length === 0) this.socket.destroySoon()
      return
    }
    if (this.paused && this.idleWaiters.length === 0 && this.inFlight < this.ctx.options.maxInFlightRequests && !this.ctx.isClosing) {
      this.paused = false
      this.socket.resume()
      try {
        this.readFrames()
      } catch (err) {
        this.abort(err instanceof Error ? err.message : String(err))
      }
    }
  }
}
