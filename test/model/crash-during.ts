// The broker model test's crash in the middle of an operation: the in-memory file layer fails every
// file operation that changes something from the `at`-th on (as if the process had died there), then
// the broker crashes and reopens, and must show one of the outcomes the operation allows.
import assert from 'node:assert/strict'
import type { FaultOp } from '../../src/index.js'
import type { Cmd, CrashableCmd } from './commands.js'
import { count } from './coverage.js'
import { DELETE_TOPIC_DROPS_OFFSETS_AT_CRASH } from './known-defects.js'
import type { BrokerModel } from './model.js'
import type { CrashRelax } from './outcomes.js'
import type { Runner } from './runner.js'

/** File operations that change something: crashDuring fails these from its `at`-th on. */
const MUTATING = new Set<FaultOp>(['open', 'write', 'truncate', 'sync', 'rename', 'unlink', 'mkdir', 'syncDir'])

/**
 * The process dies in the middle of an operation: every file operation that changes something
 * fails from the `at`-th on, then the broker crashes and reopens. The broker must then show the
 * state from before the operation or the one after it (admin operations are atomic), or, for a
 * retention or compaction pass or deleteRecords, a state they may leave partly done; either way
 * with every fsync'd record.
 */
export async function crashDuring(r: Runner, cmd: Extract<Cmd, { t: 'crashDuring' }>): Promise<void> {
  const op: CrashableCmd = cmd.op
  if (op.t === 'tick') r.model.now += op.ms
  const candidates: BrokerModel[] = []
  /** The outcome had the operation completed (when it would succeed). */
  const completed = (apply: (m: BrokerModel) => void): void => {
    const m = r.model.clone()
    apply(m)
    candidates.push(m)
  }
  let relax: (topic: string, partition: number) => CrashRelax = () => ({ during: op.t })
  let at = cmd.at
  let act: () => Promise<unknown>
  switch (op.t) {
    case 'createTopic': {
      const name = r.createName(op.topic)
      if (r.model.createTopicError(name, op.spec) === null) completed((m) => m.createTopic(name, { ...op.spec }))
      act = () => r.broker.createTopic(name, { ...op.spec })
      break
    }
    case 'deleteTopic': {
      const name = r.topicName(op.topic)
      if (r.model.topic(name)) {
        r.deletedTopics.add(name)
        completed((m) => m.deleteTopic(name))
        // See DELETE_TOPIC_DROPS_OFFSETS_AT_CRASH: a topic with committed offsets is deleted whole.
        const committed = [...r.model.commits.values()].some((g) => [...g.keys()].some((k) => k.startsWith(`${name}\u0000`)))
        if (!DELETE_TOPIC_DROPS_OFFSETS_AT_CRASH && committed) {
          count('crashDuring deleteTopic of a topic with offsets: not interrupted')
          at = Infinity
        }
      }
      act = () => r.broker.deleteTopic(name)
      break
    }
    case 'createPartitions': {
      const name = r.topicName(op.topic)
      const t = r.model.topic(name)
      const partitions = (t?.partitions.length ?? 1) + op.add
      if (t && op.add > 0) completed((m) => m.createPartitions(name, partitions))
      act = () => r.broker.createPartitions(name, partitions)
      break
    }
    case 'alterConfig': {
      const name = r.topicName(op.topic)
      if (r.model.alterConfigError(name, op.changes) === null) completed((m) => m.alterConfig(name, op.changes))
      act = () => r.broker.alterTopicConfig(name, { ...op.changes })
      break
    }
    case 'deleteRecords': {
      const { topic, partition } = r.target(op)
      const before = r.offset(topic, partition, op.before)
      await r.flushFor(topic, partition, before)
      const valid = r.partitionError(topic, partition) === null && r.model.offsetError(topic, partition, before) === null
      if (valid) relax = (t, p) => ({ during: op.t, ...(t === topic && p === partition ? { logStartUpTo: before } : {}) })
      act = () => r.broker.deleteRecords(topic, { partition, beforeOffset: before })
      break
    }
    case 'clean': {
      const active = r.activeBases()
      relax = (t, p) => ({ during: op.t, compactionActiveBase: active.get(t)![p]! })
      act = () => r.broker.runCleaner()
      break
    }
    case 'tick': {
      const sizes = r.sizes()
      relax = (t, p) => ({ during: op.t, retentionSizeBefore: sizes.get(t)![p]! })
      act = () => r.broker.enforceRetention()
      break
    }
  }
  let ops = 0
  r.fileIO.injector = (kind) => (MUTATING.has(kind) && ops++ >= at ? 'EIO' : undefined)
  try {
    await act().catch(() => undefined)
  } finally {
    r.fileIO.injector = undefined
  }
  count(ops > at ? `crashDuring ${op.t} interrupted` : `crashDuring ${op.t} after it finished`)
  await r.broker.simulateCrash()
  r.fileIO.crash()
  await r.open()
  // The broker shows one of the outcomes (the operation done, or not done at all).
  candidates.push(r.model)
  const failures: string[] = []
  for (const candidate of candidates) {
    r.model = candidate
    try {
      r.adoptCrash(relax)
      return
    } catch (err) {
      if (!(err instanceof assert.AssertionError)) throw err
      failures.push(err.message)
    }
  }
  assert.fail(`after a crash at file operation ${cmd.at} of ${op.t}, the broker shows none of its ${candidates.length} possible outcomes:\n${failures.join('\n---\n')}`)
}
