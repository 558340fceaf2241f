// Topic configs over the wire, with Kafka's dotted names (retention.ms, cleanup.policy, ...).
//
// DescribeConfigs (32) v0-v2: resources [resource_type int8, resource_name STRING, configuration_keys NULLABLE [STRING]],
//   include_synonyms BOOL (v1+)
//   response: throttle_time_ms int32, results [error_code int16, error_message NULLABLE_STRING, resource_type int8,
//   resource_name STRING, configs [name STRING, value NULLABLE_STRING, read_only BOOL,
//   is_default BOOL (v0) | config_source int8 (v1+), is_sensitive BOOL, synonyms [name, value, source int8] (v1+)]]
// AlterConfigs (33) v0-v1: resources [resource_type int8, resource_name STRING, configs [name STRING, value NULLABLE_STRING]],
//   validate_only BOOL
//   response: throttle_time_ms int32, responses [error_code int16, error_message NULLABLE_STRING, resource_type int8, resource_name STRING]
// AlterConfigs replaces a topic's whole set of overrides: a config left out goes back to its default.
import { InvalidConfigError, InvalidTopicError } from '../../errors.js'
import { DEFAULT_TOPIC_CONFIG, topicConfigFromEntries, topicConfigToEntries, type TopicConfig } from '../../broker/topic-config.js'
import type { RequestInfo, WireContext } from '../context.js'
import { ErrorCode, errorCodeOf, errorMessageOf, isInternalTopic } from '../errors.js'
import type { Reader, Writer } from '../protocol.js'

const TOPIC = 2
const BROKER = 4
const SOURCE_TOPIC_OVERRIDE = 1
const SOURCE_DEFAULT = 5

/**
 * Kafka topic configs that have no meaning for a single-broker, single-replica, local log (or that
 * kafkalite does not model): accepted and ignored in CreateTopics and AlterConfigs, as a client
 * sending them to Kafka expects them accepted. Any other unknown name is INVALID_CONFIG.
 */
const IGNORED_KAFKA_CONFIGS = new Set([
  'compression.type', 'file.delete.delay.ms', 'flush.messages', 'flush.ms', 'follower.replication.throttled.replicas',
  'leader.replication.throttled.replicas', 'local.retention.bytes', 'local.retention.ms', 'max.compaction.lag.ms',
  'message.downconversion.enable', 'message.format.version', 'message.timestamp.after.max.ms', 'message.timestamp.before.max.ms',
  'message.timestamp.difference.max.ms', 'min.compaction.lag.ms', 'min.insync.replicas', 'preallocate', 'remote.storage.enable',
  'segment.index.bytes', 'segment.jitter.ms', 'unclean.leader.election.enable',
])

/** The entries kafkalite models, as topic configs (validated); ignored Kafka names are dropped. */
export function modeledConfig(entries: Record<string, string | null>): { [K in keyof TopicConfig]?: TopicConfig[K] | null } {
  const kept: Record<string, string | null> = {}
  for (const [name, value] of Object.entries(entries)) if (!IGNORED_KAFKA_CONFIGS.has(name)) kept[name] = value
  return topicConfigFromEntries(kept)
}

interface ConfigEntry {
  name: string
  value: string
  isDefault: boolean
  /** Kafka's default for an overridden config (null when unknown). */
  defaultValue: string | null
}

export function handleDescribeConfigs(ctx: WireContext, req: RequestInfo, r: Reader, w: Writer): void {
  const v = req.version
  const resources = r.array((r) => ({ type: r.int8(), name: r.string(), keys: r.nullableArray((r) => r.string()) }))
  const synonyms = v >= 1 ? r.bool() : false
  w.int32(0)
  w.array(resources, (w, res) => {
    let error: number = ErrorCode.NONE
    let message: string | null = null
    let entries: ConfigEntry[] = []
    try {
      if (res.type === TOPIC) entries = topicEntries(ctx, res.name)
      else if (res.type !== BROKER) throw new InvalidConfigError(`resource type ${res.type} has no configs here`)
    } catch (err) {
      error = errorCodeOf(err)
      message = errorMessageOf(err)
    }
    if (res.keys) entries = entries.filter((e) => res.keys!.includes(e.name))
    w.int16(error).nullableString(message).int8(res.type).string(res.name)
    w.array(entries, (w, e) => {
      w.string(e.name).nullableString(e.value).bool(false)
      if (v === 0) w.bool(e.isDefault)
      else w.int8(e.isDefault ? SOURCE_DEFAULT : SOURCE_TOPIC_OVERRIDE)
      w.bool(false)
      // Synonyms, most specific first: the topic's override, then the default it replaces.
      if (v >= 1) {
        const list = !synonyms ? [] : e.isDefault ? [{ value: e.value, source: SOURCE_DEFAULT }] : [{ value: e.value, source: SOURCE_TOPIC_OVERRIDE }, ...(e.defaultValue === null ? [] : [{ value: e.defaultValue, source: SOURCE_DEFAULT }])]
        w.array(list, (w, x) => w.string(e.name).nullableString(x.value).int8(x.source))
      }
    })
  })
}

function topicEntries(ctx: WireContext, name: string): ConfigEntry[] {
  const d = ctx.broker.describeTopic(name)
  const overridden = new Set(Object.keys(topicConfigToEntries(d.overrides)))
  const defaults = topicConfigToEntries(DEFAULT_TOPIC_CONFIG)
  return Object.entries(topicConfigToEntries(d.config)).map(([k, value]) => ({ name: k, value, isDefault: !overridden.has(k), defaultValue: defaults[k] ?? null }))
}

export async function handleAlterConfigs(ctx: WireContext, _req: RequestInfo, r: Reader, w: Writer): Promise<void> {
  const resources = r.array((r) => ({
    type: r.int8(),
    name: r.string(),
    configs: r.array((r) => ({ name: r.string(), value: r.nullableString() })),
  }))
  const validateOnly = r.bool()
  const results: Array<{ error: number; message: string | null; type: number; name: string }> = []
  for (const res of resources) {
    try {
      if (res.type !== TOPIC) throw new InvalidConfigError(`only topic configs can be altered here (resource type ${res.type})`)
      if (isInternalTopic(res.name)) throw new InvalidTopicError(`${res.name} is an internal topic: its configs are the broker's`)
      const current = ctx.broker.describeTopic(res.name).overrides
      const changes: Record<string, unknown> = {}
      for (const key of Object.keys(current)) changes[key] = null
      const entries: Record<string, string | null> = {}
      for (const c of res.configs) entries[c.name] = c.value
      Object.assign(changes, modeledConfig(entries))
      if (!validateOnly) await ctx.broker.alterTopicConfig(res.name, changes as { [K in keyof TopicConfig]?: TopicConfig[K] | null })
      results.push({ error: ErrorCode.NONE, message: null, type: res.type, name: res.name })
    } catch (err) {
      results.push({ error: errorCodeOf(err), message: errorMessageOf(err), type: res.type, name: res.name })
    }
  }
  w.int32(0)
  w.array(results, (w, x) => w.int16(x.error).nullableString(x.message).int8(x.type).string(x.name))
}
