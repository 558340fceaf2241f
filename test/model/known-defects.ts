// Switches for the cases that exposed defects this test found (all fixed). They stay on; turning one
// off narrows the generator around its case, which helps to tell a new failure from an old one.

/**
 * Messages sent without a timestamp get the broker's clock (the producer once stamped Date.now(),
 * not the injected clock).
 */
export const SEND_WITHOUT_TIMESTAMP = true

/**
 * A topic created again under the name of a deleted one (the recovery-point, log-start and cleaner
 * checkpoints once kept the deleted topic's entries, so after a crash the new topic inherited its log
 * start and lost acknowledged records). When off, createTopic of a deleted name uses `<name>.<n>`.
 */
export const RECREATE_DELETED_TOPICS = true

/**
 * A crash in the middle of deleteTopic for a topic with committed offsets (the offsets' tombstones
 * come after the metadata record, and open once kept offsets of topics that no longer exist).
 */
export const DELETE_TOPIC_DROPS_OFFSETS_AT_CRASH = true

/**
 * deleteRecords past what is fsync'd, then crashes (the log start checkpoint was left past the log
 * end a crash had cut, hiding later fsync'd records). When off, the runner flushes first.
 */
export const DELETE_RECORDS_PAST_FSYNC = true
