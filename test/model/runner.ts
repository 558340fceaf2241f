// Runs broker model test commands against a real Broker over the in-memory file layer and against
// the model side by side: every command's result (offsets, records, timestamps, committed offsets,
// errors) is compared with what the model predicts, and after commands whose outcome the model
// only bounds (crash, retention, compaction) outcomes.ts checks what the broker shows and the model
// adopts it. Group commands are in group-commands.ts, a crash inside an operation in crash-during.ts.
import assert from 'node:assert/strict'
import { Broker, MemoryFileIO, type Producer, type ProducerMessage } from '../../src/index.js'
import { withDeadline } from '../fixtures/helpers.js'
import {
  GROUPS, TOPICS, toHeaders,
  type Acks, type Cmd, type Compression, type GenMessage, type OffsetPick, type PartitionPick, type TimestampPick, type TopicPick,
} from './commands.js'
import { count, expectOutcome, setCommand } from './coverage.js'
import { crashDuring } from './crash-during.js'
import { commitOffsets, deleteGroup, groupConsume, resetOffsets } from './group-commands.js'
import { DELETE_RECORDS_PAST_FSYNC, RECREATE_DELETED_TOPICS } from './known-defects.js'
import { BrokerModel, type ModelMessage, type PartitionModel } from './model.js'
import { MessagePump, readRaw, viewPartition } from './observe.js'
import { adoptCompaction, adoptCrash, adoptRetention, type CrashRelax } from './outcomes.js'

/** Largest setInterval delay: background retention, cleaning and checkpoints never run on their own. */
const INTERVAL_MS_MAX = 2 ** 31 - 1
/** No command may take longer (a hang fails the run instead of the whole test). */
const STEP_DEADLINE_MS = 10_000

/** One sequence's broker, model and file layer; the members without `private` serve the command modules. */
export class Runner {
  /** Replaced by the outcome the broker shows after a crash in the middle of an operation. */
  model = new BrokerModel()
  readonly fileIO = new MemoryFileIO()
  broker!: Broker
  private producers = new Map<string, Producer>()
  /** Groups that had a member in the open broker: describe() knows them even without offsets. */
  readonly groupsWithMembers = new Set<string>()
  /** Topic names deleted in this data dir (see RECREATE_DELETED_TOPICS). */
  readonly deletedTopics = new Set<string>()

  async open(): Promise<void> {
    this.broker = await Broker.open({
      fileIO: this.fileIO,
      dir: '/d',
      clock: () => this.model.now,
      retentionCheckIntervalMs: INTERVAL_MS_MAX,
      cleanerBackoffMs: INTERVAL_MS_MAX,
      recoveryPointCheckpointIntervalMs: INTERVAL_MS_MAX,
    })
    this.producers.clear()
    this.groupsWithMembers.clear()
  }

  /** Closes the broker (idempotent; a crashed broker is closed already). */
  async close(): Promise<void> {
    await withDeadline(this.broker.close(), STEP_DEADLINE_MS, 'broker.close()')
  }

  /** Runs one command and the checks that follow every command. */
  async step(cmd: Cmd): Promise<void> {
    count(cmd.t)
    setCommand(cmd.t)
    await withDeadline(this.run(cmd), STEP_DEADLINE_MS, `command ${cmd.t}`)
    this.checkOffsets()
  }

  /** End of a sequence: everything readable as the model says, and again after a clean reopen. */
  async finish(): Promise<void> {
    await this.checkContents('at the end')
    await this.reopen()
    await this.checkContents('after the final reopen')
  }

