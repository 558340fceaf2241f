// Kafka protocol primitives: a bounds-checked Reader over one request frame and a Writer that builds
// a response from small fields plus large byte slices passed by reference (Fetch records).
//
//   int8/16/32/64     big-endian two's complement
//   STRING            int16 length + UTF-8 (NULLABLE_STRING: length -1 = null)
//   BYTES             int32 length + bytes (NULLABLE_BYTES: length -1 = null)
//   ARRAY             int32 count + items (count -1 = null)
//   COMPACT_*         unsigned varint length+1 (0 = null), used by "flexible" versions
//   TAGGED_FIELDS     unsigned varint count, then (tag uvarint, size uvarint, bytes) each
//
// Who calls: the wire connection and the API handlers (src/wire/api/*). A Reader never reads past
// its frame: every overrun or impossible length throws MalformedRequest, which closes that connection.

export class MalformedRequest extends Error {
  override readonly name = 'MalformedRequest'
}

/** Upper bound on any array's element count, beyond the "fits in the frame" check. */
export const ARRAY_ITEMS_MAX = 1_000_000

export class Reader {
  pos: number
  /** The first parse error, kept so the connection sees it synchronously even inside an async handler. */
  failure: MalformedRequest | null = null

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start
  }

  get remaining(): number {
    return this.end - this.pos
  }

  /** Throws (and remembers) a MalformedRequest. */
  fail(message: string): never {
    this.failure ??= new MalformedRequest(message)
    throw this.failure
  }

  private need(n: number, what: string): number {
    if (n < 0 || this.pos + n > this.end) this.fail(`${what} runs past the end of the request (${n} bytes at ${this.pos} of ${this.end})`)
    const at = this.pos
    this.pos += n
    return at
  }

  int8(): number {
    return this.buf.readInt8(this.need(1, 'int8'))
  }

  bool(): boolean {
    return this.int8() !== 0
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2, 'int16'))
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4, 'int32'))
  }

  /** An int64 as a number: exact to 2^53 (offsets, ids, timestamps); beyond, rounded (Long.MAX_VALUE sentinels stay out of range). */
  int64(): number {
    return Number(this.buf.readBigInt64BE(this.need(8, 'int64')))
  }

  uvarint(): number {
    let value = 0
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.buf[this.need(1, 'varint')]!
      value += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return value
    }
    this.fail('varint longer than 5 bytes')
  }

  nullableString(): string | null {
    const n = this.int16()
    if (n === -1) return null
    if (n < 0) this.fail(`string length ${n}`)
    const at = this.need(n, 'string')
    return this.buf.toString('utf8', at, at + n)
  }

  string(): string {
    const s = this.nullableString()
    if (s === null) this.fail('null where a string is required')
    return s
  }

  nullableBytes(): Buffer | null {
    const n = this.int32()
    if (n === -1) return null
    if (n < 0) this.fail(`bytes length ${n}`)
    const at = this.need(n, 'bytes')
    return this.buf.subarray(at, at + n)
  }

  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0)
  }

  private count(n: number): number {
    if (n > this.remaining || n > ARRAY_ITEMS_MAX) this.fail(`array of ${n} items cannot fit in ${this.remaining} bytes`)
    return n
  }

  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const n = this.int32()
    if (n === -1) return null
    if (n < 0) this.fail(`array length ${n}`)
    const out: T[] = []
    for (let i = this.count(n); i > 0; i--) out.push(item(this))
    return out
  }

  array<T>(item: (r: Reader) => T): T[] {
    return this.nullableArray(item) ?? []
  }

  compactNullableString(): string | null {
    const n = this.uvarint() - 1
    if (n === -1) return null
    const at = this.need(n, 'compact string')
    return this.buf.toString('utf8', at, at + n)
  }

  compactString(): string {
    const s = this.compactNullableString()
    if (s === null) this.fail('null where a string is required')
    return s
  }

  compactArray<T>(item: (r: Reader) => T): T[] {
    const n = this.uvarint() - 1
    const out: T[] = []
    for (let i = n < 0 ? 0 : this.count(n); i > 0; i--) out.push(item(this))
    return out
  }

  /** Skips a tagged-field section (no tag is understood by the versions served). */
  taggedFields(): void {
    for (let n = this.count(this.uvarint()); n > 0; n--) {
      this.uvarint()
      this.need(this.uvarint(), 'tagged field')
    }
  }
}

