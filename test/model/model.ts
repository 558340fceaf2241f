// The plain in-memory model that the broker model test compares kafkalite with: what each partition
// holds (its readable records, log start offset, high watermark and how much of it is fsync'd), the
// topics' configs, the committed offsets of each group, and what every send, read, commit and admin
// call must return. It knows nothing of files, segments or batches; where the broker's answer
// depends on those (after a crash, a retention or a compaction pass), outcomes.ts states what any
// correct answer must satisfy and the model adopts the one observed.
import assert from 'node:assert/strict'

/** The injected clock's start (epoch ms); every sequence begins here. */
export const T0 = 1_700_000_000_000

/** Header values by key, in the order they were sent (a repeated key keeps every value). */
export type Headers = Record<string, Array<string | null>>

export interface Rec {
  offset: number
  key: string | null
  value: string | null
  headers: Headers
  timestamp: number
}

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete'

export interface TopicSpec {
  partitions: number
  cleanupPolicy: CleanupPolicy
  segmentBytes: number
  segmentMs: number
  retentionMs: number
  retentionBytes: number
  deleteRetentionMs: number
  minCleanableDirtyRatio: number
  messageTimestampType: 'CreateTime' | 'LogAppendTime'
  indexIntervalBytes: number
}

/** Kafka's topic config defaults as the README states them (what a config reset to null becomes). */
export const CONFIG_DEFAULTS: Readonly<Omit<TopicSpec, 'partitions'>> = {
  cleanupPolicy: 'delete',
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  deleteRetentionMs: 24 * 3600 * 1000,
  minCleanableDirtyRatio: 0.5,
  messageTimestampType: 'CreateTime',
  indexIntervalBytes: 4096,
}

/** A message as the test sends it; `timestamp` undefined leaves it to the producer. */
export interface ModelMessage {
  key: string | null
  value: string | null
  headers: Headers
  timestamp: number | undefined
  partition: number | undefined
}

/** What `send` resolved to, per message (RecordMetadata without the topic). */
export interface SendResult {
  partition: number
  offset: number
  timestamp: number
}

/** What the broker shows of one partition. */
export interface PartitionView {
  earliest: number
  latest: number
  records: Rec[]
}

export class PartitionModel {
  /** Readable records (offset ≥ logStart), ascending; gaps appear after compaction. */
  records: Rec[] = []
  logStart = 0
  /** High watermark: the next offset to be written. */
  next = 0
  /** Every offset below this was fsync'd (an acks 'all' send, a clean close, recovery). */
  durable = 0
  /**
   * Largest timestamp of records that are unreadable but may still sit in a segment (removed by
   * compaction, or below a deleteRecords log start): a segment's largest timestamp may include them.
   */
  ghostMaxTs = -1

  append(rec: Omit<Rec, 'offset'>): Rec {
    const r = { ...rec, offset: this.next++ }
    this.records.push(r)
    return r
  }

  hide(recs: readonly Rec[]): void {
    for (const r of recs) this.ghostMaxTs = Math.max(this.ghostMaxTs, r.timestamp)
  }

  from(offset: number): Rec[] {
    return this.records.filter((r) => r.offset >= offset)
  }

  /** First readable offset whose timestamp is ≥ ts, or null. */
  offsetForTimestamp(ts: number): number | null {
    return this.records.find((r) => r.timestamp >= ts)?.offset ?? null
  }
}

export class TopicModel {
  readonly partitions: PartitionModel[] = []
  constructor(
    readonly name: string,
    readonly spec: TopicSpec,
  ) {
    for (let i = 0; i < spec.partitions; i++) this.partitions.push(new PartitionModel())
  }

  get compacted(): boolean {
    return this.spec.cleanupPolicy !== 'delete'
  }

  get deletes(): boolean {
    return this.spec.cleanupPolicy !== 'compact'
  }
}