  private async run(cmd: Cmd): Promise<void> {
    switch (cmd.t) {
      case 'createTopic': return this.createTopic(cmd)
      case 'send': return this.send(this.topicName(cmd.topic), cmd.acks, cmd.compression, cmd.messages)
      case 'sendConcurrent': return this.sendConcurrent(cmd)
      case 'read': return this.read(cmd)
      case 'seekRead': return this.seekRead(cmd)
      case 'offsetForTimestamp': return this.offsetForTimestamp(cmd)
      case 'commitOffsets': return commitOffsets(this, cmd)
      case 'resetOffsets': return resetOffsets(this, cmd)
      case 'deleteGroup': return deleteGroup(this, cmd.group)
      case 'alterConfig': return this.alterConfig(cmd)
      case 'crashDuring': return crashDuring(this, cmd)
      case 'groupConsume': return groupConsume(this, cmd)
      case 'tick': return this.tick(cmd.ms)
      case 'clean': return this.clean()
      case 'reopen': return this.reopen()
      case 'crash': return this.crash()
      case 'deleteTopic': return this.deleteTopic(this.topicName(cmd.topic))
      case 'deleteRecords': return this.deleteRecords(cmd)
      case 'createPartitions': return this.createPartitions(this.topicName(cmd.topic), cmd.add)
    }
  }

  // --- picks

  topicName(pick: TopicPick): string {
    const names = this.model.topicNames()
    if (pick.known && names.length > 0) return names[Math.floor(pick.frac * names.length)]!
    return TOPICS[Math.floor(pick.frac * TOPICS.length)]!
  }

  /** The name createTopic uses for `name` (see RECREATE_DELETED_TOPICS). */
  createName(name: string): string {
    let out = name
    for (let n = 1; !RECREATE_DELETED_TOPICS && this.deletedTopics.has(out); n++) out = `${name}.${n}`
    if (out !== name) count('createTopic of a deleted name renamed')
    return out
  }

  partitionIndex(topic: string, pick: PartitionPick): number {
    const count = this.model.topic(topic)?.partitions.length ?? 1
    return pick === 'outside' ? count : Math.floor(pick.frac * count)
  }

  /** The topic and partition a command picked. */
  target(cmd: { topic: TopicPick; partition: PartitionPick }): { topic: string; partition: number } {
    const topic = this.topicName(cmd.topic)
    return { topic, partition: this.partitionIndex(topic, cmd.partition) }
  }

  part(topic: string, partition: number): PartitionModel | undefined {
    return this.model.topic(topic)?.partitions[partition]
  }

  offset(topic: string, partition: number, pick: OffsetPick): number {
    const p = this.part(topic, partition)
    const lo = p?.logStart ?? 0
    const hi = p?.next ?? 0
    switch (pick.at) {
      case 'earliest': return lo
      case 'latest': return hi
      case 'inside': return lo + Math.floor(pick.frac * (hi - lo + 1))
      case 'before': return lo - 1
      case 'after': return hi + 1
    }
  }

  timestamp(topic: string, partition: number, pick: TimestampPick): number {
    const recs = this.part(topic, partition)?.records ?? []
    const base = recs.length > 0 ? recs[Math.floor(pick.frac * recs.length)]!.timestamp : this.model.now
    return base + pick.delta
  }

  /** The error code of using `topic`-`partition` at all, or null. */
  partitionError(topic: string, partition: number): string | null {
    const t = this.model.topic(topic)
    if (!t) return 'UNKNOWN_TOPIC'
    return partition < t.partitions.length ? null : 'INVALID_PARTITION'
  }

  // --- topics

  private async createTopic(cmd: Extract<Cmd, { t: 'createTopic' }>): Promise<void> {
    cmd = { ...cmd, topic: this.createName(cmd.topic) }
    const code = this.model.createTopicError(cmd.topic, cmd.spec)
    const topic = await expectOutcome(`createTopic ${cmd.topic}`, code, () => this.broker.createTopic(cmd.topic, { ...cmd.spec }))
    if (!topic) return
    this.model.createTopic(cmd.topic, { ...cmd.spec })
    assert.equal(topic.name, cmd.topic)
    assert.equal(topic.partitions, cmd.spec.partitions)
    this.checkConfig(cmd.topic, topic.config, `createTopic ${cmd.topic}`)
  }

