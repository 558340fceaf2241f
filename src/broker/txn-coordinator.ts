// The transaction coordinator, in the broker's process: each transactional id's producer id, epoch,
// state and partitions, kept in the internal compacted topic `__transaction_state` (one record per
// change, fsync'd before it counts). A commit or abort writes PrepareCommit/PrepareAbort first, then
// a marker to every partition of the transaction, then CompleteCommit/CompleteAbort; an open after a
// crash finishes every Prepare state and aborts every Ongoing one (its producer died with the
// process), so a transaction is never half visible. A producer that registers an id already in use
// bumps the epoch, which fences the old producer and aborts its open transaction at once.
import createDebug from 'debug'
import { pack, unpack } from 'msgpackr'
import { CorruptionError, FencedError, InvalidConfigError, KafkaliteError, UnknownTopicError } from '../errors.js'
import { encodeControlBatch } from '../storage/control-batch.js'
import { LOG_OVERHEAD, decodeRecords, encodeRecordBatch } from '../storage/record-batch.js'
import type { BrokerAdmin } from './broker-admin.js'

const debug = createDebug('kafkalite:transactions')
export const TRANSACTION_TOPIC = '__transaction_state'
const READ_BYTES = 1024 * 1024
const TIMEOUT_CHECK_MS = 1000

export type TxnState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort'

/** A group's offsets sent with a transaction, committed when it commits. */
export interface TxnOffsets {
  groupId: string
  offsets: Array<{ topic: string; partition: number; offset: number; metadata?: string | null }>
}

/** How the coordinator reaches the consumer groups (set by the Broker, which owns them). */
export interface TxnOffsetsHandler {
  /** Throws when `member` is not of the group's current generation (KIP-447). */
  check(groupId: string, member: { memberId: string; generationId: number } | undefined): void
  /** Commits offsets (fsync'd). */
  commit(groupId: string, offsets: TxnOffsets['offsets']): Promise<void>
}

export interface TxnMetadata {
  producerId: number
  epoch: number
  state: TxnState
  /** Partitions of the open transaction, `[topic, partition]`. */
  partitions: Array<[string, number]>
  timeoutMs: number
  /** When the open transaction began (its first partition), for the timeout. */
  startedMs: number
  /** Group offsets to commit with the transaction. */
  offsets: TxnOffsets[]
}

export class TransactionCoordinator {
  private readonly txns = new Map<string, TxnMetadata>()
  private chain: Promise<unknown> = Promise.resolve()
  private timer: NodeJS.Timeout | null = null
  /** Aborts of timed-out transactions, so close() can wait for them. */
  private timeouts: Promise<unknown> = Promise.resolve()
  offsetsHandler: TxnOffsetsHandler | null = null

  constructor(
    private readonly broker: BrokerAdmin,
    private readonly now: () => number,
  ) {}

  /** Replays `__transaction_state` and finishes what a crash interrupted. */
  async load(): Promise<void> {
    if (!this.broker.hasTopic(TRANSACTION_TOPIC)) return
    const p = this.broker.topic(TRANSACTION_TOPIC).partition(0)
    for (let offset = p.logStartOffset; offset < p.highWatermark; ) {
      const { bytes } = p.readBatches({ offset, maxBytes: READ_BYTES })
      if (bytes.length === 0) break
      for (let pos = 0; pos < bytes.length; pos += LOG_OVERHEAD + bytes.readInt32BE(pos + 8)) {
        for (const r of decodeRecords(bytes, pos)) {
          const id = r.key?.toString('utf8') ?? ''
          if (r.value === null) this.txns.delete(id)
          else this.txns.set(id, decodeTxn(r.value, p.log.dir))
        }
        offset = bytes.readInt32BE(pos) * 0x1_0000_0000 + bytes.readUInt32BE(pos + 4) + bytes.readInt32BE(pos + 23) + 1
      }
    }
    if (this.broker.readOnly) return
    for (const [id, t] of this.txns) {
      if (t.state === 'PrepareCommit' || t.state === 'PrepareAbort') await this.complete(id, t, t.state === 'PrepareCommit')
      else if (t.state === 'Ongoing') await this.end(id, t, false)
    }
  }

  /** Starts the timer that aborts transactions open longer than their timeout. */
  start(): void {
    this.timer = setInterval(() => {
      const now = this.now()
      for (const [id, t] of this.txns) {
        if (t.state === 'Ongoing' && now - t.startedMs > t.timeoutMs) {
          debug('transaction %s timed out after %d ms: aborting', id, t.timeoutMs)
          this.timeouts = this.timeouts.then(() => this.serial(() => this.abortTimedOut(id)).catch(() => undefined))
        }
      }
    }, TIMEOUT_CHECK_MS)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.timeouts
    await this.chain.catch(() => undefined)
  }

