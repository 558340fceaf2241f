// Kafka's ConsumerProtocol: the subscription metadata a member offers in JoinGroup and the
// assignment the leader hands out through SyncGroup, as bytes, so in-process members and wire
// clients (KafkaJS, librdkafka) can share a group.
//
// Subscription (version 0..3), big-endian:
//   version int16 | topics array<string> | userData nullable bytes
//   v1+: ownedPartitions array<{ topic string | partitions array<int32> }>
//   v2+: generationId int32          v3+: rackId nullable string
// Assignment (version 0..3):
//   version int16 | assignedPartitions array<{ topic string | partitions array<int32> }> | userData nullable bytes
// string = int16 length + utf8; bytes = int32 length (-1 = null); array = int32 count.
import { InvalidRecordError } from '../../errors.js'

export interface TopicPartitions {
  topic: string
  partitions: number[]
}

export interface Subscription {
  topics: string[]
  userData: Buffer | null
  ownedPartitions: TopicPartitions[]
  generationId: number
  rackId: string | null
}

export interface Assignment {
  assigned: TopicPartitions[]
  userData: Buffer | null
}

export const SUBSCRIPTION_VERSION = 3
export const ASSIGNMENT_VERSION = 3

class Writer {
  private parts: Buffer[] = []
  int16(n: number): this {
    const b = Buffer.allocUnsafe(2)
    b.writeInt16BE(n)
    this.parts.push(b)
    return this
  }
  int32(n: number): this {
    const b = Buffer.allocUnsafe(4)
    b.writeInt32BE(n)
    this.parts.push(b)
    return this
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1)
    const b = Buffer.from(s, 'utf8')
    this.int16(b.length)
    this.parts.push(b)
    return this
  }
  bytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1)
    this.int32(b.length)
    this.parts.push(b)
    return this
  }
  topicPartitions(list: TopicPartitions[]): this {
    this.int32(list.length)
    for (const tp of list) {
      this.string(tp.topic)
      this.int32(tp.partitions.length)
      for (const p of tp.partitions) this.int32(p)
    }
    return this
  }
  done(): Buffer {
    return Buffer.concat(this.parts)
  }
}

class Reader {
  pos = 0
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new InvalidRecordError('truncated consumer protocol metadata')
  }
  get done(): boolean {
    return this.pos >= this.buf.length
  }
  int16(): number {
    this.need(2)
    const v = this.buf.readInt16BE(this.pos)
    this.pos += 2
    return v
  }
  int32(): number {
    this.need(4)
    const v = this.buf.readInt32BE(this.pos)
    this.pos += 4
    return v
  }
  string(): string | null {
    const n = this.int16()
    if (n < 0) return null
    this.need(n)
    const s = this.buf.toString('utf8', this.pos, this.pos + n)
    this.pos += n
    return s
  }
  bytes(): Buffer | null {
    const n = this.int32()
    if (n < 0) return null
    this.need(n)
    const b = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return b
  }
  count(): number {
    const n = this.int32()
    if (n < 0) return 0
    if (n > this.buf.length - this.pos) throw new InvalidRecordError('consumer protocol array longer than its bytes')
    return n
  }
  topicPartitions(): TopicPartitions[] {
    const out: TopicPartitions[] = []
    for (let i = this.count(); i > 0; i--) {
      const topic = this.string() ?? ''
      const partitions: number[] = []
      for (let j = this.count(); j > 0; j--) partitions.push(this.int32())
      out.push({ topic, partitions })
    }
    return out
  }
}

export function encodeSubscription(s: Partial<Subscription> & { topics: string[] }, version = SUBSCRIPTION_VERSION): Buffer {
  const w = new Writer().int16(version)
  w.int32(s.topics.length)
  for (const t of s.topics) w.string(t)
  w.bytes(s.userData ?? null)
  if (version >= 1) w.topicPartitions(s.ownedPartitions ?? [])
  if (version >= 2) w.int32(s.generationId ?? -1)
  if (version >= 3) w.string(s.rackId ?? null)
  return w.done()
}

export function decodeSubscription(buf: Buffer): Subscription {
  const r = new Reader(buf)
  const version = r.int16()
  const topics: string[] = []
  for (let i = r.count(); i > 0; i--) topics.push(r.string() ?? '')
  const userData = r.bytes()
  const s: Subscription = { topics, userData, ownedPartitions: [], generationId: -1, rackId: null }
  // Newer versions only append fields; read what is there.
  if (version >= 1 && !r.done) s.ownedPartitions = r.topicPartitions()
  if (version >= 2 && !r.done) s.generationId = r.int32()
  if (version >= 3 && !r.done) s.rackId = r.string()
  return s
}

export function encodeAssignment(a: Partial<Assignment> & { assigned: TopicPartitions[] }, version = ASSIGNMENT_VERSION): Buffer {
  return new Writer()
    .int16(version)
    .topicPartitions(a.assigned)
    .bytes(a.userData ?? null)
    .done()
}

export function decodeAssignment(buf: Buffer): Assignment {
  if (buf.length === 0) return { assigned: [], userData: null }
  const r = new Reader(buf)
  r.int16()
  const assigned = r.topicPartitions()
  const userData = r.done ? null : r.bytes()
  return { assigned, userData }
}