  private async deleteTopic(topic: string): Promise<void> {
    const code = this.model.topic(topic) ? null : 'UNKNOWN_TOPIC'
    await expectOutcome(`deleteTopic ${topic}`, code, () => this.broker.deleteTopic(topic))
    if (code) return
    this.model.deleteTopic(topic)
    this.deletedTopics.add(topic)
    assert.equal(this.broker.hasTopic(topic), false)
    await expectOutcome(`topic ${topic} after deleteTopic`, 'UNKNOWN_TOPIC', () => this.broker.topic(topic))
    this.checkGroups()
  }

  private async alterConfig(cmd: Extract<Cmd, { t: 'alterConfig' }>): Promise<void> {
    const topic = this.topicName(cmd.topic)
    const what = `alterTopicConfig ${topic} ${JSON.stringify(cmd.changes)}`
    const got = await expectOutcome(what, this.model.alterConfigError(topic, cmd.changes), () => this.broker.alterTopicConfig(topic, { ...cmd.changes }))
    if (!got) return
    this.model.alterConfig(topic, cmd.changes)
    this.checkConfig(topic, { ...got }, what)
  }

  private async createPartitions(topic: string, add: number): Promise<void> {
    const t = this.model.topic(topic)
    const count = (t?.partitions.length ?? 1) + add
    const code = !t ? 'UNKNOWN_TOPIC' : add === 0 ? 'INVALID_CONFIG' : null
    const got = await expectOutcome(`createPartitions ${topic} ${count}`, code, () => this.broker.createPartitions(topic, count))
    if (!got) return
    this.model.createPartitions(topic, count)
    assert.equal(got.partitions, count)
  }

  // --- sends

  private toModel(topic: string, m: GenMessage): ModelMessage {
    return {
      key: m.key,
      value: m.value,
      headers: toHeaders(m.headers),
      timestamp: m.tsDelta === 'default' ? undefined : this.model.now + m.tsDelta,
      partition: m.partition === undefined ? undefined : this.partitionIndex(topic, m.partition),
    }
  }

  private producer(acks: Acks, compression: Compression): Producer {
    const k = `${acks}/${compression}`
    let p = this.producers.get(k)
    if (!p) this.producers.set(k, (p = this.broker.producer({ acks, compression })))
    return p
  }

  private async send(topic: string, acks: Acks, compression: Compression, gen: GenMessage[]): Promise<void> {
    const messages = gen.map((m) => this.toModel(topic, m))
    const code = this.model.sendError(topic, messages)
    const results = await expectOutcome(`send to ${topic}`, code, () => this.producer(acks, compression).send(topic, messages.map(toProducer)))
    if (!results) return
    for (const r of results) assert.equal(r.topic, topic)
    this.model.applySend(topic, messages, results, acks)
    count(`records sent with acks ${acks}`, results.length)
  }

  /** Several sends of one producer in flight at once: each resolves as if sent alone, in call order. */
  private async sendConcurrent(cmd: Extract<Cmd, { t: 'sendConcurrent' }>): Promise<void> {
    const topic = this.topicName(cmd.topic)
    const sends = cmd.sends.map((gen) => gen.map((m) => this.toModel(topic, m)))
    const producer = this.producer(cmd.acks, 'none')
    const outcomes = sends.map((messages) => ({
      messages,
      code: this.model.sendError(topic, messages),
      promise: producer.send(topic, messages.map(toProducer)),
    }))
    await Promise.allSettled(outcomes.map((o) => o.promise))
    for (const [i, o] of outcomes.entries()) {
      const results = await expectOutcome(`concurrent send ${i} to ${topic}`, o.code, () => o.promise)
      if (!results) continue
      this.model.applySend(topic, o.messages, results, cmd.acks)
      count(`records sent concurrently with acks ${cmd.acks}`, results.length)
    }
  }

  // --- reads