/** Kafka's murmur2 (Java's Utils.murmur2), written out here so that the model does not trust src/. */
export function murmur2(data: Buffer): number {
  const m = 0x5bd1e995
  let h = 0x9747b28c ^ data.length
  const whole = data.length - (data.length % 4)
  for (let i = 0; i < whole; i += 4) {
    let k = (data[i]! & 0xff) | ((data[i + 1]! & 0xff) << 8) | ((data[i + 2]! & 0xff) << 16) | ((data[i + 3]! & 0xff) << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const rest = data.length % 4
  if (rest === 3) h ^= (data[whole + 2]! & 0xff) << 16
  if (rest >= 2) h ^= (data[whole + 1]! & 0xff) << 8
  if (rest >= 1) {
    h ^= data[whole]! & 0xff
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

export function keyPartition(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions
}

function tp(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

export interface LagRow {
  topic: string
  partition: number
  committed: number | null
  end: number
  lag: number
}

export class BrokerModel {
  now = T0
  readonly topics = new Map<string, TopicModel>()
  /** group → "topic\0partition" → committed offset. Commits are fsync'd: they survive crashes. */
  readonly commits = new Map<string, Map<string, number>>()

  topic(name: string): TopicModel | undefined {
    return this.topics.get(name)
  }

  partition(name: string, p: number): PartitionModel {
    const t = this.topics.get(name)
    assert.ok(t && t.partitions[p], `model has no partition ${name}-${p}`)
    return t.partitions[p]
  }

  topicNames(): string[] {
    return [...this.topics.keys()].sort()
  }

  // --- topics

  /** The error code createTopic must fail with, or null: the name, then the configs, then existence. */
  createTopicError(name: string, spec: TopicSpec): string | null {
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(name) || name === '.' || name === '..') return 'INVALID_TOPIC'
    if (spec.segmentBytes < 1024) return 'INVALID_CONFIG'
    return this.topics.has(name) ? 'TOPIC_EXISTS' : null
  }

  createTopic(name: string, spec: TopicSpec): void {
    assert.ok(!this.topics.has(name))
    this.topics.set(name, new TopicModel(name, spec))
  }

  /** Deleting a topic drops it and every group's committed offsets for it. */
  deleteTopic(name: string): void {
    this.topics.delete(name)
    for (const [group, offsets] of this.commits) {
      for (const k of [...offsets.keys()]) if (k.startsWith(`${name}\u0000`)) offsets.delete(k)
      if (offsets.size === 0) this.commits.delete(group)
    }
  }

  /** Applies config changes (null: back to the default); the error code when one is invalid. */
  alterConfigError(name: string, changes: Partial<Record<keyof TopicSpec, unknown>>): string | null {
    if (!this.topics.has(name)) return 'UNKNOWN_TOPIC'
    return typeof changes.retentionBytes === 'number' && changes.retentionBytes < -1 ? 'INVALID_CONFIG' : null
  }

  alterConfig(name: string, changes: Partial<Record<keyof TopicSpec, unknown>>): void {
    const spec = this.topics.get(name)!.spec as unknown as Record<string, unknown>
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) continue
      spec[k] = v === null ? CONFIG_DEFAULTS[k as keyof typeof CONFIG_DEFAULTS] : v
    }
  }

  createPartitions(name: string, count: number): void {
    const t = this.topics.get(name)!
    while (t.partitions.length < count) t.partitions.push(new PartitionModel())
    t.spec.partitions = count
  }

  // --- sends

  /**
   * The error code a send must fail with, or null. Messages are validated in input order: for each,
   * a compacted topic's missing key, then the target partition.
   */
  sendError(topic: string, messages: readonly ModelMessage[]): string | null {
    const t = this.topics.get(topic)
    if (!t) return 'UNKNOWN_TOPIC'
    for (const m of messages) {
      if (m.key === null && t.compacted) return 'INVALID_RECORD'
      if (m.partition !== undefined && (m.partition < 0 || m.partition >= t.partitions.length)) return 'INVALID_PARTITION'
    }
    return null
  }

  /**
   * Checks what a successful send resolved to and appends its records. Explicit partitions are kept,
   * keyed messages go to murmur2(key) % partitions, key-less ones of one send share a partition;
   * each partition's offsets continue at its high watermark, in input order. With acks 'all' every
   * touched partition is fsync'd up to its new high watermark.
   */
  applySend(topic: string, messages: readonly ModelMessage[], results: readonly SendResult[], acks: 'all' | 'leader'): void {
    const t = this.topics.get(topic)!
    assert.equal(results.length, messages.length, 'send resolves to one result per message')
    let sticky: number | null = null
    const touched = new Set<PartitionModel>()
    messages.forEach((m, i) => {
      const r = results[i]!
      let want: number
      if (m.partition !== undefined) want = m.partition
      else if (m.key !== null) want = keyPartition(m.key, t.partitions.length)
      else {
        sticky ??= r.partition
        want = sticky
      }
      assert.equal(r.partition, want, `message ${i} of the send went to the wrong partition`)
      assert.ok(r.partition >= 0 && r.partition < t.partitions.length, `message ${i}: partition ${r.partition} out of range`)
      const p = t.partitions[r.partition]!
      assert.equal(r.offset, p.next, `message ${i} to ${topic}-${r.partition}: offset`)
      const timestamp = t.spec.messageTimestampType === 'LogAppendTime' ? this.now : m.timestamp ?? this.now
      assert.equal(r.timestamp, timestamp, `message ${i} to ${topic}-${r.partition}: timestamp (${t.spec.messageTimestampType})`)
      p.append({ key: m.key, value: m.value, headers: m.headers, timestamp })
      touched.add(p)
    })
    if (acks === 'all') for (const p of touched) p.durable = p.next
  }

  // --- reads

  /** Error code of a read/seek/assign at `offset`, or null: valid offsets are [log start, high watermark]. */
  offsetError(topic: string, partition: number, offset: number): string | null {
    const t = this.topics.get(topic)
    if (!t) return 'UNKNOWN_TOPIC'
    const p = t.partitions[partition]
    if (!p) return 'INVALID_PARTITION'
    return offset < p.logStart || offset > p.next ? 'OFFSET_OUT_OF_RANGE' : null
  }

  /** Asserts that a partition shows exactly the model's records, log start and high watermark. */
  assertPartition(topic: string, partition: number, seen: PartitionView, when: string): void {
    const p = this.partition(topic, partition)
    const where = `${topic}-${partition} ${when}`
    assert.equal(seen.latest, p.next, `${where}: high watermark`)
    assert.equal(seen.earliest, p.logStart, `${where}: log start offset`)
    assert.deepEqual(seen.records, p.records, `${where}: records`)
  }

  // --- commits

  commit(group: string, topic: string, partition: number, offset: number): void {
    let g = this.commits.get(group)
    if (!g) this.commits.set(group, (g = new Map()))
    g.set(tp(topic, partition), offset)
  }

  committed(group: string, topic: string, partition: number): number | undefined {
    return this.commits.get(group)?.get(tp(topic, partition))
  }

  /** broker.group(id).lag() as the model sees it: every committed partition, by topic and partition. */
  lag(group: string): LagRow[] {
    const rows: LagRow[] = []
    for (const [k, committed] of this.commits.get(group) ?? []) {
      const [topic, p] = k.split('\u0000') as [string, string]
      const end = this.partition(topic, Number(p)).next
      rows.push({ topic, partition: Number(p), committed, end, lag: Math.max(0, end - committed) })
    }
    return rows.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
  }

  deleteGroup(group: string): void {
    this.commits.delete(group)
  }

  groupIds(): string[] {
    return [...this.commits.keys()].sort()
  }

  // --- durability

  /** A clean close fsyncs everything. */
  closedCleanly(): void {
    for (const t of this.topics.values()) for (const p of t.partitions) p.durable = p.next
  }

  /** deleteRecords: offsets below `before` become unreadable. */
  deleteRecords(topic: string, partition: number, before: number): void {
    const p = this.partition(topic, partition)
    p.hide(p.records.filter((r) => r.offset < before))
    p.records = p.from(before)
    p.logStart = before
  }

  /** A deep copy: the candidate outcomes of an interrupted operation are checked on copies. */
  clone(): BrokerModel {
    const m = new BrokerModel()
    m.now = this.now
    for (const [name, t] of this.topics) {
      const c = new TopicModel(name, { ...t.spec, partitions: 0 })
      c.spec.partitions = t.spec.partitions
      for (const p of t.partitions) {
        const q = new PartitionModel()
        Object.assign(q, { records: [...p.records], logStart: p.logStart, next: p.next, durable: p.durable, ghostMaxTs: p.ghostMaxTs })
        c.partitions.push(q)
      }
      m.topics.set(name, c)
    }
    for (const [group, offsets] of this.commits) m.commits.set(group, new Map(offsets))
    return m
  }
}
