// read_committed filtering of one fetch, as Kafka's Java consumer does it (CompletedFetch): the
// fetch's aborted transactions wait in a queue ordered by first offset; a batch of producer P that
// reaches an aborted transaction of P (its last offset ≥ the transaction's first offset) marks P
// aborted, and P's transactional batches are skipped until P's abort marker passes. Committed and
// open transactions need nothing here: the broker's read stops at the last stable offset.
//
// One instance per fetched chunk (the broker lists the aborted transactions overlapping that fetch);
// used only by decodeFetch, batch by batch in offset order.

export interface AbortedTransaction {
  producerId: number
  /** Offset of the transaction's first batch in this partition. */
  firstOffset: number
}

export class AbortedTransactions {
  /** Sorted once by first offset and read from the front: a priority queue nothing is added to. */
  private readonly queue: AbortedTransaction[]
  private next = 0
  /** Producers inside an aborted transaction at the current batch. */
  private readonly aborting = new Set<number>()

  constructor(list: readonly AbortedTransaction[]) {
    this.queue = [...list].sort((a, b) => a.firstOffset - b.firstOffset)
  }

  /**
   * Whether the batch is aborted data to skip. Called for every batch that carries a producer id, in
   * offset order, with its last offset and `marker` the type of a control batch's marker (null for a
   * data batch or a control batch holding none).
   */
  skips(b: { producerId: number; isTransactional: boolean; isControl: boolean }, lastOffset: number, marker: 'commit' | 'abort' | null): boolean {
    // Transactions of the queue that began at or before this batch's end are now aborting.
    while (this.next < this.queue.length && this.queue[this.next]!.firstOffset <= lastOffset) {
      this.aborting.add(this.queue[this.next++]!.producerId)
    }
    if (b.isControl) {
      if (marker === 'abort') this.aborting.delete(b.producerId)
      return false
    }
    return b.isTransactional && this.aborting.has(b.producerId)
  }
}