  private async read(cmd: Extract<Cmd, { t: 'read' }>): Promise<void> {
    const { topic, partition } = this.target(cmd)
    const from = this.offset(topic, partition, cmd.from)
    const code = this.model.offsetError(topic, partition, from)
    const what = `read ${topic}-${partition} from ${from} (${cmd.via})`
    if (cmd.via === 'raw') {
      const got = await expectOutcome(what, code, () => readRaw(this.broker, topic, partition, from, cmd.maxBytes))
      if (got) assert.deepEqual(got, this.model.partition(topic, partition).from(from), what)
      return
    }
    const consumer = this.broker.consumer({ maxBytesPerPartition: cmd.maxBytes })
    try {
      const assigned = await expectOutcome(what, code, () => {
        consumer.assign([{ topic, partition, offset: from }])
        return true
      })
      if (!assigned) return
      assert.equal(consumer.position(topic, partition), from, `${what}: position after assign`)
      const p = this.model.partition(topic, partition)
      const got = await new MessagePump(consumer).drain(topic, new Map([[partition, p.next]]), what)
      assert.deepEqual(got.get(partition), p.from(from), what)
      count('records read by consumers', p.from(from).length)
    } finally {
      await consumer.close()
    }
  }

  /** Reads `take` messages, seeks (to an offset or a timestamp), then reads on to the high watermark. */
  private async seekRead(cmd: Extract<Cmd, { t: 'seekRead' }>): Promise<void> {
    const { topic, partition } = this.target(cmd)
    const from = this.offset(topic, partition, cmd.from)
    const what = `seekRead ${topic}-${partition} from ${from}`
    const consumer = this.broker.consumer()
    try {
      const assigned = await expectOutcome(what, this.model.offsetError(topic, partition, from), () => {
        consumer.assign([{ topic, partition, offset: from }])
        return true
      })
      if (!assigned) return
      const p = this.model.partition(topic, partition)
      const pump = new MessagePump(consumer)
      const first = p.from(from).slice(0, cmd.take)
      assert.deepEqual(await pump.take(first.length, what), first, `${what}: before the seek`)
      let target: number
      if ('at' in cmd.to) {
        target = this.offset(topic, partition, cmd.to)
        const ok = await expectOutcome(`${what}: seek to ${target}`, this.model.offsetError(topic, partition, target), () => {
          consumer.seek({ topic, partition, offset: target })
          return true
        })
        if (!ok) return
      } else {
        const ts = this.timestamp(topic, partition, cmd.to)
        target = p.offsetForTimestamp(ts) ?? p.next
        consumer.seek({ topic, partition, timestamp: ts })
      }
      assert.equal(consumer.position(topic, partition), target, `${what}: position after the seek`)
      const rest = await pump.drain(topic, new Map([[partition, p.next]]), `${what}, seek to ${target}`)
      assert.deepEqual(rest.get(partition), p.from(target), `${what}: after the seek to ${target}`)
      count('seeks read through')
    } finally {
      await consumer.close()
    }
  }

  private async offsetForTimestamp(cmd: Extract<Cmd, { t: 'offsetForTimestamp' }>): Promise<void> {
    const { topic, partition } = this.target(cmd)
    const ts = this.timestamp(topic, partition, cmd.at)
    const what = `offsetForTimestamp ${topic}-${partition} ${ts}`
    const got = await expectOutcome(what, this.partitionError(topic, partition), () => ({ o: this.broker.topic(topic).offsetForTimestamp(partition, ts) }))
    if (got) assert.equal(got.o, this.model.partition(topic, partition).offsetForTimestamp(ts), what)
  }

  // --- time, retention, compaction

