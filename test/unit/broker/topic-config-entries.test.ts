// Kafka-style topic config entries (`retention.ms` → retentionMs) as the CLI and facades use them.
import assert from 'node:assert/strict'
import { InvalidConfigError, KAFKA_TOPIC_CONFIG_NAMES, topicConfigFromEntries, topicConfigToEntries, DEFAULT_TOPIC_CONFIG } from '../../../src/index.js'
import { test } from '../../fixtures/helpers.js'

test("Kafka's dotted names and camelCase names parse to typed configs", () => {
  assert.deepEqual(
    topicConfigFromEntries({ 'retention.ms': '86400000', 'cleanup.policy': 'compact', segmentBytes: '1048576', 'min.cleanable.dirty.ratio': '0.25' }),
    { retentionMs: 86_400_000, cleanupPolicy: 'compact', segmentBytes: 1_048_576, minCleanableDirtyRatio: 0.25 },
    'names mapped, numbers parsed',
  )
  assert.deepEqual(topicConfigFromEntries({ 'retention.ms': null }), { retentionMs: null }, 'null stays null (reset)')
  assert.deepEqual(topicConfigFromEntries({ 'retention.ms': '-1' }), { retentionMs: -1 }, 'forever')
})

test('unknown names, non-numbers and out-of-range values are InvalidConfigError', () => {
  const bads: Array<Record<string, string>> = [{ 'retention.mss': '1' }, { 'retention.ms': '1h' }, { 'segment.bytes': '10' }, { 'cleanup.policy': 'forever' }, { 'min.cleanable.dirty.ratio': '2' }]
  for (const bad of bads) {
    assert.throws(() => topicConfigFromEntries(bad), InvalidConfigError, `rejects ${JSON.stringify(bad)}`)
  }
})

test('every config round-trips through entries', () => {
  const entries = topicConfigToEntries(DEFAULT_TOPIC_CONFIG)
  assert.deepEqual(Object.keys(entries).sort(), Object.values(KAFKA_TOPIC_CONFIG_NAMES).sort(), 'every config has a dotted name')
  assert.deepEqual(topicConfigFromEntries(entries), { ...DEFAULT_TOPIC_CONFIG }, 'parsing the entries gives the configs back')
})