const PART_BYTES = 4096
/** Byte slices at least this long are referenced, not copied. */
const BY_REFERENCE_BYTES = 512

export class Writer {
  private readonly chunks: Buffer[] = []
  private part = Buffer.allocUnsafe(PART_BYTES)
  private used = 0
  private total = 0

  private room(n: number): number {
    if (this.used + n > this.part.length) {
      this.seal()
      this.part = Buffer.allocUnsafe(Math.max(PART_BYTES, n))
    }
    const at = this.used
    this.used += n
    this.total += n
    return at
  }

  private seal(): void {
    if (this.used > 0) this.chunks.push(this.part.subarray(0, this.used))
    this.part = this.part.subarray(this.used)
    this.used = 0
  }

  get length(): number {
    return this.total
  }

  int8(v: number): this {
    this.part.writeInt8(v, this.room(1))
    return this
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0)
  }

  int16(v: number): this {
    this.part.writeInt16BE(v, this.room(2))
    return this
  }

  int32(v: number): this {
    this.part.writeInt32BE(v, this.room(4))
    return this
  }

  int64(v: number): this {
    this.part.writeBigInt64BE(BigInt.asIntN(64, BigInt(v)), this.room(8))
    return this
  }

  uvarint(v: number): this {
    while (v >= 0x80) {
      this.part[this.room(1)] = (v & 0x7f) | 0x80
      v = Math.floor(v / 128)
    }
    this.part[this.room(1)] = v
    return this
  }

  /** Raw bytes, no length prefix. */
  raw(b: Buffer): this {
    if (b.length >= BY_REFERENCE_BYTES) {
      this.seal()
      this.chunks.push(b)
      this.total += b.length
    } else if (b.length > 0) {
      b.copy(this.part, this.room(b.length))
    }
    return this
  }

  nullableString(s: string | null | undefined): this {
    if (s === null || s === undefined) return this.int16(-1)
    const n = Buffer.byteLength(s, 'utf8')
    this.int16(n)
    this.part.write(s, this.room(n), n, 'utf8')
    return this
  }

  string(s: string): this {
    return this.nullableString(s)
  }

  nullableBytes(b: Buffer | null | undefined): this {
    if (b === null || b === undefined) return this.int32(-1)
    return this.int32(b.length).raw(b)
  }

  bytes(b: Buffer): this {
    return this.nullableBytes(b)
  }

  nullableArray<T>(items: readonly T[] | null | undefined, item: (w: Writer, x: T) => void): this {
    if (items === null || items === undefined) return this.int32(-1)
    this.int32(items.length)
    for (const x of items) item(this, x)
    return this
  }

  array<T>(items: readonly T[], item: (w: Writer, x: T) => void): this {
    return this.nullableArray(items, item)
  }

  compactString(s: string | null): this {
    if (s === null) return this.uvarint(0)
    const n = Buffer.byteLength(s, 'utf8')
    this.uvarint(n + 1)
    this.part.write(s, this.room(n), n, 'utf8')
    return this
  }

  compactArray<T>(items: readonly T[], item: (w: Writer, x: T) => void): this {
    this.uvarint(items.length + 1)
    for (const x of items) item(this, x)
    return this
  }

  /** An empty tagged-field section. */
  taggedFields(): this {
    return this.uvarint(0)
  }

  /** The buffers written so far, in order. */
  finish(): Buffer[] {
    this.seal()
    return this.chunks
  }
}
