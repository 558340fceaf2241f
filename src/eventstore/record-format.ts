// How events are stored in the store's topic: one Kafka record per event, keyed by stream id (so a
// stream's events share a partition, in order), the event's data as the value, and its type, id,
// revision, content type and metadata in headers, so that the log alone can rebuild every index and
// Kafka tools can read it:
//
//   key     = streamId (UTF-8)
//   value   = data (JSON text or bytes)
//   headers = es.type, es.id, es.revision (decimal), es.content-type, es.metadata (optional)
//
// Stream deletions are marker records of the stream with an empty value and es.type '$deleted'
// (soft: es.revision = the first revision visible again) or '$tombstone' (hard, for ever).
import { randomUUID } from 'node:crypto'
import { InvalidRecordError, type ProducerMessage } from '../index.js'

export const DELETED = '$deleted'
export const TOMBSTONE = '$tombstone'
export const JSON_TYPE = 'application/json'
export const BINARY_TYPE = 'application/octet-stream'

/** An event to append: JSON data (any value) or bytes. */
export interface EventData {
  type: string
  data: unknown
  metadata?: unknown
  /** Default: a random UUID. Appending an id that is already stored is a no-op (a retry). */
  id?: string
  contentType?: typeof JSON_TYPE | typeof BINARY_TYPE
}

/** A partition and offset: ordered within its partition (with one partition, a global order). */
export interface Position {
  partition: number
  offset: number
}

/** An event as read back. */
export interface RecordedEvent<Data = unknown, Metadata = unknown> {
  streamId: string
  revision: number
  position: Position
  type: string
  data: Data
  metadata: Metadata | null
  id: string
  isJson: boolean
  created: Date
}

/** EventStoreDB's jsonEvent(): a JSON event with a fresh id unless given. */
export function jsonEvent<Data = unknown, Metadata = unknown>(e: { type: string; data: Data; metadata?: Metadata; id?: string }): EventData {
  return { type: e.type, data: e.data, metadata: e.metadata, id: e.id ?? randomUUID(), contentType: JSON_TYPE }
}

/** EventStoreDB's binaryEvent(): data and metadata as bytes. */
export function binaryEvent(e: { type: string; data: Uint8Array; metadata?: Uint8Array; id?: string }): EventData {
  return { type: e.type, data: e.data, metadata: e.metadata, id: e.id ?? randomUUID(), contentType: BINARY_TYPE }
}

/** An event checked and encoded: its id and content type filled in, its data and metadata as bytes. */
export type NormalizedEvent = Required<Pick<EventData, 'type' | 'id' | 'contentType'>> & EventData & { dataBytes: Buffer; metadataBytes: Buffer | null }

/** Checks and encodes an event before anything is written (InvalidRecordError); fills its id and content type. */
export function normalizeEvent(e: EventData): NormalizedEvent {
  if (e === null || typeof e !== 'object') throw new InvalidRecordError('an event is an object { type, data, metadata?, id? }')
  if (typeof e.type !== 'string' || e.type === '' || e.type.startsWith('$')) {
    throw new InvalidRecordError(`event type must be a non-empty string not starting with '$', got ${JSON.stringify(e.type)}`)
  }
  if (e.id !== undefined && (typeof e.id !== 'string' || e.id === '')) throw new InvalidRecordError('event id must be a non-empty string')
  const binary = e.contentType === BINARY_TYPE || (e.contentType === undefined && e.data instanceof Uint8Array)
  if (binary && !(e.data instanceof Uint8Array)) throw new InvalidRecordError(`event ${e.type}: binary data must be bytes`)
  if (!binary && e.data === undefined) throw new InvalidRecordError(`event ${e.type} has no data`)
  const metadataBytes = e.metadata === undefined || e.metadata === null ? null : bytesOf(e.metadata, !binary)
  return { ...e, id: e.id ?? randomUUID(), contentType: binary ? BINARY_TYPE : JSON_TYPE, dataBytes: bytesOf(e.data, !binary), metadataBytes }
}

function bytesOf(v: unknown, json: boolean): Buffer {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  if (!json) throw new InvalidRecordError('binary event data and metadata must be bytes')
  let text: string | undefined
  try {
    text = JSON.stringify(v)
  } catch (err) {
    throw new InvalidRecordError(`event data is not JSON-serializable: ${(err as Error).message}`)
  }
  if (text === undefined) throw new InvalidRecordError(`event data is not JSON-serializable: ${String(v)}`)
  return Buffer.from(text)
}

/** The record of one event at `revision` of `streamId`. */
export function eventRecord(streamId: string, revision: number, e: NormalizedEvent, partition: number): ProducerMessage {
  const headers: Record<string, Buffer | string> = {
    'es.type': e.type,
    'es.id': e.id,
    'es.revision': String(revision),
    'es.content-type': e.contentType,
  }
  if (e.metadataBytes) headers['es.metadata'] = e.metadataBytes
  return { key: streamId, value: e.dataBytes, headers, partition }
}

/** The marker record of a stream deletion. */
export function markerRecord(streamId: string, kind: typeof DELETED | typeof TOMBSTONE, revision: number, partition: number): ProducerMessage {
  return { key: streamId, value: Buffer.alloc(0), headers: { 'es.type': kind, 'es.id': randomUUID(), 'es.revision': String(revision) }, partition }
}

/** What the index needs of a stored record; null for a record that is not the store's. */
export interface StoredRecord {
  streamId: string
  type: string
  id: string
  revision: number
}

type Header = { key: string; value: Buffer | null }

function header(headers: readonly Header[], name: string): string | null {
  for (const h of headers) if (h.key === name) return h.value?.toString() ?? null
  return null
}

export function parseStored(key: Buffer | null, headers: readonly Header[]): StoredRecord | null {
  const type = header(headers, 'es.type')
  const id = header(headers, 'es.id')
  const rev = header(headers, 'es.revision')
  if (key === null || type === null || id === null || rev === null || !/^\d+$/.test(rev)) return null
  return { streamId: key.toString(), type, id, revision: Number(rev) }
}

/** A stored event record as the application reads it. */
export function toRecordedEvent(
  r: { offset: number; timestamp: number; key: Buffer | null; value: Buffer | null; headers: readonly Header[] },
  partition: number,
): RecordedEvent {
  const s = parseStored(r.key, r.headers)
  if (!s) throw new InvalidRecordError(`offset ${r.offset} of partition ${partition} is not an event`)
  const isJson = header(r.headers, 'es.content-type') !== BINARY_TYPE
  const meta = r.headers.find((h) => h.key === 'es.metadata')?.value ?? null
  const value = r.value ?? Buffer.alloc(0)
  return {
    streamId: s.streamId,
    revision: s.revision,
    position: { partition, offset: r.offset },
    type: s.type,
    data: isJson ? JSON.parse(value.toString()) : value,
    metadata: meta === null ? null : isJson ? JSON.parse(meta.toString()) : meta,
    id: s.id,
    isJson,
    created: new Date(r.timestamp),
  }
}