  /**
   * Registers a transactional producer (Kafka's InitProducerId): a new id, or the existing one with
   * its epoch bumped, which fences the previous producer and aborts its open transaction.
   */
  initProducer(transactionalId: string, timeoutMs: number): Promise<{ producerId: number; epoch: number }> {
    if (typeof transactionalId !== 'string' || transactionalId.length === 0) throw new InvalidConfigError('transactionalId must be a non-empty string')
    return this.serial(async () => {
      let t = this.txns.get(transactionalId)
      if (t && (t.state === 'Ongoing' || t.state === 'PrepareAbort')) await this.end(transactionalId, t, false, t.epoch + 1)
      else if (t?.state === 'PrepareCommit') await this.complete(transactionalId, t, true)
      t = this.txns.get(transactionalId)
      const next: TxnMetadata = t
        ? { ...t, epoch: t.epoch + 1, state: 'Empty', partitions: [], offsets: [], timeoutMs }
        : { producerId: await this.broker.allocateProducerId(), epoch: 0, state: 'Empty', partitions: [], offsets: [], timeoutMs, startedMs: 0 }
      if (next.epoch > 0x7ffe) {
        next.producerId = await this.broker.allocateProducerId()
        next.epoch = 0
      }
      await this.persist(transactionalId, next)
      return { producerId: next.producerId, epoch: next.epoch }
    })
  }

  /** Adds partitions to the producer's transaction (Kafka's AddPartitionsToTxn), before it writes to them. */
  addPartitions(transactionalId: string, producerId: number, epoch: number, partitions: Array<[string, number]>): Promise<void> {
    return this.serial(async () => {
      const t = this.current(transactionalId, producerId, epoch)
      if (t.state !== 'Empty' && t.state !== 'Ongoing' && t.state !== 'CompleteCommit' && t.state !== 'CompleteAbort') {
        throw new InvalidConfigError(`transaction ${transactionalId} is ${t.state}`)
      }
      const have = new Set(t.partitions.map(([tp, p]) => `${tp}\u0000${p}`))
      const added = partitions.filter(([tp, p]) => !have.has(`${tp}\u0000${p}`))
      if (added.length === 0 && t.state === 'Ongoing') return
      const ongoing = t.state === 'Ongoing'
      await this.persist(transactionalId, {
        ...t,
        state: 'Ongoing',
        partitions: [...(ongoing ? t.partitions : []), ...added],
        offsets: ongoing ? t.offsets : [],
        startedMs: ongoing ? t.startedMs : this.now(),
      })
    })
  }

  /**
   * Adds a group's offsets to the producer's transaction (Kafka's AddOffsetsToTxn + TxnOffsetCommit):
   * recorded with the transaction state, committed to the group when the transaction commits.
   */
  sendOffsets(
    transactionalId: string,
    producerId: number,
    epoch: number,
    groupId: string,
    offsets: TxnOffsets['offsets'],
    member?: { memberId: string; generationId: number },
  ): Promise<void> {
    return this.serial(async () => {
      const t = this.current(transactionalId, producerId, epoch)
      for (const o of offsets) {
        if (typeof o.topic !== 'string' || !Number.isInteger(o.partition) || !Number.isSafeInteger(o.offset) || o.offset < 0) {
          throw new InvalidConfigError(`bad offset to send: ${JSON.stringify(o)}`)
        }
      }
      if (!this.offsetsHandler) throw new InvalidConfigError('this broker has no consumer groups')
      this.offsetsHandler.check(groupId, member)
      const ongoing = t.state === 'Ongoing'
      await this.persist(transactionalId, {
        ...t,
        state: 'Ongoing',
        partitions: ongoing ? t.partitions : [],
        offsets: [...(ongoing ? t.offsets : []), { groupId, offsets }],
        startedMs: ongoing ? t.startedMs : this.now(),
      })
    })
  }

  /**
   * Whether `topic`-`partition` belongs to the ongoing transaction of this producer id and epoch:
   * the check a transactional write from outside the process passes first (KIP-890), so a batch
   * can never open a transaction whose marker the coordinator would not write.
   */
  isInTransaction(transactionalId: string, producerId: number, epoch: number, topic: string, partition: number): boolean {
    const t = this.txns.get(transactionalId)
    return !!t && t.producerId === producerId && t.epoch === epoch && t.state === 'Ongoing' && t.partitions.some(([tp, p]) => tp === topic && p === partition)
  }

  /** Commits or aborts the producer's transaction (Kafka's EndTxn). */
  endTransaction(transactionalId: string, producerId: number, epoch: number, commit: boolean): Promise<void> {
    return this.serial(async () => {
      const t = this.current(transactionalId, producerId, epoch)
      if (t.state !== 'Ongoing') {
        if (t.state === 'Empty' || t.state === 'CompleteCommit' || t.state === 'CompleteAbort') return // nothing was written
        throw new InvalidConfigError(`transaction ${transactionalId} is ${t.state}`)
      }
      await this.end(transactionalId, t, commit)
    })
  }