  private async tick(ms: number): Promise<void> {
    this.model.now += ms
    const before = this.sizes()
    const deleted = await this.broker.enforceRetention()
    let moved = 0
    for (const [name, t] of this.model.topics) {
      for (let i = 0; i < t.partitions.length; i++) {
        const start = t.partitions[i]!.logStart
        // Segment sizes are not in the public API (describeTopic has the total): the log shows them.
        const segmentSizes = this.broker.topic(name).partition(i).log.segmentInfo().map((seg) => seg.size)
        assert.equal(segmentSizes.reduce((a, b) => a + b, 0), this.broker.describeTopic(name).partitions[i]!.sizeBytes, `size of ${name}-${i}`)
        adoptRetention(this.model, name, i, viewPartition(this.broker, name, i), before.get(name)![i]!, segmentSizes)
        if (t.partitions[i]!.logStart > start) moved++
        if (t.partitions[i]!.logStart === t.partitions[i]!.next && start < t.partitions[i]!.next) count('partitions emptied by retention')
      }
    }
    count('partitions whose log start retention moved', moved)
    assert.ok(deleted >= moved, `enforceRetention() said ${deleted} segments deleted, but ${moved} partitions lost some`)
  }

  sizes(): Map<string, number[]> {
    return new Map(this.model.topicNames().map((n) => [n, this.broker.describeTopic(n).partitions.map((p) => p.sizeBytes)]))
  }

  /**
   * Where each partition's active segment starts, which compaction must leave alone. Segment
   * boundaries are not in the public API: the partition's log shows them.
   */
  activeBases(): Map<string, number[]> {
    return new Map(this.model.topicNames().map((n) => [n, this.broker.topic(n).partitionList.map((p) => p.log.segmentInfo().at(-1)!.baseOffset)]))
  }

  private async clean(): Promise<void> {
    const activeBase = this.activeBases()
    await this.broker.runCleaner()
    for (const [name, t] of this.model.topics) {
      for (let i = 0; i < t.partitions.length; i++) {
        const before = t.partitions[i]!.records.length
        adoptCompaction(this.model, name, i, viewPartition(this.broker, name, i), activeBase.get(name)![i]!)
        count('records removed by compaction', before - t.partitions[i]!.records.length)
      }
    }
  }

  /** See DELETE_RECORDS_PAST_FSYNC: makes the partition durable up to `before` first. */
  async flushFor(topic: string, partition: number, before: number): Promise<void> {
    const p = this.part(topic, partition)
    if (DELETE_RECORDS_PAST_FSYNC || !p || before <= p.durable || before > p.next) return
    count('deleteRecords past the durable point: flushed first')
    await this.broker.topic(topic).partition(partition).flush()
    p.durable = p.next
  }

  private async deleteRecords(cmd: Extract<Cmd, { t: 'deleteRecords' }>): Promise<void> {
    const { topic, partition } = this.target(cmd)
    const before = this.offset(topic, partition, cmd.before)
    await this.flushFor(topic, partition, before)
    const code = this.partitionError(topic, partition) ?? this.model.offsetError(topic, partition, before)
    const what = `deleteRecords ${topic}-${partition} before ${before}`
    const got = await expectOutcome(what, code, () => this.broker.deleteRecords(topic, { partition, beforeOffset: before }))
    if (!got) return
    assert.deepEqual(got, { partition, logStartOffset: before }, what)
    this.model.deleteRecords(topic, partition, before)
    this.model.assertPartition(topic, partition, viewPartition(this.broker, topic, partition), `after ${what}`)
  }

  // --- restarts

  private async reopen(): Promise<void> {
    await this.close()
    this.model.closedCleanly()
    await this.open()
    assert.deepEqual(this.broker.recovery, [], 'a reopen after a clean close recovers nothing')
    await this.checkContents('after a clean reopen')
  }

  /** The process dies: nothing more is flushed, and the file layer keeps only fsync'd bytes. */
  private async crash(): Promise<void> {
    await this.broker.simulateCrash()
    this.fileIO.crash()
    await this.open()
    this.adoptCrash(() => ({}))
  }

