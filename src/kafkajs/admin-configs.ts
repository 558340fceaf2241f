// The admin client's topic configs: describeConfigs and alterConfigs (KafkaJS's checks of their
// resources, Kafka's names, sources and synonyms) and the Kafka topic configs that kafkalite accepts
// without keeping. Called by admin.ts; configFromEntries also by admin-topics.ts (createTopics).
import { DEFAULT_TOPIC_CONFIG, topicConfigFromEntries, topicConfigToEntries } from '../index.js'
import type { Broker } from '../index.js'
import { fail } from './admin-checks.js'
import { ConfigResourceTypes, ConfigSource } from './constants.js'
import { protocolError } from './errors.js'
import type { ConfigEntries, DescribeConfigResponse, IResourceConfig, ResourceConfigQuery } from './types.js'

/** Kafka's topic configs that kafkalite has no use for (replication, flushing, tiered storage...): accepted, not kept. */
const IGNORED_CONFIGS = new Set(
  `compression.type compression.gzip.level compression.lz4.level compression.zstd.level file.delete.delay.ms flush.messages flush.ms
  follower.replication.throttled.replicas leader.replication.throttled.replicas local.retention.bytes local.retention.ms
  max.compaction.lag.ms message.downconversion.enable message.format.version message.timestamp.after.max.ms
  message.timestamp.before.max.ms message.timestamp.difference.max.ms min.compaction.lag.ms min.insync.replicas preallocate
  remote.log.copy.disable remote.log.delete.on.disable remote.storage.enable segment.index.bytes segment.jitter.ms
  unclean.leader.election.enable`.split(/\s+/),
)

/** describeConfigs' argument checks. */
export function checkDescribeConfigs(options: { resources: ResourceConfigQuery[] }): ResourceConfigQuery[] {
  const resources = checkResources(options?.resources)
  const bad = resources.find((r) => r.configNames != null && !Array.isArray(r.configNames))
  if (bad) throw fail(`Invalid resource configNames ${bad.configNames}: ${JSON.stringify(bad)}`)
  return resources
}

/** Topic configs by Kafka's names; other resources (brokers) have none to describe here. */
export function describeConfigs(broker: Broker, resources: ResourceConfigQuery[], includeSynonyms: boolean): DescribeConfigResponse {
  const entries = (r: ResourceConfigQuery) => (r.type === ConfigResourceTypes.TOPIC ? topicConfigEntries(broker, r, includeSynonyms) : [])
  const errorMessage = null as unknown as string
  const out = resources.map((r) => ({ configEntries: entries(r), errorCode: 0, errorMessage, resourceName: r.name, resourceType: r.type }))
  return { resources: out, throttleTime: 0 }
}

/** alterConfigs' argument checks. */
export function checkAlterConfigs(options: { resources: IResourceConfig[] }): IResourceConfig[] {
  const resources = checkResources(options?.resources)
  const noEntries = resources.find((r) => !Array.isArray(r.configEntries))
  if (noEntries) throw fail(`Invalid resource configEntries ${noEntries.configEntries}: ${JSON.stringify(noEntries)}`)
  const badValue = resources.find((r) => r.configEntries.some((e) => typeof e?.name !== 'string' || typeof e?.value !== 'string'))
  if (badValue) throw fail(`Invalid resource config value: ${JSON.stringify(badValue)}`)
  return resources
}

/**
 * Kafka's (non-incremental) AlterConfigs: a topic's overrides become exactly its `configEntries`,
 * the others return to their defaults. Every resource is checked before any is changed.
 */
export async function alterConfigs(broker: Broker, resources: IResourceConfig[], validateOnly: boolean): Promise<any> {
  const changes = resources.map((r) => configChanges(broker, r))
  for (const [i, r] of resources.entries()) if (changes[i] && !validateOnly) await broker.alterTopicConfig(r.name, changes[i]!)
  const out = resources.map((r) => ({ errorCode: 0, errorMessage: null, resourceName: r.name, resourceType: r.type }))
  return { resources: out, throttleTime: 0 }
}

function checkResources<T extends { type: ConfigResourceTypes; name: string }>(resources: T[] | undefined): T[] {
  if (!resources || !Array.isArray(resources)) throw fail(`Invalid resources array ${resources}`)
  if (resources.length === 0) throw fail('Resources array cannot be empty')
  const types = Object.values(ConfigResourceTypes).filter((v) => typeof v === 'number')
  const badType = resources.find((r) => !types.includes(r?.type))
  if (badType) throw fail(`Invalid resource type ${badType?.type}: ${JSON.stringify(badType)}`)
  const badName = resources.find((r) => !r.name || typeof r.name !== 'string')
  if (badName) throw fail(`Invalid resource name ${badName.name}: ${JSON.stringify(badName)}`)
  return resources
}

/**
 * A topic's configs by Kafka's names: overrides come from TOPIC_CONFIG, Kafka's defaults from
 * DEFAULT_CONFIG, and a broker-wide default of Broker.open's `topicDefaults` from STATIC_BROKER_CONFIG.
 */
function topicConfigEntries(broker: Broker, { name, configNames }: ResourceConfigQuery, includeSynonyms: boolean): ConfigEntries[] {
  const d = broker.describeTopic(name)
  const overrides = topicConfigToEntries(d.overrides)
  const builtIn = topicConfigToEntries(DEFAULT_TOPIC_CONFIG)
  const wanted = configNames && configNames.length > 0 ? new Set(configNames) : null
  const sourceOf = (key: string, value: string): ConfigSource =>
    key in overrides ? ConfigSource.TOPIC_CONFIG : value === builtIn[key] ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG
  return Object.entries(topicConfigToEntries(d.config))
    .filter(([configName]) => !wanted || wanted.has(configName))
    .map(([configName, configValue]) => {
      const configSource = sourceOf(configName, configValue)
      const isDefault = configSource === ConfigSource.DEFAULT_CONFIG
      const configSynonyms = includeSynonyms ? [{ configName, configValue, configSource }] : []
      return { configName, configValue, readOnly: false, isDefault, configSource, isSensitive: false, configSynonyms }
    })
}

/** `configEntries` as kafkalite's topic config (validated), without the Kafka configs it ignores. */
export function configFromEntries(entries: Array<{ name: string; value: string }>): ReturnType<typeof topicConfigFromEntries> {
  return topicConfigFromEntries(Object.fromEntries(entries.filter((e) => !IGNORED_CONFIGS.has(e.name)).map((e) => [e.name, e.value])))
}

/** The alterTopicConfig changes that make a topic's overrides exactly `configEntries` (null: not a topic). */
function configChanges(broker: Broker, r: IResourceConfig): Record<string, unknown> | null {
  if (r.type !== ConfigResourceTypes.TOPIC) {
    if (r.configEntries.length > 0) throw protocolError('INVALID_CONFIG', `kafkalite has no dynamic configs for resource ${r.name}`)
    return null
  }
  const wanted = configFromEntries(r.configEntries)
  const reset = Object.fromEntries(Object.keys(broker.describeTopic(r.name).overrides).map((k) => [k, null]))
  return { ...reset, ...wanted }
}
