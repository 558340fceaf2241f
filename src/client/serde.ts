// Codecs at the client edge. On disk keys and values are bytes; a codec turns them into and from
// application values. Built in: 'bytes' (Buffer, the default), 'string' (UTF-8), 'json', 'msgpack'
// (msgpackr); or any { encode, decode }.
import { pack, unpack } from 'msgpackr'
import { InvalidConfigError, InvalidRecordError } from '../errors.js'
import type { RecordHeader } from '../storage/record-batch.js'

export interface Codec<T = unknown> {
  encode(value: T): Buffer | Uint8Array | string | null
  decode(bytes: Buffer): T
}

export type CodecSpec = 'bytes' | 'string' | 'json' | 'msgpack' | Codec<any>

/** Converts what a user may pass as raw bytes; anything else is an InvalidRecordError. */
export function toBytes(v: unknown, what: string): Buffer | null {
  if (v === null || v === undefined) return null
  if (Buffer.isBuffer(v)) return v
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  throw new InvalidRecordError(
    `${what} must be a Buffer, Uint8Array, string or null (got ${typeof v}); set ${what}Codec: 'json' or 'msgpack' to send objects`,
  )
}

const bytesCodec: Codec<Buffer | null> = { encode: (v) => v, decode: (b) => b }
const stringCodec: Codec<string> = { encode: (v) => v, decode: (b) => b.toString('utf8') }
const jsonCodec: Codec = { encode: (v) => JSON.stringify(v), decode: (b) => JSON.parse(b.toString('utf8')) }
const msgpackCodec: Codec = { encode: (v) => pack(v), decode: (b) => unpack(b) }

export interface ResolvedCodec {
  /** True for the bytes codec: values pass through untouched. */
  identity: boolean
  encode(v: unknown, what: string): Buffer | null
  decode(b: Buffer | null): unknown
}

export function resolveCodec(spec: CodecSpec | undefined, what: string): ResolvedCodec {
  let codec: Codec<any>
  if (spec === undefined || spec === 'bytes') codec = bytesCodec
  else if (spec === 'string') codec = stringCodec
  else if (spec === 'json') codec = jsonCodec
  else if (spec === 'msgpack') codec = msgpackCodec
  else if (spec && typeof spec === 'object' && typeof spec.encode === 'function' && typeof spec.decode === 'function') codec = spec
  else throw new InvalidConfigError(`${what}Codec must be 'bytes', 'string', 'json', 'msgpack' or { encode, decode }`)
  const identity = codec === bytesCodec
  return {
    identity,
    encode(v, w) {
      if (v === null || v === undefined) return null
      if (identity) return toBytes(v, w)
      let out: unknown
      try {
        out = codec.encode(v)
      } catch (err) {
        throw new InvalidRecordError(`${w}Codec could not encode the ${w}: ${(err as Error).message}`, { cause: err })
      }
      // undefined (JSON.stringify of a function) must not turn into a tombstone.
      if (out === undefined) throw new InvalidRecordError(`${w}Codec gave nothing for the ${w} (${typeof v})`)
      return toBytes(out, w)
    },
    decode(b) {
      if (b === null) return null
      return identity ? b : codec.decode(b)
    },
  }
}

export type HeaderValue = Buffer | Uint8Array | string | null | undefined
export type MessageHeaders = Record<string, HeaderValue | HeaderValue[]>

/** Headers as the record batch stores them: one entry per value, an array value repeating its key. */
export function encodeHeaders(headers: MessageHeaders | undefined, i: number): RecordHeader[] | undefined {
  if (headers === undefined || headers === null) return undefined
  if (typeof headers !== 'object' || Array.isArray(headers)) throw new InvalidRecordError(`message ${i}: headers must be an object`)
  const out: RecordHeader[] = []
  for (const [key, v] of Object.entries(headers)) {
    if (v === undefined) continue
    for (const item of Array.isArray(v) ? v : [v]) out.push({ key, value: toBytes(item, `header '${key}'`) })
  }
  return out
}