  /** The model adopts what the broker shows after a crash (see outcomes.ts, adoptCrash), or fails. */
  adoptCrash(relax: (topic: string, partition: number) => CrashRelax): void {
    assert.deepEqual(this.broker.topics().map((t) => t.name), this.model.topicNames(), 'topics after a crash')
    for (const [name, t] of this.model.topics) {
      assert.equal(this.broker.topic(name).partitions, t.partitions.length, `partitions of ${name} after a crash`)
      this.checkConfig(name, this.broker.topic(name).config, `config of ${name} after a crash`)
      for (let i = 0; i < t.partitions.length; i++) {
        const next = t.partitions[i]!.next
        adoptCrash(this.model, name, i, viewPartition(this.broker, name, i), relax(name, i))
        count('records lost in crashes', next - t.partitions[i]!.next)
      }
    }
    this.checkGroups()
  }

  // --- checks

  /** After every command: the topics, their configs, partition counts, log start offsets and high watermarks. */
  private checkOffsets(): void {
    assert.deepEqual(this.broker.topics().map((t) => t.name), this.model.topicNames(), 'topics')
    for (const [name, t] of this.model.topics) {
      const want = t.partitions.map((p, i) => ({ partition: i, earliest: p.logStart, latest: p.next }))
      assert.deepEqual(this.broker.topic(name).offsets(), want, `offsets of ${name}`)
      const d = this.broker.describeTopic(name)
      assert.deepEqual(d.partitions.map(({ partition, earliest, latest }) => ({ partition, earliest, latest })), want, `describeTopic(${name}) offsets`)
      this.checkConfig(name, d.config, `describeTopic(${name})`)
    }
    assert.deepEqual(this.broker.health(), { ok: true, errors: [] }, 'broker health')
  }

  /** The effective config of a topic holds the model's values. */
  checkConfig(topic: string, config: object, what: string): void {
    const { partitions: _, ...want } = this.model.topic(topic)!.spec
    const got = config as Record<string, unknown>
    for (const [k, v] of Object.entries(want)) assert.equal(got[k], v, `${what}: config ${k}`)
  }

  /** Committed offsets of every group, as lag() and groups() show them; describe() of a group with none. */
  checkGroups(): void {
    assert.deepEqual(this.broker.groups().map((g) => g.groupId), this.model.groupIds(), 'groups')
    for (const group of GROUPS) {
      if (this.model.commits.has(group)) assert.deepEqual(this.broker.group(group).lag(), this.model.lag(group), `lag of ${group}`)
      else if (this.groupsWithMembers.has(group)) assert.deepEqual(this.broker.group(group).describe().members, [], `members of ${group}`)
      else assert.throws(() => this.broker.group(group).describe(), { code: 'GROUP_NOT_FOUND' }, `describe() of ${group}, which has no offsets`)
    }
  }

  /** Every partition shows exactly the model's records (raw reads, and a consumer from the log start). */
  private async checkContents(when: string): Promise<void> {
    for (const [name, t] of this.model.topics) {
      for (let i = 0; i < t.partitions.length; i++) {
        const p = t.partitions[i]!
        this.model.assertPartition(name, i, viewPartition(this.broker, name, i, 300), when)
        const consumer = this.broker.consumer()
        try {
          consumer.assign([{ topic: name, partition: i, offset: p.logStart }])
          const got = await new MessagePump(consumer).drain(name, new Map([[i, p.next]]), `consumer of ${name}-${i} ${when}`)
          assert.deepEqual(got.get(i), p.records, `consumer of ${name}-${i} ${when}`)
        } finally {
          await consumer.close()
        }
      }
    }
    this.checkGroups()
  }
}

/** A model message as the producer takes it. */
function toProducer(m: ModelMessage): ProducerMessage {
  const headers: Record<string, string | null | Array<string | null>> = {}
  for (const [k, vs] of Object.entries(m.headers)) headers[k] = vs.length === 1 ? vs[0]! : vs
  const out: ProducerMessage = { key: m.key, value: m.value, headers }
  if (m.timestamp !== undefined) out.timestamp = m.timestamp
  if (m.partition !== undefined) out.partition = m.partition
  return out
}