  /** The producer's transaction state, checking that it is the current producer (FencedError if not). */
  private current(transactionalId: string, producerId: number, epoch: number): TxnMetadata {
    const t = this.txns.get(transactionalId)
    if (!t || t.producerId !== producerId || t.epoch !== epoch) {
      throw new FencedError(`producer ${producerId} epoch ${epoch} of transactional id ${transactionalId} has been fenced by a newer producer`)
    }
    return t
  }

  /** Prepare (fsync'd), markers, complete. `epoch`: a bumped epoch fences the old producer. */
  private async end(transactionalId: string, t: TxnMetadata, commit: boolean, epoch = t.epoch): Promise<void> {
    const prepared: TxnMetadata = { ...t, epoch, state: commit ? 'PrepareCommit' : 'PrepareAbort' }
    await this.persist(transactionalId, prepared)
    await this.complete(transactionalId, prepared, commit)
  }

  private async complete(transactionalId: string, t: TxnMetadata, commit: boolean): Promise<void> {
    // The offsets first: a restarted consumer then never reads an input again whose outputs are
    // about to become visible. Both are done again at open when a crash cut this short.
    if (commit) for (const o of t.offsets) await this.offsetsHandler?.commit(o.groupId, o.offsets)
    const marker = (): Buffer =>
      encodeControlBatch({ commit, producerId: t.producerId, producerEpoch: t.epoch, coordinatorEpoch: 0, timestamp: this.now() })
    await Promise.all(
      t.partitions.map(async ([topic, index]) => {
        try {
          const p = this.broker.topic(topic).partition(index)
          p.append([marker()])
          await p.flush()
        } catch (err) {
          if (!(err instanceof UnknownTopicError)) throw err // a deleted topic needs no marker
        }
      }),
    )
    await this.persist(transactionalId, { ...t, state: commit ? 'CompleteCommit' : 'CompleteAbort', partitions: [], offsets: [] })
    debug('%s transaction %s of producer %d epoch %d', commit ? 'committed' : 'aborted', transactionalId, t.producerId, t.epoch)
  }

  private async abortTimedOut(transactionalId: string): Promise<void> {
    const t = this.txns.get(transactionalId)
    if (t?.state === 'Ongoing' && this.now() - t.startedMs > t.timeoutMs) await this.end(transactionalId, t, false, t.epoch + 1)
  }

  private async persist(transactionalId: string, t: TxnMetadata): Promise<void> {
    if (!this.broker.hasTopic(TRANSACTION_TOPIC)) {
      await this.broker.createTopic(TRANSACTION_TOPIC, { partitions: 1, cleanupPolicy: 'compact' }).catch((err: unknown) => {
        if (!(err instanceof KafkaliteError && err.code === 'TOPIC_EXISTS')) throw err
      })
    }
    const batch = encodeRecordBatch([{ key: Buffer.from(transactionalId, 'utf8'), value: encodeTxn(t), timestamp: this.now() }])
    await this.broker.topic(TRANSACTION_TOPIC).partition(0).appendBatch(batch, { acks: 'all' })
    this.txns.set(transactionalId, t)
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => undefined)
    return run
  }
}

function encodeTxn(t: TxnMetadata): Buffer {
  return pack({ v: 1, pid: t.producerId, epoch: t.epoch, state: t.state, partitions: t.partitions, offsets: t.offsets, timeoutMs: t.timeoutMs, startedMs: t.startedMs })
}

const STATES = new Set<TxnState>(['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort'])

function decodeTxn(value: Buffer, file: string): TxnMetadata {
  let o: Record<string, unknown>
  try {
    o = unpack(value) as Record<string, unknown>
  } catch (err) {
    throw new CorruptionError('undecodable transaction state record', file, 0, { cause: err })
  }
  const ints = [o?.pid, o?.epoch, o?.timeoutMs, o?.startedMs].every((n) => Number.isSafeInteger(n))
  const parts = Array.isArray(o?.partitions) && (o.partitions as unknown[]).every((x) => Array.isArray(x) && typeof x[0] === 'string' && Number.isInteger(x[1]))
  const offsets = Array.isArray(o?.offsets) && (o.offsets as TxnOffsets[]).every((g) => typeof g?.groupId === 'string' && Array.isArray(g.offsets))
  if (!o || o.v !== 1 || !ints || !STATES.has(o.state as TxnState) || !parts || !offsets) throw new CorruptionError('malformed transaction state record', file, 0)
  return {
    producerId: o.pid as number,
    epoch: o.epoch as number,
    state: o.state as TxnState,
    partitions: o.partitions as Array<[string, number]>,
    timeoutMs: o.timeoutMs as number,
    startedMs: o.startedMs as number,
    offsets: o.offsets as TxnOffsets[],
  }
}
